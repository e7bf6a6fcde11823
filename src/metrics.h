/*
 * metrics.h: the counters every process adds to (kept in Redis by
 * cache.c) and their Prometheus text form.
 */
#ifndef OCSPXY_METRICS_H
#define OCSPXY_METRICS_H

#include <stddef.h>
#include <time.h>

struct cache_stats;

/* The upstream failure kinds counted as fetch_failures_<kind>. */
extern const char *const metrics_reasons[];

/*
 * The Prometheus text exposition of st (NULL when Redis is unreachable).
 * Returns a malloc'd string the caller frees, or NULL.
 */
char *metrics_text(const struct cache_stats *st, size_t *len);

#endif
