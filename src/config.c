/* config.c: the config file. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "config.h"
#include "log.h"

enum ctype {
	C_STR,
	C_LONG,
	C_BOOL,
	C_WORDS,
	C_PORTS,
	C_NETS,
	C_ADDRS,
	C_RESPONDER,
	C_ISSUER,
	C_ISSUER_DIR,
	C_CERTFILE /* the path of a file of PEM certificates, read once to
		    * check it */
};

struct ckey {
	const char *name;
	enum ctype type;
	size_t off; /* the field; for lists, the array */
	size_t noff; /* for lists, the count */
	long min, max;
	const char *def;
};

#define O(f) offsetof(struct config, f)
#define L(f) offsetof(struct config, f), offsetof(struct config, n##f)
static const struct ckey ckeys[] = {
    {"redis", C_STR, O(redis), 0, 0, 0, "unix:/run/redis/redis-server.sock"},
    {"redis_password", C_STR, O(redis_password), 0, 1, 512, NULL},
    {"redis_db", C_LONG, O(redis_db), 0, 0, 100000, "0"},
    {"redis_user", C_STR, O(redis_user), 0, 1, 128, NULL},
    {"redis_replica", C_STR, O(redis_replica), 0, 1, 1024, NULL},
    {"sentinel", C_WORDS, L(sentinels), 0, 0, NULL},
    {"sentinel_master", C_STR, O(sentinel_master), 0, 1, 128, NULL},
    {"sentinel_password", C_STR, O(sentinel_password), 0, 1, 512, NULL},
    {"prefix", C_STR, O(prefix), 0, 1, 64, "ocspxy_"},
    {"upstream_timeout", C_LONG, O(upstream_timeout), 0, 1, 300, "5"},
    {"upstream_connect_timeout", C_LONG, O(upstream_connect_timeout), 0, 1, 300,
	"3"},
    {"max_request_bytes", C_LONG, O(max_request_bytes), 0, 64, 1048576,
	"16384"},
    {"max_response_bytes", C_LONG, O(max_response_bytes), 0, 256, 16777216,
	"65536"},
    {"clock_skew", C_LONG, O(clock_skew), 0, 0, 86400, "300"},
    {"redis_timeout_ms", C_LONG, O(redis_timeout_ms), 0, 10, 60000, "1000"},
    {"refresh_interval", C_LONG, O(refresh_interval), 0, 1, 604800, "1800"},
    {"refresh_min_age", C_LONG, O(refresh_min_age), 0, 1, 31536000, "3600"},
    {"refresh_max_age", C_LONG, O(refresh_max_age), 0, 1, 31536000, "86400"},
    {"refresh_concurrency", C_LONG, O(refresh_concurrency), 0, 1, 1024, "16"},
    {"refresh_workers", C_LONG, O(refresh_workers), 0, 0, REFRESH_MAX_WORKERS,
	"0"},
    {"entry_ttl", C_LONG, O(entry_ttl), 0, 60, 315360000, "2592000"},
    {"require_verified", C_BOOL, O(require_verified), 0, 0, 1, "no"},
    {"upstream_max_waiting", C_LONG, O(upstream_max_waiting), 0, 0, 1024, "2"},
    {"memory_cache_bytes", C_LONG, O(memory_cache_bytes), 0, 0, 1073741824,
	"4194304"},
    {"runtime_dir", C_STR, O(runtime_dir), 0, 1, 1024, "/run/ocspxy-fcgi"},
    {"refresh_per_responder", C_LONG, O(refresh_per_responder), 0, 1, 1024,
	"16"},
    {"haproxy_socket", C_STR, O(haproxy_socket), 0, 1, 107, NULL},
    {"self", C_WORDS, L(self), 0, 0, "localhost 127.0.0.1 ::1"},
    {"upstream_ports", C_PORTS, L(ports), 1, 65535, "80"},
    {"upstream_https_ports", C_PORTS, L(https_ports), 1, 65535, "443"},
    {"upstream_ca", C_CERTFILE, O(upstream_ca), 0, 1, 4096, NULL},
    {"upstream_allow", C_NETS, L(allow), 0, 0, ""},
    {"prune_allow", C_ADDRS, L(prune), 0, 0, "127.0.0.1 ::1"},
    {"responder", C_RESPONDER, L(responders), 0, 0, NULL},
    {"issuer", C_ISSUER, O(issuers), 0, 0, 0, NULL},
    {"issuer_dir", C_ISSUER_DIR, O(issuers), 0, 0, 0, NULL},
};
#undef O
#undef L
#define NKEYS (sizeof(ckeys) / sizeof(ckeys[0]))

static const struct ckey *
config_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(ckeys[i].name, name) == 0)
			return &ckeys[i];
	return NULL;
}

/* Grows the array at *arr (n elements of size) by one zeroed element. */
static void *
config_grow(void *arrp, size_t *n, size_t size)
{
	void **arr = arrp;
	char *p;

	if ((p = reallocarray(*arr, *n + 1, size)) == NULL)
		return NULL;
	memset(p + *n * size, 0, size);
	*arr = p;
	return p + (*n)++ * size;
}

static const char *
config_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return "not a whole number in range";
	*out = v;
	return NULL;
}

static const char *
config_port(const char *w, struct portrange *pr)
{
	char lo[16];
	const char *dash = strchr(w, '-');

	if (dash == NULL) {
		if (config_long(w, 1, 65535, &pr->lo) != NULL)
			return "not a port or range of ports";
		pr->hi = pr->lo;
		return NULL;
	}
	if ((size_t)(dash - w) >= sizeof(lo))
		return "not a port or range of ports";
	memcpy(lo, w, (size_t)(dash - w));
	lo[dash - w] = '\0';
	if (config_long(lo, 1, 65535, &pr->lo) != NULL ||
	    config_long(dash + 1, 1, 65535, &pr->hi) != NULL || pr->hi < pr->lo)
		return "not a port or range of ports";
	return NULL;
}

/* An address or CIDR; a host pattern too when patterns is set. */
static const char *
config_net(const char *w, struct netmatch *m, int patterns)
{
	char buf[64], *slash;
	long bits = -1;

	if (strlen(w) >= sizeof(buf))
		return "address too long";
	memcpy(buf, w, strlen(w) + 1);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		if (config_long(slash + 1, 0, 128, &bits) != NULL)
			return "bad prefix length";
	}
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->family = AF_INET;
		m->bits = bits == -1 ? 32 : (int)bits;
		return m->bits > 32 ? "bad prefix length" : NULL;
	}
	if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->family = AF_INET6;
		m->bits = bits == -1 ? 128 : (int)bits;
		return NULL;
	}
	if (!patterns || slash != NULL)
		return "not an address";
	if (strspn(w,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789.-_*?") != strlen(w))
		return "not a host name pattern";
	if ((m->pattern = strdup(w)) == NULL)
		return "out of memory";
	return NULL;
}

/* Appends every certificate of a PEM file to *certs, made when NULL. */
static const char *
config_certs(STACK_OF(X509) * *certs, const char *file)
{
	FILE *fp;
	X509 *x;
	int count = 0;

	if (*certs == NULL && (*certs = sk_X509_new_null()) == NULL)
		return "out of memory";
	if ((fp = fopen(file, "r")) == NULL)
		return strerror(errno);
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(*certs, x)) {
			X509_free(x);
			fclose(fp);
			return "out of memory";
		}
		count++;
	}
	ERR_clear_error();
	fclose(fp);
	return count > 0 ? NULL : "no PEM certificate in the file";
}

int
config_read_certs(STACK_OF(X509) * *certs, const char *file, char *err)
{
	const char *why;

	if ((why = config_certs(certs, file)) == NULL)
		return 0;
	errfmt(err, "%s", why);
	return -1;
}

int
config_is_cert_file(const char *name)
{
	static const char *const exts[] = {".pem", ".crt", ".cer"};
	const char *ext = strrchr(name, '.');
	size_t i;

	for (i = 0; ext != NULL && i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcmp(ext, exts[i]) == 0)
			return 1;
	return 0;
}

static const char *
config_issuer_dir(STACK_OF(X509) * *issuers, const char *dir)
{
	char path[4096];
	struct dirent *de;
	const char *why = NULL;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return strerror(errno);
	while (why == NULL && (de = readdir(d)) != NULL) {
		if (!config_is_cert_file(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		why = config_certs(issuers, path);
	}
	closedir(d);
	return why;
}

/* The part of a responder after its "scheme://", if it names one. */
static const char *
config_after_scheme(const char *responder)
{
	size_t n = strcspn(responder, ":/");

	if (strncmp(responder + n, "://", 3) == 0)
		return responder + n + 3;
	return responder;
}

void
config_strip_root(char *hostpath)
{
	size_t n = (size_t)(config_after_scheme(hostpath) - hostpath);

	n += strcspn(hostpath + n, "/");
	if (strcmp(hostpath + n, "/") == 0)
		hostpath[n] = '\0';
}

static const char *
config_responder(struct config *c, const struct ckey *k, char *val)
{
	struct cfresponder *r;
	STACK_OF(X509) *one = NULL;
	char *url;
	const char *why;

	url = val + strcspn(val, " \t");
	if (*url == '\0')
		return "expected: responder <issuer certificate> <url>";
	*url++ = '\0';
	url += strspn(url, " \t");
	/* http:// is left out, as the Perl tool stored responders. */
	if (strncmp(url, "http://", 7) == 0)
		url += 7;
	else if (strncmp(url, "https://", 8) != 0 && strstr(url, "://") != NULL)
		return "only http:// and https:// responders";
	if (*url == '\0' || strcspn(url, " \t") != strlen(url))
		return "expected: responder <issuer certificate> <url>";
	if ((why = config_certs(&one, val)) != NULL) {
		sk_X509_pop_free(one, X509_free);
		return why;
	}
	if ((r = config_grow((char *)c + k->off,
		 (size_t *)((char *)c + k->noff), sizeof(*r))) == NULL ||
	    (r->url = strdup(url)) == NULL) {
		sk_X509_pop_free(one, X509_free);
		return "out of memory";
	}
	config_strip_root(r->url);
	r->issuer = sk_X509_shift(one);
	X509_up_ref(r->issuer);
	/* The responder's issuer is a known issuer too. */
	if (c->issuers == NULL && (c->issuers = sk_X509_new_null()) == NULL)
		why = "out of memory";
	else if (!sk_X509_push(c->issuers, r->issuer)) {
		X509_free(r->issuer);
		why = "out of memory";
	}
	sk_X509_pop_free(one, X509_free);
	return why;
}

/* A file of PEM certificates, read now to check it, kept as its path. */
static const char *
config_certfile(struct config *c, const struct ckey *k, const char *val)
{
	STACK_OF(X509) *certs = NULL;
	char **sp = (char **)((char *)c + k->off), *s;
	const char *why;

	if (*val == '\0' || strlen(val) > (size_t)k->max)
		return "empty or too long";
	why = config_certs(&certs, val);
	sk_X509_pop_free(certs, X509_free);
	if (why != NULL)
		return why;
	if ((s = strdup(val)) == NULL)
		return "out of memory";
	free(*sp);
	*sp = s;
	return NULL;
}

/* Sets one key; returns NULL or a static reason why the value is bad. */
static const char *
config_set(struct config *c, const struct ckey *k, char *val)
{
	char *s, **sp, *w, *next;
	long *lp;
	const char *why;
	void *e;
	size_t *np = (size_t *)((char *)c + k->noff);

	switch (k->type) {
	case C_STR:
		if (*val == '\0' ||
		    (k->max > 0 && strlen(val) > (size_t)k->max))
			return "empty or too long";
		if ((s = strdup(val)) == NULL)
			return "out of memory";
		sp = (char **)((char *)c + k->off);
		free(*sp);
		*sp = s;
		return NULL;
	case C_LONG:
		lp = (long *)((char *)c + k->off);
		return config_long(val, k->min, k->max, lp);
	case C_BOOL:
		if (strcasecmp(val, "yes") == 0 || strcmp(val, "1") == 0)
			*(int *)((char *)c + k->off) = 1;
		else if (strcasecmp(val, "no") == 0 || strcmp(val, "0") == 0)
			*(int *)((char *)c + k->off) = 0;
		else
			return "expected yes or no";
		return NULL;
	case C_RESPONDER:
		return config_responder(c, k, val);
	case C_ISSUER:
		return config_certs((STACK_OF(X509) **)((char *)c + k->off),
		    val);
	case C_ISSUER_DIR:
		return config_issuer_dir(
		    (STACK_OF(X509) **)((char *)c + k->off), val);
	case C_CERTFILE:
		return config_certfile(c, k, val);
	default:
		break;
	}
	/* Lists of words. No port at all would refuse every upstream. */
	if (k->type == C_PORTS && val[strspn(val, " \t")] == '\0')
		return "expected one or more ports or ranges";
	for (w = val + strspn(val, " \t"); *w != '\0';
	     w = next + strspn(next, " \t")) {
		next = w + strcspn(w, " \t");
		if (*next != '\0')
			*next++ = '\0';
		switch (k->type) {
		case C_WORDS:
			if ((e = config_grow((char *)c + k->off, np,
				 sizeof(char *))) == NULL ||
			    (*(char **)e = strdup(w)) == NULL)
				return "out of memory";
			break;
		case C_PORTS:
			if ((e = config_grow((char *)c + k->off, np,
				 sizeof(struct portrange))) == NULL)
				return "out of memory";
			if ((why = config_port(w, e)) != NULL)
				return why;
			break;
		default: /* C_NETS, C_ADDRS */
			if ((e = config_grow((char *)c + k->off, np,
				 sizeof(struct netmatch))) == NULL)
				return "out of memory";
			if ((why = config_net(w, e, k->type == C_NETS)) != NULL)
				return why;
			break;
		}
	}
	return NULL;
}

/* Empties a list key, so that a file's first line replaces the default. */
static void
config_clear(struct config *c, const struct ckey *k)
{
	size_t *np = (size_t *)((char *)c + k->noff), i;
	char **words;
	struct netmatch *m;

	switch (k->type) {
	case C_STR:
	case C_CERTFILE:
		free(*(char **)((char *)c + k->off));
		*(char **)((char *)c + k->off) = NULL;
		return;
	case C_WORDS:
		words = *(char ***)((char *)c + k->off);
		for (i = 0; i < *np; i++)
			free(words[i]);
		break;
	case C_NETS:
	case C_ADDRS:
		m = *(struct netmatch **)((char *)c + k->off);
		for (i = 0; i < *np; i++)
			free(m[i].pattern);
		break;
	case C_PORTS:
		break;
	default:
		return;
	}
	free(*(void **)((char *)c + k->off));
	*(void **)((char *)c + k->off) = NULL;
	*np = 0;
}

/* "host:port". */
static const char *
config_hostport(const char *v)
{
	const char *colon;
	long port;

	if ((colon = strrchr(v, ':')) == NULL || colon == v ||
	    config_long(colon + 1, 1, 65535, &port) != NULL)
		return "expected host:port";
	return NULL;
}

/* "unix:/path" or "host:port". */
static const char *
config_redis_addr(const char *v)
{
	if (strncmp(v, "unix:", 5) == 0)
		return v[5] == '/' ? NULL : "expected unix:/absolute/path";
	if (config_hostport(v) != NULL)
		return "expected unix:/path or host:port";
	return NULL;
}

/*
 * "name:port" of an authority ("name", "name:port", "[v6]:port") into
 * buf, with port 443 when it names none. 0, or -1 when too long.
 */
static int
config_https_authority(const char *a, size_t n, char *buf, size_t size)
{
	const char *end = a + n, *colon;
	int r;

	colon = *a == '[' ? memchr(a, ']', n) : a;
	if (colon != NULL)
		colon = memchr(colon, ':', (size_t)(end - colon));
	if (colon != NULL)
		r = snprintf(buf, size, "%.*s", (int)n, a);
	else
		r = snprintf(buf, size, "%.*s:443", (int)n, a);
	return r < 0 || (size_t)r >= size ? -1 : 0;
}

int
config_https_host(const struct config *cf, const char *host)
{
	char want[300], have[300];
	const char *a;
	size_t i;

	if (config_https_authority(host, strlen(host), want, sizeof(want)) ==
	    -1)
		return 0;
	for (i = 0; i < cf->nresponders; i++) {
		if (strncmp(cf->responders[i].url, "https://", 8) != 0)
			continue;
		a = cf->responders[i].url + 8;
		if (config_https_authority(a, strcspn(a, "/?#"), have,
			sizeof(have)) == 0 &&
		    strcasecmp(want, have) == 0)
			return 1;
	}
	return 0;
}

static const char *
config_redis(const struct config *c)
{
	return config_redis_addr(c->redis);
}

static const char *
config_replica(const struct config *c)
{
	return config_redis_addr(c->redis_replica);
}

static const char *
config_sentinels(const struct config *c)
{
	size_t i;

	if (c->nsentinels == 0)
		return "expected one or more host:port";
	if (c->nsentinels > CONFIG_MAX_SENTINELS)
		return "more Sentinels than 16";
	for (i = 0; i < c->nsentinels; i++)
		if (config_hostport(c->sentinels[i]) != NULL)
			return "expected host:port of each Sentinel";
	return NULL;
}

/* Values whose shape their type does not say, checked once set. */
static const struct {
	size_t off;
	const char *(*check)(const struct config *);
} cchecks[] = {
    {offsetof(struct config, redis), config_redis},
    {offsetof(struct config, redis_replica), config_replica},
    {offsetof(struct config, sentinels), config_sentinels},
};

static const char *
config_check(const struct config *c, const struct ckey *k)
{
	size_t i;

	for (i = 0; i < sizeof(cchecks) / sizeof(cchecks[0]); i++)
		if (cchecks[i].off == k->off)
			return cchecks[i].check(c);
	return NULL;
}

/* Keys that need one another: NULL, or why the file is refused. */
static const char *
config_pairs(const struct config *c)
{
	if (c->nsentinels > 0 && c->sentinel_master == NULL)
		return "key 'sentinel' needs 'sentinel_master' (the name "
		       "the Sentinels monitor)";
	if (c->sentinel_master != NULL && c->nsentinels == 0)
		return "key 'sentinel_master' needs 'sentinel'";
	if (c->sentinel_password != NULL && c->nsentinels == 0)
		return "key 'sentinel_password' needs 'sentinel'";
	if (c->redis_user != NULL && c->redis_password == NULL)
		return "key 'redis_user' needs 'redis_password'";
	return NULL;
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
	char buf[256];
	const char *why;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("config: calloc");
		return NULL;
	}
	for (i = 0; i < NKEYS; i++) {
		if (ckeys[i].def == NULL)
			continue;
		snprintf(buf, sizeof(buf), "%s", ckeys[i].def);
		if ((why = config_set(c, &ckeys[i], buf)) != NULL) {
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
	char *line = NULL, *key, *val, *p, seen[NKEYS];
	const char *why;
	size_t cap = 0;
	long lineno = 0;

	if ((c = config_defaults()) == NULL)
		return NULL;
	if (path == NULL)
		return c;
	memset(seen, 0, sizeof(seen));
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
		if (!seen[k - ckeys]) {
			seen[k - ckeys] = 1;
			config_clear(c, k);
		}
		if ((why = config_set(c, k, val)) != NULL ||
		    (why = config_check(c, k)) != NULL) {
			log_warnx("config %s:%ld: key '%s': bad value '%s': %s",
			    path, lineno, key, val, why);
			goto fail;
		}
	}
	if (ferror(fp)) {
		log_warn("config %s:%ld: read", path, lineno);
		goto fail;
	}
	if ((why = config_pairs(c)) != NULL) {
		log_warnx("config %s: %s", path, why);
		goto fail;
	}
	if (c->upstream_connect_timeout > c->upstream_timeout)
		c->upstream_connect_timeout = c->upstream_timeout;
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
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		config_clear(c, &ckeys[i]);
	for (i = 0; i < c->nresponders; i++) {
		X509_free(c->responders[i].issuer);
		free(c->responders[i].url);
	}
	free(c->responders);
	sk_X509_pop_free(c->issuers, X509_free);
	free(c);
}

static int
config_match_one(const struct netmatch *m, int family, const unsigned char *a)
{
	int bytes = m->bits / 8, rest = m->bits % 8;

	if (m->pattern != NULL || m->family != family)
		return 0;
	if (memcmp(m->addr, a, (size_t)bytes) != 0)
		return 0;
	return rest == 0 ||
	    ((m->addr[bytes] ^ a[bytes]) & (0xff << (8 - rest))) == 0;
}

int
config_match_addr(const struct netmatch *m, size_t n, int family,
    const void *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (config_match_one(&m[i], family, addr))
			return 1;
	return 0;
}

int
config_match_text(const struct netmatch *m, size_t n, const char *text)
{
	unsigned char a[16];

	if (text == NULL)
		return 0;
	if (inet_pton(AF_INET, text, a) == 1)
		return config_match_addr(m, n, AF_INET, a);
	if (inet_pton(AF_INET6, text, a) == 1)
		return config_match_addr(m, n, AF_INET6, a);
	return 0;
}

int
config_match_host(const struct netmatch *m, size_t n, const char *host,
    int exact)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].pattern != NULL &&
		    (!exact ||
			strcspn(m[i].pattern, "*?") == strlen(m[i].pattern)) &&
		    fnmatch(m[i].pattern, host, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}
