/* fuzz_request: a POST body as an OCSP request, its key and plain form. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>

#include "log.h"
#include "ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocsp_req *r;
	char err[ERRLEN], key[OCSP_KEYLEN];
	unsigned char *plain = NULL;
	size_t len;

	if ((r = ocsp_req_parse(data, size, err)) == NULL)
		return 0;
	(void)ocsp_req_count(r);
	(void)ocsp_req_has_nonce(r);
	(void)ocsp_req_key(r, "ocspxy_", key, err);
	if (ocsp_req_plain(r, &plain, &len, err) == 0)
		OPENSSL_free(plain);
	ocsp_req_free(r);
	return 0;
}
