/*
 * store.h: the store path, shared by ocspxy-fcgi, the refresh daemon and
 * the operator command: an upstream answer checked against its request,
 * then written to the cache with its ETag, dates and the responder to
 * refresh it from. No FastCGI here.
 */
#ifndef OCSPXY_STORE_H
#define OCSPXY_STORE_H

#include <stddef.h>
#include <time.h>

#include "ocsp.h"

struct cache;
struct cache_entry;
struct config;

/* SHA-1 hex, the ETag of a response (RFC 5019 6.2), and its size. */
#define STORE_ETAGLEN 41

/* What became of an answer. */
enum store_outcome {
	STORE_STORED, /* valid, stored */
	STORE_UNCHANGED, /* the very bytes stored already: only lastchecked
			  * written, no signature check (they were checked
			  * when stored) */
	STORE_PASSED, /* valid, to pass on unstored (err says why: a nonce,
		       * no nextUpdate, a newer cached response, Redis down) */
	STORE_UNVERIFIED, /* valid, but not verified under require_verified:
			   * never to leave the proxy (err says why) */
	STORE_INVALID /* no answer to the request (err says why) */
};

/* Where and how to store an answer. */
struct store_item {
	const char *key; /* the cache key */
	const struct ocsp_req *req; /* the request it answers */
	const char *responder; /* "host[:port][/path]" (http) or
				* "https://host[:port][/path]" to refresh
				* from */
	const struct cache_entry *prev; /* the entry as read, or NULL */
	int learn; /* record the responder as its issuer's */
	int unlock; /* let go of our lock on key (cache_lock()) once stored */
};

/* The answer's figures: st for all but STORE_INVALID, etag always. */
struct store_result {
	struct ocsp_status st;
	char etag[STORE_ETAGLEN];
};

/*
 * Checks the answer resp for it->req at now and, when it may be cached,
 * stores it with everything a refresh needs. Fills res; err says why
 * for every outcome but STORE_STORED.
 */
enum store_outcome store_response(struct cache *, const struct config *,
    const struct store_item *it, const unsigned char *resp, size_t len,
    time_t now, struct store_result *res, char *err);

/*
 * store_response() without the write, for those who write many at once
 * (the refresh daemon): STORE_STORED when the answer is to be stored
 * (store_record(), then cache_put()), STORE_UNCHANGED when only
 * lastchecked is to be written (cache_touch(), then store_touched()).
 */
enum store_outcome store_judge(const struct config *,
    const struct store_item *it, const unsigned char *resp, size_t len,
    time_t now, struct store_result *res, char *err);
/*
 * The record that stores an answer store_judge() found fit, pointing
 * into it, resp, res and rec itself; *plain (a request without its nonce,
 * or NULL) is the caller's to OPENSSL_free() after the write. 0, or -1
 * (err says why).
 */
struct cache_record;
int store_record(const struct store_item *it, const unsigned char *resp,
    size_t len, time_t now, const struct store_result *res,
    struct cache_record *rec, unsigned char **plain, char *err);
/* NULL when cache_touch() returned 1, else err saying why not. */
const char *store_touched(int r, char *err);

/* "nextUpdate in Ns" or "no nextUpdate", for log lines; buf or a constant. */
const char *store_next_text(const struct ocsp_status *, time_t now, char *buf,
    size_t size);

/* The ETag of a response into buf of STORE_ETAGLEN bytes. */
void store_etag(const unsigned char *der, size_t len, char *buf);

/* "http://" + responder unless it names its scheme ("https://host/"
 * stays so), into a new string the caller frees; NULL when out of
 * memory. */
char *store_url(const char *responder);

/*
 * The responder a client named with its Host and request path, as the
 * cache keeps it: "host[:port][/path]" (the root path left out), or
 * "https://host[:port][/path]" when a responder line names that host
 * with https:// (config_https_host()). An empty port ("name:") is the
 * default one: trailing colons are left out, so that a Host and a path
 * never read as a URL of the client's choosing ("https:" and
 * "//elsewhere/"). A new string the caller frees; NULL when out of
 * memory.
 */
char *store_responder(const struct config *, const char *host,
    const char *path);

#endif
