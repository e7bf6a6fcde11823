/* metrics.c: the Prometheus text form of the counters and gauges. */
#include <stdio.h>
#include <stdlib.h>

#include "cache.h"
#include "metrics.h"

const char *const metrics_reasons[] = {"timeout", "connect", "http", "size",
    "refused", "invalid", "other", NULL};

/* Counters kept in the stats hash, with their help text. */
static const struct {
	const char *field, *name, *help;
} counters[] = {
    {"hits", "ocspxy_hits_total", "Requests answered from the cache."},
    {"misses", "ocspxy_misses_total",
	"Requests that found no valid cached response."},
    {"fetches", "ocspxy_upstream_fetches_total",
	"Fetches from upstream responders by ocspxy-fcgi."},
    {"fallbacks", "ocspxy_fallbacks_total",
	"Cached responses served because the upstream failed."},
    {"stale_refusals", "ocspxy_stale_refusals_total",
	"Requests answered 503 while only an expired response was cached."},
    {"requests_refused", "ocspxy_requests_refused_total",
	"Requests refused with a 4xx status."},
    {"served_bytes", "ocspxy_served_bytes_total",
	"Bytes of OCSP responses sent to clients."},
    {"refreshed", "ocspxy_refreshed_total",
	"Entries refreshed by ocspxy-refresh."},
    {"refresh_failures", "ocspxy_refresh_failures_total",
	"Failed refreshes by ocspxy-refresh."},
};

/* Gauges of the refresh daemon's last pass. */
static const struct {
	const char *field, *name, *help;
} lastpass[] = {
    {"refresh_last_time", "ocspxy_refresh_last_pass_timestamp_seconds",
	"When the last refresh pass ended."},
    {"refresh_last_due", "ocspxy_refresh_last_pass_due",
	"Entries due in the last refresh pass."},
    {"refresh_last_refreshed", "ocspxy_refresh_last_pass_refreshed",
	"Entries refreshed in the last refresh pass."},
    {"refresh_last_failed", "ocspxy_refresh_last_pass_failed",
	"Entries that failed in the last refresh pass."},
};

char *
metrics_text(const struct cache_stats *st, size_t *len)
{
	char *buf = NULL, field[64];
	FILE *fp;
	size_t i;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(fp,
	    "# HELP ocspxy_redis_up Whether Redis answered.\n"
	    "# TYPE ocspxy_redis_up gauge\nocspxy_redis_up %d\n",
	    st != NULL);
	if (st == NULL)
		goto done;
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		fprintf(fp, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n",
		    counters[i].name, counters[i].help, counters[i].name,
		    counters[i].name, cache_stat(st, counters[i].field));
	fprintf(fp,
	    "# HELP ocspxy_upstream_failures_total Failed upstream "
	    "fetches by ocspxy-fcgi, by reason.\n"
	    "# TYPE ocspxy_upstream_failures_total counter\n");
	for (i = 0; metrics_reasons[i] != NULL; i++) {
		snprintf(field, sizeof(field), "fetch_failures_%s",
		    metrics_reasons[i]);
		fprintf(fp,
		    "ocspxy_upstream_failures_total{reason=\"%s\"} "
		    "%lld\n",
		    metrics_reasons[i], cache_stat(st, field));
	}
	fprintf(fp,
	    "# HELP ocspxy_entries Cached responses.\n"
	    "# TYPE ocspxy_entries gauge\nocspxy_entries %lld\n"
	    "# HELP ocspxy_entries_expiring Cached responses whose nextUpdate "
	    "is within a day.\n# TYPE ocspxy_entries_expiring gauge\n"
	    "ocspxy_entries_expiring %lld\n"
	    "# HELP ocspxy_entries_expired Cached responses past their "
	    "nextUpdate.\n# TYPE ocspxy_entries_expired gauge\n"
	    "ocspxy_entries_expired %lld\n"
	    "# HELP ocspxy_oldest_thisupdate_seconds The oldest thisUpdate "
	    "in the cache (Unix time, 0 when empty).\n"
	    "# TYPE ocspxy_oldest_thisupdate_seconds gauge\n"
	    "ocspxy_oldest_thisupdate_seconds %lld\n",
	    st->entries, st->expiring, st->expired, st->oldest);
	for (i = 0; i < sizeof(lastpass) / sizeof(lastpass[0]); i++)
		fprintf(fp, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n",
		    lastpass[i].name, lastpass[i].help, lastpass[i].name,
		    lastpass[i].name, cache_stat(st, lastpass[i].field));
done:
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
