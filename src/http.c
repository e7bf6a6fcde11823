/* http.c: the FastCGI (or CGI) request in and the answer out. */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <fastcgi.h>
#include <fcgiapp.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "ocsp.h"

/* The longest name of http_params[] (checked as the table is compiled). */
#define HTTP_NAMEMAX 31

struct http_conn {
	FCGX_Request rq;
	int cgi; /* no FastCGI socket: one request on stdin and stdout */
	int tcp; /* the socket is no unix one: connections inherit its
		  * idle timeout, which is taken off each of them */
	/* The parameters of the request at hand, found in one pass as it
	 * is accepted. */
	const char *param[HTTP_NPARAMS];
	/* For that pass, http_params[] by the length of the names: the
	 * first of each length, and after each the next of its length
	 * (HTTP_NPARAMS: none). */
	unsigned char first[HTTP_NAMEMAX + 1], next[HTTP_NPARAMS];
};

static volatile sig_atomic_t http_stopping;

static const struct {
	const char *name;
	size_t len;
} http_params[HTTP_NPARAMS] = {
/* A name longer than HTTP_NAMEMAX is an array of negative size. */
#define P(s)                                                                   \
	{                                                                      \
		s,                                                             \
		    sizeof(s) - 1 +                                            \
		    0 * sizeof(char[sizeof(s) - 1 <= HTTP_NAMEMAX ? 1 : -1])   \
	}
    [HTTP_REQUEST_METHOD] = P("REQUEST_METHOD"),
    [HTTP_REQUEST_URI] = P("REQUEST_URI"),
    [HTTP_HTTP_HOST] = P("HTTP_HOST"),
    [HTTP_REMOTE_ADDR] = P("REMOTE_ADDR"),
    [HTTP_SERVER_PORT] = P("SERVER_PORT"),
    [HTTP_CONTENT_TYPE] = P("CONTENT_TYPE"),
    [HTTP_CONTENT_LENGTH] = P("CONTENT_LENGTH"),
    [HTTP_HTTP_CACHE_CONTROL] = P("HTTP_CACHE_CONTROL"),
    [HTTP_HTTP_X_PRUNE_FROM_CACHE] = P("HTTP_X_PRUNE_FROM_CACHE"),
#undef P
};

/* Indexes http_params[] by the length of the names. */
static void
http_index(struct http_conn *c)
{
	size_t i, len;

	memset(c->first, HTTP_NPARAMS, sizeof(c->first));
	for (i = HTTP_NPARAMS; i-- > 0;) {
		len = http_params[i].len;
		c->next[i] = c->first[len];
		c->first[len] = (unsigned char)i;
	}
}

/*
 * One pass over the request's parameters for those we read: the length
 * of each name (up to its '=') leaves a few of ours to compare, often
 * none.
 */
static void
http_scan(struct http_conn *c)
{
	char **p;
	const char *eq;
	size_t i, len;

	memset(c->param, 0, sizeof(c->param));
	for (p = c->rq.envp; p != NULL && *p != NULL; p++) {
		if ((eq = strchr(*p, '=')) == NULL)
			continue;
		len = (size_t)(eq - *p);
		i = len <= HTTP_NAMEMAX ? c->first[len] : HTTP_NPARAMS;
		/* First and last letters part most names of a length. */
		for (; i < HTTP_NPARAMS; i = c->next[i])
			if (**p == http_params[i].name[0] &&
			    eq[-1] == http_params[i].name[len - 1] &&
			    memcmp(*p, http_params[i].name, len) == 0) {
				if (c->param[i] == NULL)
					c->param[i] = eq + 1;
				break;
			}
	}
}

const char *
http_param(struct http_conn *c, enum http_param which)
{
	if (which < 0 || which >= HTTP_NPARAMS)
		return NULL;
	if (c->cgi)
		return getenv(http_params[which].name);
	return c->param[which];
}

static size_t
http_read(struct http_conn *c, unsigned char *buf, size_t n)
{
	size_t got = 0;
	int r;

	if (c->cgi)
		return fread(buf, 1, n, stdin);
	while (got < n) {
		r = FCGX_GetStr((char *)buf + got,
		    (int)(n - got > 65536 ? 65536 : n - got), c->rq.in);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void
http_write(struct http_conn *c, const void *buf, size_t n)
{
	if (c->cgi) {
		fwrite(buf, 1, n, stdout);
		return;
	}
	FCGX_PutStr(buf, (int)n, c->rq.out);
}

/* 1 when the comma-separated header value holds token (any case). */
static int
http_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token), n;
	const char *p = value;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,;=");
		if (n == tl && strncasecmp(p, token, tl) == 0)
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* A character of a host[:port], an IPv6 "[address]:port" included. */
static int
http_host_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' ||
	    ch == '[' || ch == ']' || ch == '_';
}

int
http_host_ok(const char *h)
{
	size_t n;

	for (n = 0; h[n] != '\0'; n++)
		if (n == 255 || !http_host_char((unsigned char)h[n]))
			return 0;
	return n > 0;
}

const char *
http_uri_path(const char *uri)
{
	const char *p;

	if (uri == NULL || *uri == '\0')
		return "/";
	if (strncasecmp(uri, "http://", 7) == 0) {
		p = strchr(uri + 7, '/');
		return p != NULL ? p : "/";
	}
	return uri;
}

int
http_path_ok(const char *p)
{
	if (*p != '/')
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

/* Tails of a GET path tried as the base64 request. */
#define HTTP_GET_TRIES 8

int
http_get_decode(const char *uri, char **path, struct ocsp_req **req, char *err)
{
	const char *start;
	char *b64 = NULL, *sp, first[ERRLEN];
	int len, tries;

	*path = NULL;
	*req = NULL;
	first[0] = '\0';
	if (!http_path_ok(uri)) {
		errfmt(err, "request path is not a clean absolute path");
		return -1;
	}
	/*
	 * The base64 text may itself hold unescaped '/': try the last
	 * segment first, then longer tails, until one is an OCSP request;
	 * a few tails at most, so that a path of many '/' costs little.
	 */
	for (start = uri + strlen(uri), tries = 0;
	     start > uri && tries < HTTP_GET_TRIES; tries++) {
		while (start > uri && start[-1] != '/')
			start--;
		if (*start != '\0') {
			b64 = curl_easy_unescape(NULL, start, 0, &len);
			if (b64 == NULL) {
				errfmt(err, "out of memory");
				return -1;
			}
			/* A '+' that a client left unescaped, read as ' '. */
			for (sp = b64; *sp != '\0'; sp++)
				if (*sp == ' ')
					*sp = '+';
			*req = ocsp_req_parse_b64(b64, (size_t)len, err);
			curl_free(b64);
			if (*req != NULL)
				break;
			/* The last segment's reason is the likeliest. */
			if (first[0] == '\0')
				snprintf(first, sizeof(first), "%s", err);
		}
		start--; /* the '/' before the segment */
	}
	if (*req == NULL) {
		errfmt(err, "GET path holds no base64 OCSP request%s%.300s",
		    first[0] != '\0' ? ": " : "", first);
		return -1;
	}
	if ((*path = strndup(uri, (size_t)(start - uri))) == NULL) {
		errfmt(err, "out of memory");
		ocsp_req_free(*req);
		*req = NULL;
		return -1;
	}
	return 0;
}

static int
http_read_post(struct http_conn *c, const struct config *cf, struct request *r,
    char *err)
{
	const char *ct, *cl;
	char *end;
	long len;

	if (!http_path_ok(r->uri)) {
		errfmt(err, "request path is not a clean absolute path");
		return 400;
	}
	ct = http_param(c, HTTP_CONTENT_TYPE);
	if (ct == NULL ||
	    strncasecmp(ct, "application/ocsp-request", 24) != 0 ||
	    (ct[24] != '\0' && ct[24] != ';' && ct[24] != ' ')) {
		errfmt(err,
		    "Content-Type is %s%s%s, not "
		    "application/ocsp-request",
		    ct ? "'" : "", ct ? ct : "missing", ct ? "'" : "");
		return 400;
	}
	if ((cl = http_param(c, HTTP_CONTENT_LENGTH)) == NULL || *cl == '\0') {
		errfmt(err, "POST without Content-Length");
		return 411;
	}
	errno = 0;
	len = strtol(cl, &end, 10);
	if (errno != 0 || *end != '\0' || len < 0) {
		errfmt(err, "bad Content-Length '%.32s'", cl);
		return 400;
	}
	if (len > cf->max_request_bytes) {
		errfmt(err, "body of %ld bytes over max_request_bytes %ld", len,
		    cf->max_request_bytes);
		return 413;
	}
	if (len == 0) {
		errfmt(err, "empty body");
		return 400;
	}
	if ((r->body = malloc((size_t)len)) == NULL) {
		errfmt(err, "out of memory");
		return 503;
	}
	if (http_read(c, r->body, (size_t)len) != (size_t)len) {
		errfmt(err, "body shorter than Content-Length %ld", len);
		return 400;
	}
	r->body_len = (size_t)len;
	return 0;
}

int
http_request_read(struct http_conn *c, const struct config *cf,
    struct request *r, char *err)
{
	const char *m, *v;
	int status = 0;

	memset(r, 0, sizeof(*r));
	m = http_param(c, HTTP_REQUEST_METHOD);
	if (m != NULL && strcmp(m, "POST") == 0)
		r->method = HTTP_POST;
	else if (m != NULL && strcmp(m, "GET") == 0)
		r->method = HTTP_GET;
	else {
		errfmt(err, "method %.16s not allowed", m ? m : "(none)");
		return 405;
	}
	r->host = http_param(c, HTTP_HTTP_HOST);
	if (r->host == NULL || *r->host == '\0') {
		errfmt(err, "request without a Host header");
		return 400;
	}
	if (!http_host_ok(r->host)) {
		errfmt(err, "Host header '%.64s' is not a host[:port]",
		    r->host);
		return 400;
	}
	r->remote = http_param(c, HTTP_REMOTE_ADDR);
	r->uri = http_uri_path(http_param(c, HTTP_REQUEST_URI));
	if ((v = http_param(c, HTTP_HTTP_CACHE_CONTROL)) != NULL)
		r->no_cache = http_has_token(v, "no-cache");
	if ((v = http_param(c, HTTP_HTTP_X_PRUNE_FROM_CACHE)) != NULL)
		r->prune = *v != '\0' && strcmp(v, "0") != 0;
	if (r->method == HTTP_POST)
		status = http_read_post(c, cf, r, err);
	if (status != 0)
		http_request_clear(r);
	return status;
}

const void *
http_request_raw(const struct request *r, size_t *len)
{
	if (r->method == HTTP_POST) {
		*len = r->body_len;
		return r->body;
	}
	*len = strlen(r->uri);
	return r->uri;
}

int
http_request_parse(struct request *r, char *err)
{
	if (r->ocsp != NULL)
		return 0;
	if (r->method == HTTP_GET)
		return http_get_decode(r->uri, &r->path, &r->ocsp, err) == 0
		    ? 0
		    : 400;
	if ((r->ocsp = ocsp_req_parse(r->body, r->body_len, err)) == NULL)
		return 400;
	if ((r->path = strdup(r->uri)) == NULL) {
		errfmt(err, "out of memory");
		ocsp_req_free(r->ocsp);
		r->ocsp = NULL;
		return 503;
	}
	return 0;
}

void
http_request_clear(struct request *r)
{
	free(r->body);
	free(r->path);
	ocsp_req_free(r->ocsp);
	memset(r, 0, sizeof(*r));
}

/*
 * accept() gives up after a second idle (EAGAIN), so that counts still
 * waiting go out; no timer to arm around every accept. Sets c->tcp when
 * the listen socket is not a unix one.
 */
static void
http_idle_timeout(struct http_conn *c)
{
	const struct timeval idle = {1, 0};
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (setsockopt(FCGI_LISTENSOCK_FILENO, SOL_SOCKET, SO_RCVTIMEO, &idle,
		sizeof(idle)) == -1) {
		log_warn("setsockopt SO_RCVTIMEO on the FastCGI socket: counts "
			 "wait for the next request when idle");
		return;
	}
	c->tcp = getsockname(FCGI_LISTENSOCK_FILENO, (struct sockaddr *)&sa,
		     &len) == -1 ||
	    sa.ss_family != AF_UNIX;
}

struct http_conn *
http_conn_new(void)
{
	struct http_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("http: calloc");
		return NULL;
	}
	if ((c->cgi = FCGX_IsCGI()))
		return c;
	http_index(c);
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&c->rq, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_warnx("libfcgi initialisation failed");
		free(c);
		return NULL;
	}
	http_idle_timeout(c);
	return c;
}

void
http_conn_free(struct http_conn *c)
{
	if (c == NULL)
		return;
	if (c->cgi)
		fflush(stdout);
	else
		FCGX_Free(&c->rq, 1);
	free(c);
}

int
http_conn_is_cgi(const struct http_conn *c)
{
	return c->cgi;
}

void
http_stop(void)
{
	http_stopping = 1;
	FCGX_ShutdownPending();
}

enum http_wait
http_accept(struct http_conn *c)
{
	const struct timeval none = {0, 0};
	int rc;

	if (http_stopping)
		return HTTP_STOPPED;
	rc = FCGX_Accept_r(&c->rq);
	if (http_stopping)
		return HTTP_STOPPED;
	if (rc == -EINTR || rc == -EAGAIN)
		return HTTP_IDLE;
	if (rc < 0) {
		log_warnx("accept on the FastCGI socket: %s", strerror(-rc));
		return HTTP_FAILED;
	}
	/* A TCP connection inherits the listen socket's timeout: a slow
	 * body must not fail after a second. */
	if (c->tcp &&
	    setsockopt(c->rq.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &none,
		sizeof(none)) == -1)
		log_warn("setsockopt SO_RCVTIMEO on a connection");
	http_scan(c);
	return HTTP_REQUEST;
}

void
http_finish(struct http_conn *c)
{
	FCGX_Request *rq = &c->rq;

	memset(c->param, 0, sizeof(c->param)); /* FCGX_Finish_r frees them */
	if (c->cgi)
		return;
	/* The end of FCGI_STDIN is at hand (buffered) once the body is
	 * read; a byte more means the body was left unread. */
	/* (A kept connection is not closed; libfcgi clears the flag only
	 * when it closes.) */
	if (!rq->keepConnection && FCGX_GetChar(rq->in) == EOF &&
	    FCGX_HasSeenEOF(rq->in) && FCGX_GetError(rq->in) == 0)
		FCGX_Detach(rq);
	FCGX_Finish_r(rq);
}

void
http_date(time_t t, char *buf)
{
	/* The same few times come back on every hit: remember them. */
	static struct {
		time_t t;
		char s[32];
	} memo[4];
	static unsigned int next;
	struct tm tm;
	size_t i;

	for (i = 0; i < 4; i++)
		if (memo[i].t == t && memo[i].s[0] != '\0') {
			memcpy(buf, memo[i].s, 32);
			return;
		}
	/* Times come from Redis; one that fits no date gives the epoch. */
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0) {
		snprintf(buf, 32, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	i = next++ % 4;
	memo[i].t = t;
	memcpy(memo[i].s, buf, 32);
}

/*
 * An answer's head, put together piece by piece: on a hit, snprintf()
 * cost more than all the rest of the answer. A head that does not fit
 * is marked full and not sent.
 */
struct head {
	char b[768];
	size_t n;
};

static void
head_putn(struct head *h, const char *s, size_t len)
{
	if (h->n + len >= sizeof(h->b)) {
		h->n = sizeof(h->b);
		return;
	}
	memcpy(h->b + h->n, s, len);
	h->n += len;
}

static void
head_put(struct head *h, const char *s)
{
	head_putn(h, s, strlen(s));
}

/* A string literal, its length known as it is compiled. */
#define HEAD_LIT(h, lit) head_putn((h), "" lit, sizeof(lit) - 1)

static void
head_num(struct head *h, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	head_putn(h, d + i, sizeof(d) - i);
}

/*
 * A memo: the head of the last OCSP answer, and what it was made of. The
 * next answer of the same response in the same second has the same head.
 */
static struct {
	struct head h; /* h.n == 0: none */
	size_t len;
	time_t thisupd, nextupd, now;
	int tagged; /* -1: a tag too long to keep, never the same */
	char tag[64];
} http_last;

/* 1 when http_last.h is the head of an answer of these. */
static int
http_last_same(size_t len, time_t thisupd, time_t nextupd, const char *tag,
    time_t now)
{
	if (http_last.h.n == 0 || http_last.len != len ||
	    http_last.now != now || http_last.thisupd != thisupd ||
	    http_last.nextupd != nextupd)
		return 0;
	if (tag == NULL)
		return http_last.tagged == 0;
	return http_last.tagged == 1 && strcmp(http_last.tag, tag) == 0;
}

/* Puts the head of an answer of these into http_last. */
static void
http_last_make(size_t len, time_t thisupd, time_t nextupd, const char *tag,
    time_t now)
{
	struct head *h = &http_last.h;
	char date[32], lm[32], ex[32];

	h->n = 0;
	http_date(now, date);
	HEAD_LIT(h,
	    "Status: 200 OK\r\n"
	    "Content-Type: application/ocsp-response\r\n"
	    "Content-Length: ");
	head_num(h, len);
	HEAD_LIT(h, "\r\nDate: ");
	head_put(h, date);
	if (nextupd > now) {
		http_date(thisupd, lm);
		http_date(nextupd, ex);
		HEAD_LIT(h, "\r\nLast-Modified: ");
		head_put(h, lm);
		HEAD_LIT(h, "\r\nExpires: ");
		head_put(h, ex);
		if (tag != NULL) {
			HEAD_LIT(h, "\r\nETag: \"");
			head_put(h, tag);
			HEAD_LIT(h, "\"");
		}
		HEAD_LIT(h, "\r\nCache-Control: max-age=");
		head_num(h, (unsigned long long)(nextupd - now));
		HEAD_LIT(h, ", public, no-transform, must-revalidate\r\n\r\n");
	} else
		HEAD_LIT(h,
		    "\r\nCache-Control: no-cache, no-transform\r\n\r\n");
	if (h->n >= sizeof(h->b)) { /* does not fit: nothing is sent */
		h->n = 0;
		return;
	}
	http_last.len = len;
	http_last.thisupd = thisupd;
	http_last.nextupd = nextupd;
	http_last.now = now;
	http_last.tagged = tag == NULL		  ? 0
	    : strlen(tag) < sizeof(http_last.tag) ? 1
						  : -1;
	if (http_last.tagged == 1)
		memcpy(http_last.tag, tag, strlen(tag) + 1);
}

void
http_reply_ocsp(struct http_conn *c, const unsigned char *der, size_t len,
    time_t thisupd, time_t nextupd, const char *tag, time_t now)
{
	if (!http_last_same(len, thisupd, nextupd, tag, now))
		http_last_make(len, thisupd, nextupd, tag, now);
	if (http_last.h.n == 0)
		return;
	http_write(c, http_last.h.b, http_last.h.n);
	http_write(c, der, len);
}

static const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

/* An answer of status with a body of type; retry > 0: Retry-After. */
static void
http_reply(struct http_conn *c, int status, const char *type, const char *body,
    size_t len, long retry)
{
	char head[512], date[32], extra[64] = "";
	int n;

	http_date(time(NULL), date);
	if (status == 405)
		snprintf(extra, sizeof(extra), "Allow: GET, POST\r\n");
	else if (retry > 0)
		snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n", retry);
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Date: %s\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s\r\n",
	    status, http_reason(status), type, len, date, extra);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	http_write(c, head, (size_t)n);
	http_write(c, body, len);
}

void
http_reply_text(struct http_conn *c, int status, const char *type,
    const char *body, size_t len)
{
	http_reply(c, status, type, body, len, 0);
}

/* A one-line text/plain body with a final newline. */
static void
http_reply_line(struct http_conn *c, int status, const char *text, long retry)
{
	char body[ERRLEN + 2];
	int n;

	n = snprintf(body, sizeof(body), "%s\n", text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	http_reply(c, status, "text/plain", body, (size_t)n, retry);
}

void
http_reply_error(struct http_conn *c, int status, const char *text)
{
	http_reply_line(c, status, text, 0);
}

void
http_reply_unavailable(struct http_conn *c, const char *text, long retry)
{
	http_reply_line(c, 503, text, retry);
}
