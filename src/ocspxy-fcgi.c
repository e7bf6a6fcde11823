/*
 * ocspxy-fcgi: the caching OCSP responder behind a web server (FastCGI),
 * or for one request as a CGI program when started without a socket.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "prog.h"
#include "proxy.h"

static volatile sig_atomic_t stop;

/* SIGTERM: finish the request at hand, then leave the accept loop. */
static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
	FCGX_ShutdownPending();
}

/*
 * accept() gives up after a second idle (EAGAIN), so that counts still
 * waiting go out; no timer to arm around every accept. Returns 1 when
 * the listen socket is not a unix one: its connections inherit the
 * timeout, which the caller takes off each of them.
 */
static int
idle_timeout(void)
{
	const struct timeval idle = {1, 0};
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (setsockopt(FCGI_LISTENSOCK_FILENO, SOL_SOCKET, SO_RCVTIMEO, &idle,
		sizeof(idle)) == -1) {
		log_warn("setsockopt SO_RCVTIMEO on the FastCGI socket: counts "
			 "wait for the next request when idle");
		return 0;
	}
	return getsockname(FCGI_LISTENSOCK_FILENO, (struct sockaddr *)&sa,
		   &len) == -1 ||
	    sa.ss_family != AF_UNIX;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ocspxy-fcgi [-v] [-c file]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct prog pg = {.name = "ocspxy-fcgi"};
	struct config *cf;
	struct proxy *p;
	struct http_conn conn;
	const struct timeval none = {0, 0};
	FCGX_Request rq;
	int rc, tcp = 0, ret = 0;

	if (prog_options(&pg, argc, argv) == -1)
		usage();
	cf = prog_setup(&pg);
	if ((p = proxy_new(cf)) == NULL)
		fatalx("cannot set up the proxy");
	memset(&conn, 0, sizeof(conn));
	if (FCGX_IsCGI()) {
		proxy_serve(p, &conn);
		fflush(stdout);
	} else {
		if (FCGX_Init() != 0 ||
		    FCGX_InitRequest(&rq, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
			fatalx("libfcgi initialisation failed");
		/* No SA_RESTART: a signal ends a blocked accept(). */
		prog_signals(on_term, 0);
		tcp = idle_timeout();
		conn.fcgx = &rq;
		while (!stop) {
			rc = FCGX_Accept_r(&rq);
			if ((rc == -EINTR || rc == -EAGAIN) && !stop) {
				proxy_flush(p);
				continue;
			}
			if (rc < 0 && !stop) {
				log_warnx("accept on the FastCGI socket: %s",
				    strerror(-rc));
				ret = 1;
			}
			if (rc < 0 || stop)
				break;
			/* A TCP connection inherits the listen socket's
			 * timeout: a slow body must not fail after a second. */
			if (tcp &&
			    setsockopt(rq.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &none,
				sizeof(none)) == -1)
				log_warn(
				    "setsockopt SO_RCVTIMEO on a connection");
			proxy_serve(p, &conn);
			http_finish(&conn);
		}
		FCGX_Free(&rq, 1);
		proxy_flush(p);
	}
	proxy_free(p);
	prog_end(cf);
	return ret;
}
