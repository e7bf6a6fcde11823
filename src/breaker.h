/*
 * breaker.h: a circuit breaker per responder (its host and port), shared
 * through Redis by every process on every host, and kept in the process's
 * memory while Redis is unreachable. After a fetch fails by timeout or
 * connection error, fetches from that responder fail at once for a
 * back-off (2 s, doubling to 60 s, +-25 % jitter); then one trial fetch
 * per window decides whether it is back.
 */
#ifndef OCSPXY_BREAKER_H
#define OCSPXY_BREAKER_H

#include <time.h>

struct cache;
struct breaker;

#define BREAKER_MIN_MS 2000
#define BREAKER_MAX_MS 60000

/*
 * A breaker over cache (borrowed); a trial fetch may take trial_ms
 * before another process tries again. NULL when out of memory (logged).
 */
struct breaker *breaker_new(struct cache *, long trial_ms);
void breaker_free(struct breaker *);
/*
 * From now on, a closed verdict read from Redis holds for ms without
 * asking again, unless a fetch of ours fails first (the refresh daemon:
 * another process's opening is seen up to ms late).
 */
void breaker_trust(struct breaker *, long ms);

enum breaker_verdict {
	BREAKER_GO, /* closed: fetch */
	BREAKER_TRIAL, /* the back-off passed: this fetch is the trial */
	BREAKER_HOLD /* open: do not fetch before *until */
};

/* May the responder of url be asked now? */
enum breaker_verdict breaker_check(struct breaker *, const char *url,
    time_t *until);
/*
 * The end of a fetch that breaker_check() let through: reason is NULL on
 * success, else upstream_reason()'s. Opens the breaker on a timeout or a
 * connection failure, closes it when a trial got an answer. Each opening
 * and closing is one log line.
 */
void breaker_done(struct breaker *, const char *url, enum breaker_verdict how,
    const char *reason);

/* The "host:port" of url into buf; -1 when it has no host. */
int breaker_host(const char *url, char *buf, size_t size);

#endif
