/* upstream.c: HTTP to OCSP responders (libcurl). */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "upstream.h"

/* One transfer: its handle, its answer and its error text. */
struct xfer {
	CURL		*h;
	unsigned char	*data;
	size_t		 len, cap, max;
	int		 over;		/* the answer outgrew max */
	void		*arg;
	struct xfer	*next, *prev;	/* in flight in a multi */
	char		 curlerr[CURL_ERROR_SIZE];
};

struct upstream {
	struct xfer		 x;
	struct curl_slist	*hdrs;
	long			 timeout;
};

struct upstream_multi {
	CURLM			*m;
	struct curl_slist	*hdrs;
	long			 timeout;
	size_t			 max;
	int			 running;
	struct xfer		*list;	/* in flight */
};

static struct curl_slist *
upstream_headers(void)
{
	struct curl_slist *h = NULL, *t;
	static const char *const lines[] = {
		"Content-Type: application/ocsp-request",
		"Accept: application/ocsp-response",
		"Expect:",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if ((t = curl_slist_append(h, lines[i])) == NULL) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

static size_t
xfer_write(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	unsigned char *d;
	size_t len = size * n, cap;

	if (len > x->max - x->len) {
		x->over = 1;
		return 0;
	}
	if (x->len + len > x->cap) {
		cap = x->cap ? x->cap : 4096;
		while (cap < x->len + len)
			cap *= 2;
		if (cap > x->max)
			cap = x->max;
		if ((d = realloc(x->data, cap)) == NULL)
			return 0;
		x->data = d;
		x->cap = cap;
	}
	memcpy(x->data + x->len, p, len);
	x->len += len;
	return len;
}

/* Sets every option of one POST; 0, or -1 when libcurl refuses one. */
static int
xfer_setup(struct xfer *x, struct curl_slist *hdrs, long timeout,
    const char *url, const unsigned char *body, size_t len)
{
	CURL *h = x->h;

	x->len = 0;
	x->over = 0;
	x->curlerr[0] = '\0';
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)x->max) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curlerr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "ocspxy") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PRIVATE, x) != CURLE_OK)
		return -1;
	return 0;
}

/* Judges a finished transfer: 0 when it brought a 200 answer, or -1. */
static int
xfer_result(struct xfer *x, CURLcode rc, const char *url, char *err)
{
	long code = 0;

	if (x->over || rc == CURLE_FILESIZE_EXCEEDED) {
		errfmt(err, "%s: answer larger than %zu bytes", url, x->max);
		return -1;
	}
	if (rc != CURLE_OK) {
		errfmt(err, "%s: %s", url,
		    x->curlerr[0] ? x->curlerr : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		errfmt(err, "%s: HTTP status %ld", url, code);
		return -1;
	}
	if (x->len == 0) {
		errfmt(err, "%s: empty answer", url);
		return -1;
	}
	return 0;
}

struct upstream *
upstream_new(const struct config *cf)
{
	struct upstream *u;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		log_warn("upstream: calloc");
		return NULL;
	}
	u->timeout = cf->upstream_timeout;
	u->x.max = (size_t)cf->max_response_bytes;
	if ((u->x.h = curl_easy_init()) == NULL ||
	    (u->hdrs = upstream_headers()) == NULL) {
		log_warnx("upstream: cannot set up libcurl");
		upstream_free(u);
		return NULL;
	}
	return u;
}

void
upstream_free(struct upstream *u)
{
	if (u == NULL)
		return;
	if (u->x.h != NULL)
		curl_easy_cleanup(u->x.h);
	curl_slist_free_all(u->hdrs);
	free(u->x.data);
	free(u);
}

int
upstream_fetch(struct upstream *u, const char *url, const unsigned char *body,
    size_t len, unsigned char **out, size_t *outlen, char *err)
{
	struct xfer *x = &u->x;
	CURLcode rc;

	if (xfer_setup(x, u->hdrs, u->timeout, url, body, len) == -1) {
		errfmt(err, "%s: libcurl refused an option", url);
		return -1;
	}
	rc = curl_easy_perform(x->h);
	if (xfer_result(x, rc, url, err) == -1)
		return -1;
	/* Hand the buffer over; the next fetch grows a new one. */
	*out = x->data;
	*outlen = x->len;
	x->data = NULL;
	x->len = x->cap = 0;
	return 0;
}

struct upstream_multi *
upstream_multi_new(const struct config *cf)
{
	struct upstream_multi *um;

	if ((um = calloc(1, sizeof(*um))) == NULL) {
		log_warn("upstream: calloc");
		return NULL;
	}
	um->timeout = cf->upstream_timeout;
	um->max = (size_t)cf->max_response_bytes;
	if ((um->m = curl_multi_init()) == NULL ||
	    (um->hdrs = upstream_headers()) == NULL) {
		log_warnx("upstream: cannot set up libcurl multi");
		upstream_multi_free(um, NULL);
		return NULL;
	}
	return um;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->h != NULL)
		curl_easy_cleanup(x->h);
	free(x->data);
	free(x);
}

static void
xfer_unlink(struct upstream_multi *um, struct xfer *x)
{
	curl_multi_remove_handle(um->m, x->h);
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		um->list = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	um->running--;
}

void
upstream_multi_free(struct upstream_multi *um, void (*drop)(void *))
{
	struct xfer *x;

	if (um == NULL)
		return;
	while ((x = um->list) != NULL) {
		xfer_unlink(um, x);
		if (drop != NULL)
			drop(x->arg);
		xfer_free(x);
	}
	if (um->m != NULL)
		curl_multi_cleanup(um->m);
	curl_slist_free_all(um->hdrs);
	free(um);
}

int
upstream_multi_add(struct upstream_multi *um, const char *url,
    const unsigned char *body, size_t len, void *arg, char *err)
{
	struct xfer *x;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		errfmt(err, "%s: out of memory", url);
		return -1;
	}
	x->max = um->max;
	x->arg = arg;
	if ((x->h = curl_easy_init()) == NULL ||
	    xfer_setup(x, um->hdrs, um->timeout, url, body, len) == -1 ||
	    curl_multi_add_handle(um->m, x->h) != CURLM_OK) {
		errfmt(err, "%s: libcurl refused the transfer", url);
		xfer_free(x);
		return -1;
	}
	x->next = um->list;
	if (um->list != NULL)
		um->list->prev = x;
	um->list = x;
	um->running++;
	return 0;
}

int
upstream_multi_run(struct upstream_multi *um, int ms, upstream_done_fn done)
{
	char err[ERRLEN];
	struct xfer *x;
	CURLMsg *msg;
	CURLcode rc;
	char *url;
	int still, left;

	if (curl_multi_perform(um->m, &still) != CURLM_OK ||
	    curl_multi_poll(um->m, NULL, 0, ms, NULL) != CURLM_OK ||
	    curl_multi_perform(um->m, &still) != CURLM_OK) {
		log_warnx("upstream: libcurl multi failed");
		return -1;
	}
	while ((msg = curl_multi_info_read(um->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		url = NULL;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_EFFECTIVE_URL,
		    &url);
		if (x == NULL)
			continue;
		xfer_unlink(um, x);
		if (xfer_result(x, rc, url ? url : "?", err) == 0)
			done(x->arg, x->data, x->len, NULL);
		else
			done(x->arg, NULL, 0, err);
		xfer_free(x);
	}
	return um->running;
}
