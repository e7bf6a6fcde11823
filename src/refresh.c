/* refresh.c: one refresh pass over the cache. */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "breaker.h"
#include "cache.h"
#include "config.h"
#include "haproxy.h"
#include "log.h"
#include "ocsp.h"
#include "metrics.h"
#include "refresh.h"
#include "store.h"
#include "upstream.h"

/* Keys read from one SCAN step and what they hold, waiting their turn. */
struct batch {
	char **keys;
	struct cache_entry *e;
	int *bad; /* 1: not a hash */
	size_t n, cap;
	unsigned long slice, nslices; /* our share of the keys */
};

/*
 * One due entry: its lock and read queued, then (locked) waiting for
 * room, fetched, and its write queued; freed once its last operation
 * was answered.
 */
struct job {
	struct pass *pass;
	char *key;
	char *url;
	char *responder;
	struct ocsp_req *req; /* owns the DER being posted */
	struct cache_entry e; /* the entry as locked: its response */
	char hostport[256]; /* its responder, "" when the URL names none */
	struct inflight *host; /* its responder's count, while fetched */
	int fetching; /* counted in the pass's running */
	enum breaker_verdict verdict;
	enum store_outcome o; /* the write queued: STORED or UNCHANGED */
	struct store_result res;
	unsigned char *resp; /* what is stored, for HAProxy */
	size_t resp_len;
};

/* Fetches in flight from one responder (host and port). */
struct inflight {
	char host[256]; /* "" when free */
	long n;
};

/*
 * A pass is one loop over three things at once: the walk over the keys
 * (a SCAN step and the peek of its keys, a round trip each), the batch of
 * locks and writes in flight to Redis (one at a time, its replies read as
 * they come), and the fetches in flight. At most REFRESH_AHEAD times as
 * many entries as may be fetched at once are locked, or being locked,
 * ahead of their fetch; they wait in ready[] for room.
 */
#define REFRESH_AHEAD 4

struct pass {
	const struct config *cf;
	volatile sig_atomic_t *stop;
	struct cache *cache;
	struct cache_batch *b; /* locks and writes queued, sent at once */
	struct job **ready; /* locked, waiting for room: [head, nready) */
	size_t head, nready, ahead;
	size_t nlocking; /* locks queued or in flight */
	size_t nqueued; /* locks queued */
	long lock_ms;
	long per_responder; /* this worker's share of refresh_per_responder */
	long running; /* fetches in flight */
	int failed; /* Redis failed: the walk ends */
	struct batch scan; /* the SCAN step walked */
	size_t next; /* its next key */
	unsigned long long cursor;
	int scanned, walked; /* a SCAN step was made; every key seen */
	struct upstream_multi *multi;
	struct breaker *breaker;
	struct inflight *hosts; /* refresh_concurrency of them */
	struct refresh_stats *st;
	struct haproxy *hp; /* HAProxy's certificates, read at the first
			     * store of the pass; NULL when unreachable */
	int hp_asked;
};

long
refresh_backoff(const struct config *cf, const char *key, long failures)
{
	uint32_t h;
	long b = 60, jitter, n;

	for (n = failures; --n > 0 && b < cf->refresh_min_age;)
		b *= 2;
	if (b > cf->refresh_min_age)
		b = cf->refresh_min_age;
	/* A jitter of +-25 % that stays the same for a key and a count. */
	h = ocsp_hash(key, strlen(key)) ^ (uint32_t)failures * 2654435761u;
	jitter = b / 2 > 0 ? (long)(h % (uint32_t)(b / 2 + 1)) - b / 4 : 0;
	return b + jitter;
}

int
refresh_due(const struct config *cf, const char *key,
    const struct refresh_times *t, time_t now)
{
	time_t half;

	if (t->failures > 0)
		return now - t->lasttry >=
		    refresh_backoff(cf, key, t->failures);
	if (t->thisupd <= 0 || t->nextupd <= t->thisupd)
		return 1;
	if (now >= t->nextupd - cf->refresh_min_age)
		return 1;
	half = t->thisupd + (t->nextupd - t->thisupd) / 2;
	if (now >= half)
		return now - t->lastchecked >= cf->refresh_min_age;
	return now - t->lastchecked >= cf->refresh_max_age;
}

/* The fetch is over: its responder's count goes down. */
static void
job_landed(struct job *j)
{
	if (j->host != NULL)
		j->host->n--;
	j->host = NULL;
	if (j->fetching)
		j->pass->running--;
	j->fetching = 0;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	job_landed(j);
	free(j->key);
	free(j->url);
	free(j->responder);
	free(j->resp);
	ocsp_req_free(j->req);
	cache_entry_clear(&j->e);
	free(j);
}

/* The last operation of a job was answered: whatever it said, done. */
static void
job_release(void *arg, int r, struct cache_entry *e)
{
	(void)r;
	(void)e;
	job_free(arg);
}

/*
 * Lets go of the job's lock, in the next round trip, and of the job. A
 * lock that could not be queued (logged) expires.
 */
static void
job_unlock(struct job *j)
{
	struct pass *ps = j->pass;

	if (cache_batch_unlock(ps->cache, ps->b, j->key, job_release, j) == -1)
		job_free(j);
}

/*
 * Records a failed refresh on the entry (which lets go of the lock), in
 * the next round trip, and the job goes with it.
 */
static void
job_fail(struct job *j, const char *why)
{
	struct pass *ps = j->pass;

	ps->st->failed++;
	if (cache_batch_fail(ps->cache, ps->b, j->key, time(NULL), why, 1,
		job_release, j) == -1)
		job_free(j);
}

/*
 * Sends a response just stored to HAProxy (haproxy_socket) when HAProxy
 * staples for its certificate. Which certificates it does is asked once
 * a pass, at its first store. A failure is one log line (haproxy.c's)
 * and the pass goes on; the entry's next refresh sends it again.
 */
static void
refresh_push(struct pass *ps, const char *key, const unsigned char *der,
    size_t len)
{
	if (ps->cf->haproxy_socket == NULL || der == NULL)
		return;
	if (!ps->hp_asked) {
		ps->hp_asked = 1;
		ps->hp = haproxy_new(ps->cf->haproxy_socket, ps->cf->prefix);
	}
	if (ps->hp != NULL && haproxy_wants(ps->hp, key) &&
	    haproxy_push(ps->hp, key, der, len) == 0) {
		ps->st->pushed++;
		log_debug("%s: sent to haproxy %s", key,
		    ps->cf->haproxy_socket);
	}
}

/* A store or a touch was answered (cache_put(), cache_touch()). */
static void
job_written(void *arg, int r, struct cache_entry *e)
{
	struct job *j = arg;
	struct pass *ps = j->pass;
	char why[ERRLEN], next[48];
	time_t now = time(NULL);

	(void)e;
	if (r == 1) {
		if (j->o == STORE_STORED)
			refresh_push(ps, j->key, j->resp, j->resp_len);
		ps->st->refreshed++;
		ps->st->unchanged += j->o == STORE_UNCHANGED;
		log_debug("%s: refreshed from %s: %s, %s%s", j->key, j->url,
		    ocsp_status_name(j->res.st.status),
		    store_next_text(&j->res.st, now, next, sizeof(next)),
		    j->o == STORE_UNCHANGED ? ", unchanged" : "");
		job_free(j);
		return;
	}
	if (j->o == STORE_UNCHANGED)
		store_touched(r, why);
	else
		errfmt(why, "%s",
		    r == 0 ? "the cache holds a newer response"
			   : "the cache is unavailable");
	log_warnx("%s: refresh from %s failed: valid but not stored: %s",
	    j->key, j->url, why);
	job_fail(j, why);
}

/* Queues the store of a fit answer (store_judge()). */
static void
job_store(struct job *j, const struct store_item *it, const unsigned char *out,
    size_t outlen, time_t now)
{
	struct pass *ps = j->pass;
	struct cache_record rec;
	unsigned char *plain;
	char why[ERRLEN];
	int r;

	if (store_record(it, out, outlen, now, &j->res, &rec, &plain, why) ==
	    -1) {
		log_warnx("%s: refresh from %s failed: valid but not stored: "
			  "%s",
		    j->key, j->url, why);
		job_fail(j, why);
		return;
	}
	if (ps->cf->haproxy_socket != NULL &&
	    (j->resp = malloc(outlen)) != NULL) {
		memcpy(j->resp, out, outlen);
		j->resp_len = outlen;
	}
	r = cache_batch_put(ps->cache, ps->b, j->key, &rec, job_written, j);
	OPENSSL_free(plain);
	if (r == -1)
		job_free(j);
}

/* A fetch ended: its answer judged, its write queued. */
static void
job_done(void *arg, const unsigned char *out, size_t outlen, const char *err,
    const char *reason)
{
	struct job *j = arg;
	struct pass *ps = j->pass;
	struct store_item it = {.key = j->key,
	    .req = j->req,
	    .responder = j->responder,
	    .prev = &j->e,
	    .unlock = 1};
	char why[ERRLEN];
	time_t now = time(NULL);

	why[0] = '\0';
	job_landed(j);
	breaker_done(ps->breaker, j->url, j->verdict, reason);
	if (out == NULL) {
		log_warnx("%s: refresh failed: %s", j->key, err);
		job_fail(j, err);
		return;
	}
	j->o = store_judge(ps->cf, &it, out, outlen, now, &j->res, why);
	if (j->o == STORE_STORED)
		job_store(j, &it, out, outlen, now);
	else if (j->o == STORE_UNCHANGED) {
		if (cache_batch_touch(ps->cache, ps->b, j->key, now,
			job_written, j) == -1)
			job_free(j);
	} else {
		log_warnx("%s: refresh from %s failed: %s%s", j->key, j->url,
		    j->o == STORE_PASSED ? "valid but not stored: " : "", why);
		job_fail(j, why);
	}
}

/* A fetch abandoned at shutdown: its lock is let go, nothing counted. */
static void
job_drop(void *arg)
{
	struct job *j = arg;

	cache_unlock(j->pass->cache, j->key);
	job_free(j);
}

/* Removes an entry that cannot be refreshed: no request or responder. */
static void
refresh_remove(struct pass *ps, const char *key, const char *why)
{
	if (cache_del(ps->cache, key) == 1) {
		ps->st->removed++;
		log_warnx("%s: corrupt entry removed: %s", key, why);
	}
}

static void
entry_times(const struct cache_entry *e, struct refresh_times *t)
{
	t->thisupd = e->thisupd;
	t->nextupd = e->nextupd;
	t->lastchecked = e->lastchecked;
	t->lasttry = e->lasttry;
	t->failures = e->failures;
}

/*
 * Judges a locked entry as it reads now (another daemon or a client may
 * have refreshed it since the peek) and makes its request: 1 ready to
 * fetch, 0 not (skipped or removed).
 */
static int
job_prepare(struct pass *ps, struct job *j)
{
	struct refresh_times t;
	const struct cache_entry *e = &j->e;
	char err[ERRLEN];

	entry_times(e, &t);
	if (!refresh_due(ps->cf, j->key, &t, time(NULL))) {
		ps->st->skipped++;
		return 0;
	}
	if (e->request == NULL || e->request_len == 0 || e->responder == NULL ||
	    *e->responder == '\0') {
		refresh_remove(ps, j->key,
		    e->request == NULL || e->request_len == 0 ? "no request"
							      : "no responder");
		return 0;
	}
	if ((j->req = ocsp_req_parse((const unsigned char *)e->request,
		 e->request_len, err)) == NULL) {
		refresh_remove(ps, j->key, err);
		return 0;
	}
	if ((j->responder = strdup(e->responder)) == NULL ||
	    (j->url = store_url(e->responder)) == NULL) {
		log_warnx("%s: refresh: out of memory", j->key);
		return 0;
	}
	if (breaker_host(j->url, j->hostport, sizeof(j->hostport)) == -1)
		j->hostport[0] = '\0';
	return 1;
}

/* The lock and read of a job were answered (cache_batch_lock_get()). */
static void
job_locked(void *arg, int r, struct cache_entry *e)
{
	struct job *j = arg;
	struct pass *ps = j->pass;

	ps->nlocking--;
	if (r == -1)
		ps->failed = 1;
	if (r == 0) {
		ps->st->skipped++;
		log_debug("%s: locked by another daemon or a client", j->key);
	}
	if (r == 2)
		job_unlock(j);
	if (r != 1) {
		if (r != 2)
			job_free(j);
		return;
	}
	j->e = *e;
	if (!job_prepare(ps, j)) {
		job_unlock(j);
		return;
	}
	/* (At most ahead wait, so that there is room once moved down.) */
	if (ps->nready == ps->ahead) {
		memmove(ps->ready, ps->ready + ps->head,
		    (ps->nready - ps->head) * sizeof(*ps->ready));
		ps->nready -= ps->head;
		ps->head = 0;
	}
	ps->ready[ps->nready++] = j;
}

/* The in-flight count of a responder (a free one taken), or NULL. */
static struct inflight *
refresh_host(struct pass *ps, const char *host)
{
	struct inflight *free_one = NULL, *h;
	long i;

	if (*host == '\0')
		return NULL;
	for (i = 0; i < ps->cf->refresh_concurrency; i++) {
		h = &ps->hosts[i];
		if (strcmp(h->host, host) == 0)
			return h;
		if (h->n == 0 && free_one == NULL)
			free_one = h;
	}
	if (free_one != NULL)
		snprintf(free_one->host, sizeof(free_one->host), "%s", host);
	return free_one;
}

/*
 * Starts the fetch of a locked job, unless its responder is held off
 * (recorded like a failed fetch, so that the entry backs off). The job
 * belongs to the pass from then on.
 */
static void
refresh_start(struct pass *ps, struct job *j, time_t now)
{
	const unsigned char *der;
	char err[ERRLEN];
	size_t len;
	time_t until;

	ps->st->due++;
	j->verdict = breaker_check(ps->breaker, j->url, &until);
	if (j->verdict == BREAKER_HOLD) {
		ps->st->held++;
		errfmt(err,
		    "not fetched: responder held off (circuit open) "
		    "for %lld s more",
		    (long long)(until - now));
		log_debug("%s: refresh %s", j->key, err);
		job_fail(j, err);
		return;
	}
	der = ocsp_req_get0_der(j->req, &len);
	if ((j->host = refresh_host(ps, j->hostport)) != NULL)
		j->host->n++;
	j->fetching = 1;
	ps->running++;
	if (upstream_multi_add(ps->multi, j->url, der, len, j, err) == -1) {
		/* Recorded like a failed fetch (and the lock let go), so
		 * that it backs off and `ocspxy status` says why. */
		log_warnx("%s: refresh: %s", j->key, err);
		job_landed(j);
		job_fail(j, err);
	}
}

/* Which of n workers refreshes key. */
static unsigned long
refresh_share(const char *key, unsigned long n)
{
	return ocsp_hash(key, strlen(key)) % n;
}

static int
batch_add(void *arg, const char *key)
{
	struct batch *b = arg;
	size_t cap = b->cap ? b->cap * 2 : 64;
	char **k;
	struct cache_entry *e;
	int *bad;

	if (b->nslices > 1 && refresh_share(key, b->nslices) != b->slice)
		return 0;
	if (b->n == b->cap) {
		if ((k = reallocarray(b->keys, cap, sizeof(*k))) == NULL)
			goto oom;
		b->keys = k;
		if ((e = reallocarray(b->e, cap, sizeof(*e))) == NULL)
			goto oom;
		b->e = e;
		if ((bad = reallocarray(b->bad, cap, sizeof(*bad))) == NULL)
			goto oom;
		b->bad = bad;
		b->cap = cap;
	}
	if ((b->keys[b->n] = strdup(key)) == NULL)
		goto oom;
	memset(&b->e[b->n], 0, sizeof(b->e[b->n]));
	b->bad[b->n] = 0;
	b->n++;
	return 0;
oom:
	log_warnx("refresh: out of memory for a SCAN batch");
	return -1;
}

/* Reads what the batch's keys hold, all in one round trip. */
static int
batch_peek(struct pass *ps, struct batch *b)
{
	if (b->n == 0)
		return 0;
	return cache_peek_many(ps->cache, b->keys, b->n, b->e, b->bad);
}

/* Empties the batch after batch_peek(). */
static void
batch_clear(struct batch *b)
{
	while (b->n > 0) {
		b->n--;
		free(b->keys[b->n]);
		cache_entry_clear(&b->e[b->n]);
	}
}

/* 1 when the fetch of j may start now. */
static int
refresh_room(struct pass *ps, const struct job *j)
{
	const struct inflight *h;

	if (ps->running >= ps->cf->refresh_concurrency)
		return 0;
	h = refresh_host(ps, j->hostport);
	return h == NULL || h->n < ps->per_responder;
}

/*
 * Starts the fetches of the entries locked, in turn, while there is
 * room; at a stop, lets them go.
 */
static void
refresh_ready(struct pass *ps)
{
	struct job *j;

	while (ps->head < ps->nready) {
		j = ps->ready[ps->head];
		if (*ps->stop || ps->failed)
			job_unlock(j);
		else if (refresh_room(ps, j))
			refresh_start(ps, j, time(NULL));
		else
			return;
		ps->head++;
	}
	ps->head = ps->nready = 0;
}

/*
 * Queues the lock and read of key, as peek read it, when it is due.
 * Returns 0, or -1 when memory runs out (logged).
 */
static int
refresh_one(struct pass *ps, const char *key, const struct cache_entry *peek)
{
	struct refresh_times t;
	struct job *j;

	ps->st->seen++;
	/* (An entry without times, corrupt or gone, is due.) */
	entry_times(peek, &t);
	if (!refresh_due(ps->cf, key, &t, time(NULL)))
		return 0;
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->key = strdup(key)) == NULL) {
		log_warnx("%s: refresh: out of memory", key);
		job_free(j);
		return -1;
	}
	j->pass = ps;
	if (cache_batch_lock_get(ps->cache, ps->b, key, ps->lock_ms, job_locked,
		j) == -1) {
		job_free(j);
		return -1;
	}
	ps->nlocking++;
	ps->nqueued++;
	return 0;
}

/*
 * Walks on over the keys, queueing the locks of the due ones, until
 * ahead are locked or being locked, or every key was seen. Returns 0,
 * or -1 (logged) when Redis fails or memory runs out.
 */
static int
refresh_walk(struct pass *ps)
{
	struct batch *b = &ps->scan;
	size_t i;

	while (
	    !ps->walked && ps->nready - ps->head + ps->nlocking < ps->ahead) {
		if (ps->next < b->n) {
			i = ps->next++;
			if (!b->bad[i] &&
			    refresh_one(ps, b->keys[i], &b->e[i]) == -1)
				return -1;
			continue;
		}
		batch_clear(b);
		ps->next = 0;
		if (ps->scanned && ps->cursor == 0) {
			ps->walked = 1;
			break;
		}
		ps->scanned = 1;
		if (cache_scan(ps->cache, &ps->cursor, 200, batch_add, b) ==
			-1 ||
		    batch_peek(ps, b) == -1)
			return -1;
	}
	return 0;
}

/*
 * 1 when the batch is to go now: it locks half of ahead or more (a round
 * trip is worth as much as it carries; the writes go along), or no entry
 * locked waits for room, or the walk is over.
 */
static int
refresh_send_now(const struct pass *ps)
{
	return ps->nqueued >= ps->ahead / 2 ||
	    (cache_batch_len(ps->b) > 0 &&
		(ps->head == ps->nready || ps->walked));
}

/*
 * The loop of a pass: until every key was seen and every fetch and
 * write ended, or a stop, or Redis failed. Returns 0, or -1 (logged).
 */
static int
refresh_loop(struct pass *ps)
{
	int fd;

	for (;;) {
		refresh_ready(ps);
		if (*ps->stop || ps->failed)
			break;
		if (!cache_batch_busy(ps->cache)) {
			if (refresh_walk(ps) == -1)
				return -1;
			if (refresh_send_now(ps)) {
				ps->nqueued = 0;
				cache_batch_send(ps->cache, ps->b);
			}
		}
		if (ps->walked && !cache_batch_busy(ps->cache) &&
		    ps->head == ps->nready && ps->running == 0 &&
		    cache_batch_len(ps->b) == 0)
			break;
		fd = cache_batch_fd(ps->cache);
		if (upstream_multi_run(ps->multi,
			cache_batch_busy(ps->cache) && fd == -1 ? 0 : 200, fd,
			job_done) == -1)
			return -1;
		if (cache_batch_poll(ps->cache) == -1)
			ps->failed = 1;
	}
	return *ps->stop || !ps->failed ? 0 : -1;
}

/*
 * The pass's figures where status and /metrics read them, and the index
 * cleared of keys that expired.
 */
static void
refresh_report(struct cache *c, const struct refresh_stats *st)
{
	struct tally t;
	long gone;

	memset(&t, 0, sizeof(t));
	t.v[M_LAST_TIME] = (long long)time(NULL);
	t.v[M_LAST_DUE] = st->due;
	t.v[M_LAST_REFRESHED] = t.v[M_REFRESHED] = st->refreshed;
	t.v[M_LAST_FAILED] = t.v[M_REFRESH_FAILURES] = st->failed;
	t.v[M_REFRESH_UNCHANGED] = st->unchanged;
	t.v[M_BREAKER_SAVED] = st->held;
	metrics_flush(c, &t, 1);
	if (cache_clean_index(c, &gone) == 0 && gone > 0)
		log_info("refresh: %ld expired keys dropped from the index",
		    gone);
}

/* Sets up a pass over cf's cache: 0, or -1 (logged). */
static int
pass_init(struct pass *ps, const struct config *cf, volatile sig_atomic_t *stop,
    struct refresh_stats *st, unsigned long nslices)
{
	memset(ps, 0, sizeof(*ps));
	ps->cf = cf;
	ps->stop = stop;
	ps->st = st;
	/* refresh_per_responder is the daemon's: shared by its workers. */
	ps->per_responder =
	    (cf->refresh_per_responder + (long)nslices - 1) / (long)nslices;
	ps->ahead = (size_t)(ps->per_responder < cf->refresh_concurrency
			    ? ps->per_responder
			    : cf->refresh_concurrency) *
	    REFRESH_AHEAD;
	/* A job locked ahead waits for room at most REFRESH_AHEAD fetches. */
	ps->lock_ms = ((REFRESH_AHEAD + 1) * cf->upstream_timeout + 5) * 1000;
	if ((ps->cache = cache_new(cf)) == NULL ||
	    (ps->b = cache_batch_new()) == NULL ||
	    (ps->multi = upstream_multi_new(cf)) == NULL ||
	    (ps->breaker = breaker_new(ps->cache,
		 (cf->upstream_timeout + 1) * 1000)) == NULL)
		return -1;
	/* A breaker opened by another process is seen up to 200 ms late:
	 * one Redis round trip per responder and not per entry. */
	breaker_trust(ps->breaker, 200);
	if ((ps->ready = calloc(ps->ahead, sizeof(*ps->ready))) == NULL ||
	    (ps->hosts = calloc((size_t)cf->refresh_concurrency,
		 sizeof(*ps->hosts))) == NULL) {
		log_warn("refresh: calloc");
		return -1;
	}
	return 0;
}

/*
 * Sends what is queued, waiting for the replies; the entries it locks
 * are let go at once (the walk is over), in one more round trip.
 */
static void
pass_flush(struct pass *ps)
{
	if (ps->b == NULL)
		return;
	cache_batch_run(ps->cache, ps->b);
	while (ps->head < ps->nready)
		job_unlock(ps->ready[ps->head++]);
	ps->head = ps->nready = 0;
	cache_batch_run(ps->cache, ps->b);
}

/*
 * Lets the fetches in flight end, within upstream_timeout, writing what
 * they bring; then what is still queued is sent and the pass freed.
 */
static void
pass_end(struct pass *ps)
{
	time_t deadline = time(NULL) + ps->cf->upstream_timeout;
	int n = 0;

	pass_flush(ps);
	while (ps->running > 0 &&
	    (n = upstream_multi_run(ps->multi, 200, -1, job_done)) > 0 &&
	    time(NULL) < deadline)
		pass_flush(ps);
	if (n > 0)
		log_info("refresh: %d fetches abandoned", n);
	pass_flush(ps);
	upstream_multi_free(ps->multi, job_drop);
	pass_flush(ps);
	cache_batch_free(ps->b);
	batch_clear(&ps->scan);
	free(ps->scan.keys);
	free(ps->scan.e);
	free(ps->scan.bad);
	free(ps->ready);
	free(ps->hosts);
	breaker_free(ps->breaker);
	cache_free(ps->cache);
	haproxy_free(ps->hp);
}

/*
 * Walks the keys of slice (of nslices: a key's share by its hash), and
 * refreshes the due ones. Returns 0, or -1 (logged) when the walk was
 * cut short: Redis failed, or the set-up or a SCAN batch ran out of
 * memory.
 */
static int
refresh_slice(const struct config *cf, volatile sig_atomic_t *stop,
    struct refresh_stats *st, unsigned long slice, unsigned long nslices)
{
	struct pass ps;
	int ret = -1;

	if (pass_init(&ps, cf, stop, st, nslices) == 0) {
		ps.scan.slice = slice;
		ps.scan.nslices = nslices;
		ret = refresh_loop(&ps);
	}
	pass_end(&ps);
	return ret;
}

/* The number of worker processes: refresh_workers, or one per CPU. */
static unsigned long
refresh_nworkers(const struct config *cf)
{
	long n = cf->refresh_workers;

	if (n == 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n > REFRESH_AUTO_WORKERS)
			n = REFRESH_AUTO_WORKERS;
	}
	return n < 1 ? 1 : (unsigned long)n;
}

/* How worker i (pid p) ended: 0, or -1 (logged, here or by the worker). */
static int
refresh_reap(unsigned long i, pid_t p, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* Exit 1: the worker logged why. */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		log_warnx("refresh: worker %lu (pid %ld) ended with %s %d", i,
		    (long)p, WIFSIGNALED(status) ? "signal" : "exit status",
		    WIFSIGNALED(status) ? WTERMSIG(status)
					: WEXITSTATUS(status));
	return -1;
}

/*
 * Runs refresh_slice() in n worker processes at once, each over its
 * share of the keys, and adds up their figures in st. A stop is passed
 * on to them. Returns 0, or -1 when one failed.
 */
static int
refresh_fork(const struct config *cf, volatile sig_atomic_t *stop,
    struct refresh_stats *st, unsigned long n)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	struct refresh_stats *shared;
	pid_t pid[REFRESH_MAX_WORKERS];
	unsigned long i, left = 0;
	int status, ret = 0, told = 0;
	pid_t p, self;

	if ((shared = mmap(NULL, n * sizeof(*shared), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		log_warn("refresh: mmap");
		return -1;
	}
	memset(shared, 0, n * sizeof(*shared));
	memset(pid, 0, sizeof(pid));
	self = getpid();
	for (i = 0; i < n; i++) {
		if ((pid[i] = fork()) == -1) {
			log_warn("refresh: fork");
			pid[i] = 0;
			ret = -1;
			break;
		}
		if (pid[i] == 0) {
			/* A worker does not outlive the daemon. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != self) {
				log_warnx("refresh: worker %lu: the daemon is "
					  "gone",
				    i);
				_exit(1);
			}
			_exit(refresh_slice(cf, stop, &shared[i], i, n) == -1
				? 1
				: 0);
		}
		left++;
	}
	while (left > 0) {
		if (*stop && !told) {
			for (i = 0; i < n; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGTERM);
			told = 1;
		}
		/* Polled, so that a stop between the test and the wait
		 * is not missed. */
		nanosleep(&nap, NULL);
		for (i = 0; i < n; i++) {
			if (pid[i] <= 0 ||
			    (p = waitpid(pid[i], &status, WNOHANG)) == 0 ||
			    (p == -1 && errno == EINTR))
				continue;
			if (p == -1) {
				log_warn("refresh: waitpid for worker %lu (pid "
					 "%ld)",
				    i, (long)pid[i]);
				ret = -1;
			} else if (refresh_reap(i, p, status) == -1)
				ret = -1;
			pid[i] = 0;
			left--;
		}
	}
	for (i = 0; i < n; i++) {
		st->seen += shared[i].seen;
		st->due += shared[i].due;
		st->refreshed += shared[i].refreshed;
		st->failed += shared[i].failed;
		st->skipped += shared[i].skipped;
		st->removed += shared[i].removed;
		st->unchanged += shared[i].unchanged;
		st->held += shared[i].held;
		st->pushed += shared[i].pushed;
	}
	munmap(shared, n * sizeof(*shared));
	return ret;
}

int
refresh_pass(const struct config *cf, volatile sig_atomic_t *stop,
    struct refresh_stats *st)
{
	struct cache *c;
	time_t start = time(NULL);
	unsigned long n = refresh_nworkers(cf);
	char sent[48] = "";
	int ret;

	memset(st, 0, sizeof(*st));
	if (n == 1)
		ret = refresh_slice(cf, stop, st, 0, 1);
	else if ((c = cache_new(cf)) == NULL)
		ret = -1;
	else {
		/* Redis away: said once here, not once by each worker. */
		ret = cache_ping(c);
		cache_free(c);
		if (ret == 0)
			ret = refresh_fork(cf, stop, st, n);
	}
	if (ret == 0 && (c = cache_new(cf)) != NULL) {
		refresh_report(c, st);
		cache_free(c);
	}
	if (cf->haproxy_socket != NULL)
		snprintf(sent, sizeof(sent), ", %ld sent to haproxy",
		    st->pushed);
	log_info("refresh pass: %ld entries, %ld due, %ld refreshed, %ld "
		 "failed, %ld skipped, %ld removed; %ld unchanged, %ld held "
		 "off%s, %lld s%s",
	    st->seen, st->due, st->refreshed, st->failed, st->skipped,
	    st->removed, st->unchanged, st->held, sent,
	    (long long)(time(NULL) - start), ret == -1 ? ", cut short" : "");
	if (ret == -1)
		return -1;
	return st->failed > 0 ? 1 : 0;
}

/*
 * The valid cached response of key to HAProxy: 0 sent, -1 not (one log
 * line, here or by haproxy_push()), -2 Redis failed (logged by cache.c).
 */
static int
refresh_haproxy_one(struct cache *c, struct haproxy *hp, const char *key,
    time_t now)
{
	struct cache_entry e;
	int r, ret = -1;

	if ((r = cache_get(c, key, 0, &e)) == -1)
		return -2;
	if (r == 0 || e.response == NULL || e.response_len == 0)
		log_warnx("haproxy %s: %s: not cached (ocspxy warm the "
			  "certificate)",
		    haproxy_get0_path(hp), key);
	else if (e.nextupd <= now)
		log_warnx("haproxy %s: %s: the cached response has expired",
		    haproxy_get0_path(hp), key);
	else if (haproxy_push(hp, key, (const unsigned char *)e.response,
		     e.response_len) == 0)
		ret = 0;
	cache_entry_clear(&e);
	return ret;
}

int
refresh_haproxy(const struct config *cf, const char *path,
    struct refresh_push_stats *st)
{
	struct haproxy *hp = NULL;
	struct cache *c = NULL;
	time_t now = time(NULL);
	size_t i;
	int r, ret = -1;

	memset(st, 0, sizeof(*st));
	if ((hp = haproxy_new(path, cf->prefix)) == NULL ||
	    (c = cache_new(cf)) == NULL)
		goto done;
	st->listed = (long)haproxy_count(hp);
	for (i = 0; i < haproxy_count(hp); i++) {
		r = refresh_haproxy_one(c, hp, haproxy_get0_key(hp, i), now);
		if (r == -2)
			goto done;
		if (r == 0)
			st->pushed++;
	}
	ret = st->pushed == st->listed ? 0 : 1;
done:
	cache_free(c);
	haproxy_free(hp);
	return ret;
}
