/*
 * proxy.h: what one OCSP request goes through, from the web server's
 * request to the answer: cache first, upstream on a miss, every answer
 * checked before it is stored. Shared by every program: the refresh
 * daemon and the operator command store through proxy_store() too.
 */
#ifndef OCSPXY_PROXY_H
#define OCSPXY_PROXY_H

#include <stddef.h>
#include <time.h>

#include "ocsp.h"

struct cache;
struct config;
struct http_conn;
struct ocsp_req;
struct ocsp_status;
struct upstream;

struct tally {
	long long hits, fetches, failed, fallbacks, stale, refused;
	long long bytes;
	const char *reason; /* of a failed fetch */
};

struct proxy {
	const struct config *cf; /* borrowed */
	struct cache *cache;
	struct upstream *up;
	struct tally pending; /* counts not yet in Redis */
	long long failures[8]; /* by metrics_reasons */
	time_t flushed;
	struct ocsp_memo memo; /* cache keys of known requests */
};

/* A proxy over cf (which must outlive it). NULL on error. */
struct proxy *proxy_new(const struct config *cf);
void proxy_free(struct proxy *);

/* Serves one request start to end; every failure is one log line. */
void proxy_serve(struct proxy *, struct http_conn *);

/* 1 when counts wait to be sent to Redis; proxy_flush() sends them (at
 * most a second after they were made, and when the process is idle). */
int proxy_pending(const struct proxy *);
void proxy_flush(struct proxy *);

/*
 * Checks an upstream answer for req and, when it may be cached, stores
 * it under key with the request and responder to refresh it by (flags:
 * PROXY_LEARN, PROXY_UNLOCK). Returns
 * 1 stored, 0 valid but not stored (err says why: a nonce, no nextUpdate,
 * a newer cached response, Redis down), -1 invalid (err says why). st is
 * filled for valid answers.
 */
#define PROXY_LEARN 0x1 /* record the responder as its issuer's */
#define PROXY_UNLOCK 0x2 /* let go of our lock on key when stored */
int proxy_store(struct cache *, const struct config *, const char *key,
    const struct ocsp_req *req, const char *responder, int flags,
    const unsigned char *resp, size_t len, time_t now, struct ocsp_status *st,
    char *err);

/* "http://" + responder unless it names its scheme, into a new string. */
char *proxy_url(const char *responder);

#endif
