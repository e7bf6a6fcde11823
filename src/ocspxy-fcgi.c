/*
 * ocspxy-fcgi: the caching OCSP responder behind a web server (FastCGI),
 * or for one request as a CGI program when started without a socket.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "prog.h"
#include "proxy.h"

/* SIGTERM: finish the request at hand, then leave the accept loop. */
static void
on_term(int sig)
{
	(void)sig;
	http_stop();
}

static void
usage(void)
{
	fprintf(stderr, "usage: ocspxy-fcgi [-v] [-c file]\n");
	exit(2);
}

/* Serves FastCGI requests until told to stop. 0, or 1 on a failure. */
static int
serve(struct proxy *p, struct http_conn *conn)
{
	enum http_wait w;

	while ((w = http_accept(conn)) == HTTP_REQUEST || w == HTTP_IDLE) {
		if (w == HTTP_IDLE) {
			proxy_flush(p); /* counts go out when idle */
			continue;
		}
		proxy_serve(p, conn);
		http_finish(conn);
	}
	proxy_flush(p);
	return w == HTTP_FAILED;
}

int
main(int argc, char *argv[])
{
	struct prog pg = {.name = "ocspxy-fcgi"};
	struct config *cf;
	struct proxy *p;
	struct http_conn *conn;
	int ret = 0;

	if (prog_options(&pg, argc, argv) == -1)
		usage();
	cf = prog_setup(&pg);
	if ((conn = http_conn_new()) == NULL)
		fatalx("cannot set up the FastCGI connection");
	/* One request as CGI: nothing to remember for the next. */
	if (http_conn_is_cgi(conn))
		cf->memory_cache_bytes = 0;
	if ((p = proxy_new(cf)) == NULL)
		fatalx("cannot set up the proxy");
	if (http_conn_is_cgi(conn))
		proxy_serve(p, conn);
	else {
		/* No SA_RESTART: a signal ends a blocked accept(). */
		prog_signals(on_term, 0);
		ret = serve(p, conn);
	}
	http_conn_free(conn);
	proxy_free(p);
	prog_end(cf);
	return ret;
}
