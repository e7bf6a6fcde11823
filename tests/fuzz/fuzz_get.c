/*
 * fuzz_get: the Host header and request URI of a request, as the web
 * server passes them: "<host>\n<uri>". Host check, path of an
 * absolute-form URI, GET decoding (URL, base64, OCSP request).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocsp_req *r = NULL;
	char err[ERRLEN], *buf, *uri, *path = NULL;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if ((uri = strchr(buf, '\n')) != NULL)
		*uri++ = '\0';
	else
		uri = buf;
	(void)http_host_ok(buf);
	if (http_get_decode(http_uri_path(uri), &path, &r, err) == 0) {
		free(path);
		ocsp_req_free(r);
	}
	free(buf);
	return 0;
}
