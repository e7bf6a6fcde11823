/* proxy.c: one OCSP request, from the web server to the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cache.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "ocsp.h"
#include "proxy.h"
#include "upstream.h"

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
    const struct ocsp_req *req, const char *responder,
    const unsigned char *resp, size_t len, time_t now,
    struct ocsp_status *st, char *err)
{
	struct cache_record rec;
	unsigned char *plain = NULL;
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
	rec.response = resp;
	rec.response_len = len;
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
	    e->response_len, e->thisupd, e->nextupd, now);
}

/* A request for several certificates goes upstream and back untouched. */
static void
proxy_pass(struct proxy *p, struct http_conn *conn, const struct request *r,
    const char *url)
{
	char err[ERRLEN];
	unsigned char *resp = NULL;
	const unsigned char *der;
	size_t len, rlen;

	der = ocsp_req_get0_der(r->ocsp, &len);
	if (upstream_fetch(p->up, url, der, len, &resp, &rlen, err) == -1) {
		log_warnx("pass-through of %d certificates: upstream %s",
		    ocsp_req_count(r->ocsp), err);
		http_reply_error(conn, 503, "OCSP responder unavailable");
		return;
	}
	log_debug("passed %d certificates through %s",
	    ocsp_req_count(r->ocsp), url);
	http_reply_ocsp(conn, resp, rlen, 0, 0, time(NULL));
	free(resp);
}

static void
proxy_prune(struct proxy *p, struct http_conn *conn, const char *key)
{
	switch (cache_del(p->cache, key)) {
	case -1:
		http_reply_error(conn, 503, "cache unavailable");
		return;
	case 1:
		log_info("%s: pruned from the cache", key);
		break;
	default:
		log_info("%s: prune asked, no such entry", key);
	}
	http_reply_error(conn, 410, "pruned from the cache");
}

void
proxy_serve(struct proxy *p, struct http_conn *conn)
{
	struct request r;
	struct cache_entry e;
	struct ocsp_status st;
	char err[ERRLEN], key[OCSP_KEYLEN], *url = NULL, *responder = NULL;
	unsigned char *resp = NULL;
	const unsigned char *der;
	size_t len, rlen;
	time_t now = time(NULL);
	int status, cached = 0, from_cache_first;

	memset(&e, 0, sizeof(e));
	if ((status = http_request_read(conn, p->cf, &r, err)) != 0) {
		log_warnx("request from %s refused (%d): %s",
		    http_param(conn, "REMOTE_ADDR") ?
		    http_param(conn, "REMOTE_ADDR") : "?", status, err);
		http_reply_error(conn, status, err);
		return;
	}
	/* Responder as the Perl tool stored it: host[:port], then path. */
	if (asprintf(&responder, "%s%s", r.host,
	    strcmp(r.path, "/") == 0 ? "" : r.path) == -1 ||
	    (url = proxy_url(responder)) == NULL) {
		log_warnx("request for %s: out of memory", r.host);
		http_reply_error(conn, 503, "out of memory");
		goto done;
	}
	if (ocsp_req_count(r.ocsp) > 1) {
		proxy_pass(p, conn, &r, url);
		goto done;
	}
	if (ocsp_req_key(r.ocsp, p->cf->prefix, key, err) == -1) {
		log_warnx("request for %s refused (400): %s", url, err);
		http_reply_error(conn, 400, err);
		goto done;
	}
	if (r.prune) {
		proxy_prune(p, conn, key);
		goto done;
	}
	/* A nonce or no-cache asks for a fresh answer: the cache is the
	 * fallback then, not the first choice. */
	from_cache_first = !r.no_cache && !ocsp_req_has_nonce(r.ocsp);
	if (from_cache_first) {
		cached = cache_get(p->cache, key, 1, &e);
		if (cached == 1 && proxy_servable(&e, now)) {
			proxy_reply_entry(conn, &e, now);
			goto done;
		}
	}
	der = ocsp_req_get0_der(r.ocsp, &len);
	if (upstream_fetch(p->up, url, der, len, &resp, &rlen, err) == 0) {
		status = proxy_store(p->cache, p->cf, key, r.ocsp, responder,
		    resp, rlen, now, &st, err);
		if (status >= 0) {
			log_info("%s: fetched from %s: %s, nextUpdate in %llds, "
			    "%s%s", key, url, ocsp_status_name(st.status),
			    st.nextupd ? (long long)(st.nextupd - now) : -1LL,
			    status == 1 ? "stored" : "not stored: ",
			    status == 1 ? "" : err);
			http_reply_ocsp(conn, resp, rlen, st.thisupd,
			    st.nextupd, now);
			goto done;
		}
		log_warnx("%s: upstream %s answered an unusable response: %s",
		    key, url, err);
	} else
		log_warnx("%s: upstream %s", key, err);
	if (!from_cache_first)
		cached = cache_get(p->cache, key, 0, &e);
	if (cached == 1 && proxy_servable(&e, now)) {
		log_info("%s: served from the cache, upstream failed", key);
		proxy_reply_entry(conn, &e, now);
		goto done;
	}
	http_reply_error(conn, 503,
	    "OCSP responder unavailable and no valid cached response");
done:
	cache_entry_clear(&e);
	free(resp);
	free(url);
	free(responder);
	http_request_clear(&r);
}
