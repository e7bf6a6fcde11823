/* store.c: an upstream answer checked, then stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "ocsp.h"
#include "store.h"

void
store_etag(const unsigned char *der, size_t len, char *buf)
{
	static EVP_MD *sha1; /* fetched once: a fetch costs a digest */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (sha1 == NULL)
		sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (!EVP_Digest(der, len, md, &mdlen, sha1 ? sha1 : EVP_sha1(), NULL))
		mdlen = 0;
	ocsp_hex(md, mdlen, buf);
}

const char *
store_next_text(const struct ocsp_status *st, time_t now, char *buf,
    size_t size)
{
	if (st->nextupd == 0)
		return "no nextUpdate";
	snprintf(buf, size, "nextUpdate in %llds",
	    (long long)(st->nextupd - now));
	return buf;
}

char *
store_url(const char *responder)
{
	char *url;
	size_t n = strcspn(responder, ":/");

	/* "https://..." (or "http://..."): its scheme named, kept. */
	if (strncmp(responder + n, "://", 3) == 0)
		return strdup(responder);
	if (asprintf(&url, "http://%s", responder) == -1)
		return NULL;
	return url;
}

char *
store_responder(const struct config *cf, const char *host, const char *path)
{
	size_t n = strlen(host);
	char *h, *s;

	while (n > 0 && host[n - 1] == ':')
		n--;
	if ((h = strndup(host, n)) == NULL)
		return NULL;
	if (asprintf(&s, "%s%s%s", config_https_host(cf, h) ? "https://" : "",
		h, strcmp(path, "/") == 0 ? "" : path) == -1)
		s = NULL;
	free(h);
	return s;
}

/* Why a valid answer is not to be stored, or NULL when it may be. */
static const char *
store_unfit(const struct ocsp_status *st)
{
	if (st->nonce)
		return "the response carries a nonce";
	if (st->nextupd == 0)
		return "the response has no nextUpdate";
	return NULL;
}

int
store_record(const struct store_item *it, const unsigned char *resp, size_t len,
    time_t now, const struct store_result *res, struct cache_record *rec,
    unsigned char **plain, char *err)
{
	memset(rec, 0, sizeof(*rec));
	*plain = NULL;
	rec->responder = it->responder;
	/* Refresh with the client's request, or a plain one for a nonce. */
	if (ocsp_req_has_nonce(it->req)) {
		if (ocsp_req_plain(it->req, plain, &rec->request_len, err) ==
		    -1)
			return -1;
		rec->request = *plain;
	} else
		rec->request = ocsp_req_get0_der(it->req, &rec->request_len);
	if (it->learn &&
	    ocsp_req_keyhash(it->req, rec->kh, sizeof(rec->kh)) == 0)
		rec->keyhash = rec->kh;
	rec->unlock = it->unlock;
	rec->response = resp;
	rec->response_len = len;
	rec->etag = res->etag;
	rec->status = ocsp_status_name(res->st.status);
	rec->thisupd = res->st.thisupd;
	rec->nextupd = res->st.nextupd;
	rec->now = now;
	return 0;
}

/* Writes the record of an answer checked into st. */
static enum store_outcome
store_put(struct cache *cache, const struct store_item *it,
    const unsigned char *resp, size_t len, time_t now,
    const struct store_result *res, char *err)
{
	struct cache_record rec;
	unsigned char *plain;
	enum store_outcome ret = STORE_PASSED;

	if (store_record(it, resp, len, now, res, &rec, &plain, err) == -1)
		return STORE_PASSED;
	switch (cache_put(cache, it->key, &rec)) {
	case 1:
		ret = STORE_STORED;
		break;
	case 0:
		errfmt(err, "the cache holds a newer response");
		break;
	default:
		errfmt(err, "the cache is unavailable");
	}
	OPENSSL_free(plain);
	return ret;
}

/* 1 when resp is the very response of prev. */
static int
store_same(const struct cache_entry *prev, const unsigned char *resp,
    size_t len)
{
	return prev != NULL && prev->response != NULL &&
	    prev->response_len == len && memcmp(prev->response, resp, len) == 0;
}

/*
 * The stored bytes came back (a pre-signing responder): their signature
 * was checked when they were stored, their time window is checked here.
 * STORE_UNCHANGED when only lastchecked is to be written.
 */
static enum store_outcome
store_same_valid(const struct config *cf, const struct store_item *it,
    time_t now, struct store_result *res, char *err)
{
	const struct cache_entry *prev = it->prev;
	int i;

	for (i = V_OCSP_CERTSTATUS_GOOD; i <= V_OCSP_CERTSTATUS_UNKNOWN; i++)
		if (prev->status != NULL &&
		    strcmp(prev->status, ocsp_status_name(i)) == 0)
			res->st.status = i;
	res->st.thisupd = prev->thisupd;
	res->st.nextupd = prev->nextupd;
	/* The ETag stored with the same bytes, else made (the Perl tool's). */
	if (prev->etag != NULL && strlen(prev->etag) == STORE_ETAGLEN - 1)
		memcpy(res->etag, prev->etag, STORE_ETAGLEN);
	else
		store_etag((const unsigned char *)prev->response,
		    prev->response_len, res->etag);
	if (prev->nextupd <= now) {
		errfmt(err, "expired: nextUpdate %lld s ago (unchanged)",
		    (long long)(now - prev->nextupd));
		return STORE_INVALID;
	}
	if (prev->thisupd > now + cf->clock_skew) {
		errfmt(err, "thisUpdate %lld s ahead (unchanged)",
		    (long long)(prev->thisupd - now));
		return STORE_INVALID;
	}
	return STORE_UNCHANGED;
}

enum store_outcome
store_judge(const struct config *cf, const struct store_item *it,
    const unsigned char *resp, size_t len, time_t now, struct store_result *res,
    char *err)
{
	const char *why;

	memset(res, 0, sizeof(*res));
	if (store_same(it->prev, resp, len))
		return store_same_valid(cf, it, now, res, err);
	store_etag(resp, len, res->etag);
	if (ocsp_resp_check(resp, len, it->req, cf->issuers, now,
		cf->clock_skew, &res->st, err) == -1)
		return STORE_INVALID;
	if (!res->st.verified && cf->require_verified) {
		errfmt(err,
		    "no configured issuer verifies it (require_verified)");
		return STORE_UNVERIFIED;
	}
	if ((why = store_unfit(&res->st)) != NULL) {
		errfmt(err, "%s", why);
		return STORE_PASSED;
	}
	return STORE_STORED;
}

const char *
store_touched(int r, char *err)
{
	if (r == 1)
		return NULL;
	errfmt(err, "%s",
	    r == 0 ? "the entry is gone" : "the cache is unavailable");
	return err;
}

enum store_outcome
store_response(struct cache *cache, const struct config *cf,
    const struct store_item *it, const unsigned char *resp, size_t len,
    time_t now, struct store_result *res, char *err)
{
	enum store_outcome o = store_judge(cf, it, resp, len, now, res, err);

	if (o == STORE_STORED)
		return store_put(cache, it, resp, len, now, res, err);
	if (o == STORE_UNCHANGED &&
	    store_touched(cache_touch(cache, it->key, now, it->unlock), err) !=
		NULL)
		return STORE_PASSED;
	return o;
}
