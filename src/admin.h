/*
 * admin.h: what the operator command ocspxy does: warm, status, prune,
 * refresh and export, through the same modules as ocspxy-fcgi.
 */
#ifndef OCSPXY_ADMIN_H
#define OCSPXY_ADMIN_H

#include <signal.h>

struct config;

enum admin_format { ADMIN_HUMAN, ADMIN_TSV, ADMIN_JSON };

struct admin_opts {
	enum admin_format format;
	int color; /* ANSI colours (a terminal) */
	int progress; /* progress on stderr */
	long warn; /* seconds, for status */
	long interval; /* seconds, for export --watch */
	int watch;
	const char *haproxy; /* export --haproxy: HAProxy's socket, or NULL */
	volatile sig_atomic_t *stop; /* set by a signal */
};

/*
 * Each takes the command's arguments (certificate files, directories of
 * them, or cache keys) and returns the exit status: 0 when everything
 * worked, 1 when anything failed (status: when any entry is expired or
 * expires within opts->warn), 2 on a usage or set-up error. cf may gain
 * issuers (warm verifies against the issuers it is given).
 */
int admin_warm(struct config *, const struct admin_opts *, int, char **);
int admin_status(struct config *, const struct admin_opts *, int, char **);
int admin_prune(struct config *, const struct admin_opts *, int, char **);
int admin_refresh(struct config *, const struct admin_opts *, int, char **);
int admin_export(struct config *, const struct admin_opts *, int, char **);

/* "90m", "12h", "2d", "30s" or plain seconds; -1 when not a duration. */
long admin_duration(const char *);

#endif
