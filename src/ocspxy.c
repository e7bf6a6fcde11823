/*
 * ocspxy: the operator's command: warm, status, prune, refresh and
 * export the cache through the same code as ocspxy-fcgi.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "prog.h"

static volatile sig_atomic_t stop;

static const struct command {
	const char *name;
	int (*run)(struct config *, const struct admin_opts *, int, char **);
	int minargs; /* words it needs, from the command line or -l */
	const char *usage;
} commands[] = {
    {"warm", admin_warm, 1, "[-l list] CERT.pem [ISSUER.pem] | DIR ..."},
    {"status", admin_status, 0,
	"[--tsv | --json] [--warn DURATION] [CERT.pem | KEY ...]"},
    {"prune", admin_prune, 1, "CERT.pem | KEY ..."},
    {"refresh", admin_refresh, 1, "CERT.pem | KEY ..."},
    /* export says itself what it misses: a DIR, unless --haproxy */
    {"export", admin_export, 0,
	"[--watch] [--interval SECONDS] DIR [CERT.pem ...] | --haproxy SOCKET"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The commands' options, as given. */
struct cmdopts {
	int format; /* enum admin_format */
	int watch;
	const char *warn, *interval, *list, *haproxy;
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	size_t i;

	fprintf(stderr,
	    "usage: ocspxy [-v] [-c file] command [options] [args]\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(stderr, "  %s %s\n", commands[i].name,
		    commands[i].usage);
	exit(2);
}

static const struct command *
command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The seconds of --name DURATION, at least min; def when it is not given.
 * Exits 2 when it is not a duration. */
static long
duration(const char *name, const char *s, long min, long def)
{
	long v;

	if (s == NULL)
		return def;
	if ((v = admin_duration(s)) < min) {
		log_warnx("--%s %s: not a duration like 90m, 12h or 2d", name,
		    s);
		exit(2);
	}
	return v;
}

/* What the command is told, from its options; exits 2 on a bad one. */
static void
command_opts(struct admin_opts *o, const struct cmdopts *co)
{
	memset(o, 0, sizeof(*o));
	o->format = co->format;
	o->watch = co->watch;
	o->haproxy = co->haproxy;
	o->warn = duration("warn", co->warn, 0, 86400);
	o->interval = duration("interval", co->interval, 1, 60);
	o->color = o->format == ADMIN_HUMAN && isatty(STDOUT_FILENO) &&
	    getenv("NO_COLOR") == NULL;
	o->progress = isatty(STDERR_FILENO);
	o->stop = &stop;
}

/* Appends the lines of a list file to the arguments, into a new array
 * whose entries past *argc are new strings too. */
static char **
read_list(const char *path, int *argc, char **argv)
{
	FILE *fp;
	char *line = NULL, **v;
	size_t cap = 0, n;
	ssize_t len;
	int i;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		exit(2);
	}
	if ((v = calloc((size_t)*argc + 1, sizeof(*v))) == NULL)
		fatalx("%s: out of memory", path);
	for (i = 0; i < *argc; i++)
		v[i] = argv[i];
	n = (size_t)*argc;
	while ((len = getline(&line, &cap, fp)) != -1) {
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((v = reallocarray(v, n + 2, sizeof(*v))) == NULL ||
		    (v[n++] = strdup(line)) == NULL)
			fatalx("%s: out of memory", path);
		v[n] = NULL;
	}
	free(line);
	fclose(fp);
	*argc = (int)n;
	return v;
}

int
main(int argc, char *argv[])
{
	struct cmdopts co = {ADMIN_HUMAN, 0, NULL, NULL, NULL, NULL};
	const struct prog_opt opts[] = {
	    {"tsv", 0, NULL, &co.format, ADMIN_TSV},
	    {"json", 0, NULL, &co.format, ADMIN_JSON},
	    {"warn", 0, &co.warn, NULL, 0},
	    {"watch", 0, NULL, &co.watch, 1},
	    {"interval", 0, &co.interval, NULL, 0},
	    {"list", 'l', &co.list, NULL, 0},
	    {"haproxy", 0, &co.haproxy, NULL, 0},
	    {NULL, 0, NULL, NULL, 0},
	};
	struct prog pg = {.name = "ocspxy", .opts = opts, .command = 1};
	const struct command *c;
	struct admin_opts o;
	struct config *cf;
	char **args;
	int nargs, status;

	if (prog_options(&pg, argc, argv) == -1 ||
	    (c = command(pg.cmd)) == NULL)
		usage();
	command_opts(&o, &co);
	args = pg.argv;
	nargs = pg.argc;
	if (co.list != NULL)
		args = read_list(co.list, &nargs, args);
	if (nargs < c->minargs)
		usage();
	cf = prog_setup(&pg);
	prog_signals(on_signal, 0);
	status = c->run(cf, &o, nargs, args);
	if (co.list != NULL) {
		while (nargs > pg.argc)
			free(args[--nargs]);
		free(args);
	}
	prog_end(cf);
	return status;
}
