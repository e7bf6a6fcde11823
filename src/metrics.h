/*
 * metrics.h: every figure the processes count or set, in one table
 * (metrics[]): its field in Redis's stats hash, its Prometheus name,
 * label, type and help. The table drives the tally of a process, the
 * flush to Redis, the refresh report and the text of /metrics.
 */
#ifndef OCSPXY_METRICS_H
#define OCSPXY_METRICS_H

#include <stddef.h>
#include <time.h>

struct cache;
struct cache_stats;

enum metric {
	M_HITS,
	M_MEMORY_HITS,
	M_REDIS_HITS,
	M_INVALIDATIONS,
	M_WRITEBACKS,
	M_MISSES,
	M_FETCHES,
	M_FALLBACKS,
	M_STALE_REFUSALS,
	M_REQUESTS_REFUSED,
	M_SERVED_BYTES,
	M_REFRESHED,
	M_REFRESH_FAILURES,
	M_REFRESH_UNCHANGED,
	M_BREAKER_SAVED,
	M_WAIT_REFUSALS,
	/* Failed fetches of ocspxy-fcgi by kind (upstream_reason()). */
	M_FAIL_TIMEOUT,
	M_FAIL_CONNECT,
	M_FAIL_HTTP,
	M_FAIL_SIZE,
	M_FAIL_TLS,
	M_FAIL_REFUSED,
	M_FAIL_INVALID,
	M_FAIL_OTHER,
	/* The refresh daemon's last pass. */
	M_LAST_TIME,
	M_LAST_DUE,
	M_LAST_REFRESHED,
	M_LAST_FAILED,
	M_COUNT
};

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metric_def {
	const char *field; /* in the stats hash */
	const char *name; /* Prometheus; rows of one name share HELP */
	const char *reason; /* the value of the label reason="", or NULL */
	enum metric_type type;
	const char *help;
};

extern const struct metric_def metrics[M_COUNT];

/* Figures gathered, not yet in Redis: counters add, gauges are set. */
struct tally {
	long long v[M_COUNT];
};

/* The failure counter of an upstream_reason() ("timeout", ...). */
enum metric metrics_failure(const char *reason);

/* 1 when t holds a figure to send. */
int metrics_pending(const struct tally *t);
/*
 * Sends t in one round trip for the counters (HINCRBY of those that
 * moved) and one for the gauges (HSET, when with_gauges), and empties it
 * when Redis took them. 0, or -1 (logged by cache.c; t is kept).
 */
int metrics_flush(struct cache *, struct tally *t, int with_gauges);

/*
 * The Prometheus text exposition of st (NULL when Redis is unreachable).
 * Returns a malloc'd string the caller frees, or NULL.
 */
char *metrics_text(const struct cache_stats *st, size_t *len);

#endif
