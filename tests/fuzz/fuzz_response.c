/*
 * fuzz_response: validation of an upstream answer. Input: 2-byte length
 * and a DER request, 2-byte length and a DER issuer certificate (may be
 * empty), then the DER response; seeds come from real openssl runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "log.h"
#include "ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
take(const uint8_t **p, size_t *left, const uint8_t **part)
{
	size_t n;

	if (*left < 2)
		return 0;
	n = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	if (n > *left)
		n = *left;
	*part = *p;
	*p += n;
	*left -= n;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *rq = NULL, *is = NULL, *xp;
	size_t left = size, rqlen, islen;
	STACK_OF(X509) *issuers = NULL;
	struct ocsp_status st;
	struct ocsp_req *r;
	char err[ERRLEN];
	X509 *x = NULL;

	rqlen = take(&p, &left, &rq);
	islen = take(&p, &left, &is);
	if ((r = ocsp_req_parse(rq, rqlen, err)) == NULL)
		return 0;
	xp = is;
	if (islen > 0 && (x = d2i_X509(NULL, &xp, (long)islen)) != NULL &&
	    (issuers = sk_X509_new_null()) != NULL)
		sk_X509_push(issuers, x);
	/* The seeds are made at the start of the run: now is inside. */
	(void)ocsp_resp_check(p, left, r, issuers, time(NULL), 300, &st, err);
	sk_X509_free(issuers);
	X509_free(x);
	ocsp_req_free(r);
	return 0;
}
