/* gate.c: a bounded number of processes waiting upstream, by flock(2). */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"

struct gate {
	char *dir;
	int *fd; /* one open slot file per place, once opened */
	long n;
	long opened; /* slot files open; -1: they cannot be (logged) */
	long held; /* the place we hold, or -1 */
	unsigned long next; /* where the next search starts */
};

struct gate *
gate_new(const char *dir, long n)
{
	struct gate *g;
	long i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->fd = calloc((size_t)n, sizeof(*g->fd))) == NULL ||
	    (g->dir = strdup(dir)) == NULL) {
		log_warn("gate: calloc");
		gate_free(g);
		return NULL;
	}
	g->n = n;
	g->held = -1;
	g->next = (unsigned long)getpid();
	for (i = 0; i < n; i++)
		g->fd[i] = -1;
	return g;
}

/*
 * Opens the slot files, the first time a place is asked for (so that a
 * process that never fetches makes none). 0, or -1 (logged once: the
 * gate lets everyone through).
 */
static int
gate_open(struct gate *g)
{
	char path[4096];

	if (g->opened != 0)
		return g->opened == -1 ? -1 : 0;
	if (mkdir(g->dir, 0700) == -1 && errno != EEXIST) {
		log_warn("upstream_max_waiting is not enforced: mkdir %s",
		    g->dir);
		g->opened = -1;
		return -1;
	}
	for (; g->opened < g->n; g->opened++) {
		snprintf(path, sizeof(path), "%s/upstream-%ld", g->dir,
		    g->opened);
		if ((g->fd[g->opened] = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
			 0600)) == -1) {
			log_warn("upstream_max_waiting is not enforced: %s",
			    path);
			g->opened = -1;
			return -1;
		}
	}
	return 0;
}

void
gate_free(struct gate *g)
{
	long i;

	if (g == NULL)
		return;
	for (i = 0; g->fd != NULL && i < g->n; i++)
		if (g->fd[i] != -1)
			close(g->fd[i]);
	free(g->fd);
	free(g->dir);
	free(g);
}

int
gate_enter(struct gate *g)
{
	long i, k;

	if (g->held != -1 || gate_open(g) == -1)
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
