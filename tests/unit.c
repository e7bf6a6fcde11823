/* unit.c: tests of the pure functions (no servers). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cache.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "ocsp.h"
#include "refresh.h"
#include "breaker.h"
#include "mem.h"
#include "metrics.h"

static int passed, failed;

#define CHECK(cond, ...) check((cond) != 0, #cond, __VA_ARGS__)

static void
check(int ok, const char *expr, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf(" (%s)", expr);
	printf("\n");
	if (ok)
		passed++;
	else
		failed++;
}

static void cert_ext(X509 *, int, const char *);

/* A CA: key and self-signed certificate. */
struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static void
ca_make(struct ca *ca, const char *cn)
{
	X509_NAME *n;

	ca->key = EVP_EC_gen("P-256");
	ca->cert = X509_new();
	X509_set_version(ca->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ca->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(ca->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(ca->cert), 86400);
	n = X509_get_subject_name(ca->cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(ca->cert, n);
	X509_set_pubkey(ca->cert, ca->key);
	cert_ext(ca->cert, NID_basic_constraints, "critical,CA:TRUE");
	X509_sign(ca->cert, ca->key, EVP_sha256());
}

/* Adds the extension nid = value to x. */
static void
cert_ext(X509 *x, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

/* A responder certificate issued by ca, with id-kp-OCSPSigning or not. */
static void
signer_make(struct ca *s, const struct ca *ca, const char *cn, long serial,
    int eku)
{
	s->key = EVP_EC_gen("P-256");
	s->cert = X509_new();
	X509_set_version(s->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(s->cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(s->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(s->cert), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(s->cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(s->cert, X509_get_subject_name(ca->cert));
	X509_set_pubkey(s->cert, s->key);
	if (eku)
		cert_ext(s->cert, NID_ext_key_usage, "OCSPSigning");
	X509_sign(s->cert, ca->key, EVP_sha256());
}

static void
ca_free(struct ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
}

static OCSP_CERTID *
certid(const struct ca *ca, long serial, const EVP_MD *md)
{
	ASN1_INTEGER *s = ASN1_INTEGER_new();
	OCSP_CERTID *id;

	ASN1_INTEGER_set(s, serial);
	id = OCSP_cert_id_new(md, X509_get_subject_name(ca->cert),
	    X509_get0_pubkey_bitstr(ca->cert), s);
	ASN1_INTEGER_free(s);
	return id;
}

/* DER of a request for serial (and serial2 when not -1). */
static size_t
request_der(const struct ca *ca, long serial, long serial2, int nonce,
    unsigned char **der)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	int n;

	OCSP_request_add0_id(req, certid(ca, serial, EVP_sha1()));
	if (serial2 != -1)
		OCSP_request_add0_id(req, certid(ca, serial2, EVP_sha1()));
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, -1);
	*der = NULL;
	n = i2d_OCSP_REQUEST(req, der);
	OCSP_REQUEST_free(req);
	return (size_t)n;
}

/* DER of a request for serial with a CertID hashed with md. */
static size_t
request_md(const struct ca *ca, long serial, const EVP_MD *md,
    unsigned char **der)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	int n;

	OCSP_request_add0_id(req, certid(ca, serial, md));
	*der = NULL;
	n = i2d_OCSP_REQUEST(req, der);
	OCSP_REQUEST_free(req);
	return (size_t)n;
}

/* Replaces the n bytes from in der (len bytes) by to: 1, or 0 if not once. */
static int
der_patch(unsigned char *der, size_t len, const unsigned char *from,
    const unsigned char *to, size_t n)
{
	unsigned char *at = NULL;
	size_t i;

	for (i = 0; i + n <= len; i++) {
		if (memcmp(der + i, from, n) != 0)
			continue;
		if (at != NULL)
			return 0;
		at = der + i;
	}
	if (at == NULL)
		return 0;
	memcpy(at, to, n);
	return 1;
}

static size_t response_signed(const struct ca *, const struct ca *, long, long,
    long, int, int, unsigned char **);
static size_t response_make(const struct ca *, const struct ca *, int, X509 *,
    long, long, long, int, int, unsigned char **);

/* DER of a response for serial with the given times (offsets to now). */
static size_t
response_der(const struct ca *ca, long serial, long thisoff, long nextoff,
    int status, int nonce, unsigned char **der)
{
	return response_signed(ca, ca, serial, thisoff, nextoff, status, nonce,
	    der);
}

/* The same, signed by signer for a certificate of ca. */
static size_t
response_signed(const struct ca *ca, const struct ca *signer, long serial,
    long thisoff, long nextoff, int status, int nonce, unsigned char **der)
{
	return response_make(ca, signer, 0, NULL, serial, thisoff, nextoff,
	    status, nonce, der);
}

/*
 * The same, good for an hour, signed by signer but carrying the
 * certificate carry instead of its own (none when carry is NULL).
 */
static size_t
response_carrying(const struct ca *ca, const struct ca *signer, X509 *carry,
    long serial, unsigned char **der)
{
	return response_make(ca, signer, 1, carry, serial, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, der);
}

static size_t
response_make(const struct ca *ca, const struct ca *signer, int nocerts,
    X509 *carry, long serial, long thisoff, long nextoff, int status, int nonce,
    unsigned char **der)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp;
	ASN1_TIME *thisupd = X509_gmtime_adj(NULL, thisoff);
	ASN1_TIME *nextupd = nextoff ? X509_gmtime_adj(NULL, nextoff) : NULL;
	ASN1_TIME *rev = X509_gmtime_adj(NULL, -86400);
	OCSP_CERTID *id = certid(ca, serial, EVP_sha1());
	int n;

	OCSP_basic_add1_status(bs, id, status, 0, rev, thisupd, nextupd);
	if (nonce)
		OCSP_basic_add1_nonce(bs, NULL, -1);
	OCSP_basic_sign(bs, signer->cert, signer->key, EVP_sha256(), NULL,
	    nocerts ? OCSP_NOCERTS : 0);
	if (carry != NULL)
		OCSP_basic_add1_cert(bs, carry);
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	*der = NULL;
	n = i2d_OCSP_RESPONSE(resp, der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(rev);
	return (size_t)n;
}

/* Flips a bit of the response's signature (its signer cert stays). */
static void
corrupt_signature(unsigned char **der, size_t *len)
{
	const unsigned char *p = *der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)*len);
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	const ASN1_OCTET_STRING *sig = OCSP_resp_get0_signature(bs);
	OCSP_RESPONSE *bad;
	int n;

	((unsigned char *)ASN1_STRING_get0_data(sig))[10] ^= 1;
	bad = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	OPENSSL_free(*der);
	*der = NULL;
	n = i2d_OCSP_RESPONSE(bad, der);
	*len = (size_t)n;
	OCSP_RESPONSE_free(bad);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
}

/* Keys of CertIDs of other hash algorithms than SHA-1. */
static void
test_key_algs(const struct ca *ca)
{
	/* The OIDs of SHA-1, of an unknown algorithm, of SHA-256 and -224. */
	static const unsigned char sha1[] = {0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02,
	    0x1a};
	static const unsigned char unknown[] = {0x06, 0x05, 0x2b, 0x0e, 0x03,
	    0x02, 0x63};
	static const unsigned char sha256[] = {0x06, 0x09, 0x60, 0x86, 0x48,
	    0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
	static const unsigned char sha224[] = {0x06, 0x09, 0x60, 0x86, 0x48,
	    0x01, 0x65, 0x03, 0x04, 0x02, 0x04};
	static const struct {
		const char *name, *tag;
		const EVP_MD *(*md)(void);
	} algs[] = {
	    {"SHA-224", "sha224:", EVP_sha224},
	    {"SHA-256", "sha256:", EVP_sha256},
	    {"SHA-384", "sha384:", EVP_sha384},
	    {"SHA-512", "sha512:", EVP_sha512},
	};
	char key[OCSP_KEYLEN], key1[OCSP_KEYLEN], err[ERRLEN], kh[129];
	char want[OCSP_KEYLEN];
	unsigned char *der, md[EVP_MAX_MD_SIZE];
	struct ocsp_req *r;
	unsigned int mdlen;
	size_t i, len;
	int ok;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_Digest(
		    ASN1_STRING_get0_data(X509_get0_pubkey_bitstr(ca->cert)),
		    ASN1_STRING_length(X509_get0_pubkey_bitstr(ca->cert)), md,
		    &mdlen, algs[i].md(), NULL);
		ocsp_hex(md, mdlen, kh);
		snprintf(want, sizeof(want), "ocspxy_%s%s0x1f", algs[i].tag,
		    kh);
		len = request_md(ca, 0x1f, algs[i].md(), &der);
		r = ocsp_req_parse(der, len, err);
		CHECK(r != NULL && ocsp_req_key(r, "ocspxy_", key, err) == 0 &&
			strcmp(key, want) == 0,
		    "%s CertID: key ocspxy_%s<key hash>0x1f", algs[i].name,
		    algs[i].tag);
		CHECK(cache_is_entry_key("ocspxy_", want),
		    "ocspxy_%s<key hash>0x1f has the shape of an entry key",
		    algs[i].tag);
		ocsp_req_free(r);
		OPENSSL_free(der);
	}

	/* An unknown OID with 20-byte hashes: not the SHA-1 key. */
	len = request_md(ca, 0x1f, EVP_sha1(), &der);
	r = ocsp_req_parse(der, len, err);
	ok = r != NULL && ocsp_req_key(r, "ocspxy_", key1, err) == 0;
	ocsp_req_free(r);
	CHECK(ok && der_patch(der, len, sha1, unknown, sizeof(sha1)) &&
		(r = ocsp_req_parse(der, len, err)) != NULL,
	    "fixture: a CertID with OID 1.3.14.3.2.99 and 20-byte hashes "
	    "parses");
	key[0] = '\0';
	CHECK(r != NULL && ocsp_req_key(r, "ocspxy_", key, err) == -1 &&
		strstr(err, "1.3.14.3.2.99") != NULL,
	    "unknown hash OID, 20-byte hashes: no key (%s)", err);
	CHECK(strcmp(key, key1) != 0,
	    "unknown hash OID: not the SHA-1 CertID's key %s", key1);
	ocsp_req_free(r);
	OPENSSL_free(der);

	/* SHA-224's OID over SHA-256 hashes: sizes that do not match. */
	len = request_md(ca, 0x1f, EVP_sha256(), &der);
	r = NULL;
	CHECK(der_patch(der, len, sha256, sha224, sizeof(sha256)) &&
		(r = ocsp_req_parse(der, len, err)) != NULL &&
		ocsp_req_key(r, "ocspxy_", key, err) == -1,
	    "SHA-224 CertID with 32-byte hashes: no key (%s)", err);
	ocsp_req_free(r);
	OPENSSL_free(der);

	/* MD5, which OpenSSL knows and the cache does not. */
	len = request_md(ca, 0x1f, EVP_md5(), &der);
	r = ocsp_req_parse(der, len, err);
	CHECK(r != NULL && ocsp_req_key(r, "ocspxy_", key, err) == -1,
	    "MD5 CertID: no key (%s)", err);
	ocsp_req_free(r);
	OPENSSL_free(der);

	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_md5:ab0x1"),
	    "a key with a tag of no known algorithm is no entry key");
	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_sha256:0x1"),
	    "a tagged key without key hash is no entry key");
	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_sha256ab0x1"),
	    "a tag without its ':' is no entry key");
}

static void
test_keys(const struct ca *ca)
{
	static const struct {
		long serial;
		const char *tail;
	} cases[] = {
	    {0, "0x0"},
	    {5, "0x5"},
	    {0x1001, "0x1001"},
	    {0xff, "0xff"},
	    {0x100, "0x100"},
	    {-5, "-0x5"},
	};
	char key[OCSP_KEYLEN], err[ERRLEN], kh[129], want[OCSP_KEYLEN];
	unsigned char *der, md[20];
	struct ocsp_req *r;
	unsigned int mdlen;
	size_t i, len;

	/* issuerKeyHash: SHA-1 of the issuer's public key bits. */
	EVP_Digest(ASN1_STRING_get0_data(X509_get0_pubkey_bitstr(ca->cert)),
	    ASN1_STRING_length(X509_get0_pubkey_bitstr(ca->cert)), md, &mdlen,
	    EVP_sha1(), NULL);
	ocsp_hex(md, mdlen, kh);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = request_der(ca, cases[i].serial, -1, 0, &der);
		r = ocsp_req_parse(der, len, err);
		snprintf(want, sizeof(want), "ocspxy_%s%s", kh, cases[i].tail);
		CHECK(r != NULL && ocsp_req_key(r, "ocspxy_", key, err) == 0 &&
			strcmp(key, want) == 0,
		    "key of serial %ld ends in %s", cases[i].serial,
		    cases[i].tail);
		CHECK(cache_is_entry_key("ocspxy_", want),
		    "%s has the shape of an entry key", cases[i].tail);
		ocsp_req_free(r);
		OPENSSL_free(der);
	}
	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_lock:ab0x1"),
	    "a lock key is no entry key");
	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_responder:ab"),
	    "a responder key is no entry key");
	CHECK(!cache_is_entry_key("ocspxy_", "ocspxy_ab0x"),
	    "a key without serial is no entry key");
	CHECK(cache_is_entry_key("ocspxy_", "ocspxy_a00x0"),
	    "a key hash ending in 0 is read right");
	test_key_algs(ca);
}

static void
test_requests(const struct ca *ca)
{
	char err[ERRLEN], *b64, *path, uri[4200], esc[4096], *p;
	unsigned char *der, *plain, junk[] = "garbage";
	struct ocsp_req *r, *r2 = NULL;
	size_t len, plen;
	int n;

	CHECK(ocsp_req_parse(junk, sizeof(junk), err) == NULL,
	    "garbage is no request: %s", err);
	len = request_der(ca, 7, -1, 0, &der);
	CHECK(ocsp_req_parse(der, len - 1, err) == NULL,
	    "a truncated request is refused");
	der = OPENSSL_realloc(der, len + 1);
	der[len] = 0;
	CHECK(ocsp_req_parse(der, len + 1, err) == NULL,
	    "trailing bytes are refused: %s", err);
	OPENSSL_free(der);

	len = request_der(ca, 7, 8, 0, &der);
	r = ocsp_req_parse(der, len, err);
	CHECK(r != NULL && ocsp_req_count(r) == 2, "two certificates counted");
	ocsp_req_free(r);
	OPENSSL_free(der);

	len = request_der(ca, 7, -1, 1, &der);
	r = ocsp_req_parse(der, len, err);
	CHECK(r != NULL && ocsp_req_has_nonce(r), "a nonce is seen");
	CHECK(r != NULL && ocsp_req_plain(r, &plain, &plen, err) == 0 &&
		(r2 = ocsp_req_parse(plain, plen, err)) != NULL &&
		!ocsp_req_has_nonce(r2) && ocsp_req_count(r2) == 1,
	    "the plain request drops the nonce");
	ocsp_req_free(r2);
	OPENSSL_free(plain);
	ocsp_req_free(r);

	/* GET: base64 with '/', '+', '=' escaped or not, under a path. */
	b64 = malloc(4 * len / 3 + 8);
	n = EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	b64[n] = '\0';
	snprintf(uri, sizeof(uri), "/ca2/sub/%s", b64);
	CHECK(http_get_decode(uri, &path, &r, err) == 0 &&
		strcmp(path, "/ca2/sub/") == 0 && ocsp_req_has_nonce(r),
	    "GET unescaped base64 under /ca2/sub/");
	free(path);
	ocsp_req_free(r);
	for (p = b64, n = 0; *p != '\0'; p++)
		n += snprintf(esc + n, sizeof(esc) - (size_t)n,
		    strchr("/+=", *p) ? "%%%02X" : "%c", *p);
	snprintf(uri, sizeof(uri), "/%s", esc);
	CHECK(http_get_decode(uri, &path, &r, err) == 0 &&
		strcmp(path, "/") == 0,
	    "GET URL-encoded base64 at /");
	free(path);
	ocsp_req_free(r);
	if ((p = strchr(b64, '=')) != NULL)
		*p = '\0';
	snprintf(uri, sizeof(uri), "/%s", b64);
	CHECK(http_get_decode(uri, &path, &r, err) == 0,
	    "GET base64 without padding");
	free(path);
	ocsp_req_free(r);
	CHECK(http_get_decode("/bm90IGFuIE9DU1AgcmVxdWVzdA==", &path, &r,
		  err) == -1,
	    "GET of base64 that is no request: %s", err);
	CHECK(http_get_decode("/", &path, &r, err) == -1, "GET of /");
	for (n = 0; n < 3000; n += 2)
		memcpy(esc + n, "/a", 2);
	esc[n] = '\0';
	CHECK(http_get_decode(esc, &path, &r, err) == -1,
	    "GET of 1500 segments: refused after a few tries");
	CHECK(http_get_decode("/a b", &path, &r, err) == -1,
	    "GET with a space");
	free(b64);
	OPENSSL_free(der);
}

static void
test_responses(const struct ca *ca)
{
	struct ocsp_status st;
	struct ocsp_req *r, *other;
	struct ca stranger;
	STACK_OF(X509) * issuers;
	unsigned char *req, *req2, *der;
	char err[ERRLEN];
	time_t now = time(NULL);
	size_t len, rlen;

	rlen = request_der(ca, 0x1001, -1, 0, &req);
	r = ocsp_req_parse(req, rlen, err);
	rlen = request_der(ca, 0x1002, -1, 0, &req2);
	other = ocsp_req_parse(req2, rlen, err);

	len = response_der(ca, 0x1001, -10, 3600, V_OCSP_CERTSTATUS_GOOD, 0,
	    &der);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == 0 &&
		st.status == V_OCSP_CERTSTATUS_GOOD && !st.nonce &&
		st.nextupd - st.thisupd == 3610,
	    "a good response is accepted");
	CHECK(ocsp_resp_check(der, len, other, NULL, now, 300, &st, err) == -1,
	    "a response for another serial is refused: %s", err);
	CHECK(ocsp_resp_check(der, len - 3, r, NULL, now, 300, &st, err) == -1,
	    "a truncated response is refused: %s", err);
	OPENSSL_free(der);

	len = response_der(ca, 0x1001, -7200, -60, V_OCSP_CERTSTATUS_GOOD, 0,
	    &der);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == -1,
	    "an expired response is refused: %s", err);
	OPENSSL_free(der);
	len = response_der(ca, 0x1001, 1000, 7200, V_OCSP_CERTSTATUS_GOOD, 0,
	    &der);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == -1,
	    "a thisUpdate beyond the skew is refused: %s", err);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 1200, &st, err) == 0,
	    "a thisUpdate within the skew is accepted");
	OPENSSL_free(der);
	len = response_der(ca, 0x1001, -10, 3600, V_OCSP_CERTSTATUS_REVOKED, 1,
	    &der);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == 0 &&
		st.status == V_OCSP_CERTSTATUS_REVOKED && st.nonce &&
		strcmp(ocsp_status_name(st.status), "revoked") == 0,
	    "revoked with a nonce: status and nonce seen");
	OPENSSL_free(der);
	len = response_der(ca, 0x1001, -10, 0, V_OCSP_CERTSTATUS_GOOD, 0, &der);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == 0 &&
		st.nextupd == 0,
	    "no nextUpdate: accepted, nextupd 0");
	OPENSSL_free(der);

	/* Signatures: the issuer's own, and a stranger's of the same name. */
	issuers = sk_X509_new_null();
	sk_X509_push(issuers, ca->cert);
	ca_make(&stranger, "Unit CA");
	len = response_der(ca, 0x1001, -10, 3600, V_OCSP_CERTSTATUS_GOOD, 0,
	    &der);
	CHECK(ocsp_resp_check(der, len, r, issuers, now, 300, &st, err) == 0 &&
		st.verified,
	    "signed by the known issuer: verified");
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == 0 &&
		!st.verified,
	    "no known issuer: accepted, not verified");
	OPENSSL_free(der);
	len = response_signed(ca, &stranger, 0x1001, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, &der);
	CHECK(ocsp_resp_check(der, len, r, issuers, now, 300, &st, err) == -1,
	    "forged by a stranger key: refused: %s", err);
	OPENSSL_free(der);
	len = response_der(ca, 0x1001, -10, 3600, V_OCSP_CERTSTATUS_GOOD, 0,
	    &der);
	corrupt_signature(&der, &len);
	CHECK(ocsp_resp_check(der, len, r, NULL, now, 300, &st, err) == -1,
	    "a corrupted signature is refused without a known issuer: %s", err);
	OPENSSL_free(der);
	X509_free(stranger.cert);
	EVP_PKEY_free(stranger.key);
	sk_X509_free(issuers);
	ocsp_req_free(r);
	ocsp_req_free(other);
	OPENSSL_free(req);
	OPENSSL_free(req2);
}

/* ocsp_resp_check() must refuse der (freed here), a response for r. */
static void
refused(unsigned char *der, size_t len, const struct ocsp_req *r,
    STACK_OF(X509) * issuers, time_t now, const char *what)
{
	struct ocsp_status st;
	char err[ERRLEN];

	err[0] = '\0';
	CHECK(ocsp_resp_check(der, len, r, issuers, now, 300, &st, err) == -1,
	    "%s: refused: %s", what, err);
	OPENSSL_free(der);
}

/*
 * A delegated responder: verified in full once, then remembered, so that
 * its next responses are checked without decoding its certificate again.
 * What the remembered certificate must not let through.
 */
static void
test_delegated(const struct ca *ca)
{
	struct ocsp_status st;
	struct ocsp_req *r, *r2;
	struct ca ca2, del, twin, noeku;
	STACK_OF(X509) * issuers;
	unsigned char *req, *der;
	char err[ERRLEN];
	time_t now = time(NULL);
	size_t len, rlen;
	int i, ok;

	ca_make(&ca2, "Unit CA 2");
	signer_make(&del, ca, "Unit OCSP", 7, 1);
	/* Same name, issued by the same CA, but no id-kp-OCSPSigning. */
	signer_make(&twin, ca, "Unit OCSP", 8, 0);
	signer_make(&noeku, ca, "Unit OCSP plain", 9, 0);
	issuers = sk_X509_new_null();
	sk_X509_push(issuers, ca->cert);
	sk_X509_push(issuers, ca2.cert);
	rlen = request_der(ca, 0x2001, -1, 0, &req);
	r = ocsp_req_parse(req, rlen, err);
	OPENSSL_free(req);
	rlen = request_der(&ca2, 0x2001, -1, 0, &req);
	r2 = ocsp_req_parse(req, rlen, err);
	OPENSSL_free(req);

	for (i = 0, ok = 1; i < 3; i++) {
		len = response_signed(ca, &del, 0x2001, -10 - i, 3600,
		    V_OCSP_CERTSTATUS_GOOD, 0, &der);
		if (ocsp_resp_check(der, len, r, issuers, now, 300, &st, err) !=
			0 ||
		    !st.verified) {
			printf("# response %d: %s\n", i + 1, err);
			ok = 0;
		}
		OPENSSL_free(der);
	}
	CHECK(ok,
	    "a delegated signer's responses: verified, the first in "
	    "full and the next two from memory");
	len = response_signed(ca, &del, 0x2001, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, &der);
	corrupt_signature(&der, &len);
	refused(der, len, r, issuers, now,
	    "the remembered signer's certificate with a bad signature");
	len = response_carrying(ca, &twin, del.cert, 0x2001, &der);
	refused(der, len, r, issuers, now,
	    "signed by a look-alike key, carrying the remembered certificate");
	len = response_signed(ca, &twin, 0x2001, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, &der);
	refused(der, len, r, issuers, now,
	    "the look-alike with its own certificate (no OCSPSigning)");
	len = response_signed(ca, &noeku, 0x2001, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, &der);
	refused(der, len, r, issuers, now,
	    "a certificate of the issuer without OCSPSigning");
	len = response_signed(&ca2, &del, 0x2001, -10, 3600,
	    V_OCSP_CERTSTATUS_GOOD, 0, &der);
	refused(der, len, r2, issuers, now,
	    "the signer remembered for one issuer, for another");
	len = response_carrying(ca, ca, del.cert, 0x2001, &der);
	CHECK(ocsp_resp_check(der, len, r, issuers, now, 300, &st, err) == 0 &&
		st.verified,
	    "signed by the issuer, carrying the remembered signer: verified");
	OPENSSL_free(der);
	len = response_carrying(ca, &del, NULL, 0x2001, &der);
	refused(der, len, r, issuers, now,
	    "the delegated signer's response without its certificate");

	ocsp_req_free(r);
	ocsp_req_free(r2);
	sk_X509_free(issuers);
	ca_free(&del);
	ca_free(&twin);
	ca_free(&noeku);
	ca_free(&ca2);
}

static void
test_refresh(const struct config *cf)
{
	struct refresh_times t;
	time_t now = 1000000;
	long b, i;

	memset(&t, 0, sizeof(t));
	t.thisupd = now - 100;
	t.nextupd = now + 7 * 86400;
	t.lastchecked = now - 100;
	CHECK(!refresh_due(cf, "k", &t, now), "fresh entry not due");
	t.lastchecked = now - 86400;
	CHECK(refresh_due(cf, "k", &t, now), "checked a day ago: due");
	t.thisupd = now - 5 * 86400;
	t.nextupd = now + 2 * 86400;
	t.lastchecked = now - 3599;
	CHECK(!refresh_due(cf, "k", &t, now), "past half, checked 1 h ago: no");
	t.lastchecked = now - 3600;
	CHECK(refresh_due(cf, "k", &t, now), "past half, checked 1 h ago: due");
	t.thisupd = now - 100;
	t.nextupd = now + 3000;
	t.lastchecked = now - 10;
	CHECK(refresh_due(cf, "k", &t, now), "near nextUpdate: due");
	t.nextupd = now - 10;
	CHECK(refresh_due(cf, "k", &t, now), "expired: due");
	t.failures = 1;
	t.lasttry = now - 10;
	CHECK(!refresh_due(cf, "k", &t, now), "failed 10 s ago: backing off");
	t.lasttry = now - 3600;
	CHECK(refresh_due(cf, "k", &t, now), "failed 1 h ago: due");
	for (i = 1; i < 20; i++) {
		b = refresh_backoff(cf, "ocspxy_ab0x1", i);
		if (b < 45 || b > cf->refresh_min_age * 5 / 4)
			break;
	}
	CHECK(i == 20, "back-off stays within 45 s and 1.25 min_age");
	CHECK(refresh_backoff(cf, "ocspxy_ab0x1", 1) !=
		    refresh_backoff(cf, "ocspxy_ab0x2", 1) ||
		refresh_backoff(cf, "ocspxy_ab0x3", 1) !=
		    refresh_backoff(cf, "ocspxy_ab0x4", 1),
	    "back-off has jitter");
	CHECK(refresh_backoff(cf, "k", 8) > refresh_backoff(cf, "k", 1),
	    "back-off grows");
}

static void
test_config(void)
{
	char path[] = "/tmp/ocspxy-unit-XXXXXX";
	struct config *cf;
	FILE *fp;
	int fd;

	cf = config_load(NULL);
	CHECK(cf != NULL && strcmp(cf->prefix, "ocspxy_") == 0 &&
		cf->upstream_timeout == 5 && cf->max_request_bytes == 16384,
	    "defaults");
	config_free(cf);
	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fprintf(fp,
	    "# comment\n  redis  unix:/x/y.sock  # here\n"
	    "prefix p_\nupstream_timeout 9\n");
	fclose(fp);
	cf = config_load(path);
	CHECK(cf != NULL && strcmp(cf->redis, "unix:/x/y.sock") == 0 &&
		strcmp(cf->prefix, "p_") == 0 && cf->upstream_timeout == 9,
	    "a file's values");
	config_free(cf);
	fp = fopen(path, "w");
	fprintf(fp, "upstream_timeout 9x\n");
	fclose(fp);
	CHECK(config_load(path) == NULL, "a bad number is refused");
	fp = fopen(path, "w");
	fprintf(fp, "\nbogus 1\n");
	fclose(fp);
	CHECK(config_load(path) == NULL, "an unknown key is refused");
	unlink(path);
	CHECK(config_load(path) == NULL, "a missing file is refused");
}

/* The memory tier's LRU: what it holds, what it lets go, its bound. */
static void
test_mem(void)
{
	unsigned char body[1000];
	struct mem_entry e, *g;
	struct mem *m;
	char key[32];
	int i, kept;

	memset(body, 'r', sizeof(body));
	memset(&e, 0, sizeof(e));
	e.response = body;
	e.response_len = sizeof(body);
	e.etag = "abc";
	e.thisupd = 1;
	e.nextupd = 2;
	m = mem_new(8 * 1024);
	CHECK(m != NULL && mem_put(m, "k0", &e) == 0, "mem: one entry put");
	g = mem_get(m, "k0");
	CHECK(g != NULL && g->response_len == sizeof(body) &&
		memcmp(g->response, body, sizeof(body)) == 0 &&
		strcmp(g->etag, "abc") == 0 && g->request == NULL,
	    "mem: the entry comes back as a copy");
	for (i = 1; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (i == 20)
			mem_get(m, "k19"); /* used: kept over k18 */
		mem_put(m, key, &e);
	}
	CHECK(mem_bytes(m) <= 8 * 1024, "mem: the bound holds (%zu bytes)",
	    mem_bytes(m));
	for (kept = 0, i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		kept += mem_get(m, key) != NULL;
	}
	CHECK(kept >= 4 && kept < 10 && mem_count(m) == (size_t)kept,
	    "mem: %d of 40 kept, the newest", kept);
	CHECK(mem_get(m, "k0") == NULL && mem_get(m, "k39") != NULL,
	    "mem: the least recently used went first");
	CHECK(mem_del(m, "k39") == 1 && mem_get(m, "k39") == NULL &&
		mem_del(m, "k39") == 0,
	    "mem: a deleted entry is gone");
	e.response_len = 9000;
	CHECK(mem_put(m, "big", &e) == -1 && mem_get(m, "big") == NULL,
	    "mem: an entry larger than the bound is refused");
	mem_clear(m);
	CHECK(mem_count(m) == 0 && mem_bytes(m) == 0, "mem: cleared");
	mem_free(m);
}

/* The breakers' key: host and port, the scheme's port when none. */
static void
test_breaker_host(void)
{
	static const struct {
		const char *url, *host;
	} t[] = {
	    {"http://ocsp.example/path", "ocsp.example:80"},
	    {"https://ocsp.example/", "ocsp.example:443"},
	    {"http://127.0.0.1:8080/ca2/", "127.0.0.1:8080"},
	    {"127.0.0.1:9/", "127.0.0.1:9"},
	    {"http://[::1]/", "[::1]:80"},
	    {"https://[::1]:8443", "[::1]:8443"},
	};
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(breaker_host(t[i].url, buf, sizeof(buf)) == 0 &&
			strcmp(buf, t[i].host) == 0,
		    "breaker host of %s: %s", t[i].url, buf);
	CHECK(breaker_host("http:///x", buf, sizeof(buf)) == -1,
	    "breaker host: none in http:///x");
}

/* Every failure kind of upstream.c has its counter; others count as
 * other. */
static void
test_metrics(void)
{
	static const char *const kinds[] = {"timeout", "connect", "http",
	    "size", "tls", "refused", "invalid"};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		CHECK(metrics_failure(kinds[i]) != M_FAIL_OTHER &&
			strcmp(metrics[metrics_failure(kinds[i])].reason,
			    kinds[i]) == 0,
		    "failure kind %s has its counter", kinds[i]);
	CHECK(metrics_failure("what") == M_FAIL_OTHER &&
		metrics_failure(NULL) == M_FAIL_OTHER,
	    "an unknown kind counts as other");
	for (i = 0; i < M_COUNT; i++)
		CHECK(metrics[i].field != NULL && metrics[i].name != NULL &&
			metrics[i].help != NULL,
		    "metric %zu is in the table", i);
}

int
main(void)
{
	struct config *cf;
	struct ca ca;
	char date[32];

	log_init("test-unit", 0);
	ca_make(&ca, "Unit CA");
	test_keys(&ca);
	test_requests(&ca);
	test_responses(&ca);
	test_delegated(&ca);
	cf = config_load(NULL);
	test_refresh(cf);
	config_free(cf);
	test_config();
	test_mem();
	test_breaker_host();
	test_metrics();
	http_date(0, date);
	CHECK(strcmp(date, "Thu, 01 Jan 1970 00:00:00 GMT") == 0,
	    "HTTP date in GMT: %s", date);
	X509_free(ca.cert);
	EVP_PKEY_free(ca.key);
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
