/*
 * ocspgen.c: OCSP requests, signed responses and Redis cache entries in
 * bulk for the benchmark (openssl ocsp makes one per process, far too
 * slowly for 10,000 or 1,000,000).
 *
 * usage: bench-ocspgen -i issuer.crt -f first -n count [-S stride]
 *        [-s signer.crt -k signer.key] [-B response.der] [-r responder]
 *        [-p prefix] [-T thisupd] [-N nextupd] [-L lastchecked] [-E ttl]
 *        [-P pairs.bin] [-Q reqdir]
 *
 * For each serial first, first+stride, ... (count of them; stride 1 by
 * default) of issuer: a SHA-1 CertID and a
 * request for it without nonce; with -s/-k a response "good" signed by
 * signer (its certificate included, as openssl ocsp does), thisUpdate a
 * minute ago, nextUpdate a day ahead; with -B instead the bytes of a file
 * as every entry's response.  Outputs:
 *   -r: on stdout, for redis-cli --pipe, one HSET per serial of the entry
 *       ocspxy would store (key prefix + issuerKeyHash + 0x + serial),
 *       responder, request, response, status good, nonce 0 and the stored
 *       times -T, -N (default: the signed ones) and -L (default now);
 *       with -E also an EXPIRE of ttl seconds, as ocspxy sets;
 *   -P: the pairs (u32 length, request, u32 length, response, lengths
 *       big-endian) for bench.py's responder;
 *   -Q: DIR/req-N.der, N from 0, for curl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void
die(const char *what)
{
	fprintf(stderr, "bench-ocspgen: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static long long
num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno != 0 || *end != '\0' || end == s)
		die("bad number");
	return v;
}

static X509 *
load_cert(const char *path)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(path, "r")) == NULL)
		die(path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die(path);
	return x;
}

static unsigned char *
load_file(const char *path, size_t *len)
{
	static unsigned char buf[65536];
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		die(path);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (*len == 0)
		die(path);
	return buf;
}

/* One RESP bulk string. */
static void
bulk(FILE *o, const void *p, size_t len)
{
	fprintf(o, "$%zu\r\n", len);
	fwrite(p, 1, len, o);
	fputs("\r\n", o);
}

static void
bulks(FILE *o, const char *s)
{
	bulk(o, s, strlen(s));
}

static void
u32(FILE *o, size_t n)
{
	uint32_t v = htonl((uint32_t)n);

	fwrite(&v, 4, 1, o);
}

int
main(int argc, char *argv[])
{
	static char iobuf[1 << 20];
	const char *issuer_path = NULL, *signer_path = NULL, *key_path = NULL;
	const char *resp_path = NULL, *responder = NULL, *prefix = "ocspxy_";
	const char *pairs_path = NULL, *reqdir = NULL;
	long long first = 1, count = 1, stride = 1, ttl = 0, i, k;
	long long thisupd = -1, nextupd = -1, lastchecked = -1;
	time_t now = time(NULL);
	X509 *issuer, *signer = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *certs = NULL;
	ASN1_INTEGER *serial;
	ASN1_TIME *tu, *nu;
	FILE *pairs = NULL, *f;
	unsigned char md[EVP_MAX_MD_SIZE], *fixed = NULL;
	unsigned int mdlen;
	size_t fixed_len = 0;
	char ihash[2 * EVP_MAX_MD_SIZE + 1], keyname[256], path[4096];
	char t1[32], t2[32], t3[32], t4[32];
	int ch;

	while (
	    (ch = getopt(argc, argv, "B:E:f:i:k:L:n:N:p:P:Q:r:s:S:T:")) != -1) {
		switch (ch) {
		case 'B':
			resp_path = optarg;
			break;
		case 'E':
			ttl = num(optarg);
			break;
		case 'f':
			first = num(optarg);
			break;
		case 'i':
			issuer_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'L':
			lastchecked = num(optarg);
			break;
		case 'n':
			count = num(optarg);
			break;
		case 'N':
			nextupd = num(optarg);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'P':
			pairs_path = optarg;
			break;
		case 'Q':
			reqdir = optarg;
			break;
		case 'r':
			responder = optarg;
			break;
		case 's':
			signer_path = optarg;
			break;
		case 'S':
			stride = num(optarg);
			break;
		case 'T':
			thisupd = num(optarg);
			break;
		default:
			die("bad option (see the comment in ocspgen.c)");
		}
	}
	if (issuer_path == NULL || first < 0 || count < 1 || stride < 1 ||
	    (signer_path == NULL) != (key_path == NULL))
		die("usage: -i issuer.crt -f first -n count ...");
	issuer = load_cert(issuer_path);
	if (signer_path != NULL) {
		signer = load_cert(signer_path);
		if ((f = fopen(key_path, "r")) == NULL)
			die(key_path);
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (key == NULL)
			die(key_path);
		if ((certs = sk_X509_new_null()) == NULL)
			die("out of memory");
	} else if (resp_path != NULL)
		fixed = load_file(resp_path, &fixed_len);
	if (thisupd < 0)
		thisupd = now - 60;
	if (nextupd < 0)
		nextupd = now + 86400;
	if (lastchecked < 0)
		lastchecked = now;
	snprintf(t1, sizeof(t1), "%lld", thisupd);
	snprintf(t2, sizeof(t2), "%lld", nextupd);
	snprintf(t3, sizeof(t3), "%lld", lastchecked);
	snprintf(t4, sizeof(t4), "%lld", ttl);
	if (!X509_pubkey_digest(issuer, EVP_sha1(), md, &mdlen))
		die("issuer key hash");
	for (i = 0; i < (long long)mdlen; i++)
		snprintf(ihash + 2 * i, 3, "%02x", md[i]);
	if ((tu = X509_time_adj_ex(NULL, 0, -60, &now)) == NULL ||
	    (nu = X509_time_adj_ex(NULL, 1, 0, &now)) == NULL ||
	    (serial = ASN1_INTEGER_new()) == NULL)
		die("out of memory");
	if (pairs_path != NULL && (pairs = fopen(pairs_path, "wb")) == NULL)
		die(pairs_path);
	setvbuf(stdout, iobuf, _IOFBF, sizeof(iobuf));

	for (k = 0, i = first; k < count; k++, i += stride) {
		OCSP_CERTID *id;
		OCSP_REQUEST *rq;
		OCSP_BASICRESP *bs = NULL;
		OCSP_RESPONSE *rs = NULL;
		unsigned char *req = NULL, *resp = NULL;
		int reqlen, resplen = 0;

		if (!ASN1_INTEGER_set_int64(serial, i) ||
		    (id = OCSP_cert_id_new(EVP_sha1(),
			 X509_get_subject_name(issuer),
			 X509_get0_pubkey_bitstr(issuer), serial)) == NULL ||
		    (rq = OCSP_REQUEST_new()) == NULL ||
		    OCSP_request_add0_id(rq, OCSP_CERTID_dup(id)) == NULL ||
		    (reqlen = i2d_OCSP_REQUEST(rq, &req)) <= 0)
			die("request");
		if (key != NULL) {
			if ((bs = OCSP_BASICRESP_new()) == NULL ||
			    OCSP_basic_add1_status(bs, id,
				V_OCSP_CERTSTATUS_GOOD, 0, NULL, tu,
				nu) == NULL ||
			    !OCSP_basic_sign(bs, signer, key, EVP_sha256(),
				certs, 0) ||
			    (rs = OCSP_response_create(
				 OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) ==
				NULL ||
			    (resplen = i2d_OCSP_RESPONSE(rs, &resp)) <= 0)
				die("response");
		} else if (fixed != NULL) {
			resp = fixed;
			resplen = (int)fixed_len;
		}
		if (responder != NULL) {
			snprintf(keyname, sizeof(keyname), "%s%s0x%llx", prefix,
			    ihash, i);
			fputs(resp != NULL ? "*18\r\n" : "*16\r\n", stdout);
			bulks(stdout, "HSET");
			bulks(stdout, keyname);
			bulks(stdout, "ocsp_responder");
			bulks(stdout, responder);
			bulks(stdout, "request");
			bulk(stdout, req, (size_t)reqlen);
			if (resp != NULL) {
				bulks(stdout, "response");
				bulk(stdout, resp, (size_t)resplen);
			}
			bulks(stdout, "thisupd");
			bulks(stdout, t1);
			bulks(stdout, "nextupd");
			bulks(stdout, t2);
			bulks(stdout, "status");
			bulks(stdout, "good");
			bulks(stdout, "nonce");
			bulks(stdout, "0");
			bulks(stdout, "lastchecked");
			bulks(stdout, t3);
			if (ttl > 0) {
				fputs("*3\r\n", stdout);
				bulks(stdout, "EXPIRE");
				bulks(stdout, keyname);
				bulks(stdout, t4);
			}
		}
		if (pairs != NULL) {
			u32(pairs, (size_t)reqlen);
			fwrite(req, 1, (size_t)reqlen, pairs);
			u32(pairs, (size_t)resplen);
			if (resplen > 0)
				fwrite(resp, 1, (size_t)resplen, pairs);
		}
		if (reqdir != NULL) {
			snprintf(path, sizeof(path), "%s/req-%lld.der", reqdir,
			    k);
			if ((f = fopen(path, "wb")) == NULL)
				die(path);
			fwrite(req, 1, (size_t)reqlen, f);
			fclose(f);
		}
		OPENSSL_free(req);
		if (resp != fixed)
			OPENSSL_free(resp);
		OCSP_RESPONSE_free(rs);
		OCSP_BASICRESP_free(bs);
		OCSP_REQUEST_free(rq);
		OCSP_CERTID_free(id);
	}
	if (fflush(stdout) == EOF || (pairs != NULL && fclose(pairs) == EOF))
		die("write failed");
	return 0;
}
