/*
 * prog.h: what the mains of ocspxy-fcgi, ocspxy-refresh and ocspxy share:
 * their options (-c file, -v, -V and each program's own), the log's name
 * and verbosity, the config, the signals and libcurl.
 */
#ifndef OCSPXY_PROG_H
#define OCSPXY_PROG_H

struct config;

/* An option of a program's own: a flag, or an option with an argument. */
struct prog_opt {
	const char *name; /* long name, or NULL */
	int ch; /* short letter, or 0 */
	const char **arg; /* takes an argument, kept here; NULL: a flag */
	int *flag; /* a flag sets *flag = value */
	int value;
};

struct prog {
	const char *name; /* the program's, before every log line */
	const struct prog_opt *opts; /* its own, up to an all-zero entry */
	int command; /* "name [-v] [-c file] command [opts] [args]" */

	/* What prog_options() found. */
	const char *file; /* -c, or NULL: the built-in defaults */
	int verbose; /* -v */
	const char *cmd; /* with command: the command word */
	int argc; /* the words after the options (after the command) */
	char **argv;
};

/*
 * Names the log after pg->name, then parses argv: -c file, -v, -V and
 * pg->opts. -V (--version), anywhere, prints "name version" on standard
 * output and exits 0. With pg->command, -c and -v come before the command
 * word and pg->opts after it, among its arguments; without, no word may
 * follow the options. "--" ends the options. Sets the log's verbosity.
 * Returns 0, or -1 on a usage error (getopt has named a bad option; the
 * caller prints its usage). pg->argv points into argv, which is reordered.
 */
int prog_options(struct prog *pg, int argc, char **argv);

/*
 * Reads the config of -c (exits 2 after the config's message when it is
 * refused), ignores SIGPIPE (a peer that goes away must not end the
 * program) and sets up libcurl (exits 2 when it cannot). Returns the
 * config, for prog_end() to free.
 */
struct config *prog_setup(const struct prog *pg);

/* Frees the config and libcurl's global state. */
void prog_end(struct config *);

/*
 * Has SIGTERM and SIGINT, and SIGHUP with hup, call handler, without
 * SA_RESTART: a signal ends a blocked accept(), sleep or read early.
 */
void prog_signals(void (*handler)(int), int hup);

#endif
