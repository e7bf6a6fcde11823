/* log.h: one line per event on stderr (systemd and spawn-fcgi collect it). */
#ifndef OCSPXY_LOG_H
#define OCSPXY_LOG_H

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* Sets the program name put before every line and the verbosity (0, 1). */
void log_init(const char *progname, int verbose);
void log_setverbose(int verbose);

/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) LOG_FMT(1, 2);
void log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void log_info(const char *fmt, ...) LOG_FMT(1, 2);
void log_debug(const char *fmt, ...) LOG_FMT(1, 2);

/*
 * Modules that describe a failure without logging it (pure parsers, one
 * transfer) write the reason into a caller's buffer of ERRLEN bytes; the
 * caller logs it once, with its own context.
 */
#define ERRLEN 256
void errfmt(char *err, const char *fmt, ...) LOG_FMT(2, 3);

/* Start-up only: logs and exits with status 2. */
void fatalx(const char *fmt, ...) LOG_FMT(1, 2) __attribute__((noreturn));

#endif
