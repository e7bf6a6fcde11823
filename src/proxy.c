/* proxy.c: one OCSP request, from the web server to the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cache.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ocsp.h"
#include "proxy.h"
#include "upstream.h"

/*
 * Sends the counts gathered since the last flush, in one round trip. A
 * hit costs no Redis command of its own this way.
 */
void
proxy_flush(struct proxy *p)
{
	const struct tally *t = &p->pending;
	struct cache_count c[16];
	char fields[8][64];
	size_t n = 0, i;

#define ADD(f, v)                                                              \
	do {                                                                   \
		c[n].name = (f);                                               \
		c[n++].delta = (v);                                            \
	} while (0)
	ADD("hits", t->hits);
	ADD("fetches", t->fetches);
	ADD("fallbacks", t->fallbacks);
	ADD("stale_refusals", t->stale);
	ADD("requests_refused", t->refused);
	ADD("served_bytes", t->bytes);
	for (i = 0; metrics_reasons[i] != NULL && i < 8; i++) {
		snprintf(fields[i], sizeof(fields[i]), "fetch_failures_%s",
		    metrics_reasons[i]);
		ADD(fields[i], p->failures[i]);
	}
#undef ADD
	p->flushed = time(NULL);
	if (!proxy_pending(p))
		return;
	if (cache_count(p->cache, c, n) == 0) {
		memset(&p->pending, 0, sizeof(p->pending));
		memset(p->failures, 0, sizeof(p->failures));
	}
}

int
proxy_pending(const struct proxy *p)
{
	const struct tally *t = &p->pending;
	size_t i;

	for (i = 0; i < sizeof(p->failures) / sizeof(p->failures[0]); i++)
		if (p->failures[i] != 0)
			return 1;
	return t->hits || t->fetches || t->fallbacks || t->stale ||
	    t->refused || t->bytes;
}

/* Adds one request's counts; flushes them at most once a second. */
static void
proxy_tally(struct proxy *p, const struct tally *t)
{
	size_t i;

	p->pending.hits += t->hits;
	p->pending.fetches += t->fetches;
	p->pending.fallbacks += t->fallbacks;
	p->pending.stale += t->stale;
	p->pending.refused += t->refused;
	p->pending.bytes += t->bytes;
	if (t->failed) {
		for (i = 0; metrics_reasons[i] != NULL; i++)
			if (t->reason != NULL &&
			    strcmp(metrics_reasons[i], t->reason) == 0)
				break;
		if (metrics_reasons[i] == NULL)
			i--; /* "other", the last */
		p->failures[i] += t->failed;
	}
	if (time(NULL) != p->flushed && cache_up(p->cache))
		proxy_flush(p);
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
	char *text, line[160];
	size_t len;
	int ok, n;

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
		if (!ok)
			n = snprintf(line, sizeof(line), "redis unreachable\n");
		else if (st.expired > 0)
			n = snprintf(line, sizeof(line),
			    "%lld of %lld cached "
			    "responses expired\n",
			    st.expired, st.entries);
		else
			n = snprintf(line, sizeof(line),
			    "ok: %lld cached "
			    "responses, none expired\n",
			    st.entries);
		http_reply_text(conn, ok && st.expired == 0 ? 200 : 503,
		    "text/plain", line, (size_t)n);
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
	    (p->up = upstream_new(cf)) == NULL) {
		proxy_free(p);
		return NULL;
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
	free(p);
}

char *
proxy_url(const char *responder)
{
	char *url;

	if (strncmp(responder, "http://", 7) == 0)
		return strdup(responder);
	if (asprintf(&url, "http://%s", responder) == -1)
		return NULL;
	return url;
}

int
proxy_store(struct cache *cache, const struct config *cf, const char *key,
    const struct ocsp_req *req, const char *responder, int flags,
    const unsigned char *resp, size_t len, time_t now, struct ocsp_status *st,
    char *err)
{
	struct cache_record rec;
	unsigned char *plain = NULL;
	char kh[129], etag[HTTP_ETAGLEN];
	int ret;

	if (ocsp_resp_check(resp, len, req, cf->issuers, now, cf->clock_skew,
		st, err) == -1)
		return -1;
	if (!st->verified && cf->require_verified) {
		errfmt(err, "no known issuer to verify it (require_verified)");
		return 0;
	}
	if (st->nonce) {
		errfmt(err, "the response carries a nonce");
		return 0;
	}
	if (st->nextupd == 0) {
		errfmt(err, "the response has no nextUpdate");
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.responder = responder;
	/* Refresh with the client's request, or a plain one for a nonce. */
	if (ocsp_req_has_nonce(req)) {
		if (ocsp_req_plain(req, &plain, &rec.request_len, err) == -1)
			return 0;
		rec.request = plain;
	} else
		rec.request = ocsp_req_get0_der(req, &rec.request_len);
	if ((flags & PROXY_LEARN) && ocsp_req_keyhash(req, kh, sizeof(kh)) == 0)
		rec.keyhash = kh;
	rec.unlock = (flags & PROXY_UNLOCK) != 0;
	rec.response = resp;
	rec.response_len = len;
	http_etag(resp, len, etag);
	rec.etag = etag;
	rec.status = ocsp_status_name(st->status);
	rec.thisupd = st->thisupd;
	rec.nextupd = st->nextupd;
	rec.now = now;
	switch (cache_put(cache, key, &rec)) {
	case 1:
		ret = 1;
		break;
	case 0:
		errfmt(err, "the cache holds a newer response");
		ret = 0;
		break;
	default:
		errfmt(err, "the cache is unavailable");
		ret = 0;
	}
	OPENSSL_free(plain);
	return ret;
}

/* The stored response may be answered until its nextUpdate. */
static int
proxy_servable(const struct cache_entry *e, time_t now)
{
	return e->response != NULL && e->response_len > 0 && e->thisupd > 0 &&
	    e->nextupd > now;
}

static void
proxy_reply_entry(struct http_conn *conn, const struct cache_entry *e,
    time_t now)
{
	http_reply_ocsp(conn, (const unsigned char *)e->response,
	    e->response_len, e->thisupd, e->nextupd, e->etag, now);
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

/*
 * Where to fetch r from, as "host[:port][/path]" (the Perl tool stored
 * the Host alone): the Host and path the client named, or for a request
 * to the proxy itself the responder configured or learned for the
 * issuer. Returns a new string and sets *learn when the client named it,
 * or NULL with err set.
 */
static char *
proxy_responder(struct proxy *p, struct http_conn *conn,
    const struct request *r, int *learn, char *err)
{
	STACK_OF(X509) * one;
	char kh[129], *s = NULL;
	size_t i;

	*learn = 0;
	if (!proxy_is_self(p->cf, r->host,
		http_param(conn, HTTP_SERVER_PORT))) {
		if (asprintf(&s, "%s%s", r->host,
			strcmp(r->path, "/") == 0 ? "" : r->path) == -1) {
			errfmt(err, "out of memory");
			return NULL;
		}
		*learn = 1;
		return s;
	}
	for (i = 0; i < p->cf->nresponders; i++) {
		if ((one = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(one, p->cf->responders[i].issuer)) {
			sk_X509_free(one);
			errfmt(err, "out of memory");
			return NULL;
		}
		if (ocsp_req_find_issuer(r->ocsp, one) != NULL)
			s = strdup(p->cf->responders[i].url);
		sk_X509_free(one);
		if (s != NULL)
			return s;
	}
	if (ocsp_req_keyhash(r->ocsp, kh, sizeof(kh)) == 0 &&
	    cache_responder(p->cache, kh, &s) == 1)
		return s;
	errfmt(err,
	    "Host %s is this proxy and no responder is known for "
	    "issuer key hash %s (add a responder line, or warm the cache once "
	    "with the responder's Host)",
	    r->host, kh);
	return NULL;
}

/* A request for several certificates goes upstream and back untouched. */
static void
proxy_pass(struct proxy *p, struct http_conn *conn, const struct request *r,
    const char *url, struct tally *t)
{
	char err[ERRLEN];
	unsigned char *resp = NULL;
	const unsigned char *der;
	size_t len, rlen;
	int rc;

	der = ocsp_req_get0_der(r->ocsp, &len);
	t->fetches++;
	if ((rc = upstream_fetch(p->up, url, der, len, &resp, &rlen, err)) !=
	    0) {
		t->failed++;
		t->reason = upstream_reason(p->up);
		log_warnx("pass-through of %d certificates: upstream %s",
		    ocsp_req_count(r->ocsp), err);
		http_reply_error(conn, rc == -2 ? 403 : 503,
		    rc == -2 ? "upstream refused by policy"
			     : "OCSP responder unavailable");
		return;
	}
	log_debug("passed %d certificates through %s", ocsp_req_count(r->ocsp),
	    url);
	t->bytes += (long long)rlen;
	http_reply_ocsp(conn, resp, rlen, 0, 0, NULL, time(NULL));
	free(resp);
}

static void
proxy_prune(struct proxy *p, struct http_conn *conn, const struct request *r,
    const char *key, struct tally *t)
{
	if (!config_match_text(p->cf->prune, p->cf->nprune, r->remote)) {
		t->refused++;
		log_warnx("%s: prune refused (403): %s is not in prune_allow",
		    key, r->remote ? r->remote : "(no address)");
		http_reply_error(conn, 403, "prune not allowed from here");
		return;
	}
	switch (cache_del(p->cache, key)) {
	case -1:
		http_reply_error(conn, 503, "cache unavailable");
		return;
	case 1:
		log_info("%s: pruned from the cache by %s", key, r->remote);
		break;
	default:
		log_info("%s: prune asked by %s, no such entry", key,
		    r->remote);
	}
	http_reply_error(conn, 410, "pruned from the cache");
}

/*
 * Waits while another process fetches key (a fleet restarting asks for
 * the same certificate at once): 1 when it stored a servable entry (in
 * e), 0 when this process holds the lock now or may fetch anyway.
 */
static int
proxy_wait_turn(struct proxy *p, const char *key, struct cache_entry *e,
    int *locked)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	time_t deadline = time(NULL) + p->cf->upstream_timeout + 1;
	long ms = (p->cf->upstream_timeout + 2) * 1000;
	int r;

	while (
	    (r = cache_lock(p->cache, key, ms)) == 0 && time(NULL) < deadline) {
		nanosleep(&ts, NULL);
		cache_entry_clear(e);
		if (cache_get(p->cache, key, 0, e) == 1 &&
		    proxy_servable(e, time(NULL)))
			return 1;
	}
	if ((*locked = r == 1)) {
		/* The holder may have stored it and let go between our read
		 * and our lock: read again before fetching. */
		cache_entry_clear(e);
		if (cache_get(p->cache, key, 0, e) == 1 &&
		    proxy_servable(e, time(NULL)))
			return 1;
	}
	return 0;
}

/* Parses r's OCSP request and its cache key: 0, or -1 after answering. */
static int
proxy_parse(struct proxy *p, struct http_conn *conn, struct request *r,
    char *key, struct tally *t)
{
	char err[ERRLEN];
	int status;

	if ((status = http_request_parse(r, err)) == 0 &&
	    ocsp_req_key(r->ocsp, p->cf->prefix, key, err) == 0)
		return 0;
	if (status == 0)
		status = 400;
	log_warnx("request from %s for %s refused (%d): %s",
	    r->remote ? r->remote : "?", r->host, status, err);
	http_reply_error(conn, status, err);
	t->refused++;
	return -1;
}

void
proxy_serve(struct proxy *p, struct http_conn *conn)
{
	struct request r;
	struct cache_entry e;
	struct ocsp_status st;
	struct tally t;
	char err[ERRLEN], key[OCSP_KEYLEN], *url = NULL, *responder = NULL;
	unsigned char *resp = NULL;
	const unsigned char *der;
	const void *raw;
	size_t len, rlen, rawlen;
	time_t now = time(NULL);
	int status, cached = 0, fresh_first, learn, locked = 0, known;

	memset(&e, 0, sizeof(e));
	memset(&t, 0, sizeof(t));
	if (proxy_endpoint(p, conn))
		return;
	if ((status = http_request_read(conn, p->cf, &r, err)) != 0) {
		log_warnx("request from %s refused (%d): %s",
		    http_param(conn, HTTP_REMOTE_ADDR)
			? http_param(conn, HTTP_REMOTE_ADDR)
			: "?",
		    status, err);
		http_reply_error(conn, status, err);
		t.refused++;
		proxy_tally(p, &t);
		return;
	}
	/* A plain request seen before gives its key without a parse. */
	raw = http_request_raw(&r, &rawlen);
	known = !r.prune && !r.no_cache &&
	    ocsp_memo_get(&p->memo, raw, rawlen, key);
	if (!known && proxy_parse(p, conn, &r, key, &t) == -1)
		goto done;
	if (!known && ocsp_req_count(r.ocsp) == 1 &&
	    !ocsp_req_has_nonce(r.ocsp))
		ocsp_memo_put(&p->memo, raw, rawlen, key);
	if (r.prune) {
		proxy_prune(p, conn, &r, key, &t);
		goto done;
	}
	/* A nonce or no-cache asks for a fresh answer: the cache is the
	 * fallback then, not the first choice. */
	fresh_first = r.no_cache ||
	    (!known &&
		(ocsp_req_has_nonce(r.ocsp) || ocsp_req_count(r.ocsp) > 1));
	if (!fresh_first) {
		if (cache_hit(p->cache, key, &e) == 1 &&
		    proxy_servable(&e, now)) {
			proxy_reply_entry(conn, &e, now);
			t.hits++;
			t.bytes += (long long)e.response_len;
			goto done;
		}
		cache_entry_clear(&e);
		cached = cache_get(p->cache, key, 1, &e);
	}
	if (known && proxy_parse(p, conn, &r, key, &t) == -1)
		goto done;
	if ((responder = proxy_responder(p, conn, &r, &learn, err)) != NULL &&
	    (url = proxy_url(responder)) == NULL)
		errfmt(err, "out of memory");
	if (url == NULL) {
		log_warnx("%s: no upstream (503): %s", key, err);
		http_reply_error(conn, 503, "no OCSP responder known");
		goto done;
	}
	if (ocsp_req_count(r.ocsp) > 1) {
		proxy_pass(p, conn, &r, url, &t);
		goto done;
	}
	if (!fresh_first && cached != -1 &&
	    proxy_wait_turn(p, key, &e, &locked) == 1) {
		/* Another request's fetch answered this one: a hit. */
		proxy_reply_entry(conn, &e, time(NULL));
		t.hits++;
		t.bytes += (long long)e.response_len;
		goto done;
	}
	der = ocsp_req_get0_der(r.ocsp, &len);
	t.fetches++;
	status = upstream_fetch(p->up, url, der, len, &resp, &rlen, err);
	if (status != 0) {
		t.failed++;
		t.reason = upstream_reason(p->up);
	}
	if (status == -2) {
		log_warnx("%s: upstream %s (403)", key, err);
		http_reply_error(conn, 403, "upstream refused by policy");
		goto done;
	}
	if (status == 0) {
		status = proxy_store(p->cache, p->cf, key, r.ocsp, responder,
		    learn ? PROXY_LEARN : 0, resp, rlen, now, &st, err);
		if (status >= 0) {
			log_info(
			    "%s: fetched from %s: %s, nextUpdate in %llds, "
			    "%s%s",
			    key, url, ocsp_status_name(st.status),
			    st.nextupd ? (long long)(st.nextupd - now) : -1LL,
			    status == 1 ? "stored" : "not stored: ",
			    status == 1 ? "" : err);
			http_reply_ocsp(conn, resp, rlen, st.thisupd,
			    st.nextupd, NULL, now);
			t.bytes += (long long)rlen;
			goto done;
		}
		t.failed++;
		t.reason = "invalid";
		log_warnx("%s: upstream %s answered an unusable response: %s",
		    key, url, err);
	} else
		log_warnx("%s: upstream %s", key, err);
	if (fresh_first) {
		cache_entry_clear(&e);
		cached = cache_get(p->cache, key, 0, &e);
	}
	if (cached == 1 && proxy_servable(&e, now)) {
		log_info("%s: served from the cache, upstream failed", key);
		proxy_reply_entry(conn, &e, now);
		t.fallbacks++;
		t.bytes += (long long)e.response_len;
		goto done;
	}
	if (cached == 1 && e.response != NULL)
		t.stale++;
	http_reply_error(conn, 503,
	    "OCSP responder unavailable and no valid cached response");
done:
	if (locked)
		cache_unlock(p->cache, key);
	proxy_tally(p, &t);
	cache_entry_clear(&e);
	free(resp);
	free(url);
	free(responder);
	http_request_clear(&r);
}
