/*
 * ocsp.h: OCSP requests and responses, functions over bytes that own no
 * sockets or files. Errors are described in a caller's buffer of ERRLEN
 * bytes (log.h). Two memos keep state, both declared here: the signers
 * remembered by ocsp_resp_check() (per process, see there) and the
 * request memo (struct ocsp_memo, owned by its caller).
 */
#ifndef OCSPXY_OCSP_H
#define OCSPXY_OCSP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ocsp.h>

/* Longest cache key: prefix, tag, 64-byte key hash, a 127-byte serial. */
#define OCSP_KEYLEN 512

struct ocsp_req;

/*
 * Parses a DER OCSPRequest (no trailing bytes). Returns a new request
 * that the caller frees with ocsp_req_free(), or NULL with err set.
 */
struct ocsp_req *ocsp_req_parse(const unsigned char *der, size_t len,
    char *err);
/* The same from base64 text (RFC 6960 A.1 GET, already URL-decoded). */
struct ocsp_req *ocsp_req_parse_b64(const char *b64, size_t len, char *err);
void ocsp_req_free(struct ocsp_req *);
/*
 * A request for leaf, issued by issuer, with a SHA-1 CertID as web
 * servers send. Returns a new request (ocsp_req_free()), or NULL.
 */
struct ocsp_req *ocsp_req_for_cert(X509 *leaf, X509 *issuer, char *err);
/*
 * The first OCSP responder URL of the certificate's Authority
 * Information Access, a new string the caller frees, or NULL.
 */
char *ocsp_cert_responder(X509 *leaf);

/* Number of certificates asked about (1 or more). */
int ocsp_req_count(const struct ocsp_req *);
/* 1 when the request carries a nonce extension. */
int ocsp_req_has_nonce(const struct ocsp_req *);
/* The DER the request was parsed from; borrowed from the request. */
const unsigned char *ocsp_req_get0_der(const struct ocsp_req *, size_t *len);
/*
 * Writes the cache key of the first certificate into buf of OCSP_KEYLEN
 * bytes: prefix, the tag of the CertID's hash algorithm and ':' (none for
 * SHA-1, the Perl tool's layout; sha224, sha256, sha384 or sha512),
 * lowercase hex issuerKeyHash, "0x" ("-0x" for a negative serial), and
 * lowercase hex serial without leading zeros. Returns 0, or -1 with err
 * set: another hash algorithm, or hashes not of its digest's size.
 */
int ocsp_req_key(const struct ocsp_req *, const char *prefix, char *buf,
    char *err);
/* 1 when the len bytes at tag are the tag of a key's hash algorithm. */
int ocsp_key_tag(const char *tag, size_t len);
/*
 * Lowercase hex issuerKeyHash of the first certificate, or -1. It names
 * no algorithm: the hashes of each are of a length of their own.
 */
int ocsp_req_keyhash(const struct ocsp_req *, char *buf, size_t size);
/*
 * A request for the first certificate alone, without nonce or other
 * extensions (what the cache stores to refresh with). Returns 0 and a
 * malloc'd *der the caller frees with OPENSSL_free(), or -1.
 */
int ocsp_req_plain(const struct ocsp_req *, unsigned char **der, size_t *len,
    char *err);

struct ocsp_status {
	int status; /* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	time_t thisupd;
	time_t nextupd; /* 0: the response has none */
	int nonce; /* 1: the response carries a nonce */
	int verified; /* 1: signature checked against the issuer */
};

/* "good", "revoked" or "unknown". */
const char *ocsp_status_name(int status);

/*
 * The certificate among issuers (may be NULL) that issued the request's
 * first certificate (same name and key hash), borrowed; or NULL.
 */
X509 *ocsp_req_find_issuer(const struct ocsp_req *, STACK_OF(X509) * issuers);

/*
 * Checks a DER OCSPResponse against the first certificate of req: a
 * successful basic response holding a SingleResponse for exactly that
 * CertID, thisUpdate no more than skew seconds ahead of now, nextUpdate
 * (when present) after now. When issuers holds the request's issuer,
 * the signature must verify against it: signed by the issuer itself, or
 * by a responder certificate it issued with id-kp-OCSPSigning (RFC 6960
 * 4.2.2.2); st->verified says so. Returns 0 and fills st, or -1 with err.
 * A delegated signer verified once is remembered by the process for an
 * hour (never past its notAfter): its next answers need only their
 * signature checked (state kept in ocsp.c, 16 signers at most).
 */
int ocsp_resp_check(const unsigned char *der, size_t len,
    const struct ocsp_req *req, STACK_OF(X509) * issuers, time_t now, long skew,
    struct ocsp_status *st, char *err);

/*
 * A memo of cache keys by the exact bytes a request came in (a POST body,
 * a GET path), so that a hit needs no ASN.1 parse. Direct-mapped, small
 * (64 requests of up to 512 bytes); only plain one-certificate requests
 * go in. NULL when out of memory.
 */
struct ocsp_memo;
struct ocsp_memo *ocsp_memo_new(void);
void ocsp_memo_free(struct ocsp_memo *);
/* 1 and the key in buf (OCSP_KEYLEN) when raw is known, else 0. */
int ocsp_memo_get(const struct ocsp_memo *, const void *raw, size_t len,
    char *buf);
void ocsp_memo_put(struct ocsp_memo *, const void *raw, size_t len,
    const char *key);

/* Lowercase hex of len bytes into buf (2 * len + 1 bytes). */
void ocsp_hex(const unsigned char *p, size_t len, char *buf);
/* A hash of len bytes: for picking slots and shares, not for security. */
uint32_t ocsp_hash(const void *p, size_t len);

#endif
