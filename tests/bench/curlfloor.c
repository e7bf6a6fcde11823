/*
 * curlfloor.c: the least a refresh fetch can cost with libcurl.  It POSTs
 * FILE to URL N times, LANES at once, on kept-alive connections, with the
 * easy handles reused, as ocspxy-refresh fetches; it reads each answer and
 * does nothing with it: no Redis, no OCSP.  Beside the refresh pass it
 * shows what part of the pass's cost is libcurl's own.
 *
 * usage: bench-curlfloor URL FILE N LANES; exit 0 when every answer was
 * a 200, 1 otherwise
 */
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#define MAXLANES 256

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *
lane(const char *url, const char *body, long len, struct curl_slist *hdr)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	return e;
}

/* One ended transfer: 0 when it was a 200. */
static int
ended(CURLMsg *msg)
{
	long code = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	return msg->data.result == CURLE_OK && code == 200 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	static char body[16384];
	struct curl_slist *hdr;
	long n, lanes, started = 0, done = 0, bad = 0, i;
	CURLM *m;
	CURLMsg *msg;
	size_t len;
	FILE *f;
	int running, left;

	if (argc != 5 || (n = atol(argv[3])) < 1 ||
	    (lanes = atol(argv[4])) < 1 || lanes > MAXLANES) {
		fprintf(stderr, "usage: bench-curlfloor url file n lanes\n");
		return 2;
	}
	if ((f = fopen(argv[2], "rb")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	len = fread(body, 1, sizeof(body), f);
	fclose(f);
	hdr = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
	if (len == 0 || hdr == NULL || (m = curl_multi_init()) == NULL)
		return 1;
	for (i = 0; i < lanes && started < n; i++, started++) {
		CURL *e = lane(argv[1], body, (long)len, hdr);

		if (e == NULL || curl_multi_add_handle(m, e) != CURLM_OK)
			return 1;
	}
	while (done < n) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			done++;
			bad += ended(msg) != 0;
			curl_multi_remove_handle(m, msg->easy_handle);
			if (started < n &&
			    curl_multi_add_handle(m, msg->easy_handle) !=
				CURLM_OK)
				return 1;
			started += started < n;
		}
		if (done < n &&
		    curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			return 1;
	}
	if (bad > 0)
		fprintf(stderr, "bench-curlfloor: %ld of %ld answers not 200\n",
		    bad, n);
	return bad > 0;
}
