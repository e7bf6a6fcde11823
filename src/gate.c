/* gate.c: a bounded number of processes waiting upstream, by flock(2). */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"

struct gate {
	int *fd; /* one open slot file per place */
	long n;
	long held; /* the place we hold, or -1 */
	unsigned long next; /* where the next search starts */
};

struct gate *
gate_new(const char *dir, long n)
{
	struct gate *g;
	char path[4096];
	long i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->fd = calloc((size_t)n, sizeof(*g->fd))) == NULL) {
		log_warn("gate: calloc");
		free(g);
		return NULL;
	}
	g->held = -1;
	g->next = (unsigned long)getpid();
	for (i = 0; i < n; i++)
		g->fd[i] = -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("upstream_max_waiting is not enforced: mkdir %s", dir);
		gate_free(g);
		return NULL;
	}
	for (g->n = 0; g->n < n; g->n++) {
		snprintf(path, sizeof(path), "%s/upstream-%ld", dir, g->n);
		if ((g->fd[g->n] = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
			 0600)) == -1) {
			log_warn("upstream_max_waiting is not enforced: %s",
			    path);
			gate_free(g);
			return NULL;
		}
	}
	return g;
}

void
gate_free(struct gate *g)
{
	long i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		if (g->fd[i] != -1)
			close(g->fd[i]);
	free(g->fd);
	free(g);
}

int
gate_enter(struct gate *g)
{
	long i, k;

	if (g->held != -1)
		return 1;
	/* Processes start their search at different places. */
	for (k = 0; k < g->n; k++) {
		i = (long)((g->next + (unsigned long)k) % (unsigned long)g->n);
		if (flock(g->fd[i], LOCK_EX | LOCK_NB) == 0) {
			g->held = i;
			g->next++;
			return 1;
		}
		if (errno != EWOULDBLOCK && errno != EINTR)
			log_warn("flock of upstream place %ld", i);
	}
	return 0;
}

void
gate_leave(struct gate *g)
{
	if (g == NULL || g->held == -1)
		return;
	if (flock(g->fd[g->held], LOCK_UN) == -1)
		log_warn("flock: giving back upstream place %ld", g->held);
	g->held = -1;
}
