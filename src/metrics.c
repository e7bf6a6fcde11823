/* metrics.c: the table of figures, their tally and their Prometheus form. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "metrics.h"

#define FAILURE(kind)                                                          \
	{                                                                      \
		"fetch_failures_" kind, "ocspxy_upstream_failures_total",      \
		    kind, METRIC_COUNTER,                                      \
		    "Failed upstream fetches by ocspxy-fcgi, by reason."       \
	}

const struct metric_def metrics[M_COUNT] = {
    [M_HITS] = {"hits", "ocspxy_hits_total", NULL, METRIC_COUNTER,
	"Requests answered from the cache (memory and Redis)."},
    [M_MEMORY_HITS] = {"memory_hits", "ocspxy_memory_hits_total", NULL,
	METRIC_COUNTER,
	"Requests answered from a process's memory, without Redis."},
    [M_REDIS_HITS] = {"redis_hits", "ocspxy_redis_hits_total", NULL,
	METRIC_COUNTER, "Requests answered from Redis."},
    [M_INVALIDATIONS] = {"invalidations", "ocspxy_invalidations_total", NULL,
	METRIC_COUNTER,
	"Entries dropped from a process's memory because Redis said they "
	"changed."},
    [M_WRITEBACKS] = {"writebacks", "ocspxy_writebacks_total", NULL,
	METRIC_COUNTER,
	"Entries written back from memory to a Redis that lost its data."},
    [M_MISSES] = {"misses", "ocspxy_misses_total", NULL, METRIC_COUNTER,
	"Requests that found no valid cached response."},
    [M_FETCHES] = {"fetches", "ocspxy_upstream_fetches_total", NULL,
	METRIC_COUNTER, "Fetches from upstream responders by ocspxy-fcgi."},
    [M_FALLBACKS] = {"fallbacks", "ocspxy_fallbacks_total", NULL,
	METRIC_COUNTER, "Cached responses served because the upstream failed."},
    [M_STALE_REFUSALS] = {"stale_refusals", "ocspxy_stale_refusals_total", NULL,
	METRIC_COUNTER,
	"Requests answered 503 while only an expired response was cached."},
    [M_REQUESTS_REFUSED] = {"requests_refused", "ocspxy_requests_refused_total",
	NULL, METRIC_COUNTER, "Requests refused with a 4xx status."},
    [M_SERVED_BYTES] = {"served_bytes", "ocspxy_served_bytes_total", NULL,
	METRIC_COUNTER, "Bytes of OCSP responses sent to clients."},
    [M_REFRESHED] = {"refreshed", "ocspxy_refreshed_total", NULL,
	METRIC_COUNTER, "Entries refreshed by ocspxy-refresh."},
    [M_REFRESH_FAILURES] = {"refresh_failures", "ocspxy_refresh_failures_total",
	NULL, METRIC_COUNTER, "Failed refreshes by ocspxy-refresh."},
    [M_REFRESH_UNCHANGED] = {"refresh_unchanged",
	"ocspxy_refresh_unchanged_total", NULL, METRIC_COUNTER,
	"Refreshes that got the stored response back: no signature check, "
	"only lastchecked written."},
    [M_BREAKER_SAVED] = {"breaker_saved", "ocspxy_breaker_saved_fetches_total",
	NULL, METRIC_COUNTER,
	"Fetches not made because the responder's circuit breaker was open."},
    [M_WAIT_REFUSALS] = {"wait_refusals", "ocspxy_upstream_wait_refusals_total",
	NULL, METRIC_COUNTER,
	"Misses answered at once: upstream_max_waiting processes of the host "
	"were waiting upstream."},
    [M_FAIL_TIMEOUT] = FAILURE("timeout"),
    [M_FAIL_CONNECT] = FAILURE("connect"),
    [M_FAIL_HTTP] = FAILURE("http"),
    [M_FAIL_SIZE] = FAILURE("size"),
    [M_FAIL_TLS] = FAILURE("tls"),
    [M_FAIL_REFUSED] = FAILURE("refused"),
    [M_FAIL_INVALID] = FAILURE("invalid"),
    [M_FAIL_OTHER] = FAILURE("other"),
    [M_LAST_TIME] = {"refresh_last_time",
	"ocspxy_refresh_last_pass_timestamp_seconds", NULL, METRIC_GAUGE,
	"When the last refresh pass ended."},
    [M_LAST_DUE] = {"refresh_last_due", "ocspxy_refresh_last_pass_due", NULL,
	METRIC_GAUGE, "Entries due in the last refresh pass."},
    [M_LAST_REFRESHED] = {"refresh_last_refreshed",
	"ocspxy_refresh_last_pass_refreshed", NULL, METRIC_GAUGE,
	"Entries refreshed in the last refresh pass."},
    [M_LAST_FAILED] = {"refresh_last_failed", "ocspxy_refresh_last_pass_failed",
	NULL, METRIC_GAUGE, "Entries that failed in the last refresh pass."},
};
#undef FAILURE

/* Gauges read from the nextUpdate and thisUpdate indexes, not the hash. */
static const struct {
	size_t off; /* in struct cache_stats */
	const char *name, *help;
} indexed[] = {
    {offsetof(struct cache_stats, entries), "ocspxy_entries",
	"Cached responses."},
    {offsetof(struct cache_stats, expiring), "ocspxy_entries_expiring",
	"Cached responses whose nextUpdate is within a day."},
    {offsetof(struct cache_stats, expired), "ocspxy_entries_expired",
	"Cached responses past their nextUpdate."},
    {offsetof(struct cache_stats, oldest), "ocspxy_oldest_thisupdate_seconds",
	"The oldest thisUpdate in the cache (Unix time, 0 when empty)."},
    {offsetof(struct cache_stats, breakers), "ocspxy_breakers_open",
	"Responders whose circuit breaker is open (held off or on trial)."},
};

enum metric
metrics_failure(const char *reason)
{
	int i;

	for (i = 0; i < M_COUNT; i++)
		if (metrics[i].reason != NULL && reason != NULL &&
		    strcmp(metrics[i].reason, reason) == 0)
			return (enum metric)i;
	return M_FAIL_OTHER;
}

int
metrics_pending(const struct tally *t)
{
	int i;

	for (i = 0; i < M_COUNT; i++)
		if (t->v[i] != 0)
			return 1;
	return 0;
}

int
metrics_flush(struct cache *c, struct tally *t, int with_gauges)
{
	struct cache_count add[M_COUNT], set[M_COUNT];
	size_t nadd = 0, nset = 0;
	int i;

	for (i = 0; i < M_COUNT; i++) {
		if (metrics[i].type == METRIC_COUNTER && t->v[i] != 0) {
			add[nadd].name = metrics[i].field;
			add[nadd++].delta = t->v[i];
		} else if (metrics[i].type == METRIC_GAUGE && with_gauges) {
			set[nset].name = metrics[i].field;
			set[nset++].delta = t->v[i];
		}
	}
	if (nset > 0 && cache_set_stats(c, set, nset) == -1)
		return -1;
	if (nadd > 0 && cache_count(c, add, nadd) == -1)
		return -1;
	memset(t, 0, sizeof(*t));
	return 0;
}

/* HELP and TYPE once for the rows of one name, then the sample. */
static void
metrics_row(FILE *fp, const struct metric_def *m, const struct metric_def *prev,
    long long v)
{
	if (prev == NULL || strcmp(prev->name, m->name) != 0)
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
		    m->name, m->type == METRIC_GAUGE ? "gauge" : "counter");
	if (m->reason != NULL)
		fprintf(fp, "%s{reason=\"%s\"} %lld\n", m->name, m->reason, v);
	else
		fprintf(fp, "%s %lld\n", m->name, v);
}

char *
metrics_text(const struct cache_stats *st, size_t *len)
{
	char *buf = NULL;
	FILE *fp;
	size_t i;
	long long v;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(fp,
	    "# HELP ocspxy_redis_up Whether Redis answered.\n"
	    "# TYPE ocspxy_redis_up gauge\nocspxy_redis_up %d\n",
	    st != NULL);
	if (st == NULL)
		goto done;
	for (i = 0; i < M_COUNT; i++)
		metrics_row(fp, &metrics[i], i > 0 ? &metrics[i - 1] : NULL,
		    cache_stat(st, metrics[i].field));
	for (i = 0; i < sizeof(indexed) / sizeof(indexed[0]); i++) {
		memcpy(&v, (const char *)st + indexed[i].off, sizeof(v));
		fprintf(fp, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n",
		    indexed[i].name, indexed[i].help, indexed[i].name,
		    indexed[i].name, v);
	}
done:
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
