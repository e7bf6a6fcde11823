/*
 * upstream.h: HTTP and HTTPS to OCSP responders (libcurl), the only
 * module that speaks HTTP upstream. POST of a DER request, no redirects,
 * bounded in time and size, under one address policy (upstream_ports or
 * upstream_https_ports by scheme, upstream_allow). Over https the
 * server's certificate and name are always verified, against
 * upstream_ca or else the system's CAs. Failures are described in err
 * (ERRLEN bytes).
 */
#ifndef OCSPXY_UPSTREAM_H
#define OCSPXY_UPSTREAM_H

#include <stddef.h>

struct config;
struct upstream;
struct upstream_multi;

/* A fetcher that keeps its handle between calls. NULL on error. */
struct upstream *upstream_new(const struct config *);
void upstream_free(struct upstream *);

/*
 * POSTs body to url and waits for the answer. Returns 0 and a malloc'd
 * *out that the caller frees, -2 when the upstream policy (upstream_ports,
 * upstream_allow, internal addresses) refuses the URL or the address it
 * resolves to, before any connection, or -1; err says why.
 */
int upstream_fetch(struct upstream *, const char *url,
    const unsigned char *body, size_t len, unsigned char **out, size_t *outlen,
    char *err);

/* The kind of the last failure: refused, timeout, connect, size, http,
 * tls (the server's certificate or name refused), other. */
const char *upstream_reason(const struct upstream *);

/*
 * Called once per finished transfer: out is NULL on failure, with err
 * saying why and reason its kind (as upstream_reason()).
 */
typedef void (*upstream_done_fn)(void *arg, const unsigned char *out,
    size_t outlen, const char *err, const char *reason);

/* Many fetches at once. NULL on error. */
struct upstream_multi *upstream_multi_new(const struct config *);
/* Abandons the transfers still in flight: drop (if not NULL) gets the
 * arg of each instead of done. */
void upstream_multi_free(struct upstream_multi *, void (*drop)(void *));
/*
 * Starts a POST of body (which must live until done is called) to url.
 * Returns 0, or -1 with err set (done is then not called).
 */
int upstream_multi_add(struct upstream_multi *, const char *url,
    const unsigned char *body, size_t len, void *arg, char *err);
/*
 * Runs transfers for at most ms milliseconds, or until fd (unless -1)
 * is readable, calling done for each one that ends. Returns the number
 * still in flight, or -1 on a libcurl error.
 */
int upstream_multi_run(struct upstream_multi *, int ms, int fd,
    upstream_done_fn);

#endif
