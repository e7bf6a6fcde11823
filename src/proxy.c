/* proxy.c: one OCSP request, from the web server to the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "breaker.h"
#include "cache.h"
#include "config.h"
#include "gate.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "ocsp.h"
#include "proxy.h"
#include "store.h"
#include "upstream.h"

struct proxy {
	const struct config *cf; /* borrowed */
	struct cache *cache;
	struct upstream *up;
	struct tally pending; /* counts not yet in Redis */
	time_t flushed;
	struct ocsp_memo *memo; /* cache keys of known requests */
	struct breaker *breaker; /* responders held off */
	struct gate *gate; /* upstream_max_waiting; NULL: no limit */
	struct mem *mem; /* the memory tier; NULL: none */
	int tracked; /* the last cache_track_poll() */
};

/* What the cache holds for a request's key, as last read. */
enum held {
	HELD_UNREAD, /* not read (a fresh answer was asked for) */
	HELD_NOTHING, /* no entry */
	HELD_ENTRY, /* an entry, in e */
	HELD_UNKNOWN /* Redis failed */
};

/* The outcome of each step of proxy_serve(). */
enum step {
	STEP_NEXT, /* not answered yet: on to the next step */
	STEP_ANSWERED, /* the client has its answer */
	STEP_FAILED /* the fetch failed: fall back to the cache */
};

/* One request on its way through the steps. */
struct exchange {
	struct proxy *p;
	struct http_conn *conn;
	struct request r;
	time_t now;
	char key[OCSP_KEYLEN];
	int fresh; /* a nonce, no-cache or several certificates: the cache
		    * is the fallback, not the first choice */
	enum held held;
	struct cache_entry e;
	char *responder; /* "host[:port][/path]" to fetch from */
	char *url;
	int learn; /* the client named the responder: record it */
	int locked; /* we hold key's lock */
	enum breaker_verdict verdict; /* how the fetch was let through */
	const char *failure; /* why no fetch answered, for the log */
	long retry; /* Retry-After of a 503, in seconds */
	struct tally *t; /* counts: the proxy's pending ones */
	char err[ERRLEN];
};

void
proxy_flush(struct proxy *p)
{
	p->flushed = time(NULL);
	if (metrics_pending(&p->pending))
		metrics_flush(p->cache, &p->pending, 0);
}

/* Flushes the counts at most once a second. */
static void
proxy_tally(struct proxy *p)
{
	if (time(NULL) != p->flushed && cache_up(p->cache))
		proxy_flush(p);
}

/*
 * The one-line answer of /health, and its status; with Sentinel, the
 * line names the master (master: cache_master()).
 */
static int
proxy_health(const struct cache_stats *st, const char *master, char *line,
    size_t size)
{
	char what[200];

	if (st == NULL)
		snprintf(what, sizeof(what), "redis unreachable");
	else if (st->expired > 0)
		snprintf(what, sizeof(what),
		    "%lld of %lld cached responses expired", st->expired,
		    st->entries);
	else
		snprintf(what, sizeof(what),
		    "ok: %lld cached responses, none expired", st->entries);
	snprintf(line, size, "%s%s%s\n", what, master != NULL ? "; redis " : "",
	    master != NULL ? master : "");
	return st != NULL && st->expired == 0 ? 200 : 503;
}

/*
 * GET .../metrics and .../health: the last path segment names them (an
 * OCSP request in a GET path is base64 and never one of these words).
 */
static int
proxy_endpoint(struct proxy *p, struct http_conn *conn)
{
	struct cache_stats st;
	const char *m, *path, *seg;
	char *text, line[1024], master[700];
	size_t len;
	int ok, status;

	m = http_param(conn, HTTP_REQUEST_METHOD);
	path = http_uri_path(http_param(conn, HTTP_REQUEST_URI));
	if (m == NULL || strcmp(m, "GET") != 0)
		return 0;
	seg = strrchr(path, '/');
	seg = seg != NULL ? seg + 1 : path;
	if (strcmp(seg, "metrics") != 0 && strcmp(seg, "health") != 0)
		return 0;
	proxy_flush(p);
	ok = cache_stats(p->cache, time(NULL), &st) == 0;
	if (strcmp(seg, "metrics") == 0) {
		if ((text = metrics_text(ok ? &st : NULL, &len)) == NULL)
			http_reply_error(conn, 503, "out of memory");
		else
			http_reply_text(conn, 200, "text/plain; version=0.0.4",
			    text, len);
		free(text);
	} else {
		status = proxy_health(ok ? &st : NULL,
		    cache_master(p->cache, master, sizeof(master)), line,
		    sizeof(line));
		http_reply_text(conn, status, "text/plain", line, strlen(line));
	}
	if (ok)
		cache_stats_clear(&st);
	return 1;
}

struct proxy *
proxy_new(const struct config *cf)
{
	struct proxy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("proxy: calloc");
		return NULL;
	}
	p->cf = cf;
	if ((p->cache = cache_new(cf)) == NULL ||
	    (p->up = upstream_new(cf)) == NULL ||
	    (p->memo = ocsp_memo_new()) == NULL ||
	    (p->breaker = breaker_new(p->cache,
		 (cf->upstream_timeout + 1) * 1000)) == NULL) {
		proxy_free(p);
		return NULL;
	}
	if (cf->upstream_max_waiting > 0)
		p->gate = gate_new(cf->runtime_dir, cf->upstream_max_waiting);
	if (cf->memory_cache_bytes > 0) {
		if ((p->mem = mem_new((size_t)cf->memory_cache_bytes)) ==
		    NULL) {
			log_warn("proxy: memory tier");
			proxy_free(p);
			return NULL;
		}
		cache_track(p->cache);
	}
	return p;
}

void
proxy_free(struct proxy *p)
{
	if (p == NULL)
		return;
	cache_free(p->cache);
	upstream_free(p->up);
	ocsp_memo_free(p->memo);
	breaker_free(p->breaker);
	gate_free(p->gate);
	mem_free(p->mem);
	free(p);
}

/* The stored response may be answered until its nextUpdate. */
static int
proxy_servable(const struct cache_entry *e, time_t now)
{
	return e->response != NULL && e->response_len > 0 && e->thisupd > 0 &&
	    e->nextupd > now;
}

/* Keeps a response in memory: what Redis holds (confirmed), or not. */
static void
proxy_remember(struct exchange *x, const struct cache_entry *e, int confirmed)
{
	struct mem_entry m;

	if (x->p->mem == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.response = (const unsigned char *)e->response;
	m.response_len = e->response_len;
	m.request = (const unsigned char *)e->request;
	m.request_len = e->request_len;
	m.responder = e->responder;
	m.status = e->status;
	m.etag = e->etag;
	m.thisupd = e->thisupd;
	m.nextupd = e->nextupd;
	m.confirmed = confirmed;
	if (mem_put(x->p->mem, x->key, &m) == -1)
		mem_del(x->p->mem, x->key);
}

/* Answers with the entry read from Redis into x->e, counted as m. */
static enum step
proxy_reply_entry(struct exchange *x, enum metric m)
{
	char etag[STORE_ETAGLEN];

	/* Entries of the Perl tool have no ETag. */
	if (x->e.etag == NULL || strlen(x->e.etag) >= sizeof(etag)) {
		store_etag((const unsigned char *)x->e.response,
		    x->e.response_len, etag);
		x->e.etag = etag;
	}
	proxy_remember(x, &x->e, 1);
	http_reply_ocsp(x->conn, (const unsigned char *)x->e.response,
	    x->e.response_len, x->e.thisupd, x->e.nextupd, x->e.etag,
	    time(NULL));
	if (x->e.etag == etag)
		x->e.etag = NULL; /* not to outlive etag */
	x->t->v[m]++;
	x->t->v[M_REDIS_HITS] += m == M_HITS;
	x->t->v[M_SERVED_BYTES] += (long long)x->e.response_len;
	return STEP_ANSWERED;
}

/* Reads the entry under x->key into x->e (touch: a client's miss). */
static void
proxy_read(struct exchange *x, int touch)
{
	cache_entry_clear(&x->e);
	switch (cache_get(x->p->cache, x->key, touch, &x->e)) {
	case 1:
		x->held = HELD_ENTRY;
		break;
	case 0:
		x->held = HELD_NOTHING;
		break;
	default:
		x->held = HELD_UNKNOWN;
	}
}

/* Answers a request refused with a 4xx (or 503) status. */
static enum step
proxy_refuse(struct exchange *x, int status)
{
	const char *remote = x->r.remote;

	if (remote == NULL)
		remote = http_param(x->conn, HTTP_REMOTE_ADDR);
	log_warnx("request from %s%s%s refused (%d): %s", remote ? remote : "?",
	    x->r.host ? " for " : "", x->r.host ? x->r.host : "", status,
	    x->err);
	http_reply_error(x->conn, status, x->err);
	x->t->v[M_REQUESTS_REFUSED]++;
	return STEP_ANSWERED;
}

/* Parses the OCSP request and its cache key, unless done already. */
static enum step
step_parse(struct exchange *x)
{
	int status;

	if (x->r.ocsp != NULL)
		return STEP_NEXT;
	if ((status = http_request_parse(&x->r, x->err)) != 0)
		return proxy_refuse(x, status);
	if (ocsp_req_key(x->r.ocsp, x->p->cf->prefix, x->key, x->err) == -1)
		return proxy_refuse(x, 400);
	return STEP_NEXT;
}

/*
 * Reads the request. A plain request seen before gives its key from the
 * memo, without a parse (a hit needs none); others are parsed here.
 */
static enum step
step_read(struct exchange *x)
{
	const void *raw;
	size_t len;
	int status, plain;

	if ((status = http_request_read(x->conn, x->p->cf, &x->r, x->err)) != 0)
		return proxy_refuse(x, status);
	raw = http_request_raw(&x->r, &len);
	if (!x->r.prune && !x->r.no_cache &&
	    ocsp_memo_get(x->p->memo, raw, len, x->key))
		return STEP_NEXT;
	if (step_parse(x) != STEP_NEXT)
		return STEP_ANSWERED;
	plain =
	    ocsp_req_count(x->r.ocsp) == 1 && !ocsp_req_has_nonce(x->r.ocsp);
	if (plain)
		ocsp_memo_put(x->p->memo, raw, len, x->key);
	x->fresh = x->r.no_cache || !plain;
	return STEP_NEXT;
}

static enum step
step_prune(struct exchange *x)
{
	const struct config *cf = x->p->cf;
	const char *who = x->r.remote ? x->r.remote : "(no address)";

	if (!config_match_text(cf->prune, cf->nprune, x->r.remote)) {
		x->t->v[M_REQUESTS_REFUSED]++;
		log_warnx("%s: prune refused (403): %s is not in prune_allow",
		    x->key, who);
		http_reply_error(x->conn, 403, "prune not allowed from here");
		return STEP_ANSWERED;
	}
	if (x->p->mem != NULL)
		mem_del(x->p->mem, x->key);
	switch (cache_del(x->p->cache, x->key)) {
	case -1:
		http_reply_error(x->conn, 503, "cache unavailable");
		return STEP_ANSWERED;
	case 1:
		log_info("%s: pruned from the cache by %s", x->key, who);
		break;
	default:
		log_info("%s: prune asked by %s, no such entry", x->key, who);
	}
	http_reply_error(x->conn, 410, "pruned from the cache");
	return STEP_ANSWERED;
}

/* Keeps a fetched response in memory (confirmed: Redis holds it). */
static void
proxy_remember_fetched(struct exchange *x, const unsigned char *resp,
    size_t len, const struct store_result *res, int confirmed)
{
	struct cache_entry e;
	const unsigned char *der;

	memset(&e, 0, sizeof(e));
	e.response = (const char *)resp;
	e.response_len = len;
	der = ocsp_req_get0_der(x->r.ocsp, &e.request_len);
	e.request = ocsp_req_has_nonce(x->r.ocsp) ? NULL : (const char *)der;
	e.responder = x->responder;
	e.status = ocsp_status_name(res->st.status);
	e.etag = res->etag;
	e.thisupd = res->st.thisupd;
	e.nextupd = res->st.nextupd;
	proxy_remember(x, &e, confirmed);
}

/* An invalidation: the key changed in Redis, or everything (NULL). */
static void
proxy_invalidated(void *arg, const char *key)
{
	struct proxy *p = arg;

	if (key == NULL)
		mem_clear(p->mem);
	else if (!mem_del(p->mem, key))
		return;
	p->pending.v[M_INVALIDATIONS]++;
}

/* Writes an entry held in memory back to a Redis that lost it. */
static void
proxy_write_back(void *arg, const char *key, const struct mem_entry *m)
{
	struct proxy *p = arg;
	struct cache_record rec;

	if (m->request == NULL || m->responder == NULL || m->status == NULL ||
	    m->etag == NULL)
		return;
	memset(&rec, 0, sizeof(rec));
	rec.responder = m->responder;
	rec.request = m->request;
	rec.request_len = m->request_len;
	rec.response = m->response;
	rec.response_len = m->response_len;
	rec.status = m->status;
	rec.etag = m->etag;
	rec.thisupd = m->thisupd;
	rec.nextupd = m->nextupd;
	rec.now = time(NULL);
	if (cache_put(p->cache, key, &rec) == 1)
		p->pending.v[M_WRITEBACKS]++;
}

/*
 * Invalidations flow again after a time without: what memory holds is
 * unconfirmed, and written back when Redis lost its data.
 */
static void
proxy_tracking_back(struct proxy *p)
{
	long long before = p->pending.v[M_WRITEBACKS];

	mem_unconfirm(p->mem);
	if (mem_count(p->mem) == 0 || cache_emptied(p->cache) != 1)
		return;
	mem_walk(p->mem, proxy_write_back, p);
	log_warnx("redis %s lost its data: %lld of %zu responses in memory "
		  "written back",
	    cache_get0_addr(p->cache), p->pending.v[M_WRITEBACKS] - before,
	    mem_count(p->mem));
}

/* Answers with a response held in memory, counted as a hit (from
 * memory) or as what.*/
static enum step
proxy_reply_mem(struct exchange *x, const struct mem_entry *m, enum metric what)
{
	http_reply_ocsp(x->conn, m->response, m->response_len, m->thisupd,
	    m->nextupd, m->etag, time(NULL));
	x->t->v[what]++;
	x->t->v[M_MEMORY_HITS] += what == M_HITS;
	x->t->v[M_SERVED_BYTES] += (long long)m->response_len;
	return STEP_ANSWERED;
}

/* The valid response memory holds for the key, or NULL. */
static const struct mem_entry *
proxy_mem_valid(struct exchange *x)
{
	const struct mem_entry *m;

	if (x->p->mem == NULL || (m = mem_get(x->p->mem, x->key)) == NULL ||
	    m->nextupd <= time(NULL))
		return NULL;
	return m;
}

/*
 * The memory tier: the invalidations that arrived are applied, then a
 * valid response is answered when Redis agrees with it (invalidations
 * flow and it was confirmed since they began), or when Redis cannot be
 * reached. Otherwise Redis is read (step_cache()).
 */
static enum step
step_memory(struct exchange *x)
{
	struct proxy *p = x->p;
	const struct mem_entry *m;

	if (p->mem == NULL)
		return STEP_NEXT;
	p->tracked = cache_track_poll(p->cache, proxy_invalidated, p);
	if (p->tracked == CACHE_TRACK_NEW)
		proxy_tracking_back(p);
	if ((m = proxy_mem_valid(x)) == NULL)
		return STEP_NEXT;
	if (p->tracked != CACHE_TRACK_NONE ? m->confirmed : !cache_up(p->cache))
		return proxy_reply_mem(x, m, M_HITS);
	return STEP_NEXT;
}

/*
 * The hit path: one read; a miss reads the whole entry for later. What
 * Redis answers is what memory keeps; when Redis fails, memory answers.
 */
static enum step
step_cache(struct exchange *x)
{
	const struct mem_entry *m;

	switch (cache_hit(x->p->cache, x->key, &x->e)) {
	case 1:
		if (!proxy_servable(&x->e, x->now))
			break;
		return proxy_reply_entry(x, M_HITS);
	case 0:
		if (x->p->mem != NULL)
			mem_del(x->p->mem, x->key);
		break;
	default: /* Redis failed just now */
		if ((m = proxy_mem_valid(x)) != NULL)
			return proxy_reply_mem(x, m, M_HITS);
	}
	proxy_read(x, 1);
	return STEP_NEXT;
}

/*
 * 1 when Host names the proxy itself: a self name, with no port or the
 * port the web server took the request on (nginx's own stapling sends
 * the Host of ssl_stapling_responder, which is the proxy).
 */
static int
proxy_is_self(const struct config *cf, const char *host, const char *sport)
{
	char name[256];
	const char *port = NULL, *end;
	size_t i, n;

	if (*host == '[') {
		if ((end = strchr(host, ']')) == NULL)
			return 0;
		n = (size_t)(end - host - 1);
		host++;
		if (end[1] == ':')
			port = end + 2;
	} else {
		n = strcspn(host, ":");
		if (host[n] == ':')
			port = host + n + 1;
	}
	if (n >= sizeof(name))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	if (port != NULL && (sport == NULL || strcmp(port, sport) != 0))
		return 0;
	for (i = 0; i < cf->nself; i++)
		if (strcasecmp(cf->self[i], name) == 0)
			return 1;
	return 0;
}

/* The responder configured for the request's issuer, a new string. */
static char *
proxy_configured(const struct config *cf, const struct ocsp_req *req, char *err)
{
	STACK_OF(X509) * one;
	char *s = NULL;
	size_t i;

	for (i = 0; i < cf->nresponders && s == NULL; i++) {
		if ((one = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(one, cf->responders[i].issuer)) {
			sk_X509_free(one);
			errfmt(err, "out of memory");
			return NULL;
		}
		if (ocsp_req_find_issuer(req, one) != NULL &&
		    (s = strdup(cf->responders[i].url)) == NULL)
			errfmt(err, "out of memory");
		sk_X509_free(one);
	}
	return s;
}

/*
 * Where to fetch from, as "host[:port][/path]" (the Perl tool stored
 * the Host alone), or "https://host[:port][/path]": the Host and path
 * the client named (over https when a responder line names that host
 * with https://), or for a request to the proxy itself the responder
 * configured or learned for the issuer. Answers 503 when none is known.
 */
static enum step
step_responder(struct exchange *x)
{
	struct proxy *p = x->p;
	const struct request *r = &x->r;
	char kh[129] = "";

	x->err[0] = '\0';
	if (!proxy_is_self(p->cf, r->host,
		http_param(x->conn, HTTP_SERVER_PORT))) {
		x->learn = 1;
		if ((x->responder = store_responder(p->cf, r->host, r->path)) ==
		    NULL)
			errfmt(x->err, "out of memory");
	} else if ((x->responder = proxy_configured(p->cf, r->ocsp, x->err)) ==
		NULL &&
	    x->err[0] == '\0' &&
	    (ocsp_req_keyhash(r->ocsp, kh, sizeof(kh)) == -1 ||
		cache_responder(p->cache, kh, &x->responder) != 1))
		errfmt(x->err,
		    "Host %s is this proxy and no responder is known for "
		    "issuer key hash %s (add a responder line, or warm the "
		    "cache once with the responder's Host)",
		    r->host, kh);
	if (x->responder != NULL && (x->url = store_url(x->responder)) == NULL)
		errfmt(x->err, "out of memory");
	if (x->url != NULL)
		return STEP_NEXT;
	log_warnx("%s: no upstream (503): %s", x->key, x->err);
	http_reply_error(x->conn, 503, "no OCSP responder known");
	return STEP_ANSWERED;
}

/*
 * The end of an upstream fetch: its place given back, its failure
 * counted by kind and told to the breaker (reason NULL: it answered).
 */
static void
proxy_fetched(struct exchange *x, const char *reason)
{
	gate_leave(x->p->gate);
	if (reason != NULL)
		x->t->v[metrics_failure(reason)]++;
	breaker_done(x->p->breaker, x->url, x->verdict, reason);
}

/* A responder held off by its breaker is not asked: a saved fetch. */
static enum step
step_breaker(struct exchange *x)
{
	time_t until;

	x->verdict = breaker_check(x->p->breaker, x->url, &until);
	if (x->verdict != BREAKER_HOLD)
		return STEP_NEXT;
	x->t->v[M_BREAKER_SAVED]++;
	x->retry = until > x->now ? (long)(until - x->now) : 1;
	x->failure = "responder held off";
	log_info("%s: not fetched: %s is held off (circuit open) for %ld s",
	    x->key, x->url, x->retry);
	return STEP_FAILED;
}

/* A place among the processes that may wait upstream, or none left. */
static enum step
step_gate(struct exchange *x)
{
	if (x->p->gate == NULL || gate_enter(x->p->gate))
		return STEP_NEXT;
	x->t->v[M_WAIT_REFUSALS]++;
	x->retry = 1;
	x->failure = "no upstream place free";
	log_warnx("%s: not fetched: %ld processes wait upstream already "
		  "(upstream_max_waiting)",
	    x->key, x->p->cf->upstream_max_waiting);
	return STEP_FAILED;
}

/* A request for several certificates goes upstream and back untouched. */
static enum step
step_pass(struct exchange *x)
{
	unsigned char *resp = NULL;
	const unsigned char *der;
	size_t len, rlen;
	int n = ocsp_req_count(x->r.ocsp), rc;

	der = ocsp_req_get0_der(x->r.ocsp, &len);
	x->t->v[M_FETCHES]++;
	rc = upstream_fetch(x->p->up, x->url, der, len, &resp, &rlen, x->err);
	proxy_fetched(x, rc == 0 ? NULL : upstream_reason(x->p->up));
	if (rc != 0) {
		log_warnx("pass-through of %d certificates: upstream %s", n,
		    x->err);
		http_reply_error(x->conn, rc == -2 ? 403 : 503,
		    rc == -2 ? "upstream refused by policy"
			     : "OCSP responder unavailable");
		return STEP_ANSWERED;
	}
	log_debug("passed %d certificates through %s", n, x->url);
	x->t->v[M_SERVED_BYTES] += (long long)rlen;
	http_reply_ocsp(x->conn, resp, rlen, 0, 0, NULL, time(NULL));
	free(resp);
	return STEP_ANSWERED;
}

/* 1 when another request's fetch stored a servable entry (read here). */
static int
proxy_stored_meanwhile(struct exchange *x)
{
	proxy_read(x, 0);
	return x->held == HELD_ENTRY && proxy_servable(&x->e, time(NULL));
}

/*
 * Waits while another process fetches the key (a fleet restarting asks
 * for the same certificate at once): answers when that fetch stored a
 * servable entry, falls back at once when it failed; else goes on
 * holding the lock, or without it when the holder took too long.
 */
static enum step
step_wait_turn(struct exchange *x)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	long tmo = x->p->cf->upstream_timeout;
	long long since = cache_now_ms();
	time_t deadline = time(NULL) + tmo + 1;
	int r;

	while ((r = cache_lock_wait(x->p->cache, x->key, (tmo + 2) * 1000,
		    since)) == CACHE_LOCK_HELD &&
	    time(NULL) < deadline) {
		nanosleep(&ts, NULL);
		if (proxy_stored_meanwhile(x))
			return proxy_reply_entry(x, M_HITS);
	}
	if (r == CACHE_LOCK_FAILED) {
		gate_leave(x->p->gate);
		x->failure = "the fetch it waited for failed";
		x->retry = 1;
		log_info("%s: not fetched: %s", x->key, x->failure);
		return STEP_FAILED;
	}
	if (!(x->locked = r == CACHE_LOCK_TAKEN))
		return STEP_NEXT;
	/* The holder may have stored it and let go between our read and
	 * our lock: read again before fetching. */
	if (proxy_stored_meanwhile(x))
		return proxy_reply_entry(x, M_HITS);
	return STEP_NEXT;
}

/* The fetch failed: those waiting on our lock learn it at once. */
static enum step
proxy_fetch_failed(struct exchange *x)
{
	if (x->locked)
		cache_lock_fail(x->p->cache, x->key, cache_now_ms());
	x->locked = 0;
	x->failure = "upstream failed";
	return STEP_FAILED;
}

/* Fetches the answer, stores it when it may be cached, and serves it. */
static enum step
step_fetch(struct exchange *x)
{
	struct store_item it = {.key = x->key,
	    .req = x->r.ocsp,
	    .responder = x->responder,
	    .prev = x->held == HELD_ENTRY ? &x->e : NULL,
	    .learn = x->learn};
	struct store_result res;
	enum store_outcome o;
	unsigned char *resp = NULL;
	const unsigned char *der;
	char next[48];
	size_t len, rlen;
	int rc;

	der = ocsp_req_get0_der(x->r.ocsp, &len);
	x->t->v[M_FETCHES]++;
	rc = upstream_fetch(x->p->up, x->url, der, len, &resp, &rlen, x->err);
	proxy_fetched(x, rc == 0 ? NULL : upstream_reason(x->p->up));
	if (rc == -2) {
		log_warnx("%s: upstream %s (403)", x->key, x->err);
		http_reply_error(x->conn, 403, "upstream refused by policy");
		return STEP_ANSWERED;
	}
	if (rc != 0) {
		log_warnx("%s: upstream %s", x->key, x->err);
		return proxy_fetch_failed(x);
	}
	o = store_response(x->p->cache, x->p->cf, &it, resp, rlen, x->now, &res,
	    x->err);
	if (o == STORE_INVALID || o == STORE_UNVERIFIED) {
		x->t->v[M_FAIL_INVALID]++;
		log_warnx("%s: upstream %s answered %s response: %s", x->key,
		    x->url,
		    o == STORE_INVALID ? "an unusable" : "an unverified",
		    x->err);
		free(resp);
		return proxy_fetch_failed(x);
	}
	log_info("%s: fetched from %s: %s, %s, %s%s", x->key, x->url,
	    ocsp_status_name(res.st.status),
	    store_next_text(&res.st, x->now, next, sizeof(next)),
	    o == STORE_STORED	       ? "stored"
		: o == STORE_UNCHANGED ? "unchanged"
				       : "not stored: ",
	    o == STORE_PASSED ? x->err : "");
	if (o == STORE_STORED || o == STORE_UNCHANGED)
		proxy_remember_fetched(x, resp, rlen, &res, 1);
	else if (!cache_up(x->p->cache) && res.st.nextupd != 0 &&
	    !res.st.nonce) /* Redis down: memory keeps it for the outage */
		proxy_remember_fetched(x, resp, rlen, &res, 0);
	http_reply_ocsp(x->conn, resp, rlen, res.st.thisupd, res.st.nextupd,
	    res.etag, x->now);
	x->t->v[M_SERVED_BYTES] += (long long)rlen;
	free(resp);
	return STEP_ANSWERED;
}

/* No fetch answered: the cached response while it is valid, else 503. */
static void
step_fallback(struct exchange *x)
{
	const struct mem_entry *m;

	if (ocsp_req_count(x->r.ocsp) > 1) { /* no entry answers it */
		http_reply_unavailable(x->conn, "OCSP responder unavailable",
		    x->retry);
		return;
	}
	if (x->held == HELD_UNREAD)
		proxy_read(x, 0);
	if (x->held == HELD_UNKNOWN && (m = proxy_mem_valid(x)) != NULL) {
		log_info("%s: served from memory, %s", x->key, x->failure);
		proxy_reply_mem(x, m, M_FALLBACKS);
		return;
	}
	if (x->held == HELD_ENTRY && proxy_servable(&x->e, x->now)) {
		log_info("%s: served from the cache, %s", x->key, x->failure);
		proxy_reply_entry(x, M_FALLBACKS);
		return;
	}
	if (x->held == HELD_ENTRY && x->e.response != NULL)
		x->t->v[M_STALE_REFUSALS]++;
	http_reply_unavailable(x->conn,
	    "OCSP responder unavailable and no valid cached response",
	    x->retry > 0 ? x->retry : BREAKER_MIN_MS / 1000);
}

void
proxy_serve(struct proxy *p, struct http_conn *conn)
{
	struct exchange x;
	enum step s;

	if (proxy_endpoint(p, conn))
		return;
	memset(&x, 0, sizeof(x));
	x.p = p;
	x.conn = conn;
	x.t = &p->pending;
	x.now = time(NULL);
	s = step_read(&x);
	if (s == STEP_NEXT && x.r.prune)
		s = step_prune(&x);
	if (s == STEP_NEXT && !x.fresh)
		s = step_memory(&x);
	if (s == STEP_NEXT && !x.fresh)
		s = step_cache(&x);
	if (s == STEP_NEXT)
		s = step_parse(&x); /* a request known by the memo, missed */
	if (s == STEP_NEXT)
		s = step_responder(&x);
	if (s == STEP_NEXT)
		s = step_breaker(&x);
	if (s == STEP_NEXT)
		s = step_gate(&x);
	if (s == STEP_NEXT && ocsp_req_count(x.r.ocsp) > 1)
		s = step_pass(&x);
	if (s == STEP_NEXT && !x.fresh && x.held != HELD_UNKNOWN)
		s = step_wait_turn(&x);
	if (s == STEP_NEXT)
		s = step_fetch(&x);
	if (s == STEP_FAILED)
		step_fallback(&x);
	gate_leave(p->gate);
	if (x.locked)
		cache_unlock(p->cache, x.key);
	proxy_tally(p);
	cache_entry_clear(&x.e);
	free(x.url);
	free(x.responder);
	http_request_clear(&x.r);
}
