/* ocsp.c: OCSP requests and responses, pure functions over bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "ocsp.h"

struct ocsp_req {
	OCSP_REQUEST *req;
	OCSP_CERTID *id; /* first certificate, borrowed from req */
	unsigned char *der;
	size_t len;
};

void
ocsp_hex(const unsigned char *p, size_t len, char *buf)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xf];
	}
	buf[2 * len] = '\0';
}

/* OpenSSL's reason for the last failure, and a clean error queue. */
static const char *
ocsp_why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return why != NULL ? why : "no reason given";
}

struct ocsp_req *
ocsp_req_parse(const unsigned char *der, size_t len, char *err)
{
	struct ocsp_req *r = NULL;
	const unsigned char *p = der;
	OCSP_ONEREQ *one;

	if (len == 0 || len > 1048576) {
		errfmt(err, "request of %zu bytes", len);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		errfmt(err, "out of memory");
		return NULL;
	}
	if ((r->req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL) {
		errfmt(err, "not a DER OCSP request: %s", ocsp_why());
		goto fail;
	}
	if (p != der + len) {
		errfmt(err, "%zu bytes after the OCSP request",
		    len - (size_t)(p - der));
		goto fail;
	}
	if (OCSP_request_onereq_count(r->req) < 1 ||
	    (one = OCSP_request_onereq_get0(r->req, 0)) == NULL ||
	    (r->id = OCSP_onereq_get0_id(one)) == NULL) {
		errfmt(err, "OCSP request names no certificate");
		goto fail;
	}
	if ((r->der = malloc(len)) == NULL) {
		errfmt(err, "out of memory");
		goto fail;
	}
	memcpy(r->der, der, len);
	r->len = len;
	return r;
fail:
	ocsp_req_free(r);
	return NULL;
}

struct ocsp_req *
ocsp_req_parse_b64(const char *b64, size_t len, char *err)
{
	struct ocsp_req *r = NULL;
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *der = NULL, pad[3] = "===";
	int n, total = 0;

	if (len == 0 || len > 1398101) {
		errfmt(err, "base64 request of %zu characters", len);
		return NULL;
	}
	if ((der = malloc(len / 4 * 3 + 3 + 80)) == NULL ||
	    (ctx = EVP_ENCODE_CTX_new()) == NULL) {
		errfmt(err, "out of memory");
		goto done;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, der, &n, (const unsigned char *)b64,
		(int)len) < 0) {
		errfmt(err, "request is not base64");
		goto done;
	}
	total = n;
	/* Some clients leave the padding out. */
	if (len % 4 != 0) {
		if (EVP_DecodeUpdate(ctx, der + total, &n, pad,
			(int)(4 - len % 4)) < 0) {
			errfmt(err, "request is not base64");
			goto done;
		}
		total += n;
	}
	if (EVP_DecodeFinal(ctx, der + total, &n) < 0) {
		errfmt(err, "request is not base64");
		goto done;
	}
	total += n;
	r = ocsp_req_parse(der, (size_t)total, err);
done:
	EVP_ENCODE_CTX_free(ctx);
	free(der);
	return r;
}

struct ocsp_req *
ocsp_req_for_cert(X509 *leaf, X509 *issuer, char *err)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	struct ocsp_req *r = NULL;
	unsigned char *der = NULL;
	int n;

	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_cert_to_id(NULL, leaf, issuer)) == NULL) {
		errfmt(err, "cannot make a CertID for the certificate");
		goto done;
	}
	if (OCSP_request_add0_id(req, id) == NULL) {
		errfmt(err, "cannot build a request");
		goto done;
	}
	id = NULL;
	if ((n = i2d_OCSP_REQUEST(req, &der)) <= 0) {
		errfmt(err, "cannot encode a request");
		goto done;
	}
	r = ocsp_req_parse(der, (size_t)n, err);
done:
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return r;
}

char *
ocsp_cert_responder(X509 *leaf)
{
	STACK_OF(OPENSSL_STRING) * urls;
	char *url = NULL;

	if ((urls = X509_get1_ocsp(leaf)) == NULL)
		return NULL;
	if (sk_OPENSSL_STRING_num(urls) > 0)
		url = strdup(sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return url;
}

void
ocsp_req_free(struct ocsp_req *r)
{
	if (r == NULL)
		return;
	OCSP_REQUEST_free(r->req);
	free(r->der);
	free(r);
}

int
ocsp_req_count(const struct ocsp_req *r)
{
	return OCSP_request_onereq_count(r->req);
}

int
ocsp_req_has_nonce(const struct ocsp_req *r)
{
	return OCSP_REQUEST_get_ext_by_NID(r->req, NID_id_pkix_OCSP_Nonce,
		   -1) >= 0;
}

const unsigned char *
ocsp_req_get0_der(const struct ocsp_req *r, size_t *len)
{
	*len = r->len;
	return r->der;
}

int
ocsp_req_keyhash(const struct ocsp_req *r, char *buf, size_t size)
{
	ASN1_OCTET_STRING *ikh = NULL;
	size_t len;

	if (!OCSP_id_get0_info(NULL, NULL, &ikh, NULL, r->id) || ikh == NULL)
		return -1;
	len = (size_t)ASN1_STRING_length(ikh);
	if (len == 0 || 2 * len + 1 > size)
		return -1;
	ocsp_hex(ASN1_STRING_get0_data(ikh), len, buf);
	return 0;
}

/*
 * The CertID hash algorithms a cache key can name. SHA-1 keys keep the
 * Perl tool's layout (no tag); the others carry their tag, so that one
 * certificate asked about with two algorithms has two keys.
 */
static const struct key_alg {
	int nid;
	const char *tag; /* NULL: none (SHA-1) */
	size_t len; /* digest bytes: issuerNameHash, issuerKeyHash */
} key_algs[] = {
    {NID_sha1, NULL, 20},
    {NID_sha224, "sha224", 28},
    {NID_sha256, "sha256", 32},
    {NID_sha384, "sha384", 48},
    {NID_sha512, "sha512", 64},
};
#define NKEY_ALGS (sizeof(key_algs) / sizeof(key_algs[0]))

int
ocsp_key_tag(const char *tag, size_t len)
{
	size_t i;

	for (i = 0; i < NKEY_ALGS; i++)
		if (key_algs[i].tag != NULL && strlen(key_algs[i].tag) == len &&
		    memcmp(key_algs[i].tag, tag, len) == 0)
			return 1;
	return 0;
}

/* The CertID's hash algorithm, or NULL with err set. */
static const struct key_alg *
ocsp_req_alg(const struct ocsp_req *r, char *err)
{
	ASN1_OCTET_STRING *inh = NULL, *ikh = NULL;
	ASN1_OBJECT *obj = NULL;
	const struct key_alg *alg = NULL;
	char oid[80];
	size_t i;
	int nid;

	if (!OCSP_id_get0_info(&inh, &obj, &ikh, NULL, r->id) || inh == NULL ||
	    obj == NULL || ikh == NULL) {
		errfmt(err, "CertID without hash algorithm or hashes");
		return NULL;
	}
	nid = OBJ_obj2nid(obj);
	for (i = 0; i < NKEY_ALGS; i++)
		if (key_algs[i].nid == nid)
			alg = &key_algs[i];
	if (alg == NULL) {
		if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
			snprintf(oid, sizeof(oid), "?");
		errfmt(err, "CertID hash algorithm %s not supported", oid);
		return NULL;
	}
	if ((size_t)ASN1_STRING_length(inh) != alg->len ||
	    (size_t)ASN1_STRING_length(ikh) != alg->len) {
		errfmt(err,
		    "CertID hashes of %d and %d bytes, not the %zu of %s",
		    ASN1_STRING_length(inh), ASN1_STRING_length(ikh), alg->len,
		    alg->tag != NULL ? alg->tag : "sha1");
		return NULL;
	}
	return alg;
}

int
ocsp_req_key(const struct ocsp_req *r, const char *prefix, char *buf, char *err)
{
	const struct key_alg *alg;
	ASN1_INTEGER *serial = NULL;
	const unsigned char *s;
	char kh[129], sh[256], tag[16], *sp;
	size_t plen, slen;

	if ((alg = ocsp_req_alg(r, err)) == NULL)
		return -1;
	if (ocsp_req_keyhash(r, kh, sizeof(kh)) == -1) {
		errfmt(err, "issuerKeyHash empty or longer than 64 bytes");
		return -1;
	}
	if (!OCSP_id_get0_info(NULL, NULL, NULL, &serial, r->id) ||
	    serial == NULL) {
		errfmt(err, "CertID has no serial number");
		return -1;
	}
	s = ASN1_STRING_get0_data(serial);
	slen = (size_t)ASN1_STRING_length(serial);
	/* The magnitude without leading zero bytes, as Math::BigInt prints. */
	while (slen > 0 && *s == 0) {
		s++;
		slen--;
	}
	if (2 * slen + 1 > sizeof(sh)) {
		errfmt(err, "serial number of %zu bytes", slen);
		return -1;
	}
	ocsp_hex(s, slen, sh);
	sp = sh;
	if (*sp == '0' && sp[1] != '\0')
		sp++;
	if (*sp == '\0')
		sp = "0";
	snprintf(tag, sizeof(tag), "%s%s", alg->tag != NULL ? alg->tag : "",
	    alg->tag != NULL ? ":" : "");
	plen = strlen(prefix);
	if (plen + strlen(tag) + strlen(kh) + strlen(sp) + 4 > OCSP_KEYLEN) {
		errfmt(err, "cache key too long");
		return -1;
	}
	snprintf(buf, OCSP_KEYLEN, "%s%s%s%s0x%s", prefix, tag, kh,
	    ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER ? "-" : "", sp);
	return 0;
}

int
ocsp_req_plain(const struct ocsp_req *r, unsigned char **der, size_t *len,
    char *err)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *out = NULL;
	int n, ret = -1;

	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_CERTID_dup(r->id)) == NULL) {
		errfmt(err, "out of memory");
		goto done;
	}
	if (OCSP_request_add0_id(req, id) == NULL) {
		errfmt(err, "cannot build a plain request");
		goto done;
	}
	id = NULL; /* owned by req now */
	if ((n = i2d_OCSP_REQUEST(req, &out)) <= 0) {
		errfmt(err, "cannot encode a plain request");
		goto done;
	}
	*der = out;
	*len = (size_t)n;
	ret = 0;
done:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	return ret;
}

const char *
ocsp_status_name(int status)
{
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		return "good";
	case V_OCSP_CERTSTATUS_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

static int
ocsp_time(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	if ((*out = timegm(&tm)) == (time_t)-1)
		return -1;
	return 0;
}

X509 *
ocsp_req_find_issuer(const struct ocsp_req *r, STACK_OF(X509) * issuers)
{
	ASN1_OCTET_STRING *inh = NULL, *ikh = NULL;
	ASN1_OBJECT *alg = NULL;
	const ASN1_BIT_STRING *key;
	const EVP_MD *md;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	X509 *x;
	int i;

	if (issuers == NULL ||
	    !OCSP_id_get0_info(&inh, &alg, &ikh, NULL, r->id) ||
	    (md = EVP_get_digestbyobj(alg)) == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(issuers); i++) {
		x = sk_X509_value(issuers, i);
		key = X509_get0_pubkey_bitstr(x);
		if (key == NULL ||
		    !EVP_Digest(key->data, (size_t)key->length, h, &hlen, md,
			NULL) ||
		    (int)hlen != ASN1_STRING_length(ikh) ||
		    memcmp(h, ASN1_STRING_get0_data(ikh), hlen) != 0)
			continue;
		if (!X509_NAME_digest(X509_get_subject_name(x), md, h, &hlen) ||
		    (int)hlen != ASN1_STRING_length(inh) ||
		    memcmp(h, ASN1_STRING_get0_data(inh), hlen) != 0)
			continue;
		return x;
	}
	return NULL;
}

/*
 * A memo of this process (declared in ocsp.h): signers whose authority
 * for an issuer was verified (the chain and the
 * id-kp-OCSPSigning of RFC 6960 4.2.2.2): for an hour, and never past
 * the signer's notAfter, their next responses need only a signature
 * check, and ocsp_basic_known() need not even decode their certificate
 * again. That is most of the cost of verifying a delegated responder's
 * answers, which the refresh daemon does by the thousand.
 */
#define SIGNER_SLOTS 16
#define SIGNER_SECONDS 3600
static struct {
	X509 *issuer, *signer;
	unsigned char *der; /* the signer's DER */
	int len;
	time_t until;
} signers[SIGNER_SLOTS];

static int
ocsp_signer_known(X509 *issuer, X509 *signer, time_t now)
{
	size_t i;

	for (i = 0; i < SIGNER_SLOTS; i++)
		if (signers[i].signer != NULL && now < signers[i].until &&
		    X509_cmp(signers[i].signer, signer) == 0 &&
		    X509_cmp(signers[i].issuer, issuer) == 0)
			return 1;
	return 0;
}

/* The remembered signer for issuer whose DER is der, borrowed, or NULL. */
static X509 *
ocsp_signer_by_der(X509 *issuer, const unsigned char *der, int len, time_t now)
{
	size_t i;

	for (i = 0; i < SIGNER_SLOTS; i++)
		if (signers[i].signer != NULL && now < signers[i].until &&
		    signers[i].len == len &&
		    memcmp(signers[i].der, der, (size_t)len) == 0 &&
		    X509_cmp(signers[i].issuer, issuer) == 0)
			return signers[i].signer;
	return NULL;
}

static void
ocsp_signer_remember(X509 *issuer, X509 *signer, time_t now)
{
	static unsigned int next;
	size_t i = next++ % SIGNER_SLOTS;
	time_t until = now + SIGNER_SECONDS;
	unsigned char *der = NULL;
	int day, sec, len;

	/* Not past the signer's notAfter. */
	if (ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(signer)) &&
	    (long long)day * 86400 + sec < SIGNER_SECONDS)
		until = now + (long long)day * 86400 + sec;
	if (until <= now || (len = i2d_X509(signer, &der)) <= 0)
		return;
	if (!X509_up_ref(issuer)) {
		OPENSSL_free(der);
		return;
	}
	if (!X509_up_ref(signer)) {
		X509_free(issuer);
		OPENSSL_free(der);
		return;
	}
	X509_free(signers[i].issuer);
	X509_free(signers[i].signer);
	OPENSSL_free(signers[i].der);
	signers[i].issuer = issuer;
	signers[i].signer = signer;
	signers[i].der = der;
	signers[i].len = len;
	signers[i].until = until;
}

/*
 * OCSPResponse and BasicOCSPResponse (RFC 6960 4.2.1) with the signed
 * data, the signature and each certificate left as DER, for
 * ocsp_basic_known(): OpenSSL 3.0 decodes the public key of every
 * certificate it parses through its provider decoders, about a million
 * instructions each, more than the signature check itself.
 */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_OCTET_STRING *response;
} OX_BYTES;
typedef struct {
	ASN1_ENUMERATED *status;
	OX_BYTES *bytes;
} OX_RESPONSE;
typedef struct {
	ASN1_TYPE *tbs;
	ASN1_TYPE *alg;
	ASN1_TYPE *sig;
	STACK_OF(ASN1_TYPE) * certs;
} OX_BASIC;

/* clang-format off */
ASN1_SEQUENCE(OX_BYTES) = {
    ASN1_SIMPLE(OX_BYTES, type, ASN1_OBJECT),
    ASN1_SIMPLE(OX_BYTES, response, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(OX_BYTES)

ASN1_SEQUENCE(OX_RESPONSE) = {
    ASN1_SIMPLE(OX_RESPONSE, status, ASN1_ENUMERATED),
    ASN1_EXP_OPT(OX_RESPONSE, bytes, OX_BYTES, 0),
} static_ASN1_SEQUENCE_END(OX_RESPONSE)

ASN1_SEQUENCE(OX_BASIC) = {
    ASN1_SIMPLE(OX_BASIC, tbs, ASN1_ANY),
    ASN1_SIMPLE(OX_BASIC, alg, ASN1_ANY),
    ASN1_SIMPLE(OX_BASIC, sig, ASN1_ANY),
    ASN1_EXP_SEQUENCE_OF_OPT(OX_BASIC, certs, ASN1_ANY, 0),
} static_ASN1_SEQUENCE_END(OX_BASIC)

/*
 * The basic response in der when every certificate it carries is a
 * remembered signer for issuer: returned without them (a new response
 * the caller frees), and the signers pushed, borrowed, onto found. One
 * that carries none is returned as it is. NULL otherwise (not DER, a
 * certificate not remembered), and the caller parses the whole response
 * the usual way.
 */
static OCSP_BASICRESP *
ocsp_basic_known(const unsigned char *der, size_t len, X509 *issuer,
    time_t now, STACK_OF(X509) *found)
/* clang-format on */
{
	OX_RESPONSE *r = NULL;
	OX_BASIC *b = NULL;
	OCSP_BASICRESP *bs = NULL;
	ASN1_STRING *c;
	X509 *signer;
	unsigned char *plain = NULL;
	const unsigned char *p = der, *end;
	int i, n, plen;

	if ((r = (OX_RESPONSE *)ASN1_item_d2i(NULL, &p, (long)len,
		 ASN1_ITEM_rptr(OX_RESPONSE))) == NULL ||
	    p != der + len || ASN1_ENUMERATED_get(r->status) != 0 ||
	    r->bytes == NULL ||
	    OBJ_obj2nid(r->bytes->type) != NID_id_pkix_OCSP_basic)
		goto done;
	p = r->bytes->response->data;
	end = p + r->bytes->response->length;
	if ((b = (OX_BASIC *)ASN1_item_d2i(NULL, &p, end - p,
		 ASN1_ITEM_rptr(OX_BASIC))) == NULL ||
	    p != end)
		goto done;
	if ((n = sk_ASN1_TYPE_num(b->certs)) <= 0) {
		/* No certificate to leave out: the response as it is. */
		p = r->bytes->response->data;
		if ((bs = d2i_OCSP_BASICRESP(NULL, &p, end - p)) != NULL &&
		    p != end) {
			OCSP_BASICRESP_free(bs);
			bs = NULL;
		}
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (sk_ASN1_TYPE_value(b->certs, i)->type != V_ASN1_SEQUENCE)
			goto done;
		c = sk_ASN1_TYPE_value(b->certs, i)->value.sequence;
		if ((signer = ocsp_signer_by_der(issuer, c->data, c->length,
			 now)) == NULL ||
		    !sk_X509_push(found, signer))
			goto done;
	}
	sk_ASN1_TYPE_pop_free(b->certs, ASN1_TYPE_free);
	b->certs = NULL;
	if ((plen = ASN1_item_i2d((ASN1_VALUE *)b, &plain,
		 ASN1_ITEM_rptr(OX_BASIC))) <= 0)
		goto done;
	p = plain;
	bs = d2i_OCSP_BASICRESP(NULL, &p, plen);
done:
	if (bs == NULL)
		while (sk_X509_num(found) > 0)
			(void)sk_X509_pop(found);
	ERR_clear_error();
	OPENSSL_free(plain);
	ASN1_item_free((ASN1_VALUE *)b, ASN1_ITEM_rptr(OX_BASIC));
	ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(OX_RESPONSE));
	return bs;
}

/*
 * The signature, by the issuer or a responder it authorised. certs holds
 * the signers ocsp_basic_known() took out of the response, if any; the
 * issuer is added to it.
 */
static int
ocsp_verify(OCSP_BASICRESP *bs, X509 *issuer, STACK_OF(X509) * certs,
    time_t now, char *err)
{
	X509_STORE *store = NULL;
	X509 *signer = NULL;
	int ret = -1, known;

	ERR_clear_error();
	if ((store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, issuer) ||
	    !X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) ||
	    !sk_X509_push(certs, issuer)) {
		errfmt(err, "out of memory");
		goto done;
	}
	known = OCSP_resp_get0_signer(bs, &signer, certs) == 1 &&
	    ocsp_signer_known(issuer, signer, now);
	if (OCSP_basic_verify(bs, certs, store, known ? OCSP_NOVERIFY : 0) <=
	    0) {
		errfmt(err, "signature does not verify against the issuer: %s",
		    ocsp_why());
		goto done;
	}
	if (!known && signer != NULL)
		ocsp_signer_remember(issuer, signer, now);
	ret = 0;
done:
	ERR_clear_error();
	X509_STORE_free(store);
	return ret;
}

/*
 * Without a known issuer, the signature can still be checked against the
 * signer certificate the response carries (delegated responders send
 * theirs): that catches a corrupted response, not a forged one. A
 * response that carries no signer certificate cannot be checked.
 */
static int
ocsp_self_check(OCSP_BASICRESP *bs, char *err)
{
	X509_STORE *store;
	unsigned long e;
	int ret = 0;

	ERR_clear_error();
	if ((store = X509_STORE_new()) == NULL) {
		errfmt(err, "out of memory");
		return -1;
	}
	if (OCSP_basic_verify(bs, NULL, store, OCSP_NOVERIFY) <= 0) {
		e = ERR_peek_last_error();
		if (ERR_GET_REASON(e) != OCSP_R_SIGNER_CERTIFICATE_NOT_FOUND) {
			errfmt(err,
			    "signature does not verify against the "
			    "response's own signer certificate: %s",
			    ocsp_why());
			ret = -1;
		}
	}
	ERR_clear_error();
	X509_STORE_free(store);
	return ret;
}

/*
 * The basic response in der, parsed in full (the usual way), or NULL
 * with err set.
 */
static OCSP_BASICRESP *
ocsp_basic_parse(const unsigned char *der, size_t len, char *err)
{
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	const unsigned char *p = der;
	int rs;

	if (len == 0 || len > 16777216 ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL) {
		errfmt(err, "not a DER OCSP response (%zu bytes): %s", len,
		    ocsp_why());
		goto done;
	}
	if (p != der + len) {
		errfmt(err, "%zu bytes after the OCSP response",
		    len - (size_t)(p - der));
		goto done;
	}
	if ((rs = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		errfmt(err, "OCSP response status %s",
		    OCSP_response_status_str(rs));
		goto done;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL)
		errfmt(err, "not a basic OCSP response");
done:
	ERR_clear_error();
	OCSP_RESPONSE_free(resp);
	return bs;
}

int
ocsp_resp_check(const unsigned char *der, size_t len,
    const struct ocsp_req *req, STACK_OF(X509) * issuers, time_t now, long skew,
    struct ocsp_status *st, char *err)
{
	X509 *issuer;
	STACK_OF(X509) *certs = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL;
	int idx, ret = -1;

	memset(st, 0, sizeof(*st));
	if ((certs = sk_X509_new_null()) == NULL) {
		errfmt(err, "out of memory");
		goto done;
	}
	issuer = ocsp_req_find_issuer(req, issuers);
	if ((issuer == NULL ||
		(bs = ocsp_basic_known(der, len, issuer, now, certs)) ==
		    NULL) &&
	    (bs = ocsp_basic_parse(der, len, err)) == NULL)
		goto done;
	if ((idx = OCSP_resp_find(bs, req->id, -1)) < 0 ||
	    (single = OCSP_resp_get0(bs, idx)) == NULL) {
		errfmt(err, "no SingleResponse for the requested CertID");
		goto done;
	}
	st->status =
	    OCSP_single_get0_status(single, NULL, NULL, &thisupd, &nextupd);
	if (st->status < 0 || thisupd == NULL ||
	    ocsp_time(thisupd, &st->thisupd) == -1) {
		errfmt(err, "SingleResponse without a valid thisUpdate");
		goto done;
	}
	if (nextupd != NULL && ocsp_time(nextupd, &st->nextupd) == -1) {
		errfmt(err, "SingleResponse with a bad nextUpdate");
		goto done;
	}
	if (st->thisupd > now + skew) {
		errfmt(err, "thisUpdate %lld s in the future",
		    (long long)(st->thisupd - now));
		goto done;
	}
	if (nextupd != NULL && st->nextupd <= now) {
		errfmt(err, "expired: nextUpdate %lld s ago",
		    (long long)(now - st->nextupd));
		goto done;
	}
	if (nextupd != NULL && st->nextupd < st->thisupd) {
		errfmt(err, "nextUpdate before thisUpdate");
		goto done;
	}
	st->nonce =
	    OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1) >= 0;
	if (issuer != NULL) {
		if (ocsp_verify(bs, issuer, certs, now, err) == -1)
			goto done;
		st->verified = 1;
	} else if (ocsp_self_check(bs, err) == -1)
		goto done;
	ret = 0;
done:
	sk_X509_free(certs);
	OCSP_BASICRESP_free(bs);
	return ret;
}

/*
 * 8 bytes at a time: keys are long ("ocspxy_" and 40 hex digits at
 * least) and hashed on every hit. Each step folds the high half down, so
 * that the low bits, which pick a slot, depend on every byte.
 */
uint32_t
ocsp_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = len, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15u;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, b + i, len - i);
	h = (h ^ w) * 0x9e3779b97f4a7c15u;
	return (uint32_t)(h ^ h >> 32);
}

#define OCSP_MEMO_SLOTS 64
#define OCSP_MEMO_MAX 512
struct ocsp_memo {
	struct {
		size_t len;
		unsigned char raw[OCSP_MEMO_MAX];
		char key[OCSP_KEYLEN];
	} slot[OCSP_MEMO_SLOTS];
};

struct ocsp_memo *
ocsp_memo_new(void)
{
	return calloc(1, sizeof(struct ocsp_memo));
}

void
ocsp_memo_free(struct ocsp_memo *m)
{
	free(m);
}

static size_t
ocsp_memo_slot(const void *raw, size_t len)
{
	return ocsp_hash(raw, len) % OCSP_MEMO_SLOTS;
}

int
ocsp_memo_get(const struct ocsp_memo *m, const void *raw, size_t len, char *buf)
{
	size_t i;

	if (len == 0 || len > OCSP_MEMO_MAX)
		return 0;
	i = ocsp_memo_slot(raw, len);
	if (m->slot[i].len != len || memcmp(m->slot[i].raw, raw, len) != 0)
		return 0;
	memcpy(buf, m->slot[i].key, OCSP_KEYLEN);
	return 1;
}

void
ocsp_memo_put(struct ocsp_memo *m, const void *raw, size_t len, const char *key)
{
	size_t i;

	if (len == 0 || len > OCSP_MEMO_MAX)
		return;
	i = ocsp_memo_slot(raw, len);
	memcpy(m->slot[i].raw, raw, len);
	m->slot[i].len = len;
	snprintf(m->slot[i].key, OCSP_KEYLEN, "%s", key);
}
