/* upstream.c: HTTP to OCSP responders (libcurl). */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "upstream.h"

/* A scheme fetched from, with the config key of its ports. */
struct scheme {
	const char *name; /* as in the URL and CURLOPT_PROTOCOLS_STR */
	const char *ports_key;
	size_t ports, nports; /* offsets of the list in struct config */
	int tls; /* the server's certificate and name are verified */
};

static const struct scheme schemes[] = {
    {"http", "upstream_ports", offsetof(struct config, ports),
	offsetof(struct config, nports), 0},
    {"https", "upstream_https_ports", offsetof(struct config, https_ports),
	offsetof(struct config, nhttps_ports), 1},
};

/* One transfer: its handle, its answer and its error text. */
struct xfer {
	CURL *h;
	unsigned char *data;
	size_t len, cap, max;
	int over; /* the answer outgrew max */
	void *arg;
	struct xfer *next, *prev; /* in flight in a multi */
	const struct config *cf;
	const char *reason; /* short name of the last failure */
	const struct scheme *scheme; /* of the URL, set by xfer_policy() */
	int listed; /* the host is named in upstream_allow */
	char refused[128]; /* why a connection was refused */
	char curlerr[CURL_ERROR_SIZE];
};

struct upstream {
	struct xfer x;
	struct curl_slist *hdrs;
};

struct upstream_multi {
	const struct config *cf;
	CURLM *m;
	struct curl_slist *hdrs;
	int running;
	struct xfer *list; /* in flight */
	struct xfer *idle; /* ended, their handles kept for the next */
	char *url; /* the last URL the policy let through, */
	const struct scheme *scheme; /* its scheme */
	int listed; /* and whether upstream_allow names its host */
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

/*
 * Loopback, private, link-local, shared, multicast and reserved ranges:
 * never an OCSP responder unless upstream_allow names them.
 */
static int
upstream_internal(int family, const unsigned char *a)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff};
	static const unsigned char zero[16];

	if (family == AF_INET6 && memcmp(a, mapped, 12) == 0)
		return upstream_internal(AF_INET, a + 12);
	if (family == AF_INET)
		return a[0] == 0 || a[0] == 10 || a[0] == 127 ||
		    (a[0] == 100 && (a[1] & 0xc0) == 64) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) || a[0] >= 224;
	return memcmp(a, zero, 15) == 0 || /* :: and ::1 */
	    (a[0] & 0xfe) == 0xfc || /* fc00::/7 */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 */
	    a[0] == 0xff; /* multicast */
}

/* Where libcurl would connect: refused unless the policy allows it. */
static curl_socket_t
xfer_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct xfer *x = arg;
	const unsigned char *a;
	int family = sa->family;

	(void)purpose;
	if (family == AF_INET)
		a = (const unsigned char *)&(
		    (struct sockaddr_in *)(void *)&sa->addr)
			->sin_addr;
	else if (family == AF_INET6)
		a = (const unsigned char *)&(
		    (struct sockaddr_in6 *)(void *)&sa->addr)
			->sin6_addr;
	else {
		snprintf(x->refused, sizeof(x->refused), "address family %d",
		    family);
		return CURL_SOCKET_BAD;
	}
	if (upstream_internal(family, a) && !x->listed &&
	    !config_match_addr(x->cf->allow, x->cf->nallow, family, a)) {
		snprintf(x->refused, sizeof(x->refused),
		    "it resolves to an "
		    "internal address not listed in upstream_allow");
		return CURL_SOCKET_BAD;
	}
	return socket(family, sa->socktype, sa->protocol);
}

/* The scheme of that name we fetch from, or NULL. */
static const struct scheme *
scheme_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strcmp(schemes[i].name, name) == 0)
			return &schemes[i];
	return NULL;
}

/* 1 when port p is in the scheme's list of ports. */
static int
scheme_port(const struct config *cf, const struct scheme *sc, long p)
{
	const struct portrange *pr =
	    *(struct portrange *const *)((const char *)cf + sc->ports);
	size_t n = *(const size_t *)((const char *)cf + sc->nports), i;

	for (i = 0; i < n; i++)
		if (p >= pr[i].lo && p <= pr[i].hi)
			return 1;
	return 0;
}

/*
 * The policy on the URL itself: http or https, no credentials, a port
 * of the scheme's list (upstream_ports, upstream_https_ports), a host
 * named by upstream_allow when it names hosts. Sets x->scheme. Returns
 * 0, or -1 with err set.
 */
static int
xfer_policy(struct xfer *x, const char *url, char *err)
{
	const struct config *cf = x->cf;
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
	size_t i, patterns = 0;
	long p;
	int ret = -1;

	if ((u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		CURLUE_OK) {
		errfmt(err, "%s: refused: not a URL", url);
		goto done;
	}
	if ((x->scheme = scheme_find(scheme)) == NULL) {
		errfmt(err, "%s: refused: only http:// and https:// upstreams",
		    url);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		errfmt(err, "%s: refused: credentials in the URL", url);
		goto done;
	}
	p = strtol(port, NULL, 10);
	if (!scheme_port(cf, x->scheme, p)) {
		errfmt(err, "%s: refused: port %ld is not in %s", url, p,
		    x->scheme->ports_key);
		goto done;
	}
	for (i = 0; i < cf->nallow; i++)
		patterns += cf->allow[i].pattern != NULL;
	/* A name listed exactly may resolve to an internal address; one
	 * matched by a wildcard may not (DNS rebinding). */
	x->listed = config_match_host(cf->allow, cf->nallow, host, 1);
	if (patterns > 0 &&
	    !config_match_host(cf->allow, cf->nallow, host, 0) &&
	    !config_match_text(cf->allow, cf->nallow, host)) {
		errfmt(err, "%s: refused: host is not in upstream_allow", url);
		goto done;
	}
	ret = 0;
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_url_cleanup(u);
	return ret;
}

/*
 * The options of https: the server's certificate verified against
 * upstream_ca (else libcurl's default, the system's CAs) and its name
 * against the URL's host, never less; TLS 1.2 at least. 0, or -1.
 */
static int
xfer_tls(struct xfer *x)
{
	const struct config *cf = x->cf;
	CURL *h = x->h;

	if (curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
		(long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK)
		return -1;
	if (cf->upstream_ca == NULL)
		return 0;
	/* Only the file: not the system's directory of CAs beside it. */
	if (curl_easy_setopt(h, CURLOPT_CAINFO, cf->upstream_ca) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) != CURLE_OK)
		return -1;
	return 0;
}

/* Sets every option of one POST; 0, or -1 when libcurl refuses one. */
static int
xfer_setup(struct xfer *x, struct curl_slist *hdrs, const char *url,
    const unsigned char *body, size_t len)
{
	const struct config *cf = x->cf;
	CURL *h = x->h;

	x->len = 0;
	x->over = 0;
	x->curlerr[0] = '\0';
	x->refused[0] = '\0';
	if (x->scheme->tls && xfer_tls(x) == -1)
		return -1;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, x->scheme->name) !=
		CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    /* Never through a proxy from http_proxy and the like: the
	     * address policy would then check the proxy's address. */
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, cf->upstream_timeout) !=
		CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
		cf->upstream_connect_timeout) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, xfer_opensocket) !=
		CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, x) != CURLE_OK ||
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

/*
 * Judges a finished transfer: 0 when it brought a 200 answer, -2 when
 * the policy refused the connection, or -1.
 */
static int
xfer_result(struct xfer *x, CURLcode rc, const char *url, char *err)
{
	long code = 0;

	x->reason = NULL;
	if (x->refused[0] != '\0' && rc != CURLE_OK) {
		x->reason = "refused";
		errfmt(err, "%s: refused: %s", url, x->refused);
		return -2;
	}
	x->reason = rc == CURLE_OPERATION_TIMEDOUT ? "timeout"
	    : rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST
	    ? "connect"
	    : x->over || rc == CURLE_FILESIZE_EXCEEDED ? "size"
						       : "other";
	if (x->over || rc == CURLE_FILESIZE_EXCEEDED) {
		errfmt(err, "%s: answer larger than %zu bytes", url, x->max);
		return -1;
	}
	if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE) {
		x->reason = "tls";
		errfmt(err,
		    "%s: refused the server's certificate: %s (verified "
		    "against %s%s)",
		    url, x->curlerr[0] ? x->curlerr : curl_easy_strerror(rc),
		    x->cf->upstream_ca ? "upstream_ca " : "the system's CAs",
		    x->cf->upstream_ca ? x->cf->upstream_ca : "");
		return -1;
	}
	if (rc != CURLE_OK) {
		errfmt(err, "%s: %s", url,
		    x->curlerr[0] ? x->curlerr : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	x->reason = "http";
	if (code >= 300 && code < 400) {
		errfmt(err, "%s: HTTP status %ld, redirects are not followed",
		    url, code);
		return -1;
	}
	if (code != 200) {
		errfmt(err, "%s: HTTP status %ld", url, code);
		return -1;
	}
	if (x->len == 0) {
		errfmt(err, "%s: empty answer", url);
		return -1;
	}
	x->reason = NULL;
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
	u->x.cf = cf;
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

	int r;

	x->reason = "refused";
	if (xfer_policy(x, url, err) == -1)
		return -2;
	x->reason = "other";
	if (xfer_setup(x, u->hdrs, url, body, len) == -1) {
		errfmt(err, "%s: libcurl refused an option", url);
		return -1;
	}
	rc = curl_easy_perform(x->h);
	if ((r = xfer_result(x, rc, url, err)) != 0)
		return r;
	/* Hand the buffer over; the next fetch grows a new one. */
	*out = x->data;
	*outlen = x->len;
	x->data = NULL;
	x->len = x->cap = 0;
	return 0;
}

const char *
upstream_reason(const struct upstream *u)
{
	return u->x.reason ? u->x.reason : "other";
}

struct upstream_multi *
upstream_multi_new(const struct config *cf)
{
	struct upstream_multi *um;

	if ((um = calloc(1, sizeof(*um))) == NULL) {
		log_warn("upstream: calloc");
		return NULL;
	}
	um->cf = cf;
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
	while ((x = um->idle) != NULL) {
		um->idle = x->next;
		xfer_free(x);
	}
	if (um->m != NULL)
		curl_multi_cleanup(um->m);
	curl_slist_free_all(um->hdrs);
	free(um->url);
	free(um);
}

/*
 * A transfer for url: an idle one reused (its handle keeps libcurl's
 * state: a handle per transfer costs more than the transfer), its URL
 * judged by the policy unless it is the last one judged. NULL with err.
 */
static struct xfer *
multi_xfer(struct upstream_multi *um, const char *url, char *err)
{
	struct xfer *x;

	if ((x = um->idle) != NULL)
		um->idle = x->next;
	else if ((x = calloc(1, sizeof(*x))) == NULL) {
		errfmt(err, "%s: out of memory", url);
		return NULL;
	}
	x->next = x->prev = NULL;
	x->cf = um->cf;
	x->max = (size_t)um->cf->max_response_bytes;
	if (um->url != NULL && strcmp(um->url, url) == 0) {
		x->scheme = um->scheme;
		x->listed = um->listed;
		return x;
	}
	if (xfer_policy(x, url, err) == -1) {
		xfer_free(x);
		return NULL;
	}
	free(um->url);
	if ((um->url = strdup(url)) != NULL) {
		um->scheme = x->scheme;
		um->listed = x->listed;
	}
	return x;
}

int
upstream_multi_add(struct upstream_multi *um, const char *url,
    const unsigned char *body, size_t len, void *arg, char *err)
{
	struct xfer *x;

	if ((x = multi_xfer(um, url, err)) == NULL)
		return -1;
	x->arg = arg;
	if ((x->h == NULL && (x->h = curl_easy_init()) == NULL) ||
	    xfer_setup(x, um->hdrs, url, body, len) == -1 ||
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

/* Calls done for each transfer that ended; returns how many did. */
static int
multi_ended(struct upstream_multi *um, upstream_done_fn done)
{
	char err[ERRLEN];
	struct xfer *x;
	CURLMsg *msg;
	char *url;
	int left, n = 0;

	while ((msg = curl_multi_info_read(um->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		url = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_EFFECTIVE_URL,
		    &url);
		if (x == NULL)
			continue;
		xfer_unlink(um, x);
		if (xfer_result(x, msg->data.result, url ? url : "?", err) == 0)
			done(x->arg, x->data, x->len, NULL, NULL);
		else
			done(x->arg, NULL, 0, err,
			    x->reason ? x->reason : "other");
		x->next = um->idle;
		um->idle = x;
		n++;
	}
	return n;
}

int
upstream_multi_run(struct upstream_multi *um, int ms, int fd,
    upstream_done_fn done)
{
	struct curl_waitfd wfd = {.fd = fd, .events = CURL_WAIT_POLLIN};
	int still;

	/* A fast responder answers within the first perform: then there is
	 * nothing to wait for. */
	if (curl_multi_perform(um->m, &still) != CURLM_OK)
		goto fail;
	if (multi_ended(um, done) > 0)
		return um->running;
	if (curl_multi_poll(um->m, fd == -1 ? NULL : &wfd, fd == -1 ? 0 : 1, ms,
		NULL) != CURLM_OK ||
	    curl_multi_perform(um->m, &still) != CURLM_OK)
		goto fail;
	multi_ended(um, done);
	return um->running;
fail:
	log_warnx("upstream: libcurl multi failed");
	return -1;
}
