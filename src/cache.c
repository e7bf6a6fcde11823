/* cache.c: the Redis cache (hiredis). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "ocsp.h"

/* Read and renew in one round trip; ARGV: ttl (0: no renewal), below. */
static const char get_lua[] =
    "local v = redis.call('HMGET', KEYS[1], 'response', 'thisupd',"
    " 'nextupd', 'status', 'request', 'ocsp_responder', 'lastchecked',"
    " 'failures', 'lasttry')\n"
    "if v[1] and ARGV[1] ~= '0' then\n"
    "  local t = redis.call('TTL', KEYS[1])\n"
    "  if t >= 0 and t < tonumber(ARGV[2]) then\n"
    "    redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "  end\n"
    "end\n"
    "return v\n";
enum { F_RESPONSE, F_THISUPD, F_NEXTUPD, F_STATUS, F_REQUEST, F_RESPONDER,
    F_LASTCHECKED, F_FAILURES, F_LASTTRY, F_COUNT };

/*
 * Never replace a newer response. KEYS: the entry, the issuer's learned
 * responder; ARGV: ttl, thisupd, responder to learn or "", field/value...
 */
static const char put_lua[] =
    "local old = tonumber(redis.call('HGET', KEYS[1], 'thisupd'))\n"
    "if old and old > tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "if ARGV[3] ~= '' then\n"
    "  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[1])\n"
    "end\n"
    "return 1\n";

/* A failed refresh touches only its own fields; ARGV: now, why. */
static const char fail_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HINCRBY', KEYS[1], 'failures', 1)\n"
    "redis.call('HSET', KEYS[1], 'lasttry', ARGV[1], 'lasterror', ARGV[2])\n"
    "return 1\n";

static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

struct script {
	const char	*body;
	char		 sha[41];
};

enum { S_GET, S_PUT, S_FAIL, S_UNLOCK, S_COUNT };

struct cache {
	redisContext	*ctx;
	char		*addr;
	char		*prefix;
	long		 timeout_ms;
	long		 ttl;
	int		 down;		/* an outage was logged */
	time_t		 retry_at;	/* no reconnect before */
	char		 token[33];	/* our lock value */
	struct script	 scripts[S_COUNT];
};

static int
script_init(struct script *s, const char *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;

	s->body = body;
	if (!EVP_Digest(body, strlen(body), md, &len, EVP_sha1(), NULL))
		return -1;
	ocsp_hex(md, len, s->sha);
	return 0;
}

struct cache *
cache_new(const struct config *cf)
{
	struct cache *c;
	unsigned char rnd[16];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("cache: calloc");
		return NULL;
	}
	if ((c->addr = strdup(cf->redis)) == NULL ||
	    (c->prefix = strdup(cf->prefix)) == NULL) {
		log_warn("cache: strdup");
		goto fail;
	}
	c->timeout_ms = cf->redis_timeout_ms;
	c->ttl = cf->entry_ttl;
	if (script_init(&c->scripts[S_GET], get_lua) == -1 ||
	    script_init(&c->scripts[S_PUT], put_lua) == -1 ||
	    script_init(&c->scripts[S_FAIL], fail_lua) == -1 ||
	    script_init(&c->scripts[S_UNLOCK], unlock_lua) == -1 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_warnx("cache: OpenSSL digest or random bytes failed");
		goto fail;
	}
	ocsp_hex(rnd, sizeof(rnd), c->token);
	return c;
fail:
	cache_free(c);
	return NULL;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	if (c->ctx != NULL)
		redisFree(c->ctx);
	free(c->addr);
	free(c->prefix);
	free(c);
}

int
cache_up(const struct cache *c)
{
	return !c->down;
}

/* Marks an outage: logs the first failure only, retries after a second. */
static void
cache_broken(struct cache *c, const char *what, const char *reason)
{
	char why[128];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	c->retry_at = time(NULL) + 1;
	if (c->down)
		return;
	c->down = 1;
	log_warnx("redis %s: %s failed: %s (going on without the cache; "
	    "logged once until it is back)", c->addr, what, why);
}

static redisContext *
cache_conn(struct cache *c)
{
	struct timeval tv;
	redisContext *ctx;
	char *host = NULL, *colon;
	long port;

	if (c->ctx != NULL)
		return c->ctx;
	if (c->down && time(NULL) < c->retry_at)
		return NULL;
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	if (strncmp(c->addr, "unix:", 5) == 0)
		ctx = redisConnectUnixWithTimeout(c->addr + 5, tv);
	else {
		if ((host = strdup(c->addr)) == NULL ||
		    (colon = strrchr(host, ':')) == NULL) {
			free(host);
			cache_broken(c, "connect", "address is not host:port");
			return NULL;
		}
		*colon = '\0';
		port = strtol(colon + 1, NULL, 10);
		ctx = redisConnectWithTimeout(host, (int)port, tv);
		free(host);
	}
	if (ctx == NULL || ctx->err) {
		cache_broken(c, "connect", ctx ? ctx->errstr : "out of memory");
		if (ctx != NULL)
			redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		cache_broken(c, "set timeout", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	c->ctx = ctx;
	if (c->down) {
		c->down = 0;
		log_info("redis %s: reachable again", c->addr);
	}
	return ctx;
}

/*
 * Runs one command. Returns the reply (the caller frees it), or NULL
 * after logging: an I/O failure as an outage, an error reply with key.
 */
static redisReply *
cache_cmd(struct cache *c, const char *key, int argc, const char **argv,
    const size_t *lens)
{
	redisContext *ctx;
	redisReply *r;

	if ((ctx = cache_conn(c)) == NULL)
		return NULL;
	if ((r = redisCommandArgv(ctx, argc, argv, lens)) == NULL) {
		cache_broken(c, argv[0], ctx->errstr[0] ? ctx->errstr :
		    "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) != 0) {
		log_warnx("redis %s: %s %s: %s", c->addr, argv[0],
		    key ? key : "", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/*
 * EVALSHA over key (and key2 when not NULL), loading the script with EVAL
 * when Redis does not know it.
 */
static redisReply *
cache_eval(struct cache *c, int s, const char *key, const char *key2,
    int nargs, const char **args, const size_t *lens)
{
	const char *argv[40];
	size_t alen[40];
	redisReply *r;
	int i, n = 0;

	if (nargs + 5 > 40)
		return NULL;
	argv[n] = "EVALSHA";
	alen[n++] = 7;
	argv[n] = c->scripts[s].sha;
	alen[n++] = 40;
	argv[n] = key2 ? "2" : "1";
	alen[n++] = 1;
	argv[n] = key;
	alen[n++] = strlen(key);
	if (key2 != NULL) {
		argv[n] = key2;
		alen[n++] = strlen(key2);
	}
	for (i = 0; i < nargs; i++) {
		argv[n] = args[i];
		alen[n++] = lens ? lens[i] : strlen(args[i]);
	}
	if ((r = cache_cmd(c, key, n, argv, alen)) == NULL)
		return NULL;
	if (r->type != REDIS_REPLY_ERROR)
		return r;
	freeReplyObject(r);
	argv[0] = "EVAL";
	alen[0] = 4;
	argv[1] = c->scripts[s].body;
	alen[1] = strlen(argv[1]);
	if ((r = cache_cmd(c, key, n, argv, alen)) == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		log_warnx("redis %s: EVAL %s: %s", c->addr, key, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static time_t
reply_time(const redisReply *r)
{
	char *end;
	long long v;

	if (r->type != REDIS_REPLY_STRING || r->len == 0)
		return 0;
	errno = 0;
	v = strtoll(r->str, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return 0;
	return (time_t)v;
}

static const char *
reply_str(const redisReply *r, size_t *len)
{
	if (r->type != REDIS_REPLY_STRING)
		return NULL;
	if (len != NULL)
		*len = r->len;
	return r->str;
}

int
cache_get(struct cache *c, const char *key, int touch, struct cache_entry *e)
{
	char ttl[32], low[32];
	const char *args[2] = { ttl, low };
	redisReply *r, **f;

	memset(e, 0, sizeof(*e));
	/* Renew at most once a day (or a tenth of the lifetime). */
	snprintf(ttl, sizeof(ttl), "%ld", touch ? c->ttl : 0L);
	snprintf(low, sizeof(low), "%ld",
	    c->ttl - (c->ttl / 10 < 86400 ? c->ttl / 10 : 86400));
	if ((r = cache_eval(c, S_GET, key, NULL, 2, args, NULL)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != F_COUNT) {
		log_warnx("redis %s: read %s: unexpected reply", c->addr, key);
		freeReplyObject(r);
		return -1;
	}
	f = r->element;
	if (f[F_RESPONSE]->type != REDIS_REPLY_STRING &&
	    f[F_REQUEST]->type != REDIS_REPLY_STRING &&
	    f[F_RESPONDER]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return 0;
	}
	e->reply = r;
	e->response = reply_str(f[F_RESPONSE], &e->response_len);
	e->request = reply_str(f[F_REQUEST], &e->request_len);
	e->responder = reply_str(f[F_RESPONDER], NULL);
	e->status = reply_str(f[F_STATUS], NULL);
	e->thisupd = reply_time(f[F_THISUPD]);
	e->nextupd = reply_time(f[F_NEXTUPD]);
	e->lastchecked = reply_time(f[F_LASTCHECKED]);
	e->lasttry = reply_time(f[F_LASTTRY]);
	e->failures = (long)reply_time(f[F_FAILURES]);
	return 1;
}

void
cache_entry_clear(struct cache_entry *e)
{
	if (e->reply != NULL)
		freeReplyObject(e->reply);
	memset(e, 0, sizeof(*e));
}

int
cache_put(struct cache *c, const char *key, const struct cache_record *rec)
{
	char ttl[32], thisupd[32], nextupd[32], now[32];
	char learn[OCSP_KEYLEN + 32];
	const char *a[32];
	size_t l[32];
	redisReply *r;
	int n = 0, ret;

#define ARG(s, len) do { a[n] = (const char *)(s); l[n++] = (len); } while (0)
#define STR(s) ARG(s, strlen(s))
	snprintf(ttl, sizeof(ttl), "%ld", c->ttl);
	snprintf(thisupd, sizeof(thisupd), "%lld", (long long)rec->thisupd);
	snprintf(nextupd, sizeof(nextupd), "%lld", (long long)rec->nextupd);
	snprintf(now, sizeof(now), "%lld", (long long)rec->now);
	snprintf(learn, sizeof(learn), "%sresponder:%s", c->prefix,
	    rec->keyhash ? rec->keyhash : "");
	STR(ttl);
	STR(thisupd);
	STR(rec->keyhash ? rec->responder : "");
	STR("ocsp_responder");
	STR(rec->responder);
	STR("request");
	ARG(rec->request, rec->request_len);
	STR("response");
	ARG(rec->response, rec->response_len);
	STR("thisupd");
	STR(thisupd);
	STR("nextupd");
	STR(nextupd);
	STR("status");
	STR(rec->status);
	STR("nonce");
	STR("0");
	STR("lastchecked");
	STR(now);
	STR("lasttry");
	STR(now);
	STR("failures");
	STR("0");
	STR("lasterror");
	STR("");
#undef STR
#undef ARG
	if ((r = cache_eval(c, S_PUT, key, learn, n, a, l)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

int
cache_fail(struct cache *c, const char *key, time_t now, const char *why)
{
	char t[32];
	const char *args[2] = { t, why };
	redisReply *r;
	int ret;

	snprintf(t, sizeof(t), "%lld", (long long)now);
	if ((r = cache_eval(c, S_FAIL, key, NULL, 2, args, NULL)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

int
cache_del(struct cache *c, const char *key)
{
	const char *argv[2] = { "DEL", key };
	redisReply *r;
	int ret;

	if ((r = cache_cmd(c, key, 2, argv, NULL)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

static int
cache_lockname(const struct cache *c, const char *key, char *buf, size_t size)
{
	size_t plen = strlen(c->prefix);
	int n;

	if (strncmp(key, c->prefix, plen) == 0)
		key += plen;
	n = snprintf(buf, size, "%slock:%s", c->prefix, key);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
cache_lock(struct cache *c, const char *key, long ms)
{
	char name[OCSP_KEYLEN + 16], px[32];
	const char *argv[6] = { "SET", name, c->token, "NX", "PX", px };
	redisReply *r;
	int ret;

	if (cache_lockname(c, key, name, sizeof(name)) == -1)
		return -1;
	snprintf(px, sizeof(px), "%ld", ms);
	if ((r = cache_cmd(c, name, 6, argv, NULL)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_STATUS ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

int
cache_unlock(struct cache *c, const char *key)
{
	char name[OCSP_KEYLEN + 16];
	const char *args[1] = { c->token };
	redisReply *r;

	if (cache_lockname(c, key, name, sizeof(name)) == -1)
		return -1;
	if ((r = cache_eval(c, S_UNLOCK, name, NULL, 1, args, NULL)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
cache_responder(struct cache *c, const char *keyhash, char **responder)
{
	char name[OCSP_KEYLEN + 32];
	const char *argv[2] = { "GET", name };
	redisReply *r;
	int ret = 0;

	*responder = NULL;
	snprintf(name, sizeof(name), "%sresponder:%s", c->prefix, keyhash);
	if ((r = cache_cmd(c, name, 2, argv, NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING && r->len > 0) {
		if ((*responder = strdup(r->str)) == NULL)
			ret = -1;
		else
			ret = 1;
	}
	freeReplyObject(r);
	return ret;
}

int
cache_is_entry_key(const char *prefix, const char *key)
{
	static const char hex[] = "0123456789abcdef";
	size_t plen = strlen(prefix), n;
	const char *p;

	if (strncmp(key, prefix, plen) != 0)
		return 0;
	/* <hex key hash>[-]0x<hex serial>: 'x' or '-' ends the hex run. */
	p = key + plen;
	n = strspn(p, hex);
	if (n >= 2 && p[n] == 'x' && p[n - 1] == '0')
		p += n + 1;
	else if (n >= 1 && strncmp(p + n, "-0x", 3) == 0)
		p += n + 3;
	else
		return 0;
	return *p != '\0' && strspn(p, hex) == strlen(p);
}

int
cache_scan(struct cache *c, unsigned long long *cursor, long count,
    int (*fn)(void *, const char *), void *arg)
{
	char cur[32], cnt[32], match[160], *m = match, *end;
	const char *argv[6] = { "SCAN", cur, "MATCH", match, "COUNT", cnt };
	const char *p;
	redisReply *r;
	size_t i;
	int ret = -1;

	snprintf(cur, sizeof(cur), "%llu", *cursor);
	snprintf(cnt, sizeof(cnt), "%ld", count);
	/* The prefix is literal: escape glob characters. */
	for (p = c->prefix; *p != '\0' && m < match + sizeof(match) - 20; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			*m++ = '\\';
		*m++ = *p;
	}
	snprintf(m, (size_t)(match + sizeof(match) - m), "[0-9a-f]*0x*");
	if ((r = cache_cmd(c, NULL, 6, argv, NULL)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		log_warnx("redis %s: SCAN: unexpected reply", c->addr);
		goto done;
	}
	errno = 0;
	*cursor = strtoull(r->element[0]->str, &end, 10);
	if (errno != 0 || *end != '\0') {
		log_warnx("redis %s: SCAN: bad cursor", c->addr);
		goto done;
	}
	for (i = 0; i < r->element[1]->elements; i++) {
		const redisReply *k = r->element[1]->element[i];

		if (k->type != REDIS_REPLY_STRING ||
		    !cache_is_entry_key(c->prefix, k->str))
			continue;
		if (fn(arg, k->str) == -1)
			goto done;
	}
	ret = 0;
done:
	freeReplyObject(r);
	return ret;
}
