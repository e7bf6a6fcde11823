/*
 * ocspxy-refresh: keeps every cached OCSP response fresh. In the
 * foreground (systemd style), a pass every refresh_interval seconds, or
 * one pass with --once.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
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

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"once", no_argument, NULL, 'o'},
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	struct sigaction sa;
	struct refresh_stats st;
	struct config *cf, *ncf;
	const char *file = NULL;
	int ch, once = 0, verbose = 0, r = 0;

	log_init("ocspxy-refresh", 0);
	while ((ch = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			once = 1;
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
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("libcurl initialisation failed");
	if (!once)
		log_info("started: a pass every %ld s", cf->refresh_interval);
	while (!stop) {
		if (reload) {
			reload = 0;
			if ((ncf = config_load(file)) != NULL) {
				config_free(cf);
				cf = ncf;
				log_info("config %s re-read",
				    file ? file : "(defaults)");
			}
		}
		r = refresh_pass(cf, &stop, &st);
		if (once)
			break;
		/* Redis away: try again soon rather than in a full interval. */
		nap(r == -1 && cf->refresh_interval > 10
			? 10
			: cf->refresh_interval);
	}
	config_free(cf);
	curl_global_cleanup();
	if (once)
		return r == 0 ? 0 : 1;
	log_info("stopped");
	return 0;
}
