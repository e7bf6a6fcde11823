/* config.c: the config file. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

enum ctype { C_STR, C_LONG };

struct ckey {
	const char	*name;
	enum ctype	 type;
	size_t		 off;
	long		 min, max;
	const char	*def;
};

#define O(f) offsetof(struct config, f)
static const struct ckey ckeys[] = {
	{ "redis", C_STR, O(redis), 0, 0, "unix:/run/redis/redis-server.sock" },
	{ "prefix", C_STR, O(prefix), 1, 64, "ocspxy_" },
	{ "upstream_timeout", C_LONG, O(upstream_timeout), 1, 300, "5" },
	{ "max_request_bytes", C_LONG, O(max_request_bytes), 64, 1048576,
	    "16384" },
	{ "max_response_bytes", C_LONG, O(max_response_bytes), 256, 16777216,
	    "65536" },
	{ "clock_skew", C_LONG, O(clock_skew), 0, 86400, "300" },
	{ "redis_timeout_ms", C_LONG, O(redis_timeout_ms), 10, 60000, "1000" },
	{ "refresh_interval", C_LONG, O(refresh_interval), 1, 604800, "1800" },
	{ "refresh_min_age", C_LONG, O(refresh_min_age), 1, 31536000, "3600" },
	{ "refresh_max_age", C_LONG, O(refresh_max_age), 1, 31536000,
	    "86400" },
	{ "refresh_concurrency", C_LONG, O(refresh_concurrency), 1, 1024, "8" },
	{ "entry_ttl", C_LONG, O(entry_ttl), 60, 315360000, "2592000" },
};
#undef O

static const struct ckey *
config_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++)
		if (strcmp(ckeys[i].name, name) == 0)
			return &ckeys[i];
	return NULL;
}

/* Sets one key; returns NULL or a static reason why the value is bad. */
static const char *
config_set(struct config *c, const struct ckey *k, const char *val)
{
	char *end, *s, **sp;
	long *lp, v;

	switch (k->type) {
	case C_STR:
		if (*val == '\0' || (k->max > 0 && strlen(val) > (size_t)k->max))
			return "empty or too long";
		if ((s = strdup(val)) == NULL)
			return "out of memory";
		sp = (char **)((char *)c + k->off);
		free(*sp);
		*sp = s;
		return NULL;
	case C_LONG:
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0' || v < k->min ||
		    v > k->max)
			return "not a whole number in range";
		lp = (long *)((char *)c + k->off);
		*lp = v;
		return NULL;
	}
	return "bad key type";
}

static void
config_trim(char **s)
{
	char *e;

	while (isspace((unsigned char)**s))
		(*s)++;
	e = *s + strlen(*s);
	while (e > *s && isspace((unsigned char)e[-1]))
		*--e = '\0';
}

static struct config *
config_defaults(void)
{
	struct config *c;
	const char *why;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("config: calloc");
		return NULL;
	}
	for (i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++) {
		if ((why = config_set(c, &ckeys[i], ckeys[i].def)) != NULL) {
			log_warnx("config: default of %s: %s", ckeys[i].name,
			    why);
			config_free(c);
			return NULL;
		}
	}
	return c;
}

struct config *
config_load(const char *path)
{
	struct config *c = NULL;
	const struct ckey *k;
	FILE *fp = NULL;
	char *line = NULL, *key, *val, *p;
	const char *why;
	size_t cap = 0;
	long lineno = 0;

	if ((c = config_defaults()) == NULL)
		return NULL;
	if (path == NULL)
		return c;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("config %s: cannot open", path);
		goto fail;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		key = line;
		config_trim(&key);
		if (*key == '\0')
			continue;
		val = key + strcspn(key, " \t");
		if (*val != '\0')
			*val++ = '\0';
		config_trim(&val);
		if ((k = config_find(key)) == NULL) {
			log_warnx("config %s:%ld: unknown key '%s'", path,
			    lineno, key);
			goto fail;
		}
		if ((why = config_set(c, k, val)) != NULL) {
			log_warnx("config %s:%ld: key '%s': bad value '%s': %s",
			    path, lineno, key, val, why);
			goto fail;
		}
	}
	if (ferror(fp)) {
		log_warn("config %s:%ld: read", path, lineno);
		goto fail;
	}
	free(line);
	fclose(fp);
	return c;
fail:
	free(line);
	if (fp != NULL)
		fclose(fp);
	config_free(c);
	return NULL;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->redis);
	free(c->prefix);
	free(c);
}
