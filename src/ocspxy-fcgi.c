/*
 * ocspxy-fcgi: the caching OCSP responder behind a web server (FastCGI),
 * or for one request as a CGI program when started without a socket.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "log.h"
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
	struct config *cf;
	struct proxy *p;
	struct http_conn *conn;
	struct sigaction sa;
	const char *file = NULL;
	int ch, verbose = 0, ret = 0;

	log_init("ocspxy-fcgi", 0);
	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_setverbose(verbose);
	if ((cf = config_load(file)) == NULL)
		exit(2);
	/* A client that goes away must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("libcurl initialisation failed");
	if ((p = proxy_new(cf)) == NULL)
		fatalx("cannot set up the proxy");
	if ((conn = http_conn_new()) == NULL)
		fatalx("cannot set up the FastCGI connection");
	if (http_conn_is_cgi(conn))
		proxy_serve(p, conn);
	else {
		/* No SA_RESTART: a signal ends a blocked accept(). */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		ret = serve(p, conn);
	}
	http_conn_free(conn);
	proxy_free(p);
	config_free(cf);
	curl_global_cleanup();
	return ret;
}
