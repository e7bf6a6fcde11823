/* prog.c: the set-up the three programs share. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "prog.h"

#ifndef OCSPXY_VERSION /* the Makefile takes it from debian/changelog */
#define OCSPXY_VERSION "unknown"
#endif

#define PROG_MAXOPTS 16
#define PROG_LONGONLY 256 /* getopt's value for the long-only option i */

/* How many options of its own the program has. */
static size_t
prog_nopts(const struct prog *pg)
{
	size_t n = 0;

	while (pg->opts != NULL &&
	    (pg->opts[n].name != NULL || pg->opts[n].ch != 0))
		n++;
	if (n > PROG_MAXOPTS)
		fatalx("%s: more than %d options", pg->name, PROG_MAXOPTS);
	return n;
}

/* What getopt_long returns for the program's option i. */
static int
prog_val(const struct prog *pg, size_t i)
{
	return pg->opts[i].ch != 0 ? pg->opts[i].ch : PROG_LONGONLY + (int)i;
}

/* getopt_long's lists: -c file, -v, -V (--version), then the program's
 * own options. */
static void
prog_lists(const struct prog *pg, char *shorts, struct option *longs)
{
	const struct prog_opt *o;
	size_t i, n = 0, nopts = prog_nopts(pg), s = 0;

	/* "+": stop at the first word; prog_options() walks past it. */
	shorts[s++] = '+';
	shorts[s++] = 'c';
	shorts[s++] = ':';
	shorts[s++] = 'v';
	shorts[s++] = 'V';
	longs[n++] = (struct option){"version", no_argument, NULL, 'V'};
	for (i = 0; i < nopts; i++) {
		o = &pg->opts[i];
		if (o->ch != 0) {
			shorts[s++] = (char)o->ch;
			if (o->arg != NULL)
				shorts[s++] = ':';
		}
		if (o->name != NULL)
			longs[n++] = (struct option){o->name,
			    o->arg != NULL ? required_argument : no_argument,
			    NULL, prog_val(pg, i)};
	}
	shorts[s] = '\0';
	memset(&longs[n], 0, sizeof(longs[n]));
}

/* Takes the option getopt_long returned as ch; -1 when it is not one of
 * the program's or out of its place. */
static int
prog_take(struct prog *pg, int ch, int after_cmd)
{
	const struct prog_opt *o;
	size_t i, nopts = prog_nopts(pg);

	if (ch == 'V') {
		printf("%s %s\n", pg->name, OCSPXY_VERSION);
		exit(fflush(stdout) == 0 ? 0 : 1);
	}
	if (ch == 'c' || ch == 'v') {
		if (pg->command && after_cmd) {
			log_warnx("-%c goes before the command", ch);
			return -1;
		}
		if (ch == 'c')
			pg->file = optarg;
		else
			pg->verbose = 1;
		return 0;
	}
	for (i = 0; i < nopts && ch != prog_val(pg, i); i++)
		;
	if (i == nopts)
		return -1; /* '?' or ':': getopt has said why */
	if (pg->command && !after_cmd) {
		log_warnx("the command's options go after it");
		return -1;
	}
	o = &pg->opts[i];
	if (o->arg != NULL)
		*o->arg = optarg;
	else
		*o->flag = o->value;
	return 0;
}

int
prog_options(struct prog *pg, int argc, char **argv)
{
	char shorts[6 + 2 * PROG_MAXOPTS];
	struct option longs[PROG_MAXOPTS + 2];
	int ch, at, nwords = 0, rest = 0;

	log_init(pg->name, 0);
	prog_lists(pg, shorts, longs);
	/* Options and words in any order: each word is moved down to
	 * argv[1 + nwords], behind the options already taken. */
	while (optind < argc) {
		at = optind;
		if (!rest &&
		    (ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
			if (prog_take(pg, ch, nwords > 0) == -1)
				return -1;
			continue;
		}
		if (!rest && optind > at) {
			rest = 1; /* "--" */
			continue;
		}
		argv[1 + nwords++] = argv[optind++];
	}
	pg->argc = nwords;
	pg->argv = argv + 1;
	if (pg->command) {
		if (nwords == 0)
			return -1;
		pg->cmd = pg->argv[0];
		pg->argc--;
		pg->argv++;
	} else if (nwords > 0)
		return -1;
	log_setverbose(pg->verbose);
	return 0;
}

struct config *
prog_setup(const struct prog *pg)
{
	struct config *cf;

	if ((cf = config_load(pg->file)) == NULL)
		exit(2);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("libcurl initialisation failed");
	return cf;
}

void
prog_end(struct config *cf)
{
	config_free(cf);
	curl_global_cleanup();
}

void
prog_signals(void (*handler)(int), int hup)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
}
