/*
 * ocspxy-refresh: keeps every cached OCSP response fresh. In the
 * foreground (systemd style), a pass every refresh_interval seconds, or
 * one pass with --once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "prog.h"
#include "refresh.h"

static volatile sig_atomic_t stop, reload;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ocspxy-refresh [-v] [--once] [-c file]\n");
	exit(2);
}

/* Sleeps up to secs, waking early for a signal. */
static void
nap(long secs)
{
	struct timespec ts = {0, 200 * 1000 * 1000};
	time_t end = time(NULL) + secs;

	while (!stop && !reload && time(NULL) < end)
		nanosleep(&ts, NULL);
}

/* Reads the config file again; keeps *cf when the file is refused. */
static void
reread(struct config **cf, const char *file)
{
	struct config *ncf;

	if ((ncf = config_load(file)) == NULL)
		return;
	config_free(*cf);
	*cf = ncf;
	log_info("config %s re-read", file ? file : "(defaults)");
}

/* Sends HAProxy (haproxy_socket) the valid cached response of every
 * certificate it staples for: at start and after a re-read config. */
static void
push_haproxy(const struct config *cf)
{
	struct refresh_push_stats st;

	if (cf->haproxy_socket == NULL)
		return;
	if (refresh_haproxy(cf, cf->haproxy_socket, &st) != -1)
		log_info("haproxy %s: %ld of %ld responses sent",
		    cf->haproxy_socket, st.pushed, st.listed);
}

/* Passes until a signal, or one with once; returns the last one's result. */
static int
run(struct config **cf, const char *file, int once)
{
	struct refresh_stats st;
	int r = 0;

	if (!once)
		log_info("started: a pass every %ld s",
		    (*cf)->refresh_interval);
	push_haproxy(*cf);
	while (!stop) {
		if (reload) {
			reload = 0;
			reread(cf, file);
			push_haproxy(*cf);
		}
		r = refresh_pass(*cf, &stop, &st);
		if (once)
			break;
		/* Redis away: try again soon rather than in a full interval. */
		nap(r == -1 && (*cf)->refresh_interval > 10
			? 10
			: (*cf)->refresh_interval);
	}
	return r;
}

int
main(int argc, char *argv[])
{
	struct prog pg = {.name = "ocspxy-refresh"};
	int once = 0;
	const struct prog_opt opts[] = {
	    {"once", 0, NULL, &once, 1},
	    {"config", 0, &pg.file, NULL, 0},
	    {"verbose", 0, NULL, &pg.verbose, 1},
	    {NULL, 0, NULL, NULL, 0},
	};
	struct config *cf;
	int r;

	pg.opts = opts;
	if (prog_options(&pg, argc, argv) == -1)
		usage();
	cf = prog_setup(&pg);
	prog_signals(on_signal, 1);
	r = run(&cf, pg.file, once);
	prog_end(cf);
	if (once)
		return r == 0 ? 0 : 1;
	log_info("stopped");
	return 0;
}
