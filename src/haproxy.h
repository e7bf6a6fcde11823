/*
 * haproxy.h: HAProxy's runtime API, the only module that speaks it. Over
 * the unix socket of a "stats socket ... level admin" line: which
 * certificates HAProxy staples OCSP responses for ("show ssl
 * ocsp-response") and a new response for one of them ("set ssl
 * ocsp-response <base64>"), as HAProxy 2.6 (Debian 12) takes them. One
 * connection per command, each exchange bounded by a timeout
 * (HAPROXY_TIMEOUT_MS). No Redis here.
 */
#ifndef OCSPXY_HAPROXY_H
#define OCSPXY_HAPROXY_H

#include <stddef.h>

/* Milliseconds to connect, send a command and read its whole answer. */
#define HAPROXY_TIMEOUT_MS 3000

struct haproxy;

/*
 * Asks HAProxy at the unix socket path which certificates it staples for
 * (those it loaded with a <cert>.ocsp file beside them, even an empty
 * one) and names each by its cache key under prefix (HAProxy's CertIDs
 * are SHA-1, the key layout of ocsp_req_key()). Returns a new handle the
 * caller frees with haproxy_free(), or NULL after one log line naming
 * path (HAProxy unreachable, or an answer that is no list).
 */
struct haproxy *haproxy_new(const char *path, const char *prefix);
void haproxy_free(struct haproxy *);

/* The socket path given to haproxy_new(), borrowed. */
const char *haproxy_get0_path(const struct haproxy *);

/* How many certificates HAProxy listed, and the cache key of the i-th
 * (borrowed from the handle; keys in strcmp order). */
size_t haproxy_count(const struct haproxy *);
const char *haproxy_get0_key(const struct haproxy *, size_t i);

/* 1 when HAProxy staples for the certificate of the cache key, else 0. */
int haproxy_wants(const struct haproxy *, const char *key);

/*
 * Sends the DER OCSP response der of the certificate of key to HAProxy,
 * which staples it from then on, without a reload (it checks it as it
 * checks a .ocsp file at start). Returns 0 when HAProxy answers "OCSP
 * Response updated", or -1 after one log line naming key and what
 * HAProxy answered or why it could not be asked.
 */
int haproxy_push(struct haproxy *, const char *key, const unsigned char *der,
    size_t len);

#endif
