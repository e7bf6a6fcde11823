/* admin.c: the operator command's actions. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "admin.h"
#include "cache.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "ocsp.h"
#include "refresh.h"
#include "store.h"
#include "upstream.h"

/*
 * One certificate (with its issuer) or one cache key to act on. A leaf
 * given alone whose issuer was found in no file nor the config has the
 * key of the one cached entry for it (issuer and req NULL), or none ("":
 * nothing cached for it).
 */
struct target {
	char *name; /* the file, or the key as given */
	char key[OCSP_KEYLEN];
	X509 *leaf, *issuer; /* NULL for a key; issuer NULL for a leaf alone */
	struct ocsp_req *req; /* NULL for a key or a leaf alone */
};

struct targets {
	struct target *v;
	size_t n;
};

struct admin {
	struct config *cf;
	const struct admin_opts *o;
	struct cache *cache;
	struct upstream *up;
};

long
admin_duration(const char *s)
{
	char *end;
	long v, mul = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > 100L * 365 * 86400 / mul)
		return -1;
	return v * mul;
}

static int
admin_open(struct admin *a, struct config *cf, const struct admin_opts *o,
    int fetch)
{
	memset(a, 0, sizeof(*a));
	a->cf = cf;
	a->o = o;
	if ((a->cache = cache_new(cf)) == NULL)
		return -1;
	if (fetch && (a->up = upstream_new(cf)) == NULL)
		return -1;
	return 0;
}

static void
admin_close(struct admin *a)
{
	cache_free(a->cache);
	upstream_free(a->up);
}

static int targets_load(const struct config *, struct cache *, int, char **,
    struct targets *);
static void targets_free(struct targets *);

/*
 * Connects and resolves the arguments (with leaf_alone, a leaf without
 * its issuer may be found by its cached entry); 0, or 2 after a message.
 */
static int
admin_begin(struct admin *a, struct targets *t, struct config *cf,
    const struct admin_opts *o, int fetch, int leaf_alone, int argc,
    char **argv)
{
	memset(t, 0, sizeof(*t));
	if (admin_open(a, cf, o, fetch) == -1 ||
	    targets_load(cf, leaf_alone ? a->cache : NULL, argc, argv, t) ==
		-1) {
		admin_close(a);
		targets_free(t);
		return 2;
	}
	return 0;
}

static void
admin_end(struct admin *a, struct targets *t)
{
	admin_close(a);
	targets_free(t);
}

static void
targets_free(struct targets *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		X509_free(t->v[i].leaf);
		X509_free(t->v[i].issuer);
		ocsp_req_free(t->v[i].req);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static struct target *
targets_add(struct targets *t, const char *name)
{
	struct target *v;

	if ((v = reallocarray(t->v, t->n + 1, sizeof(*v))) == NULL) {
		log_warn("%s", name);
		return NULL;
	}
	t->v = v;
	v = &t->v[t->n];
	memset(v, 0, sizeof(*v));
	if ((v->name = strdup(name)) == NULL) {
		log_warn("%s", name);
		return NULL;
	}
	t->n++;
	return v;
}

/* The issuer of leaf: next in its own file, else anywhere in pool. */
static X509 *
find_issuer(X509 *leaf, STACK_OF(X509) * own, STACK_OF(X509) * pool)
{
	int i;

	for (i = 1; i < sk_X509_num(own); i++)
		if (X509_check_issued(sk_X509_value(own, i), leaf) == X509_V_OK)
			return sk_X509_value(own, i);
	for (i = 0; i < sk_X509_num(pool); i++)
		if (sk_X509_value(pool, i) != leaf &&
		    X509_check_issued(sk_X509_value(pool, i), leaf) ==
			X509_V_OK)
			return sk_X509_value(pool, i);
	return NULL;
}

/*
 * The issuer of leaf among the configured ones (issuer, issuer_dir,
 * responder): one whose name and key identifier fit and whose key
 * verifies the leaf's signature. Borrowed, or NULL.
 */
static X509 *
configured_issuer(const struct config *cf, X509 *leaf)
{
	X509 *c;
	int i;

	for (i = 0; i < sk_X509_num(cf->issuers); i++) {
		c = sk_X509_value(cf->issuers, i);
		if (X509_check_issued(c, leaf) == X509_V_OK &&
		    X509_verify(leaf, X509_get0_pubkey(c)) == 1)
			return c;
	}
	ERR_clear_error();
	return NULL;
}

/*
 * 1 when the DER request of a cached entry asks about leaf: the serial
 * of its CertID is leaf's and its issuerNameHash is the hash (by the
 * CertID's own algorithm) of leaf's issuer name; else 0.
 */
static int
request_names_issuer(const char *der, size_t len, X509 *leaf)
{
	const unsigned char *p = (const unsigned char *)der;
	OCSP_REQUEST *req = NULL;
	OCSP_ONEREQ *one;
	ASN1_OCTET_STRING *nh = NULL;
	ASN1_OBJECT *alg = NULL;
	ASN1_INTEGER *serial = NULL;
	const EVP_MD *md;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	int ret = 0;

	if (len > LONG_MAX ||
	    (req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL ||
	    (one = OCSP_request_onereq_get0(req, 0)) == NULL ||
	    !OCSP_id_get0_info(&nh, &alg, NULL, &serial,
		OCSP_onereq_get0_id(one)) ||
	    nh == NULL || serial == NULL ||
	    (md = EVP_get_digestbyobj(alg)) == NULL ||
	    !X509_NAME_digest(X509_get_issuer_name(leaf), md, h, &hl))
		goto done;
	ret = ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) == 0 &&
	    (unsigned int)ASN1_STRING_length(nh) == hl &&
	    memcmp(ASN1_STRING_get0_data(nh), h, hl) == 0;
done:
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return ret;
}

/*
 * The end of every cache key of leaf, "0x<serial>" or "-0x<serial>", as
 * ocsp_req_key() writes it, into buf of OCSP_KEYLEN: from the key of a
 * request that takes the leaf for its own issuer (the issuer changes
 * only the key hash before it). 0, or -1 with err set.
 */
static int
leaf_serial(X509 *leaf, char *buf, char *err)
{
	struct ocsp_req *probe;
	char key[OCSP_KEYLEN];
	const char *p;
	int r;

	if ((probe = ocsp_req_for_cert(leaf, leaf, err)) == NULL)
		return -1;
	r = ocsp_req_key(probe, "", key, err);
	ocsp_req_free(probe);
	if (r == -1)
		return -1;
	/* The key hash is hex: the only 'x' is the serial's. */
	if ((p = strstr(key, "0x")) == NULL) {
		errfmt(err, "no serial in %s", key);
		return -1;
	}
	if (p > key && p[-1] == '-')
		p--;
	snprintf(buf, OCSP_KEYLEN, "%s", p);
	return 0;
}

/* The cached entries that ask about one leaf. */
struct serial_walk {
	struct cache *cache;
	X509 *leaf;
	char **keys;
	size_t n;
};

static int
serial_key(void *arg, const char *key)
{
	struct serial_walk *w = arg;
	struct cache_entry e;
	char **v;
	int r, ret = 0;

	if ((r = cache_get(w->cache, key, 0, &e)) == -1)
		return -1;
	if (r == 1 && e.request != NULL &&
	    request_names_issuer(e.request, e.request_len, w->leaf)) {
		if ((v = reallocarray(w->keys, w->n + 1, sizeof(*v))) == NULL ||
		    (v[w->n] = strdup(key)) == NULL) {
			if (v != NULL)
				w->keys = v;
			log_warn("%s", key);
			ret = -1;
		} else {
			w->keys = v;
			w->n++;
		}
	}
	cache_entry_clear(&e);
	return ret;
}

/*
 * A leaf given alone: its target is the one cached entry for its serial
 * whose request carries its issuer's name hash; none cached is a target
 * without a key. Several are ambiguous: listed, and -1 (nothing is done
 * then). Returns 0, or -1 after a message.
 */
static int
target_by_cache(struct cache *cache, const char *name, X509 *leaf,
    struct targets *t)
{
	struct serial_walk w = {.cache = cache, .leaf = leaf};
	struct target *tg;
	unsigned long long cursor = 0;
	char serial[OCSP_KEYLEN], err[ERRLEN], *list = NULL, *more;
	size_t i;
	int ret = -1;

	if (leaf_serial(leaf, serial, err) == -1) {
		log_warnx("%s: %s", name, err);
		return -1;
	}
	do {
		if (cache_scan_serial(cache, serial, &cursor, 500, serial_key,
			&w) == -1) {
			log_warnx(
			    "%s: no issuer certificate given or configured, "
			    "and the cache cannot be searched for it",
			    name);
			goto done;
		}
	} while (cursor != 0);
	if (w.n > 1) {
		for (i = 0; i < w.n; i++) {
			if (asprintf(&more, "%s%s%s", list ? list : "",
				list ? ", " : "", w.keys[i]) == -1) {
				log_warn("%s", name);
				goto done;
			}
			free(list);
			list = more;
		}
		log_warnx("%s: ambiguous: %zu cached entries for serial %s "
			  "carry its issuer's name: %s (give the issuer "
			  "certificate as the next file or append it)",
		    name, w.n, serial, list);
		goto done;
	}
	if ((tg = targets_add(t, name)) == NULL)
		goto done;
	X509_up_ref(leaf);
	tg->leaf = leaf;
	if (w.n == 1)
		snprintf(tg->key, OCSP_KEYLEN, "%s", w.keys[0]);
	ret = 0;
done:
	for (i = 0; i < w.n; i++)
		free(w.keys[i]);
	free(w.keys);
	free(list);
	return ret;
}

/* Appends a copy of path to the files. */
static int
files_add(char ***files, size_t *nfiles, const char *path)
{
	char **f;

	if ((f = reallocarray(*files, *nfiles + 1, sizeof(*f))) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	*files = f;
	if ((f[*nfiles] = strdup(path)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	(*nfiles)++;
	return 0;
}

static int
cert_entry(const struct dirent *de)
{
	return config_is_cert_file(de->d_name);
}

/* Appends the certificate files of a directory, in name order. */
static int
collect_dir(const char *dir, char ***files, size_t *nfiles)
{
	struct dirent **de = NULL;
	char path[4096];
	int i, n, ret = -1;

	if ((n = scandir(dir, &de, cert_entry, alphasort)) < 0) {
		log_warn("%s", dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			de[i]->d_name) >= sizeof(path)) {
			log_warnx("path too long: %s/%s", dir, de[i]->d_name);
			goto done;
		}
		if (files_add(files, nfiles, path) == -1)
			goto done;
	}
	ret = 0;
done:
	for (i = 0; i < n; i++)
		free(de[i]);
	free(de);
	return ret;
}

/* Files named directly or found in directories, and keys. */
static int
collect(const char *prefix, int argc, char **argv, char ***files,
    size_t *nfiles, struct targets *keys)
{
	struct stat sb;
	struct target *k;
	int i;

	for (i = 0; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (collect_dir(argv[i], files, nfiles) == -1)
				return -1;
		} else if (stat(argv[i], &sb) == 0) {
			if (files_add(files, nfiles, argv[i]) == -1)
				return -1;
		} else if (cache_is_entry_key(prefix, argv[i])) {
			if ((k = targets_add(keys, argv[i])) == NULL)
				return -1;
			snprintf(k->key, OCSP_KEYLEN, "%s", argv[i]);
		} else {
			log_warnx("%s: neither a file, a directory nor a "
				  "cache key (%s...)",
			    argv[i], prefix);
			return -1;
		}
	}
	return 0;
}

/*
 * Resolves the arguments into targets: the first certificate of each
 * file that is not a CA certificate, with its issuer from the rest of
 * its file, from the other files or from the config's issuers, else
 * (with cache) by its cached entry (target_by_cache()); and cache keys
 * as given. Returns 0, or -1 after a message.
 */
static int
targets_load(const struct config *cf, struct cache *cache, int argc,
    char **argv, struct targets *t)
{
	STACK_OF(X509) **certs = NULL, *pool = NULL;
	struct target *tg;
	char **files = NULL, err[ERRLEN];
	size_t nfiles = 0, i;
	X509 *leaf, *issuer;
	int j, ret = -1;

	memset(t, 0, sizeof(*t));
	if (collect(cf->prefix, argc, argv, &files, &nfiles, t) == -1)
		goto done;
	if ((pool = sk_X509_new_null()) == NULL ||
	    (certs = calloc(nfiles + 1, sizeof(*certs))) == NULL)
		goto done;
	for (i = 0; i < nfiles; i++) {
		if (config_read_certs(&certs[i], files[i], err) == -1) {
			log_warnx("%s: %s", files[i], err);
			goto done;
		}
		for (j = 0; j < sk_X509_num(certs[i]); j++)
			if (!sk_X509_push(pool, sk_X509_value(certs[i], j)))
				goto done;
	}
	for (i = 0; i < nfiles; i++) {
		leaf = sk_X509_value(certs[i], 0);
		if (X509_check_ca(leaf) != 0 && nfiles > 1)
			continue; /* an issuer given beside its leaves */
		if ((issuer = find_issuer(leaf, certs[i], pool)) == NULL &&
		    (issuer = configured_issuer(cf, leaf)) == NULL) {
			if (cache != NULL) {
				if (target_by_cache(cache, files[i], leaf, t) ==
				    -1)
					goto done;
				continue;
			}
			log_warnx("%s: no issuer certificate (give it as the "
				  "next file or append it, or configure it: "
				  "issuer, issuer_dir)",
			    files[i]);
			goto done;
		}
		if ((tg = targets_add(t, files[i])) == NULL)
			goto done;
		X509_up_ref(leaf);
		X509_up_ref(issuer);
		tg->leaf = leaf;
		tg->issuer = issuer;
		if ((tg->req = ocsp_req_for_cert(leaf, issuer, err)) == NULL ||
		    ocsp_req_key(tg->req, cf->prefix, tg->key, err) == -1) {
			log_warnx("%s: %s", files[i], err);
			goto done;
		}
	}
	ret = 0;
done:
	for (i = 0; i < nfiles; i++) {
		if (certs != NULL)
			sk_X509_pop_free(certs[i], X509_free);
		free(files[i]);
	}
	free(certs);
	free(files);
	sk_X509_free(pool);
	if (ret == -1)
		targets_free(t);
	return ret;
}

static void
progress(const struct admin *a, size_t done, size_t total)
{
	if (!a->o->progress || total < 2)
		return;
	fprintf(stderr, "\r%zu/%zu", done, total);
	if (done == total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static void
iso_time(time_t t, char *buf)
{
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, 32, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "3h12m", "2d4h", "45s". */
static void
human_span(long long s, char *buf)
{
	const char *sign = s < 0 ? "-" : "";

	if (s < 0)
		s = -s;
	if (s < 60)
		snprintf(buf, 32, "%s%llds", sign, s);
	else if (s < 3600)
		snprintf(buf, 32, "%s%lldm%llds", sign, s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, 32, "%s%lldh%lldm", sign, s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, 32, "%s%lldd%lldh", sign, s / 86400,
		    s % 86400 / 3600);
}

/* Writes s as a JSON string. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* A member of a JSON object: a string, or a number when str is NULL. */
struct json_field {
	const char *name;
	const char *str;
	long long num;
};

/* Writes the n fields as one JSON object on a line of its own. */
static void
json_line(const struct json_field *f, size_t n)
{
	size_t i;

	putchar('{');
	for (i = 0; i < n; i++) {
		printf("%s\"%s\":", i > 0 ? "," : "", f[i].name);
		if (f[i].str != NULL)
			json_str(f[i].str);
		else
			printf("%lld", f[i].num);
	}
	printf("}\n");
}

#define NFIELDS(f) (sizeof(f) / sizeof((f)[0]))

/* Prints one line of outcome for a fetch. */
static void
report(const struct admin *a, const char *name, const char *key,
    const char *status, time_t nextupd, const char *what)
{
	const struct json_field f[] = {
	    {"name", name, 0},
	    {"key", key, 0},
	    {"status", status != NULL ? status : "", 0},
	    {"nextupd", NULL, (long long)nextupd},
	    {"result", what, 0},
	};
	char next[32];

	if (a->o->format == ADMIN_JSON) {
		json_line(f, NFIELDS(f));
		return;
	}
	iso_time(nextupd, next);
	printf("%s\t%s\t%s\t%s\t%s\n", name, key, status ? status : "-", next,
	    what);
}

/*
 * Fetches req from responder and stores it as ocspxy-fcgi would. Returns
 * 0, or -1 (reported, and counted on the entry when it exists).
 */
static int
admin_fetch(struct admin *a, const char *name, const char *key,
    const struct ocsp_req *req, const char *responder, int learn)
{
	struct store_item it = {.key = key,
	    .req = req,
	    .responder = responder,
	    .learn = learn};
	struct store_result res;
	enum store_outcome o = STORE_INVALID;
	unsigned char *resp = NULL;
	const unsigned char *der;
	char err[ERRLEN], what[ERRLEN + 32], *url;
	size_t len, rlen;
	int valid;

	if ((url = store_url(responder)) == NULL)
		return -1;
	der = ocsp_req_get0_der(req, &len);
	if (upstream_fetch(a->up, url, der, len, &resp, &rlen, err) == 0)
		o = store_response(a->cache, a->cf, &it, resp, rlen, time(NULL),
		    &res, err);
	valid = o == STORE_PASSED || o == STORE_UNVERIFIED;
	if (o == STORE_STORED) {
		report(a, name, key, ocsp_status_name(res.st.status),
		    res.st.nextupd,
		    res.st.verified ? "stored, verified" : "stored");
	} else {
		snprintf(what, sizeof(what), "%s%s",
		    valid ? "not stored: " : "failed: ", err);
		report(a, name, key,
		    valid ? ocsp_status_name(res.st.status) : NULL,
		    valid ? res.st.nextupd : 0, what);
		if (!valid)
			cache_fail(a->cache, key, time(NULL), err, 0);
	}
	free(resp);
	free(url);
	return o == STORE_STORED ? 0 : -1;
}

/* The responder of a certificate's AIA, as "host[:port][/path]" (http),
 * or "https://host[:port][/path]". */
static char *
aia_responder(const struct target *t)
{
	char *url, *s;

	if ((url = ocsp_cert_responder(t->leaf)) == NULL) {
		log_warnx("%s: no OCSP responder in its Authority "
			  "Information Access",
		    t->name);
		return NULL;
	}
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		log_warnx("%s: responder %s is neither http:// nor https://",
		    t->name, url);
		free(url);
		return NULL;
	}
	s = strdup(strncmp(url, "http://", 7) == 0 ? url + 7 : url);
	free(url);
	if (s != NULL)
		config_strip_root(s);
	return s;
}

/* Lets warm verify what it fetches against the issuers it was given. */
static void
learn_issuer(struct config *cf, X509 *issuer)
{
	if (cf->issuers == NULL && (cf->issuers = sk_X509_new_null()) == NULL)
		return;
	if (sk_X509_find(cf->issuers, issuer) >= 0)
		return;
	if (sk_X509_push(cf->issuers, issuer))
		X509_up_ref(issuer);
}

/* Fetches a certificate's response from the responder of its AIA. */
static int
warm_one(struct admin *a, struct target *t)
{
	char *responder;
	int r;

	if (t->leaf == NULL) {
		log_warnx("%s: warm needs a certificate, not a key", t->name);
		return -1;
	}
	if (t->issuer == NULL) {
		report(a, t->name, t->key[0] ? t->key : "-", NULL, 0,
		    "failed: not cached, and no issuer certificate to fetch "
		    "it with (give it as the next file or append it)");
		return -1;
	}
	if ((responder = aia_responder(t)) == NULL)
		return -1;
	learn_issuer(a->cf, t->issuer);
	r = admin_fetch(a, t->name, t->key, t->req, responder, 1);
	free(responder);
	return r;
}

static int
prune_one(struct admin *a, struct target *t)
{
	int r;

	if (t->key[0] == '\0') { /* a leaf alone, nothing cached for it */
		printf("%s\t-\tnot cached\n", t->name);
		return 0;
	}
	r = cache_del(a->cache, t->key);
	printf("%s\t%s\t%s\n", t->name, t->key,
	    r == 1	 ? "pruned"
		: r == 0 ? "not cached"
			 : "failed");
	return r == -1 ? -1 : 0;
}

/* Fetches the entry again as the daemon would, from its stored request;
 * a certificate not cached yet as warm would. */
static int
refresh_one(struct admin *a, struct target *t)
{
	struct cache_entry e;
	struct ocsp_req *req = NULL;
	char err[ERRLEN];
	int r, ret = -1;

	memset(&e, 0, sizeof(e));
	r = t->key[0] != '\0' ? cache_get(a->cache, t->key, 0, &e) : 0;
	if (r == 1 && e.request != NULL && e.responder != NULL) {
		if ((req = ocsp_req_parse((const unsigned char *)e.request,
			 e.request_len, err)) == NULL)
			report(a, t->name, t->key, NULL, 0, err);
		else
			ret = admin_fetch(a, t->name, t->key, req, e.responder,
			    0);
	} else if (r != -1 && t->leaf != NULL)
		ret = warm_one(a, t);
	else
		report(a, t->name, t->key, NULL, 0,
		    r == -1 ? "failed: cache unavailable" : "not cached");
	ocsp_req_free(req);
	cache_entry_clear(&e);
	return ret;
}

/* A command that acts on each of its targets in turn. */
struct admin_action {
	const char *name;
	int fetch; /* asks responders */
	int leaf_alone; /* a leaf without issuer is found by its entry */
	int need; /* no target at all is a usage error */
	int (*one)(struct admin *, struct target *); /* 0, or -1 (said) */
};

/*
 * Resolves the arguments, connects and does act to each target in turn,
 * until a signal, with progress. Returns the exit status: 2 when the
 * arguments or the connection fail, else 1 when act failed on any target.
 */
static int
admin_each(const struct admin_action *act, struct config *cf,
    const struct admin_opts *o, int argc, char **argv)
{
	struct admin a;
	struct targets t;
	size_t i;
	int status = 0;

	if (admin_begin(&a, &t, cf, o, act->fetch, act->leaf_alone, argc,
		argv) != 0)
		return 2;
	if (act->need && t.n == 0) {
		log_warnx("%s: no certificate", act->name);
		admin_end(&a, &t);
		return 2;
	}
	for (i = 0; i < t.n && !*o->stop; i++) {
		if (act->one(&a, &t.v[i]) == -1)
			status = 1;
		progress(&a, i + 1, t.n);
	}
	admin_end(&a, &t);
	return status;
}

int
admin_warm(struct config *cf, const struct admin_opts *o, int argc, char **argv)
{
	static const struct admin_action warm = {"warm", 1, 0, 1, warm_one};

	return admin_each(&warm, cf, o, argc, argv);
}

int
admin_prune(struct config *cf, const struct admin_opts *o, int argc,
    char **argv)
{
	static const struct admin_action prune = {"prune", 0, 1, 0, prune_one};

	return admin_each(&prune, cf, o, argc, argv);
}

int
admin_refresh(struct config *cf, const struct admin_opts *o, int argc,
    char **argv)
{
	static const struct admin_action refresh = {"refresh", 1, 1, 0,
	    refresh_one};

	return admin_each(&refresh, cf, o, argc, argv);
}

struct status_walk {
	struct admin *a;
	time_t now;
	int bad; /* expired or expiring within warn */
	long rows;
};

static void
status_header(const struct admin *a)
{
	if (a->o->format == ADMIN_TSV)
		printf("key\tstatus\tthisupd\tnextupd\tleft\tlastchecked\t"
		       "result\tfailures\tresponder\n");
	else if (a->o->format == ADMIN_HUMAN)
		printf("%-60s %-8s %-20s %-20s %-9s %-9s %-8s %s\n", "KEY",
		    "STATUS", "THIS UPDATE", "NEXT UPDATE", "LEFT", "CHECKED",
		    "FAILURES", "RESPONDER / LAST ERROR");
}

static void
status_json(const char *key, const struct cache_entry *e, const char *status,
    const char *result, long long left)
{
	const struct json_field f[] = {
	    {"key", key, 0},
	    {"status", status, 0},
	    {"thisupd", NULL, (long long)e->thisupd},
	    {"nextupd", NULL, (long long)e->nextupd},
	    {"left", NULL, left},
	    {"lastchecked", NULL, (long long)e->lastchecked},
	    {"result", result, 0},
	    {"failures", NULL, e->failures},
	    {"responder", e->responder != NULL ? e->responder : "", 0},
	};

	json_line(f, NFIELDS(f));
}

static void
status_row(struct status_walk *w, const char *key, const struct cache_entry *e)
{
	const struct admin_opts *o = w->a->o;
	char tu[32], nu[32], lc[32], left[32], ago[32];
	const char *status = e->status ? e->status : "-";
	const char *result =
	    e->failures > 0 && e->lasterror != NULL ? e->lasterror : "ok";
	const char *col = "";
	long long l = (long long)(e->nextupd - w->now);

	if (e->nextupd <= w->now || l < o->warn)
		w->bad = 1;
	w->rows++;
	if (o->format == ADMIN_JSON) {
		status_json(key, e, status, result, l);
		return;
	}
	iso_time(e->thisupd, tu);
	iso_time(e->nextupd, nu);
	if (o->format == ADMIN_TSV) {
		iso_time(e->lastchecked, lc);
		printf("%s\t%s\t%s\t%s\t%lld\t%s\t%s\t%ld\t%s\n", key, status,
		    tu, nu, l, lc, result, e->failures,
		    e->responder ? e->responder : "-");
		return;
	}
	human_span(l, left);
	if (e->lastchecked > 0) {
		human_span((long long)(w->now - e->lastchecked), ago);
		strncat(ago, " ago", sizeof(ago) - strlen(ago) - 1);
	} else
		snprintf(ago, sizeof(ago), "never");
	if (o->color)
		col = e->nextupd <= w->now || strcmp(status, "revoked") == 0
		    ? "\033[31m"
		    : l < o->warn || e->failures > 0 ? "\033[33m"
						     : "\033[32m";
	printf("%-60s %s%-8s%s %-20s %-20s %s%-9s%s %-9s %-8ld %s%s%s\n", key,
	    col, status, o->color ? "\033[0m" : "", tu, nu, col,
	    e->nextupd <= w->now ? "expired" : left, o->color ? "\033[0m" : "",
	    ago, e->failures, e->responder ? e->responder : "-",
	    e->failures > 0 ? " / " : "", e->failures > 0 ? result : "");
}

static int
status_key(void *arg, const char *key)
{
	struct status_walk *w = arg;
	struct cache_entry e;
	int r;

	if ((r = cache_get(w->a->cache, key, 0, &e)) == -1)
		return -1;
	if (r == 1)
		status_row(w, key, &e);
	cache_entry_clear(&e);
	return 0;
}

/* One line of `ocspxy status` for a responder held off. */
static void
status_breaker(void *arg, const char *host, long long until_ms)
{
	time_t now = *(const time_t *)arg, until = (time_t)(until_ms / 1000);
	char when[32], left[32];

	iso_time(until, when);
	if (until > now) {
		human_span(until - now, left);
		printf("responder %s held off (circuit open) until %s, %s "
		       "from now\n",
		    host, when, left);
	} else
		printf("responder %s held off until a trial fetch answers "
		       "(since %s)\n",
		    host, when);
}

static void
status_summary(struct admin *a, time_t now)
{
	struct cache_stats st;
	char ago[32], master[700];
	long long t;

	if (a->o->format != ADMIN_HUMAN ||
	    cache_stats(a->cache, now, &st) == -1)
		return;
	if (cache_master(a->cache, master, sizeof(master)) != NULL)
		printf("redis: %s\n", master);
	cache_breakers(a->cache, (long long)now * 1000, status_breaker, &now);
	if ((t = cache_stat(&st, metrics[M_LAST_TIME].field)) > 0) {
		human_span(now - t, ago);
		printf("last refresh pass %s ago: %lld due, %lld refreshed, "
		       "%lld failed\n",
		    ago, cache_stat(&st, metrics[M_LAST_DUE].field),
		    cache_stat(&st, metrics[M_LAST_REFRESHED].field),
		    cache_stat(&st, metrics[M_LAST_FAILED].field));
	} else
		printf("no refresh pass recorded\n");
	cache_stats_clear(&st);
}

int
admin_status(struct config *cf, const struct admin_opts *o, int argc,
    char **argv)
{
	struct status_walk w;
	struct admin a;
	struct targets t;
	unsigned long long cursor = 0;
	size_t i;
	int failed = 0;

	if (admin_begin(&a, &t, cf, o, 0, 1, argc, argv) != 0)
		return 2;
	memset(&w, 0, sizeof(w));
	w.a = &a;
	w.now = time(NULL);
	status_header(&a);
	if (argc == 0) {
		do {
			if (cache_scan(a.cache, &cursor, 500, status_key, &w) ==
			    -1) {
				failed = 1;
				break;
			}
		} while (cursor != 0 && !*o->stop);
	}
	for (i = 0; i < t.n; i++) {
		if (t.v[i].key[0] != '\0' && status_key(&w, t.v[i].key) == -1)
			failed = 1;
	}
	if (argc > 0 && w.rows == 0) {
		log_warnx("status: not cached");
		w.bad = 1;
	}
	status_summary(&a, w.now);
	admin_end(&a, &t);
	if (failed) {
		log_warnx("status: cache unavailable");
		return 2;
	}
	return w.bad ? 1 : 0;
}

/* Writes data to dir/name through a temporary file and rename(2),
 * unless the file already holds it. 1 written, 0 unchanged, -1. */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096], tmp[4096], *old = NULL;
	struct stat sb;
	FILE *fp;
	int fd, same = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &sb) == 0 && (size_t)sb.st_size == len &&
	    (fp = fopen(path, "rb")) != NULL) {
		if ((old = malloc(len + 1)) != NULL &&
		    fread(old, 1, len, fp) == len &&
		    memcmp(old, data, len) == 0)
			same = 1;
		free(old);
		fclose(fp);
		if (same)
			return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	if ((fd = mkstemp(tmp)) == -1) {
		log_warn("%s", tmp);
		return -1;
	}
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, 0644) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		log_warn("%s", path);
		unlink(tmp);
		return -1;
	}
	return 1;
}

struct export_walk {
	struct admin *a;
	const char *dir;
	long written, failed;
	size_t seen, total; /* for the progress of a whole export */
};

/* Exports the response under key as dir/name when it is valid. */
static int
export_one(struct export_walk *w, const char *key, const char *name)
{
	struct cache_entry e;
	char file[OCSP_KEYLEN + 16];
	int r;

	if ((r = cache_get(w->a->cache, key, 0, &e)) == -1)
		return -1;
	if (r == 1 && e.response != NULL && e.nextupd > time(NULL)) {
		snprintf(file, sizeof(file), "%s.ocsp", name);
		switch (
		    write_atomic(w->dir, file, e.response, e.response_len)) {
		case 1:
			w->written++;
			if (w->a->o->format != ADMIN_HUMAN || !w->a->o->watch)
				break;
			printf("%s\t%s/%s\n", key, w->dir, file);
			fflush(stdout);
			break;
		case -1:
			w->failed++;
		}
	}
	cache_entry_clear(&e);
	return 0;
}

static int
export_key(void *arg, const char *key)
{
	struct export_walk *w = arg;

	/* The index may lag behind SCAN: never show more than all. */
	if (++w->seen > w->total)
		w->total = w->seen;
	if (w->seen % 64 == 0)
		progress(w->a, w->seen, w->total + 1);
	return export_one(w, key, key);
}

/*
 * export --haproxy SOCKET: the valid cached response of every certificate
 * HAProxy staples for, sent once over its runtime API (what the refresh
 * daemon does at start with haproxy_socket).
 */
static int
export_haproxy(struct config *cf, const struct admin_opts *o, int argc)
{
	struct refresh_push_stats st;
	int r;

	if (argc > 0 || o->watch) {
		log_warnx("export --haproxy takes no directory, certificate "
			  "or --watch (ocspxy-refresh with haproxy_socket "
			  "keeps HAProxy current)");
		return 2;
	}
	if ((r = refresh_haproxy(cf, o->haproxy, &st)) == -1)
		return 1;
	printf("sent %ld of %ld responses to haproxy %s\n", st.pushed,
	    st.listed, o->haproxy);
	return r;
}

int
admin_export(struct config *cf, const struct admin_opts *o, int argc,
    char **argv)
{
	struct export_walk w;
	struct cache_stats st;
	struct admin a;
	struct targets t;
	struct timespec ts = {0, 200 * 1000 * 1000};
	unsigned long long cursor;
	const char *base;
	time_t next;
	size_t i;
	int status = 0;

	if (o->haproxy != NULL)
		return export_haproxy(cf, o, argc);
	if (argc < 1) {
		log_warnx("export: no directory");
		return 2;
	}
	if (admin_begin(&a, &t, cf, o, 0, 1, argc - 1, argv + 1) != 0)
		return 2;
	memset(&w, 0, sizeof(w));
	w.a = &a;
	w.dir = argv[0];
	do {
		w.written = w.failed = 0;
		cursor = 0;
		if (t.n == 0) {
			w.seen = w.total = 0;
			if (o->progress &&
			    cache_stats(a.cache, time(NULL), &st) == 0) {
				w.total = (size_t)st.entries;
				cache_stats_clear(&st);
			}
			do {
				if (cache_scan(a.cache, &cursor, 500,
					export_key, &w) == -1)
					w.failed++;
			} while (cursor != 0 && w.failed == 0 && !*o->stop);
			progress(&a, w.seen, w.seen);
		}
		for (i = 0; i < t.n; i++) {
			/* Named by the certificate's file, as HAProxy wants. */
			base = strrchr(t.v[i].name, '/');
			base = base != NULL ? base + 1 : t.v[i].name;
			if (t.v[i].key[0] != '\0' &&
			    export_one(&w, t.v[i].key, base) == -1)
				w.failed++;
			progress(&a, i + 1, t.n);
		}
		if (!o->watch)
			printf("exported %ld responses to %s%s\n", w.written,
			    w.dir, w.failed ? ", some failed" : "");
		status = w.failed ? 1 : 0;
		for (next = time(NULL) + o->interval;
		     o->watch && !*o->stop && time(NULL) < next;)
			nanosleep(&ts, NULL);
	} while (o->watch && !*o->stop);
	admin_end(&a, &t);
	return status;
}
