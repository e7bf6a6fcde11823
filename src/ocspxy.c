/*
 * ocspxy: the operator's command: warm, status, prune, refresh and
 * export the cache through the same code as ocspxy-fcgi.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin.h"
#include "config.h"
#include "log.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ocspxy [-v] [-c file] command [options] [args]\n"
	    "  warm [-l list] CERT.pem [ISSUER.pem] | DIR ...\n"
	    "  status [--tsv | --json] [--warn DURATION] [CERT.pem | KEY ...]\n"
	    "  prune CERT.pem | KEY ...\n"
	    "  refresh CERT.pem | KEY ...\n"
	    "  export [--watch] [--interval SECONDS] DIR [CERT.pem ...]\n");
	exit(2);
}

/* Appends the lines of a list file to the arguments. */
static char **
read_list(const char *path, int *argc, char **argv)
{
	FILE *fp;
	char *line = NULL, **v;
	size_t cap = 0, n;
	ssize_t len;
	int i;

	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	if ((v = calloc((size_t)*argc + 1, sizeof(*v))) == NULL)
		exit(2);
	for (i = 0; i < *argc; i++)
		v[i] = argv[i];
	n = (size_t)*argc;
	while ((len = getline(&line, &cap, fp)) != -1) {
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((v = reallocarray(v, n + 2, sizeof(*v))) == NULL ||
		    (v[n++] = strdup(line)) == NULL)
			exit(2);
		v[n] = NULL;
	}
	free(line);
	fclose(fp);
	*argc = (int)n;
	return v;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"tsv", no_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"warn", required_argument, NULL, 'w'},
	    {"watch", no_argument, NULL, 'W'},
	    {"interval", required_argument, NULL, 'i'},
	    {"list", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	struct admin_opts o;
	struct sigaction sa;
	struct config *cf;
	const char *file = NULL, *cmd, *list = NULL;
	char **args;
	int ch, nargs, nbase, status;

	log_init("ocspxy", 0);
	memset(&o, 0, sizeof(o));
	o.warn = 86400;
	o.interval = 60;
	o.stop = &stop;
	/* Options before the command, then the command's own. */
	while ((ch = getopt(argc, argv, "+c:v")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'v':
			log_setverbose(1);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	/* 0: glibc starts afresh, without the "+" of the first scan, so
	 * that options may follow the arguments. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			o.format = ADMIN_TSV;
			break;
		case 'j':
			o.format = ADMIN_JSON;
			break;
		case 'w':
			if ((o.warn = admin_duration(optarg)) < 0) {
				fprintf(stderr,
				    "ocspxy: --warn %s: not a "
				    "duration like 90m, 12h or 2d\n",
				    optarg);
				exit(2);
			}
			break;
		case 'W':
			o.watch = 1;
			break;
		case 'i':
			if ((o.interval = admin_duration(optarg)) < 1) {
				fprintf(stderr,
				    "ocspxy: --interval %s: not a "
				    "duration\n",
				    optarg);
				exit(2);
			}
			break;
		case 'l':
			list = optarg;
			break;
		default:
			usage();
		}
	}
	nbase = nargs = argc - optind;
	args = argv + optind;
	if (list != NULL)
		args = read_list(list, &nargs, args);
	o.color = o.format == ADMIN_HUMAN && isatty(STDOUT_FILENO) &&
	    getenv("NO_COLOR") == NULL;
	o.progress = isatty(STDERR_FILENO);
	if ((cf = config_load(file)) == NULL)
		exit(2);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("libcurl initialisation failed");
	if (strcmp(cmd, "warm") == 0 && nargs > 0)
		status = admin_warm(cf, &o, nargs, args);
	else if (strcmp(cmd, "status") == 0)
		status = admin_status(cf, &o, nargs, args);
	else if (strcmp(cmd, "prune") == 0 && nargs > 0)
		status = admin_prune(cf, &o, nargs, args);
	else if (strcmp(cmd, "refresh") == 0 && nargs > 0)
		status = admin_refresh(cf, &o, nargs, args);
	else if (strcmp(cmd, "export") == 0 && nargs > 0)
		status = admin_export(cf, &o, nargs, args);
	else
		usage();
	if (list != NULL) {
		while (nargs > nbase)
			free(args[--nargs]);
		free(args);
	}
	config_free(cf);
	curl_global_cleanup();
	return status;
}
