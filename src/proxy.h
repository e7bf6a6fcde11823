/*
 * proxy.h: what one OCSP request goes through, from the web server's
 * request to the answer: cache first, upstream on a miss, every answer
 * checked and stored through store.c before it is served.
 */
#ifndef OCSPXY_PROXY_H
#define OCSPXY_PROXY_H

struct config;
struct http_conn;
struct proxy;

/* A proxy over cf (which must outlive it). NULL on error. */
struct proxy *proxy_new(const struct config *cf);
void proxy_free(struct proxy *);

/* Serves one request start to end; every failure is one log line. */
void proxy_serve(struct proxy *, struct http_conn *);

/* Sends the counts gathered (at most a second after they were made, and
 * when the process is idle). */
void proxy_flush(struct proxy *);

#endif
