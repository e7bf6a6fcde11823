/*
 * refresh.h: one refresh pass over the cache: SCAN, pick the due entries,
 * fetch them many at once, check and store them through proxy_store().
 */
#ifndef OCSPXY_REFRESH_H
#define OCSPXY_REFRESH_H

#include <signal.h>
#include <time.h>

struct config;

struct refresh_times {
	time_t thisupd, nextupd, lastchecked, lasttry;
	long failures;
};

struct refresh_stats {
	long seen, due, refreshed, failed, skipped, removed;
	long unchanged; /* of refreshed: the stored bytes came back */
	long held; /* of failed: the responder's breaker was open */
	long pushed; /* of refreshed: sent to HAProxy (haproxy_socket) */
};

/*
 * The schedule (pure). An entry is due when:
 * - it failed last time: once its back-off has passed since the last try,
 *   60 s doubled with each failure up to refresh_min_age, +-25 % jitter
 *   drawn from key so that entries spread out;
 * - it is within refresh_min_age of its nextUpdate, or past it;
 * - past half of its validity: last checked refresh_min_age ago or more;
 * - before that: last checked refresh_max_age ago or more.
 * Returns 1 when due, 0 when not.
 */
int refresh_due(const struct config *, const char *key,
    const struct refresh_times *, time_t now);

/* The back-off after failures failed tries, with key's jitter. */
long refresh_backoff(const struct config *, const char *key, long failures);

/*
 * Runs one pass. Stops starting fetches once *stop is set and gives the
 * ones in flight up to upstream_timeout. Returns 0 when every due entry
 * was refreshed, 1 when any failed, -1 when Redis failed the walk.
 */
int refresh_pass(const struct config *, volatile sig_atomic_t *stop,
    struct refresh_stats *);

/* What refresh_haproxy() did: certificates HAProxy listed, pushed. */
struct refresh_push_stats {
	long listed, pushed;
};

/*
 * Sends HAProxy at the unix socket path (its runtime API) the valid
 * cached response of every certificate it staples for, as the refresh
 * daemon does when it starts and `ocspxy export --haproxy` does once. A
 * certificate it cannot serve (not cached, expired, refused by HAProxy)
 * is one log line and the others go on. Fills st. Returns 0 when every
 * one was pushed, 1 when any was not, -1 when HAProxy or Redis could not
 * be asked (logged).
 */
int refresh_haproxy(const struct config *, const char *path,
    struct refresh_push_stats *st);

#endif
