/*
 * http.h: the FastCGI side, the only module that touches libfcgi streams:
 * the request in (method, Host, path, headers, bounded body, GET
 * decoding) and the answer out (status, RFC 5019 headers, GMT dates).
 * Without a FastCGI request it works as CGI on stdin, stdout, environ.
 */
#ifndef OCSPXY_HTTP_H
#define OCSPXY_HTTP_H

#include <stddef.h>
#include <time.h>

struct config;
struct ocsp_req;

/* The request parameters (CGI/FastCGI variables) the proxy reads. */
enum http_param {
	HTTP_REQUEST_METHOD,
	HTTP_REQUEST_URI,
	HTTP_HTTP_HOST,
	HTTP_REMOTE_ADDR,
	HTTP_SERVER_PORT,
	HTTP_CONTENT_TYPE,
	HTTP_CONTENT_LENGTH,
	HTTP_HTTP_CACHE_CONTROL,
	HTTP_HTTP_X_PRUNE_FROM_CACHE,
	HTTP_NPARAMS
};

/* The connection to the web server, FastCGI or CGI. */
struct http_conn;

enum http_method { HTTP_GET, HTTP_POST };

struct request {
	enum http_method method;
	const char *host; /* Host header, borrowed */
	const char *uri; /* path of REQUEST_URI, borrowed */
	unsigned char *body; /* POST body, owned */
	size_t body_len;
	const char *remote; /* REMOTE_ADDR, borrowed */
	int no_cache; /* Cache-Control: no-cache */
	int prune; /* X-prune-from-cache */
	/* Set by http_request_parse(): */
	char *path; /* upstream path, owned */
	struct ocsp_req *ocsp; /* owned */
};

/*
 * A FastCGI connection when the program was started on a FastCGI socket,
 * else CGI: one request on stdin, stdout and the environment. NULL on
 * error (logged). Free with http_conn_free().
 */
struct http_conn *http_conn_new(void);
void http_conn_free(struct http_conn *);
/* 1 for CGI, where the one request is at hand without http_accept(). */
int http_conn_is_cgi(const struct http_conn *);

enum http_wait {
	HTTP_REQUEST, /* a request: serve it, then http_finish() */
	HTTP_IDLE, /* a second without one, or a signal */
	HTTP_STOPPED, /* http_stop() was called */
	HTTP_FAILED /* the FastCGI socket failed (logged) */
};
/* Waits for the next FastCGI request. */
enum http_wait http_accept(struct http_conn *);
/* Asks http_accept() to stop; async-signal-safe (for SIGTERM). */
void http_stop(void);

/*
 * A parameter of the request at hand, or NULL; borrowed until
 * http_finish(). Of duplicates, the first (as FCGX_GetParam).
 */
const char *http_param(struct http_conn *, enum http_param);

/*
 * Reads one request: method, Host, headers, the body of a POST (bounded).
 * Returns 0 with r filled (free with http_request_clear()), or the HTTP
 * status to answer (400, 405, 411, 413; 503 out of memory) with err set
 * to the reason.
 */
int http_request_read(struct http_conn *, const struct config *,
    struct request *r, char *err);
/* The request as it came: a POST's body or a GET's path; borrowed. */
const void *http_request_raw(const struct request *, size_t *len);
/*
 * Parses the OCSP request of r (the body, or the GET path) and sets
 * r->ocsp and r->path. Returns 0, or the status (400) with err set.
 */
int http_request_parse(struct request *r, char *err);
void http_request_clear(struct request *);

/* 1 when a Host header is fit to put in a URL: name or [v6], port. */
int http_host_ok(const char *host);
/* The path of a request URI; an absolute-form URI loses its authority.
 * Borrowed from uri, or "/". */
const char *http_uri_path(const char *uri);
/* 1 when p is an absolute path of printable ASCII without spaces. */
int http_path_ok(const char *p);

/*
 * Splits a GET request URI into the upstream path and the OCSP request
 * in its last segment(s) (RFC 6960 A.1, URL-encoded base64). Returns 0
 * with *path (malloc'd) and *req (ocsp_req_free()), or -1 with err set.
 */
int http_get_decode(const char *uri, char **path, struct ocsp_req **req,
    char *err);

/*
 * Writes an OCSP answer with RFC 5019 caching headers and etag (of
 * STORE_ETAGLEN); nextupd 0 (no nextUpdate, or a pass-through) asks
 * caches not to keep it, and needs no etag (NULL).
 */
void http_reply_ocsp(struct http_conn *, const unsigned char *der, size_t len,
    time_t thisupd, time_t nextupd, const char *etag, time_t now);
/* Writes status with a body of the given type. */
void http_reply_text(struct http_conn *, int status, const char *type,
    const char *body, size_t len);
/* Writes status with a one-line text/plain body. */
void http_reply_error(struct http_conn *, int status, const char *text);
/* Writes 503 with a one-line body and Retry-After: retry seconds. */
void http_reply_unavailable(struct http_conn *, const char *text, long retry);

/*
 * Ends a FastCGI request (FCGX_Finish_r). When its input was read to the
 * end, the connection is closed at once: libfcgi's lingering close
 * (shutdown, then wait up to 2 s for the web server to close its side)
 * guards only against input left unread.
 */
void http_finish(struct http_conn *);

/*
 * RFC 7231 IMF-fixdate in GMT into buf of 32 bytes. The last few dates
 * are remembered (a static memo of this process): a hit sends the same
 * three dates again and again.
 */
void http_date(time_t t, char *buf);

#endif
