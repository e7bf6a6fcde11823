/* cache.c: the Redis cache (hiredis). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>

#include <hiredis.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "ocsp.h"
#include "sentinel.h"

/*
 * The fields of an entry, in the order cache_put() writes them: the Perl
 * tool's, then ours. Each is read into, and written from, one member of
 * struct cache_entry (nonce has none: we always write "0", never read it).
 * The reads take the fields whose mask has their bit, in table order,
 * those that renew a key first (see get_lua).
 */
enum field_kind {
	FIELD_BYTES, /* const char * at off, its length at len */
	FIELD_STR, /* const char * at off; NULL when absent */
	FIELD_TIME, /* time_t at off, decimal seconds; 0 when absent */
	FIELD_LONG, /* long at off, decimal; 0 when absent */
	FIELD_CONST /* no member: written as value, never read */
};
#define READ_HIT                                                               \
	0x01 /* cache_hit(): what a hit serves and what the                    \
	      * memory tier needs to write it back */
#define READ_PEEK 0x02 /* cache_peek_many(): the refresh's schedule */
#define READ_FULL 0x04 /* cache_get(), cache_batch_lock_get() */
#define FOUND 0x08 /* present: the read found an entry */
#define RENEWS 0x10 /* present: a client's miss renews the key */
#define READ_ALL (READ_HIT | READ_PEEK | READ_FULL)
enum {
	F_RESPONDER,
	F_REQUEST,
	F_RESPONSE,
	F_THISUPD,
	F_NEXTUPD,
	F_STATUS,
	F_NONCE,
	F_LASTCHECKED,
	F_LASTTRY,
	F_FAILURES,
	F_LASTERROR,
	F_ETAG,
	F_COUNT
};
struct field {
	const char *name; /* in the Redis hash */
	enum field_kind kind;
	size_t off, len; /* members of struct cache_entry */
	int mask;
	const char *value; /* FIELD_CONST */
};
#define M(m) offsetof(struct cache_entry, m)
static const struct field fields[F_COUNT] = {
    [F_RESPONDER] = {"ocsp_responder", FIELD_STR, M(responder), 0,
	READ_HIT | READ_FULL | FOUND, NULL},
    [F_REQUEST] = {"request", FIELD_BYTES, M(request), M(request_len),
	READ_HIT | READ_FULL | FOUND | RENEWS, NULL},
    [F_RESPONSE] = {"response", FIELD_BYTES, M(response), M(response_len),
	READ_HIT | READ_FULL | FOUND | RENEWS, NULL},
    [F_THISUPD] = {"thisupd", FIELD_TIME, M(thisupd), 0, READ_ALL, NULL},
    [F_NEXTUPD] = {"nextupd", FIELD_TIME, M(nextupd), 0, READ_ALL, NULL},
    [F_STATUS] = {"status", FIELD_STR, M(status), 0, READ_HIT | READ_FULL,
	NULL},
    [F_NONCE] = {"nonce", FIELD_CONST, 0, 0, 0, "0"},
    [F_LASTCHECKED] = {"lastchecked", FIELD_TIME, M(lastchecked), 0,
	READ_PEEK | READ_FULL, NULL},
    [F_LASTTRY] = {"lasttry", FIELD_TIME, M(lasttry), 0, READ_PEEK | READ_FULL,
	NULL},
    [F_FAILURES] = {"failures", FIELD_LONG, M(failures), 0,
	READ_PEEK | READ_FULL, NULL},
    [F_LASTERROR] = {"lasterror", FIELD_STR, M(lasterror), 0, READ_FULL, NULL},
    [F_ETAG] = {"etag", FIELD_STR, M(etag), 0, READ_HIT | READ_FULL, NULL},
};
#undef M

/* One read: the fields an HMGET asks for, in the order of its reply. */
struct view {
	const char *name[F_COUNT];
	const struct field *field[F_COUNT];
	size_t n;
	size_t nrenew; /* the first nrenew fields renew a key */
};

/*
 * Read in one round trip; a client's read (ARGV[1] not 0) that found no
 * servable response also counts a miss and renews the key's lifetime to
 * ARGV[1] when it ran below that. KEYS: the entry, the stats; ARGV: ttl,
 * how many of the fields renew the key (they come first), the misses
 * counter, the fields.
 */
static const char get_lua[] =
    "local v = redis.call('HMGET', KEYS[1], unpack(ARGV, 4))\n"
    "if ARGV[1] == '0' then return v end\n"
    "redis.call('HINCRBY', KEYS[2], ARGV[3], 1)\n"
    "for i = 1, tonumber(ARGV[2]) do\n"
    "  if v[i] then\n"
    "    local t = redis.call('TTL', KEYS[1])\n"
    "    if t >= 0 and t < tonumber(ARGV[1]) then\n"
    "      redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "    end\n"
    "    return v\n"
    "  end\n"
    "end\n"
    "return v\n";

/*
 * Never replace a newer response; mark that Redis holds entries. KEYS:
 * the entry, the issuer's learned responder, the nextUpdate and thisUpdate
 * indexes, the entry's lock, the mark;
 * ARGV: ttl, thisupd, nextupd, responder to learn or "", our lock token
 * to let go of or "", the thisUpdate field, field/value...
 */
static const char put_lua[] =
    "if ARGV[5] ~= '' and redis.call('GET', KEYS[5]) == ARGV[5] then\n"
    "  redis.call('DEL', KEYS[5])\n"
    "end\n"
    "local old = tonumber(redis.call('HGET', KEYS[1], ARGV[6]))\n"
    "if old and old > tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 7))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], KEYS[1])\n"
    "redis.call('ZADD', KEYS[4], ARGV[2], KEYS[1])\n"
    "redis.call('SET', KEYS[6], '1')\n"
    "if ARGV[4] ~= '' then\n"
    "  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[1])\n"
    "end\n"
    "return 1\n";

/* KEYS: the entry and the indexes. */
static const char del_lua[] = "redis.call('ZREM', KEYS[2], KEYS[1])\n"
			      "redis.call('ZREM', KEYS[3], KEYS[1])\n"
			      "return redis.call('DEL', KEYS[1])\n";

/*
 * Counters and gauges; KEYS: stats, indexes, breakers index; ARGV: now,
 * now + 1 day, now in ms.
 */
static const char stats_lua[] =
    "local o = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')\n"
    "return { redis.call('HGETALL', KEYS[1]), redis.call('ZCARD', KEYS[2]),"
    " redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1]),"
    " redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], ARGV[2]),"
    " o[2] or '0', redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[3], '+inf') }\n";

/* Drops index members whose key expired; KEYS: indexes; ARGV: cursor. */
static const char clean_lua[] =
    "local r = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', 500)\n"
    "local gone = 0\n"
    "for i = 1, #r[2], 2 do\n"
    "  if redis.call('EXISTS', r[2][i]) == 0 then\n"
    "    redis.call('ZREM', KEYS[1], r[2][i])\n"
    "    redis.call('ZREM', KEYS[2], r[2][i])\n"
    "    gone = gone + 1\n"
    "  end\n"
    "end\n"
    "return { r[1], gone }\n";

/*
 * A failed refresh touches only its own fields. KEYS: the entry, its
 * lock; ARGV: now, why, our lock token to let go of or "", the fields
 * failures, lasttry and lasterror.
 */
static const char fail_lua[] =
    "if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HINCRBY', KEYS[1], ARGV[4], 1)\n"
    "redis.call('HSET', KEYS[1], ARGV[5], ARGV[1], ARGV[6], ARGV[2])\n"
    "return 1\n";

/*
 * Takes the lock, or tells a lock held from the mark of a fetch that
 * failed since we began to wait (cache_lock_fail()); a mark older than
 * that is taken over. KEYS: the lock; ARGV: our token, milliseconds, when
 * we began to wait (ms).
 */
static const char lockwait_lua[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
    "  return 1\n"
    "end\n"
    "local v = redis.call('GET', KEYS[1])\n"
    "if v and string.sub(v, 1, 7) == 'failed:' then\n"
    "  if tonumber(string.sub(v, 8)) >= tonumber(ARGV[3]) then\n"
    "    return 2\n"
    "  end\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* Our lock becomes the mark of a failed fetch; ARGV: token, ms, mark. */
static const char lockfail_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/*
 * Stored responses came back: lastchecked (and the failure fields) only.
 * KEYS: an entry, its lock, the next entry, its lock...; ARGV: now, our
 * token or "", the fields lastchecked, lasttry, failures and lasterror.
 * Returns for each entry 1, or 0 when it is gone.
 */
static const char touch_lua[] =
    "local out = {}\n"
    "for i = 1, #KEYS, 2 do\n"
    "  if ARGV[2] ~= '' and redis.call('GET', KEYS[i + 1]) == ARGV[2] then\n"
    "    redis.call('DEL', KEYS[i + 1])\n"
    "  end\n"
    "  if redis.call('EXISTS', KEYS[i]) == 1 then\n"
    "    redis.call('HSET', KEYS[i], ARGV[3], ARGV[1], ARGV[4], ARGV[1],"
    " ARGV[5], '0', ARGV[6], '')\n"
    "    out[#out + 1] = 1\n"
    "  else\n"
    "    out[#out + 1] = 0\n"
    "  end\n"
    "end\n"
    "return out\n";

/*
 * A responder's breaker (times in ms). KEYS: its hash; ARGV: now, how
 * long a trial may take. Returns {0} closed, {1, until} open, {2} the
 * back-off passed and the caller is the trial.
 */
static const char brkcheck_lua[] =
    "local b = redis.call('HMGET', KEYS[1], 'until', 'trial')\n"
    "if not b[1] then return {0, 0} end\n"
    "local now = tonumber(ARGV[1])\n"
    "local u = tonumber(b[1])\n"
    "if now < u then return {1, u} end\n"
    "local t = tonumber(b[2] or '0')\n"
    "if now < t then return {1, t} end\n"
    "redis.call('HSET', KEYS[1], 'trial',"
    " string.format('%.0f', now + tonumber(ARGV[2])))\n"
    "return {2, 0}\n";

/*
 * Opens a responder's breaker: already open, left alone ({0, until});
 * after a failed trial, the back-off doubled ({0, until}); newly, the
 * least back-off ({1, until}). KEYS: its hash, the breakers index; ARGV:
 * now, least and most back-off, jitter in 1/1000, the responder.
 */
static const char brkopen_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local b = redis.call('HMGET', KEYS[1], 'until', 'backoff')\n"
    "local u = tonumber(b[1])\n"
    "if u and now < u then return {0, u} end\n"
    "local back = tonumber(ARGV[2])\n"
    "if u then back = math.min(tonumber(b[2]) * 2, tonumber(ARGV[3])) end\n"
    "u = now + back + math.floor(back * tonumber(ARGV[4]) / 1000)\n"
    "local keep = u + 2 * tonumber(ARGV[3])\n"
    "redis.call('HSET', KEYS[1], 'until', string.format('%.0f', u),"
    " 'backoff', string.format('%.0f', back), 'trial', '0')\n"
    "redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', keep))\n"
    "redis.call('ZADD', KEYS[2], string.format('%.0f', keep), ARGV[5])\n"
    "if b[1] then return {0, u} end\n"
    "return {1, u}\n";

/*
 * The breakers not yet expired: {responder, until ms, ...}. KEYS: the
 * index; ARGV: now (ms), the breakers' key prefix.
 */
static const char brklist_lua[] =
    "local hs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1],"
    " '+inf')\n"
    "local out = {}\n"
    "for i, h in ipairs(hs) do\n"
    "  local u = redis.call('HGET', ARGV[2] .. h, 'until')\n"
    "  if u then\n"
    "    table.insert(out, h)\n"
    "    table.insert(out, u)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Closes a breaker. KEYS: its hash, the index; ARGV: the responder. */
static const char brkclose_lua[] = "redis.call('ZREM', KEYS[2], ARGV[1])\n"
				   "return redis.call('DEL', KEYS[1])\n";

static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

struct script {
	const char *body;
	char sha[41];
};

enum {
	S_GET,
	S_PUT,
	S_FAIL,
	S_UNLOCK,
	S_DEL,
	S_STATS,
	S_CLEAN,
	S_LOCKWAIT,
	S_LOCKFAIL,
	S_TOUCH,
	S_BRKCHECK,
	S_BRKOPEN,
	S_BRKCLOSE,
	S_BRKLIST,
	S_COUNT
};
static const char *const script_body[S_COUNT] = {
    [S_GET] = get_lua,
    [S_PUT] = put_lua,
    [S_FAIL] = fail_lua,
    [S_UNLOCK] = unlock_lua,
    [S_DEL] = del_lua,
    [S_STATS] = stats_lua,
    [S_CLEAN] = clean_lua,
    [S_LOCKWAIT] = lockwait_lua,
    [S_LOCKFAIL] = lockfail_lua,
    [S_TOUCH] = touch_lua,
    [S_BRKCHECK] = brkcheck_lua,
    [S_BRKOPEN] = brkopen_lua,
    [S_BRKCLOSE] = brkclose_lua,
    [S_BRKLIST] = brklist_lua,
};

/* HMGET commands of the hit path, formatted once per key. */
#define HIT_SLOTS 64
struct hitcmd {
	char key[OCSP_KEYLEN];
	char *cmd;
	int len;
};

struct cache {
	struct hitcmd hit[HIT_SLOTS];
	redisContext *ctx; /* to the master */
	char *addr; /* the master: `redis`, or the one Sentinel named last */
	struct sentinel *sn; /* the Sentinels, or NULL: `redis` */
	int tries; /* servers Sentinel may name before one is the master */
	char *raddr; /* redis_replica, or NULL */
	redisContext *rctx; /* to raddr: hits while no invalidations flow */
	int rdown; /* the replica's outage was logged */
	time_t rretry_at; /* no new try of the replica before */
	char *user; /* AUTH user password, or NULL: AUTH password */
	char *password; /* AUTH, or NULL */
	long db; /* SELECT */
	char *prefix;
	long timeout_ms;
	long ttl;
	int down; /* an outage was logged */
	time_t retry_at; /* no reconnect before */
	char token[33]; /* our lock value */
	char *aux; /* <prefix without its '_'>: */
	char *k_stats; /* <aux>stats */
	char *k_next; /* <prefix>index:next */
	char *k_this; /* <prefix>index:this */
	char *k_breakers; /* <aux>breakers: responders by breaker expiry */
	char *k_present; /* <aux>present: written with every entry */
	int track; /* invalidations wanted (the memory tier) */
	redisContext *tctx; /* subscribed to __redis__:invalidate */
	int tracking; /* tctx gets every invalidation under the prefix */
	int tracknew; /* tracking began since the last cache_track_poll() */
	int trackwarned; /* a tracking failure was logged */
	time_t track_retry_at; /* no new try before */
	struct script scripts[S_COUNT];
	struct view vhit, vpeek, vfull; /* the reads, from fields[] */
	struct flight *fl; /* a batch sent, its replies read as they come */
};

static void flight_free(struct flight *);
static void flight_read(struct cache *, int wait);

static int cache_lockname(const struct cache *, const char *, char *, size_t);

/* The reason of a failure, as logged: what Redis, hiredis or a Sentinel
 * said, with the addresses it names. */
#define WHYLEN 640

/*
 * The read of the fields whose mask has the bit read, in table order but
 * those that renew a key first (get_lua looks at the first nrenew).
 */
static void
view_init(struct view *v, int read)
{
	size_t i;
	int pass, renews;

	memset(v, 0, sizeof(*v));
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < F_COUNT; i++) {
			renews = (fields[i].mask & RENEWS) != 0;
			if (!(fields[i].mask & read) || renews != (pass == 0))
				continue;
			v->name[v->n] = fields[i].name;
			v->field[v->n++] = &fields[i];
		}
		if (pass == 0)
			v->nrenew = v->n;
	}
}

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
	size_t plen, i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("cache: calloc");
		return NULL;
	}
	/* With Sentinel, the master's name until a Sentinel names it. */
	if ((c->addr = strdup(cf->nsentinels > 0 ? cf->sentinel_master
						 : cf->redis)) == NULL ||
	    (c->prefix = strdup(cf->prefix)) == NULL) {
		log_warn("cache: strdup");
		goto fail;
	}
	c->timeout_ms = cf->redis_timeout_ms;
	c->ttl = cf->entry_ttl;
	c->db = cf->redis_db;
	if ((cf->redis_password != NULL &&
		(c->password = strdup(cf->redis_password)) == NULL) ||
	    (cf->redis_user != NULL &&
		(c->user = strdup(cf->redis_user)) == NULL) ||
	    (cf->redis_replica != NULL &&
		(c->raddr = strdup(cf->redis_replica)) == NULL)) {
		log_warn("cache: strdup");
		goto fail;
	}
	/* A Sentinel is given a quarter of the timeout, to connect and to
	 * answer: all of three that hang still take less than one. */
	if (cf->nsentinels > 0) {
		if ((c->sn = sentinel_new(cf,
			 c->timeout_ms / 4 > 10 ? c->timeout_ms / 4 : 10)) ==
		    NULL)
			goto fail;
		c->tries = cf->nsentinels > 1 ? (int)cf->nsentinels : 2;
	}
	/*
	 * Our other keys live beside the entries, not under the prefix:
	 * "ocspxy:stats" for prefix "ocspxy_". The Perl tool reads every key
	 * under the prefix as an entry and deletes what is not one.
	 */
	plen = strlen(cf->prefix);
	if (plen > 0 && cf->prefix[plen - 1] == '_')
		plen--;
	if (asprintf(&c->aux, "%.*s:", (int)plen, cf->prefix) == -1) {
		c->aux = NULL;
		log_warn("cache: asprintf");
		goto fail;
	}
	if (asprintf(&c->k_stats, "%sstats", c->aux) == -1 ||
	    asprintf(&c->k_next, "%sindex:next", c->aux) == -1 ||
	    asprintf(&c->k_this, "%sindex:this", c->aux) == -1 ||
	    asprintf(&c->k_breakers, "%sbreakers", c->aux) == -1 ||
	    asprintf(&c->k_present, "%spresent", c->aux) == -1) {
		c->k_stats = c->k_next = c->k_this = c->k_breakers = NULL;
		c->k_present = NULL;
		log_warn("cache: asprintf");
		goto fail;
	}
	for (i = 0; i < S_COUNT; i++)
		if (script_init(&c->scripts[i], script_body[i]) == -1)
			break;
	if (i < S_COUNT || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_warnx("cache: OpenSSL digest or random bytes failed");
		goto fail;
	}
	ocsp_hex(rnd, sizeof(rnd), c->token);
	view_init(&c->vhit, READ_HIT);
	view_init(&c->vpeek, READ_PEEK);
	view_init(&c->vfull, READ_FULL);
	return c;
fail:
	cache_free(c);
	return NULL;
}

void
cache_free(struct cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	flight_free(c->fl);
	if (c->ctx != NULL)
		redisFree(c->ctx);
	if (c->rctx != NULL)
		redisFree(c->rctx);
	for (i = 0; i < HIT_SLOTS; i++)
		redisFreeCommand(c->hit[i].cmd);
	free(c->addr);
	sentinel_free(c->sn);
	free(c->raddr);
	free(c->user);
	free(c->password);
	free(c->prefix);
	free(c->aux);
	free(c->k_stats);
	free(c->k_next);
	free(c->k_this);
	free(c->k_breakers);
	free(c->k_present);
	if (c->tctx != NULL)
		redisFree(c->tctx);
	free(c);
}

int
cache_up(const struct cache *c)
{
	return !c->down;
}

const char *
cache_get0_addr(const struct cache *c)
{
	return c->addr;
}

const char *
cache_master(const struct cache *c, char *buf, size_t size)
{
	if (c->sn == NULL)
		return NULL;
	if (c->ctx != NULL)
		snprintf(buf, size, "master %s of %s, named by Sentinel %s",
		    c->addr, sentinel_get0_name(c->sn),
		    sentinel_get0_named_by(c->sn));
	else
		snprintf(buf, size, "master of %s unreachable (last tried: %s)",
		    sentinel_get0_name(c->sn), c->addr);
	return buf;
}

/* Marks an outage: logs the first failure only, retries after a second. */
static void
cache_broken(struct cache *c, const char *what, const char *reason)
{
	char why[WHYLEN];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	if (c->tctx != NULL) {
		redisFree(c->tctx);
		c->tctx = NULL;
	}
	c->tracking = 0;
	c->retry_at = time(NULL) + 1;
	if (c->down)
		return;
	c->down = 1;
	log_warnx("redis %s: %s failed: %s (going on without the cache; "
		  "logged once until it is back)",
	    c->addr, what, why);
}

/* A step of a new connection that failed, and why. */
struct failure {
	const char *what;
	char why[WHYLEN];
};

/*
 * AUTH (with the ACL user, when one is set) and SELECT on a new
 * connection: 0, or -1 with f set.
 */
static int
cache_hello(struct cache *c, redisContext *ctx, struct failure *f)
{
	const char *argv[3];
	char db[32];
	redisReply *r;
	int i, argc;

	for (i = 0; i < 2; i++) {
		if (i == 0 && c->password == NULL)
			continue;
		if (i == 1 && c->db == 0)
			continue;
		snprintf(db, sizeof(db), "%ld", c->db);
		argc = 0;
		argv[argc++] = i == 0 ? "AUTH" : "SELECT";
		if (i == 0 && c->user != NULL)
			argv[argc++] = c->user;
		argv[argc++] = i == 0 ? c->password : db;
		r = redisCommandArgv(ctx, argc, argv, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			f->what = argv[0];
			snprintf(f->why, sizeof(f->why), "%s",
			    r != NULL ? r->str : ctx->errstr);
			if (r != NULL)
				freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/*
 * A new connection to addr (unix:/path or host:port), with its timeouts,
 * AUTH and SELECT done. NULL with f set (nothing logged).
 */
static redisContext *
cache_connect(struct cache *c, const char *addr, struct failure *f)
{
	struct timeval tv;
	redisContext *ctx;
	char *host = NULL, *colon;
	long port;

	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	if (strncmp(addr, "unix:", 5) == 0)
		ctx = redisConnectUnixWithTimeout(addr + 5, tv);
	else {
		if ((host = strdup(addr)) == NULL ||
		    (colon = strrchr(host, ':')) == NULL) {
			free(host);
			f->what = "connect";
			snprintf(f->why, sizeof(f->why),
			    "address is not host:port");
			return NULL;
		}
		*colon = '\0';
		port = strtol(colon + 1, NULL, 10);
		ctx = redisConnectWithTimeout(host, (int)port, tv);
		free(host);
	}
	if (ctx == NULL || ctx->err) {
		f->what = "connect";
		snprintf(f->why, sizeof(f->why), "%s",
		    ctx ? ctx->errstr : "out of memory");
		if (ctx != NULL)
			redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		f->what = "set timeout";
		snprintf(f->why, sizeof(f->why), "%s", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	if (cache_hello(c, ctx, f) == -1) {
		redisFree(ctx);
		return NULL;
	}
	return ctx;
}

/* What ROLE says of a server. */
enum role {
	ROLE_MASTER,
	ROLE_OTHER, /* a replica (or a Sentinel): named in role */
	ROLE_FAILED /* no answer, an error: the reason in f */
};

static enum role
cache_role(redisContext *ctx, char *role, size_t size, struct failure *f)
{
	const char *argv[1] = {"ROLE"};
	redisReply *r;
	enum role ret = ROLE_FAILED;

	f->what = "ROLE";
	if ((r = redisCommandArgv(ctx, 1, argv, NULL)) == NULL) {
		snprintf(f->why, sizeof(f->why), "%s", ctx->errstr);
		return ROLE_FAILED;
	}
	if (r->type == REDIS_REPLY_ERROR)
		snprintf(f->why, sizeof(f->why), "%s", r->str);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		snprintf(f->why, sizeof(f->why), "unexpected reply");
	else {
		snprintf(role, size, "%s", r->element[0]->str);
		ret = strcmp(role, "master") == 0 ? ROLE_MASTER : ROLE_OTHER;
	}
	freeReplyObject(r);
	return ret;
}

/* c->addr becomes addr (kept as it was when out of memory). */
static void
cache_set_addr(struct cache *c, const char *addr)
{
	char *a;

	if (strcmp(c->addr, addr) == 0 || (a = strdup(addr)) == NULL)
		return;
	free(c->addr);
	c->addr = a;
}

/*
 * A new connection to the master: `redis`, or the server the Sentinels
 * name, which ROLE must call master; when it does not, the Sentinels are
 * asked again after a short wait (the one that named it last), up to
 * c->tries servers. With a failover (another master than this process
 * used before), *moved is set and prev names the old one. NULL with f
 * set (nothing logged but the Sentinels that fail, see sentinel.h).
 */
static redisContext *
cache_connect_master(struct cache *c, struct failure *f, int *moved, char *prev)
{
	struct timespec wait = {0, 100 * 1000 * 1000};
	char addr[SENTINEL_ADDRLEN], why[ERRLEN], role[32];
	redisContext *ctx;
	int i;

	*moved = 0;
	if (c->sn == NULL)
		return cache_connect(c, c->addr, f);
	for (i = 0;; i++) {
		if (sentinel_master(c->sn, addr, why) == -1) {
			f->what = "Sentinel";
			snprintf(f->why, sizeof(f->why), "%s", why);
			return NULL;
		}
		cache_set_addr(c, addr);
		if ((ctx = cache_connect(c, addr, f)) == NULL)
			return NULL;
		switch (cache_role(ctx, role, sizeof(role), f)) {
		case ROLE_MASTER:
			*moved = sentinel_confirm(c->sn, addr, prev);
			return ctx;
		case ROLE_OTHER:
			break;
		case ROLE_FAILED:
			redisFree(ctx);
			return NULL;
		}
		redisFree(ctx);
		if (i + 1 >= c->tries) {
			f->what = "ROLE";
			snprintf(f->why, sizeof(f->why),
			    "%s is a %s, not the master, as Sentinel %s said",
			    addr, role, sentinel_get0_named_by(c->sn));
			sentinel_distrust(c->sn);
			return NULL;
		}
		log_warnx("redis %s: a %s, not the master, as Sentinel %s said "
			  "(asking again)",
		    addr, role, sentinel_get0_named_by(c->sn));
		sentinel_distrust(c->sn);
		nanosleep(&wait, NULL);
	}
}

static void cache_track_start(struct cache *);

static redisContext *
cache_conn(struct cache *c)
{
	char prev[SENTINEL_ADDRLEN];
	redisContext *ctx;
	struct failure f;
	int moved;

	if (c->ctx != NULL)
		return c->ctx;
	if (c->down && time(NULL) < c->retry_at)
		return NULL;
	if ((ctx = cache_connect_master(c, &f, &moved, prev)) == NULL) {
		cache_broken(c, f.what, f.why);
		return NULL;
	}
	c->ctx = ctx;
	/* A failover says it all in one line: also that Redis is back. */
	if (moved)
		log_info("redis %s: failover: the master of '%s' now, in "
			 "place of %s (named by Sentinel %s)",
		    c->addr, sentinel_get0_name(c->sn), prev,
		    sentinel_get0_named_by(c->sn));
	else if (c->down)
		log_info("redis %s: reachable again", c->addr);
	c->down = 0;
	if (c->track)
		cache_track_start(c);
	return c->ctx;
}

/* The replica fails: logged once, tried again after a second. */
static void
cache_replica_broken(struct cache *c, const char *what, const char *reason)
{
	char why[WHYLEN];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (c->rctx != NULL) {
		redisFree(c->rctx);
		c->rctx = NULL;
	}
	c->rretry_at = time(NULL) + 1;
	if (c->rdown)
		return;
	c->rdown = 1;
	log_warnx("redis replica %s: %s failed: %s (hits read from the "
		  "master; logged once until it is back)",
	    c->raddr, what, why);
}

/* The replica's connection, or NULL while it is down. */
static redisContext *
cache_replica(struct cache *c)
{
	struct failure f;

	if (c->rctx != NULL)
		return c->rctx;
	if (c->rdown && time(NULL) < c->rretry_at)
		return NULL;
	if ((c->rctx = cache_connect(c, c->raddr, &f)) == NULL) {
		cache_replica_broken(c, f.what, f.why);
		return NULL;
	}
	if (c->rdown) {
		c->rdown = 0;
		log_info("redis replica %s: reachable again", c->raddr);
	}
	return c->rctx;
}

/* Commands formatted one after the other, to be sent at once. */
struct pipeline {
	char *buf;
	size_t len, n;
	int failed; /* out of memory or a command hiredis cannot format */
};

static void
pipeline_add(struct pipeline *pl, int argc, const char **argv,
    const size_t *lens)
{
	char *cmd = NULL, *b;
	int len;

	if (pl->failed)
		return;
	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0 ||
	    (b = realloc(pl->buf, pl->len + (size_t)len)) == NULL) {
		pl->failed = 1;
		redisFreeCommand(cmd);
		return;
	}
	memcpy(b + pl->len, cmd, (size_t)len);
	pl->buf = b;
	pl->len += (size_t)len;
	pl->n++;
	redisFreeCommand(cmd);
}

/* 1 when one of the n replies says the server is a read-only replica. */
static int
replies_readonly(redisReply **r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i]->type == REDIS_REPLY_ERROR &&
		    strncmp(r[i]->str, "READONLY", 8) == 0)
			return 1;
	return 0;
}

/*
 * Sends n formatted commands at once and reads their n replies into r[]
 * (the caller frees each; error replies included). Returns 0, or -1
 * after logging an outage (r[] all NULL).
 */
static int
cache_send_n(struct cache *c, const char *name, const char *cmds, size_t len,
    size_t n, redisReply **r)
{
	redisContext *ctx;
	size_t i, got;
	int reused, retried;

	/* A batch in flight on the connection first reads its replies. */
	if (c->fl != NULL)
		flight_read(c, 1);
	for (retried = 0;; retried = 1) {
		reused = c->ctx != NULL;
		if ((ctx = cache_conn(c)) == NULL)
			return -1;
		memset(r, 0, n * sizeof(*r));
		got = 0;
		if (redisAppendFormattedCommand(ctx, cmds, len) == REDIS_OK)
			while (got < n &&
			    redisGetReply(ctx, (void **)&r[got]) == REDIS_OK &&
			    r[got] != NULL)
				got++;
		/* The master became a replica and kept our connection (Sentinel
		 * closes it when it reconfigures a server): find the master
		 * again, once. Nothing was written: a replica refuses it all.
		 */
		if (got == n && c->sn != NULL && !retried &&
		    replies_readonly(r, n)) {
			for (i = 0; i < n; i++)
				freeReplyObject(r[i]);
			redisFree(c->ctx);
			c->ctx = NULL;
			continue;
		}
		if (got == n)
			return 0;
		for (i = 0; i <= got && i < n; i++) {
			if (r[i] != NULL)
				freeReplyObject(r[i]);
			r[i] = NULL;
		}
		/* A kept connection that Redis closed (its idle timeout, a
		 * restart, Sentinel reconfiguring it) is no outage: one try on
		 * a new connection (the master found again, with Sentinel). */
		if (reused && !retried) {
			redisFree(c->ctx);
			c->ctx = NULL;
			continue;
		}
		cache_broken(c, name,
		    ctx->errstr[0] ? ctx->errstr : "no reply");
		return -1;
	}
}

/* Sends a formatted command and reads its reply; NULL after logging. */
static redisReply *
cache_send(struct cache *c, const char *key, const char *name, const char *cmd,
    size_t len)
{
	redisReply *r = NULL;

	if (cache_send_n(c, name, cmd, len, 1, &r) == -1)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) != 0) {
		log_warnx("redis %s: %s %s: %s", c->addr, name, key ? key : "",
		    r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/*
 * Runs one command. Returns the reply (the caller frees it), or NULL
 * after logging: an I/O failure as an outage, an error reply with key.
 */
static redisReply *
cache_cmd(struct cache *c, const char *key, int argc, const char **argv,
    const size_t *lens)
{
	redisReply *r;
	char *cmd = NULL;
	int len;

	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		log_warnx("redis %s: %s %s: cannot format the command", c->addr,
		    argv[0], key ? key : "");
		return NULL;
	}
	r = cache_send(c, key, argv[0], cmd, (size_t)len);
	redisFreeCommand(cmd);
	return r;
}

int
cache_ping(struct cache *c)
{
	const char *argv[1] = {"PING"};
	redisReply *r;

	if ((r = cache_cmd(c, NULL, 1, argv, NULL)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

/*
 * An EVALSHA as argv, with room for what its arguments are made of (the
 * keys and arguments may point into it).
 */
#define EVAL_ARGS 48
struct evalcmd {
	int script;
	int argc;
	const char *argv[EVAL_ARGS];
	size_t len[EVAL_ARGS];
	char nk[8];
	char lock[OCSP_KEYLEN + 16];
	char learn[OCSP_KEYLEN + 32];
	char num[F_COUNT + 4][32];
};

/*
 * Writes into ec the EVALSHA of script s over nkeys keys and nargs
 * arguments (lens NULL: strings). Returns 0, or -1 (logged) when they do
 * not fit.
 */
static int
eval_argv(struct cache *c, struct evalcmd *ec, int s, int nkeys,
    const char **keys, int nargs, const char **args, const size_t *lens)
{
	int i, n = 0;

	if (nkeys + nargs + 3 > EVAL_ARGS) {
		log_warnx("redis %s: EVALSHA %s: %d keys and arguments, more "
			  "than %d",
		    c->addr, keys[0], nkeys + nargs, EVAL_ARGS - 3);
		return -1;
	}
	ec->script = s;
	snprintf(ec->nk, sizeof(ec->nk), "%d", nkeys);
	ec->argv[n] = "EVALSHA";
	ec->len[n++] = 7;
	ec->argv[n] = c->scripts[s].sha;
	ec->len[n++] = 40;
	ec->argv[n] = ec->nk;
	ec->len[n++] = strlen(ec->nk);
	for (i = 0; i < nkeys; i++) {
		ec->argv[n] = keys[i];
		ec->len[n++] = strlen(keys[i]);
	}
	for (i = 0; i < nargs; i++) {
		ec->argv[n] = args[i];
		ec->len[n++] = lens ? lens[i] : strlen(args[i]);
	}
	ec->argc = n;
	return 0;
}

/*
 * Runs ec, loading its script with EVAL when Redis does not know it.
 * Returns the reply (the caller frees it), or NULL (logged).
 */
static redisReply *
eval_run(struct cache *c, struct evalcmd *ec)
{
	const char *key = ec->argv[3];
	redisReply *r;

	if ((r = cache_cmd(c, key, ec->argc, ec->argv, ec->len)) == NULL)
		return NULL;
	if (r->type != REDIS_REPLY_ERROR)
		return r;
	freeReplyObject(r);
	ec->argv[0] = "EVAL";
	ec->len[0] = 4;
	ec->argv[1] = c->scripts[ec->script].body;
	ec->len[1] = strlen(ec->argv[1]);
	r = cache_cmd(c, key, ec->argc, ec->argv, ec->len);
	ec->argv[0] = "EVALSHA";
	ec->len[0] = 7;
	ec->argv[1] = c->scripts[ec->script].sha;
	ec->len[1] = 40;
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		log_warnx("redis %s: EVAL %s: %s", c->addr, key, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/*
 * EVALSHA over nkeys keys, loading the script with EVAL when Redis does
 * not know it. Returns the reply (the caller frees it), or NULL (logged).
 */
static redisReply *
cache_eval(struct cache *c, int s, int nkeys, const char **keys, int nargs,
    const char **args, const size_t *lens)
{
	struct evalcmd ec;

	if (eval_argv(c, &ec, s, nkeys, keys, nargs, args, lens) == -1)
		return NULL;
	return eval_run(c, &ec);
}

/* 1 when r is the integer 1 (or more), else 0. */
static int
reply_one(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER && r->integer >= 1 ? 1 : 0;
}

/* Runs ec: 1 when its reply is the integer 1, 0, or -1. */
static int
eval_int(struct cache *c, struct evalcmd *ec)
{
	redisReply *r;
	int ret;

	if ((r = eval_run(c, ec)) == NULL)
		return -1;
	ret = reply_one(r);
	freeReplyObject(r);
	return ret;
}

/* Returns 1 when the script reply is the integer 1, 0, or -1. */
static int
cache_eval_int(struct cache *c, int s, int nkeys, const char **keys, int nargs,
    const char **args, const size_t *lens)
{
	struct evalcmd ec;

	if (eval_argv(c, &ec, s, nkeys, keys, nargs, args, lens) == -1)
		return -1;
	return eval_int(c, &ec);
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
	/* Up to the end of year 9999: beyond, no HTTP date can say it. */
	if (errno != 0 || *end != '\0' || v < 0 || v > 253402300799LL)
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

/* Sets the member of e that f names from the reply element r. */
static void
field_get(const struct field *f, const redisReply *r, struct cache_entry *e)
{
	void *m = (char *)e + f->off;

	switch (f->kind) {
	case FIELD_BYTES:
		*(const char **)m =
		    reply_str(r, (size_t *)((char *)e + f->len));
		break;
	case FIELD_STR:
		*(const char **)m = reply_str(r, NULL);
		break;
	case FIELD_TIME:
		*(time_t *)m = reply_time(r);
		break;
	case FIELD_LONG:
		*(long *)m = (long)reply_time(r);
		break;
	case FIELD_CONST:
		break;
	}
}

/*
 * The value of f that e holds, as written: a pointer to *len bytes that
 * lives in e, in f, or in num (numbers).
 */
static const char *
field_put(const struct field *f, const struct cache_entry *e, char num[32],
    size_t *len)
{
	const void *m = (const char *)e + f->off;
	const char *s = NULL;

	switch (f->kind) {
	case FIELD_BYTES:
		s = *(const char *const *)m;
		*len = *(const size_t *)((const char *)e + f->len);
		break;
	case FIELD_STR:
		s = *(const char *const *)m;
		*len = s != NULL ? strlen(s) : 0;
		break;
	case FIELD_TIME:
		*len = (size_t)snprintf(num, 32, "%lld",
		    (long long)*(const time_t *)m);
		return num;
	case FIELD_LONG:
		*len = (size_t)snprintf(num, 32, "%ld", *(const long *)m);
		return num;
	case FIELD_CONST:
		s = f->value;
		*len = strlen(s);
		break;
	}
	if (s == NULL) {
		s = "";
		*len = 0;
	}
	return s;
}

/*
 * Fills e from r, the reply to an HMGET of v's fields under key (what
 * names the command in the log); e takes r. Returns 1 when a field that
 * marks an entry is there, 0 when none is, -1 (logged, r freed) when r
 * is no such reply.
 */
static int
entry_fill(struct cache *c, const struct view *v, const char *what,
    const char *key, redisReply *r, struct cache_entry *e)
{
	size_t i;
	int found = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != v->n) {
		log_warnx("redis %s: %s %s: %s", c->addr, what, key,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -1;
	}
	e->reply = r;
	for (i = 0; i < v->n; i++) {
		field_get(v->field[i], r->element[i], e);
		if ((v->field[i]->mask & FOUND) &&
		    r->element[i]->type == REDIS_REPLY_STRING)
			found = 1;
	}
	return found;
}

/* entry_fill(), and e cleared when no entry was found. */
static int
entry_found(struct cache *c, const struct view *v, const char *what,
    const char *key, redisReply *r, struct cache_entry *e)
{
	int ret;

	if ((ret = entry_fill(c, v, what, key, r, e)) == 0)
		cache_entry_clear(e);
	return ret;
}

/*
 * The hit's HMGET h on the replica. Returns 1 (e filled) when it holds a
 * response valid now; 0 when it does not (it may lag: the master is
 * asked), -1 when the replica fails (logged once; the master is asked).
 */
static int
cache_hit_replica(struct cache *c, const char *key, const struct hitcmd *h,
    struct cache_entry *e)
{
	redisContext *ctx;
	redisReply *r = NULL;
	int reused, ret;

	for (;;) {
		reused = c->rctx != NULL;
		if ((ctx = cache_replica(c)) == NULL)
			return -1;
		if (redisAppendFormattedCommand(ctx, h->cmd, (size_t)h->len) ==
			REDIS_OK &&
		    redisGetReply(ctx, (void **)&r) == REDIS_OK && r != NULL)
			break;
		/* A kept connection it closed: one try on a new one. */
		if (reused) {
			redisFree(c->rctx);
			c->rctx = NULL;
			continue;
		}
		cache_replica_broken(c, "HMGET",
		    ctx->errstr[0] ? ctx->errstr : "no reply");
		return -1;
	}
	/* LOADING (a full resync), MASTERDOWN (replica-serve-stale-data
	 * no): the master answers meanwhile. */
	if (r->type == REDIS_REPLY_ERROR) {
		cache_replica_broken(c, "HMGET", r->str);
		freeReplyObject(r);
		return -1;
	}
	if ((ret = entry_found(c, &c->vhit, "HMGET", key, r, e)) == 1 &&
	    (e->response_len == 0 || e->nextupd <= time(NULL))) {
		cache_entry_clear(e);
		ret = 0;
	}
	return ret;
}

int
cache_hit(struct cache *c, const char *key, struct cache_entry *e)
{
	const char *argv[2 + F_COUNT] = {"HMGET", key};
	struct hitcmd *h;
	redisReply *r;

	memset(e, 0, sizeof(*e));
	h = &c->hit[ocsp_hash(key, strlen(key)) % HIT_SLOTS];
	if (h->cmd == NULL || strcmp(h->key, key) != 0) {
		redisFreeCommand(h->cmd);
		h->cmd = NULL;
		memcpy(argv + 2, c->vhit.name, c->vhit.n * sizeof(*argv));
		if ((h->len = redisFormatCommandArgv(&h->cmd,
			 (int)(2 + c->vhit.n), argv, NULL)) < 0) {
			h->cmd = NULL;
			log_warnx("redis %s: HMGET %s: cannot format the "
				  "command",
			    c->addr, key);
			return -1;
		}
		snprintf(h->key, sizeof(h->key), "%s", key);
	}
	/*
	 * From the replica while no invalidations flow from the master: the
	 * memory tier keeps what a hit read as what the master holds, and
	 * only the master's invalidations keep that exact.
	 */
	if (c->raddr != NULL && !c->tracking) {
		/* The master is tried again once a second from here too: its
		 * hits need it not, its counters and its failover line do. */
		if (c->down && time(NULL) >= c->retry_at)
			cache_conn(c);
		if (!c->tracking && cache_hit_replica(c, key, h, e) == 1)
			return 1;
	}
	if ((r = cache_send(c, key, "HMGET", h->cmd, (size_t)h->len)) == NULL)
		return -1;
	return entry_found(c, &c->vhit, "HMGET", key, r, e);
}

int
cache_peek_many(struct cache *c, char *const *keys, size_t n,
    struct cache_entry *e, int *bad)
{
	const char *argv[2 + F_COUNT] = {"HMGET"};
	struct pipeline pl;
	redisReply **r = NULL;
	size_t i;
	int ret = -1;

	memset(e, 0, n * sizeof(*e));
	memset(&pl, 0, sizeof(pl));
	memcpy(argv + 2, c->vpeek.name, c->vpeek.n * sizeof(*argv));
	for (i = 0; i < n; i++) {
		argv[1] = keys[i];
		pipeline_add(&pl, (int)(2 + c->vpeek.n), argv, NULL);
	}
	if (pl.failed || (r = calloc(n, sizeof(*r))) == NULL) {
		log_warnx("redis %s: HMGET of %zu keys: out of memory", c->addr,
		    n);
		goto done;
	}
	if (cache_send_n(c, "HMGET", pl.buf, pl.len, n, r) == -1)
		goto done;
	/* A missing key is no error: its fields stay NULL and 0. */
	for (i = 0; i < n; i++)
		bad[i] = entry_fill(c, &c->vpeek, "HMGET", keys[i], r[i],
			     &e[i]) == -1;
	ret = 0;
done:
	free(r);
	free(pl.buf);
	return ret;
}

int
cache_get(struct cache *c, const char *key, int touch, struct cache_entry *e)
{
	char ttl[32], nrenew[32];
	const char *keys[2] = {key, c->k_stats};
	const char *args[3 + F_COUNT] = {ttl, nrenew, metrics[M_MISSES].field};
	redisReply *r;

	memset(e, 0, sizeof(*e));
	snprintf(ttl, sizeof(ttl), "%ld", touch ? c->ttl : 0L);
	snprintf(nrenew, sizeof(nrenew), "%zu", c->vfull.nrenew);
	memcpy(args + 3, c->vfull.name, c->vfull.n * sizeof(*args));
	if ((r = cache_eval(c, S_GET, 2, keys, (int)(3 + c->vfull.n), args,
		 NULL)) == NULL)
		return -1;
	return entry_found(c, &c->vfull, "read", key, r, e);
}

void
cache_entry_clear(struct cache_entry *e)
{
	if (e->reply != NULL)
		freeReplyObject(e->reply);
	memset(e, 0, sizeof(*e));
}

/* The EVALSHA that stores rec under key, into ec. 0, or -1 (logged). */
static int
put_cmd(struct cache *c, const char *key, const struct cache_record *rec,
    struct evalcmd *ec)
{
	char *ttl = ec->num[F_COUNT], *thisupd = ec->num[F_COUNT + 1];
	char *nextupd = ec->num[F_COUNT + 2];
	const char *keys[6] = {key, ec->learn, c->k_next, c->k_this, ec->lock,
	    c->k_present};
	const char *a[6 + 2 * F_COUNT];
	size_t l[6 + 2 * F_COUNT], i;
	struct cache_entry w;
	int n;

	/* The key outlives its response by entry_ttl: a hit never needs
	 * to renew it, and a client's miss renews it (cache_get()). */
	snprintf(ttl, 32, "%lld",
	    (long long)c->ttl +
		(rec->nextupd > rec->now ? (long long)(rec->nextupd - rec->now)
					 : 0));
	snprintf(thisupd, 32, "%lld", (long long)rec->thisupd);
	snprintf(nextupd, 32, "%lld", (long long)rec->nextupd);
	snprintf(ec->learn, sizeof(ec->learn), "%sresponder:%s", c->aux,
	    rec->keyhash ? rec->keyhash : "");
	if (cache_lockname(c, key, ec->lock, sizeof(ec->lock)) == -1) {
		log_warnx("redis %s: store %s: key too long", c->addr, key);
		return -1;
	}
	a[0] = ttl;
	a[1] = thisupd;
	a[2] = nextupd;
	a[3] = rec->keyhash ? rec->responder : "";
	a[4] = rec->unlock ? c->token : "";
	a[5] = fields[F_THISUPD].name;
	for (n = 0; n < 6; n++)
		l[n] = strlen(a[n]);
	/* The entry as it will read, checked just now and never failed. */
	memset(&w, 0, sizeof(w));
	w.responder = rec->responder;
	w.request = (const char *)rec->request;
	w.request_len = rec->request_len;
	w.response = (const char *)rec->response;
	w.response_len = rec->response_len;
	w.status = rec->status;
	w.etag = rec->etag;
	w.thisupd = rec->thisupd;
	w.nextupd = rec->nextupd;
	w.lastchecked = w.lasttry = rec->now;
	w.failures = 0;
	w.lasterror = "";
	for (i = 0; i < F_COUNT; i++) {
		a[n] = fields[i].name;
		l[n] = strlen(a[n]);
		n++;
		a[n] = field_put(&fields[i], &w, ec->num[i], &l[n]);
		n++;
	}
	return eval_argv(c, ec, S_PUT, 6, keys, n, a, l);
}

int
cache_put(struct cache *c, const char *key, const struct cache_record *rec)
{
	struct evalcmd ec;

	if (put_cmd(c, key, rec, &ec) == -1)
		return -1;
	return eval_int(c, &ec);
}

/* The EVALSHA of a failed refresh of key, into ec. 0, or -1 (logged). */
static int
fail_cmd(struct cache *c, const char *key, time_t now, const char *why,
    int unlock, struct evalcmd *ec)
{
	const char *keys[2] = {key, ec->lock};
	const char *args[6] = {ec->num[0], why, unlock ? c->token : "",
	    fields[F_FAILURES].name, fields[F_LASTTRY].name,
	    fields[F_LASTERROR].name};

	if (cache_lockname(c, key, ec->lock, sizeof(ec->lock)) == -1) {
		log_warnx("redis %s: %s: key too long", c->addr, key);
		return -1;
	}
	snprintf(ec->num[0], 32, "%lld", (long long)now);
	return eval_argv(c, ec, S_FAIL, 2, keys, 6, args, NULL);
}

int
cache_fail(struct cache *c, const char *key, time_t now, const char *why,
    int unlock)
{
	struct evalcmd ec;

	if (fail_cmd(c, key, now, why, unlock, &ec) == -1)
		return -1;
	return eval_int(c, &ec);
}

int
cache_del(struct cache *c, const char *key)
{
	const char *keys[3] = {key, c->k_next, c->k_this};

	return cache_eval_int(c, S_DEL, 3, keys, 0, NULL, NULL);
}

static int
cache_lockname(const struct cache *c, const char *key, char *buf, size_t size)
{
	size_t plen = strlen(c->prefix);
	int n;

	if (strncmp(key, c->prefix, plen) == 0)
		key += plen;
	n = snprintf(buf, size, "%slock:%s", c->aux, key);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

long long
cache_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cache_lock_wait(struct cache *c, const char *key, long ms, long long since_ms)
{
	char name[OCSP_KEYLEN + 16], px[32], since[32];
	const char *keys[1] = {name};
	const char *args[3] = {c->token, px, since};
	redisReply *r;
	int ret = -1;

	if (cache_lockname(c, key, name, sizeof(name)) == -1)
		return -1;
	snprintf(px, sizeof(px), "%ld", ms);
	snprintf(since, sizeof(since), "%lld", since_ms);
	if ((r = cache_eval(c, S_LOCKWAIT, 1, keys, 3, args, NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		ret = r->integer == 1 ? CACHE_LOCK_TAKEN
		    : r->integer == 2 ? CACHE_LOCK_FAILED
				      : CACHE_LOCK_HELD;
	else
		log_warnx("redis %s: lock %s: unexpected reply", c->addr, key);
	freeReplyObject(r);
	return ret;
}

int
cache_lock_fail(struct cache *c, const char *key, long long now_ms)
{
	char name[OCSP_KEYLEN + 16], px[32], mark[48];
	const char *keys[1] = {name};
	const char *args[3] = {c->token, px, mark};

	if (cache_lockname(c, key, name, sizeof(name)) == -1)
		return -1;
	snprintf(px, sizeof(px), "%d", CACHE_FAILED_MS);
	snprintf(mark, sizeof(mark), "failed:%lld", now_ms);
	return cache_eval_int(c, S_LOCKFAIL, 1, keys, 3, args, NULL);
}

/* The EVALSHA of an unchanged answer for key, into ec. 0, or -1. */
static int
touch_cmd(struct cache *c, const char *key, time_t now, int unlock,
    struct evalcmd *ec)
{
	const char *keys[2] = {key, ec->lock};
	const char *args[6] = {ec->num[0], unlock ? c->token : "",
	    fields[F_LASTCHECKED].name, fields[F_LASTTRY].name,
	    fields[F_FAILURES].name, fields[F_LASTERROR].name};

	if (cache_lockname(c, key, ec->lock, sizeof(ec->lock)) == -1) {
		log_warnx("redis %s: %s: key too long", c->addr, key);
		return -1;
	}
	snprintf(ec->num[0], 32, "%lld", (long long)now);
	return eval_argv(c, ec, S_TOUCH, 2, keys, 6, args, NULL);
}

int
cache_touch(struct cache *c, const char *key, time_t now, int unlock)
{
	struct evalcmd ec;
	redisReply *r;
	int ret;

	if (touch_cmd(c, key, now, unlock, &ec) == -1 ||
	    (r = eval_run(c, &ec)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_ARRAY && r->elements == 1
	    ? reply_one(r->element[0])
	    : -1;
	if (ret == -1)
		log_warnx("redis %s: touch %s: unexpected reply", c->addr, key);
	freeReplyObject(r);
	return ret;
}

/* The name of host's breaker into buf; -1 when it does not fit. */
static int
cache_breakername(const struct cache *c, const char *host, char *buf,
    size_t size)
{
	int n = snprintf(buf, size, "%sbreaker:%s", c->aux, host);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A reply {n, ms}: n, with *ms set; -1 when it is not one (logged). */
static int
breaker_reply(struct cache *c, const char *host, redisReply *r, long long *ms)
{
	int ret = -1;

	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		ret = (int)r->element[0]->integer;
		*ms = r->element[1]->integer;
	} else
		log_warnx("redis %s: breaker %s: unexpected reply", c->addr,
		    host);
	freeReplyObject(r);
	return ret;
}

int
cache_breaker_check(struct cache *c, const char *host, long long now_ms,
    long trial_ms, long long *until_ms)
{
	char name[512], now[32], trial[32];
	const char *keys[1] = {name};
	const char *args[2] = {now, trial};
	redisReply *r;

	if (cache_breakername(c, host, name, sizeof(name)) == -1)
		return -1;
	snprintf(now, sizeof(now), "%lld", now_ms);
	snprintf(trial, sizeof(trial), "%ld", trial_ms);
	if ((r = cache_eval(c, S_BRKCHECK, 1, keys, 2, args, NULL)) == NULL)
		return -1;
	return breaker_reply(c, host, r, until_ms);
}

int
cache_breaker_open(struct cache *c, const char *host, long long now_ms,
    long min_ms, long max_ms, long jitter, long long *until_ms)
{
	char name[512], a[4][32];
	const char *keys[2] = {name, c->k_breakers};
	const char *args[5] = {a[0], a[1], a[2], a[3], host};
	redisReply *r;

	if (cache_breakername(c, host, name, sizeof(name)) == -1)
		return -1;
	snprintf(a[0], sizeof(a[0]), "%lld", now_ms);
	snprintf(a[1], sizeof(a[1]), "%ld", min_ms);
	snprintf(a[2], sizeof(a[2]), "%ld", max_ms);
	snprintf(a[3], sizeof(a[3]), "%ld", jitter);
	if ((r = cache_eval(c, S_BRKOPEN, 2, keys, 5, args, NULL)) == NULL)
		return -1;
	return breaker_reply(c, host, r, until_ms);
}

int
cache_breakers(struct cache *c, long long now_ms,
    void (*fn)(void *, const char *host, long long until_ms), void *arg)
{
	char now[32], pfx[256];
	const char *keys[1] = {c->k_breakers};
	const char *args[2] = {now, pfx};
	redisReply *r;
	size_t i;

	snprintf(now, sizeof(now), "%lld", now_ms);
	snprintf(pfx, sizeof(pfx), "%sbreaker:", c->aux);
	if ((r = cache_eval(c, S_BRKLIST, 1, keys, 2, args, NULL)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		log_warnx("redis %s: breakers: unexpected reply", c->addr);
		freeReplyObject(r);
		return -1;
	}
	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			fn(arg, r->element[i]->str,
			    strtoll(r->element[i + 1]->str, NULL, 10));
	freeReplyObject(r);
	return 0;
}

int
cache_breaker_close(struct cache *c, const char *host)
{
	char name[512];
	const char *keys[2] = {name, c->k_breakers};
	const char *args[1] = {host};

	if (cache_breakername(c, host, name, sizeof(name)) == -1)
		return -1;
	return cache_eval_int(c, S_BRKCLOSE, 2, keys, 1, args, NULL);
}

/* The EVALSHA that lets go of our lock on key, into ec. 0, or -1. */
static int
unlock_cmd(struct cache *c, const char *key, struct evalcmd *ec)
{
	const char *keys[1] = {ec->lock};
	const char *args[1] = {c->token};

	if (cache_lockname(c, key, ec->lock, sizeof(ec->lock)) == -1) {
		log_warnx("redis %s: %s: key too long", c->addr, key);
		return -1;
	}
	return eval_argv(c, ec, S_UNLOCK, 1, keys, 1, args, NULL);
}

int
cache_unlock(struct cache *c, const char *key)
{
	struct evalcmd ec;

	if (unlock_cmd(c, key, &ec) == -1)
		return -1;
	return eval_int(c, &ec) == -1 ? -1 : 0;
}

/*
 * A batch: operations formatted as they are queued, sent in one round
 * trip by cache_batch_run(), each answered to its own callback.
 */
enum op_kind {
	OP_LOCKGET, /* SET NX PX of the lock, HMGET of the entry */
	OP_EVAL, /* one EVALSHA: a store, a failure, an unlock */
	OP_TOUCHES /* one EVALSHA of touch_lua for every touch queued */
};
/* A touch queued: its entry and its callback. */
struct touch {
	char *key;
	cache_batch_fn *fn;
	void *arg;
};
struct op {
	enum op_kind kind;
	struct touch *t; /* OP_TOUCHES: nt of them */
	size_t nt;
	int script; /* OP_EVAL */
	size_t off, len; /* its commands in the pipeline's bytes */
	size_t first; /* the index of its first reply */
	char *key; /* for the log */
	cache_batch_fn *fn;
	void *arg;
};
struct cache_batch {
	struct pipeline pl;
	struct op *ops;
	size_t n, cap;
	struct touch *t; /* touches, sent as one operation */
	size_t nt, tcap;
	time_t tnow; /* the last touch's time */
};

struct cache_batch *
cache_batch_new(void)
{
	struct cache_batch *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		log_warn("cache: calloc");
	return b;
}

static void
touches_free(struct touch *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(t[i].key);
	free(t);
}

/* Frees what ops[0..n) hold, and the pipeline's bytes. */
static void
ops_free(struct op *ops, size_t n, struct pipeline *pl)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ops[i].key);
		touches_free(ops[i].t, ops[i].nt);
	}
	free(ops);
	free(pl->buf);
}

void
cache_batch_free(struct cache_batch *b)
{
	if (b == NULL)
		return;
	ops_free(b->ops, b->n, &b->pl);
	touches_free(b->t, b->nt);
	free(b);
}

size_t
cache_batch_len(const struct cache_batch *b)
{
	return b->n + b->nt;
}

/*
 * Room for one more element of size bytes after the n of array p (*cap
 * of them): p, or its copy with *cap doubled, or NULL when memory ran
 * out (p kept as it was).
 */
static void *
batch_room(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 32;

	if (n < *cap)
		return p;
	if ((p = reallocarray(p, c, size)) != NULL)
		*cap = c;
	return p;
}

/*
 * Records the operation whose commands were just added to the pipeline
 * from off on; -1 (logged) when memory ran out (the batch then fails
 * whole, each callback told -1).
 */
static int
op_add(struct cache *c, struct cache_batch *b, enum op_kind kind, int script,
    size_t off, const char *key, cache_batch_fn *fn, void *arg)
{
	struct op *o;

	if ((o = batch_room(b->ops, b->n, &b->cap, sizeof(*o))) == NULL)
		goto oom;
	b->ops = o;
	o = &b->ops[b->n];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->script = script;
	o->off = off;
	o->len = b->pl.len - off;
	o->fn = fn;
	o->arg = arg;
	if ((o->key = strdup(key)) == NULL || b->pl.failed) {
		free(o->key);
		goto oom;
	}
	b->n++;
	return 0;
oom:
	log_warnx("redis %s: %s: out of memory for a batch", c->addr, key);
	b->pl.failed = 1;
	return -1;
}

/* Queues ec, built for key. 0, or -1 (logged). */
static int
batch_eval(struct cache *c, struct cache_batch *b, const char *key,
    struct evalcmd *ec, cache_batch_fn *fn, void *arg)
{
	size_t off = b->pl.len;

	pipeline_add(&b->pl, ec->argc, ec->argv, ec->len);
	return op_add(c, b, OP_EVAL, ec->script, off, key, fn, arg);
}

int
cache_batch_lock_get(struct cache *c, struct cache_batch *b, const char *key,
    long ms, cache_batch_fn *fn, void *arg)
{
	char name[OCSP_KEYLEN + 16], px[32];
	const char *set[6] = {"SET", name, c->token, "NX", "PX", px};
	const char *get[2 + F_COUNT] = {"HMGET", key};
	size_t off = b->pl.len;

	if (cache_lockname(c, key, name, sizeof(name)) == -1) {
		log_warnx("redis %s: lock %s: key too long", c->addr, key);
		return -1;
	}
	snprintf(px, sizeof(px), "%ld", ms);
	memcpy(get + 2, c->vfull.name, c->vfull.n * sizeof(*get));
	pipeline_add(&b->pl, 6, set, NULL);
	pipeline_add(&b->pl, (int)(2 + c->vfull.n), get, NULL);
	return op_add(c, b, OP_LOCKGET, 0, off, key, fn, arg);
}

int
cache_batch_put(struct cache *c, struct cache_batch *b, const char *key,
    const struct cache_record *rec, cache_batch_fn *fn, void *arg)
{
	struct evalcmd ec;

	if (put_cmd(c, key, rec, &ec) == -1)
		return -1;
	return batch_eval(c, b, key, &ec, fn, arg);
}

int
cache_batch_touch(struct cache *c, struct cache_batch *b, const char *key,
    time_t now, cache_batch_fn *fn, void *arg)
{
	struct touch *t;

	if ((t = batch_room(b->t, b->nt, &b->tcap, sizeof(*t))) == NULL)
		goto oom;
	b->t = t;
	t = &b->t[b->nt];
	if ((t->key = strdup(key)) == NULL)
		goto oom;
	t->fn = fn;
	t->arg = arg;
	b->nt++;
	b->tnow = now;
	return 0;
oom:
	log_warnx("redis %s: %s: out of memory for a batch", c->addr, key);
	return -1;
}

/*
 * The touches queued become one operation of the batch: one EVALSHA of
 * touch_lua over all of them, that lets go of our locks. 0, or -1
 * (logged; the batch then fails whole).
 */
static int
batch_touches(struct cache *c, struct cache_batch *b)
{
	const size_t lsz = OCSP_KEYLEN + 16;
	size_t n = 3 + 2 * b->nt + 6, i, k = 0, off = b->pl.len;
	const char **argv = calloc(n, sizeof(*argv));
	size_t *len = calloc(n, sizeof(*len));
	char *locks = malloc(b->nt * lsz), nk[32], now[32];
	int ret = -1;

	if (argv == NULL || len == NULL || locks == NULL) {
		log_warnx("redis %s: touch: out of memory", c->addr);
		b->pl.failed = 1;
		goto done;
	}
	snprintf(nk, sizeof(nk), "%zu", 2 * b->nt);
	snprintf(now, sizeof(now), "%lld", (long long)b->tnow);
	argv[k++] = "EVALSHA";
	argv[k++] = c->scripts[S_TOUCH].sha;
	argv[k++] = nk;
	for (i = 0; i < b->nt; i++) {
		if (cache_lockname(c, b->t[i].key, locks + i * lsz, lsz) ==
		    -1) {
			log_warnx("redis %s: %s: key too long", c->addr,
			    b->t[i].key);
			b->pl.failed = 1;
			goto done;
		}
		argv[k++] = b->t[i].key;
		argv[k++] = locks + i * lsz;
	}
	argv[k++] = now;
	argv[k++] = c->token;
	argv[k++] = fields[F_LASTCHECKED].name;
	argv[k++] = fields[F_LASTTRY].name;
	argv[k++] = fields[F_FAILURES].name;
	argv[k++] = fields[F_LASTERROR].name;
	for (i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	pipeline_add(&b->pl, (int)n, argv, len);
	if (op_add(c, b, OP_TOUCHES, S_TOUCH, off, b->t[0].key, NULL, NULL) ==
	    0) {
		b->ops[b->n - 1].t = b->t;
		b->ops[b->n - 1].nt = b->nt;
		b->t = NULL;
		b->nt = b->tcap = 0;
		ret = 0;
	}
done:
	free(argv);
	free(len);
	free(locks);
	if (ret == -1) {
		/* (Their callbacks' queueing fails too: the batch failed.) */
		for (i = 0; i < b->nt; i++)
			b->t[i].fn(b->t[i].arg, -1, NULL);
		touches_free(b->t, b->nt);
		b->t = NULL;
		b->nt = b->tcap = 0;
	}
	return ret;
}

int
cache_batch_fail(struct cache *c, struct cache_batch *b, const char *key,
    time_t now, const char *why, int unlock, cache_batch_fn *fn, void *arg)
{
	struct evalcmd ec;

	if (fail_cmd(c, key, now, why, unlock, &ec) == -1)
		return -1;
	return batch_eval(c, b, key, &ec, fn, arg);
}

int
cache_batch_unlock(struct cache *c, struct cache_batch *b, const char *key,
    cache_batch_fn *fn, void *arg)
{
	struct evalcmd ec;

	if (unlock_cmd(c, key, &ec) == -1)
		return -1;
	return batch_eval(c, b, key, &ec, fn, arg);
}

/* 1 when r is Redis's answer to an EVALSHA of a script it lacks. */
static int
reply_noscript(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/*
 * Loads the scripts that Redis lacked (SCRIPT LOAD), and sends the
 * operations that named them again, in one more round trip; their
 * replies replace the NOSCRIPT errors in r. 0, or -1 (logged).
 */
static int
batch_reload(struct cache *c, const struct op *ops, size_t n, const char *bytes,
    redisReply **r)
{
	const char *argv[3] = {"SCRIPT", "LOAD", NULL};
	struct pipeline again;
	redisReply *lr, **r2 = NULL;
	int loaded[S_COUNT] = {0};
	size_t i, k = 0;
	int ret = -1;

	memset(&again, 0, sizeof(again));
	for (i = 0; i < n; i++) {
		if (!reply_noscript(r[ops[i].first]))
			continue;
		if (!loaded[ops[i].script]) {
			argv[2] = c->scripts[ops[i].script].body;
			if ((lr = cache_cmd(c, NULL, 3, argv, NULL)) == NULL)
				goto done;
			freeReplyObject(lr);
			loaded[ops[i].script] = 1;
		}
		if ((again.buf = realloc(again.buf, again.len + ops[i].len)) ==
		    NULL) {
			log_warnx("redis %s: EVALSHA: out of memory", c->addr);
			goto done;
		}
		memcpy(again.buf + again.len, bytes + ops[i].off, ops[i].len);
		again.len += ops[i].len;
		again.n++;
	}
	if (again.n == 0)
		return 0;
	if ((r2 = calloc(again.n, sizeof(*r2))) == NULL ||
	    cache_send_n(c, "EVALSHA", again.buf, again.len, again.n, r2) == -1)
		goto done;
	for (i = 0; i < n; i++)
		if (reply_noscript(r[ops[i].first])) {
			freeReplyObject(r[ops[i].first]);
			r[ops[i].first] = r2[k++];
		}
	ret = 0;
done:
	free(r2);
	free(again.buf);
	return ret;
}

/* Tells o's callbacks that Redis failed. */
static void
op_fail(const struct op *o)
{
	size_t i;

	if (o->kind != OP_TOUCHES) {
		o->fn(o->arg, -1, NULL);
		return;
	}
	for (i = 0; i < o->nt; i++)
		o->t[i].fn(o->t[i].arg, -1, NULL);
}

/* Answers each touch of o from its reply r (taking it). */
static void
touches_answer(struct cache *c, const struct op *o, redisReply *r)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != o->nt) {
		log_warnx("redis %s: touch of %zu entries: %s", c->addr, o->nt,
		    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		op_fail(o);
	} else
		for (i = 0; i < o->nt; i++)
			o->t[i].fn(o->t[i].arg, reply_one(r->element[i]), NULL);
	freeReplyObject(r);
}

/* Answers o from its replies (taking them) to its callback. */
static void
op_answer(struct cache *c, const struct op *o, redisReply **r)
{
	struct cache_entry e;
	redisReply *set = r[o->first];
	int v;

	if (o->kind == OP_TOUCHES) {
		touches_answer(c, o, set);
		return;
	}
	if (o->kind == OP_EVAL) {
		if (set->type == REDIS_REPLY_ERROR) {
			log_warnx("redis %s: EVALSHA %s: %s", c->addr, o->key,
			    set->str);
			v = -1;
		} else
			v = reply_one(set);
		freeReplyObject(set);
		o->fn(o->arg, v, NULL);
		return;
	}
	if (set->type != REDIS_REPLY_STATUS) {
		if (set->type == REDIS_REPLY_ERROR)
			log_warnx("redis %s: lock %s: %s", c->addr, o->key,
			    set->str);
		v = set->type == REDIS_REPLY_ERROR ? -1 : 0;
		freeReplyObject(set);
		freeReplyObject(r[o->first + 1]);
		o->fn(o->arg, v, NULL);
		return;
	}
	freeReplyObject(set);
	memset(&e, 0, sizeof(e));
	v = entry_found(c, &c->vfull, "read", o->key, r[o->first + 1], &e);
	o->fn(o->arg, v == 0 ? 2 : v, v == 1 ? &e : NULL);
}

/*
 * A batch sent by cache_batch_send(): its replies read as they arrive,
 * its callbacks called once all are in (or Redis failed).
 */
enum flight_state {
	FLIGHT_ON, /* replies awaited */
	FLIGHT_IN, /* every reply read */
	FLIGHT_FAILED /* Redis failed (logged) */
};
struct flight {
	enum flight_state state;
	struct cache_batch b; /* the operations and their bytes */
	redisReply **r;
	size_t nr, got;
	long long deadline_ms;
	int reused; /* sent on a connection kept from before */
};

static void
flight_free(struct flight *fl)
{
	size_t i;

	if (fl == NULL)
		return;
	for (i = 0; fl->r != NULL && i < fl->nr; i++)
		if (fl->r[i] != NULL)
			freeReplyObject(fl->r[i]);
	free(fl->r);
	ops_free(fl->b.ops, fl->b.n, &fl->b.pl);
	free(fl);
}

/*
 * The connection failed before every reply was read. One that Redis
 * closed while kept (its idle timeout, a restart) before a reply came is
 * no outage: the batch goes again, at once, on a new connection.
 */
static void
flight_lost(struct cache *c, const char *why)
{
	struct flight *fl = c->fl;

	fl->state = FLIGHT_FAILED;
	if (fl->reused && fl->got == 0) {
		redisFree(c->ctx);
		c->ctx = NULL;
		if (cache_send_n(c, "batch", fl->b.pl.buf, fl->b.pl.len, fl->nr,
			fl->r) == 0) {
			fl->got = fl->nr;
			fl->state = FLIGHT_IN;
		}
		return;
	}
	cache_broken(c, "batch", why);
}

/*
 * Takes what arrived on the connection (with wait, blocking until some
 * does): 1 some did, 0 none yet, or -1 with why set (the connection
 * closed, failed or timed out).
 */
static int
flight_take(struct cache *c, int wait, char *why, size_t size)
{
	redisContext *ctx = c->ctx;
	char buf[16384];
	ssize_t n;

	if (wait) {
		if (redisBufferRead(ctx) == REDIS_OK)
			return 1;
		snprintf(why, size, "%s", ctx->errstr);
		return -1;
	}
	if (cache_now_ms() > c->fl->deadline_ms) {
		snprintf(why, size, "no reply within redis_timeout");
		return -1;
	}
	while ((n = recv(ctx->fd, buf, sizeof(buf), MSG_DONTWAIT)) == -1 &&
	    errno == EINTR)
		;
	if (n > 0 && redisReaderFeed(ctx->reader, buf, (size_t)n) == REDIS_OK)
		return 1;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	snprintf(why, size, "%s",
	    n == 0	? "connection closed"
		: n > 0 ? "protocol error"
			: strerror(errno));
	return -1;
}

/*
 * Reads the replies of the batch in flight that arrived (with wait,
 * until every one is in, or the connection's timeout).
 */
static void
flight_read(struct cache *c, int wait)
{
	struct flight *fl = c->fl;
	char why[WHYLEN];
	void *rep;
	size_t i;

	while (fl->state == FLIGHT_ON && fl->got < fl->nr) {
		rep = NULL;
		if (redisGetReplyFromReader(c->ctx, &rep) != REDIS_OK) {
			flight_lost(c, c->ctx->errstr);
			return;
		}
		if (rep != NULL) {
			fl->r[fl->got++] = rep;
			continue;
		}
		switch (flight_take(c, wait, why, sizeof(why))) {
		case -1:
			flight_lost(c, why);
			return;
		case 0:
			return; /* more to come */
		}
	}
	if (fl->state != FLIGHT_ON)
		return;
	fl->state = FLIGHT_IN;
	/* Sent to a master that became a replica (see cache_send_n()):
	 * nothing was written; again, to the master found again. */
	if (c->sn != NULL && replies_readonly(fl->r, fl->nr)) {
		for (i = 0; i < fl->nr; i++) {
			freeReplyObject(fl->r[i]);
			fl->r[i] = NULL;
		}
		redisFree(c->ctx);
		c->ctx = NULL;
		if (cache_send_n(c, "batch", fl->b.pl.buf, fl->b.pl.len, fl->nr,
			fl->r) == -1)
			fl->state = FLIGHT_FAILED;
	}
}

/* The callbacks of the batch whose replies are in, or that failed. */
static int
flight_answer(struct cache *c)
{
	struct flight *fl = c->fl;
	size_t i;
	int ok;

	/* Taken off first: the callbacks may send the next batch. */
	c->fl = NULL;
	ok = fl->state == FLIGHT_IN &&
	    batch_reload(c, fl->b.ops, fl->b.n, fl->b.pl.buf, fl->r) == 0;
	for (i = 0; i < fl->b.n; i++)
		if (ok)
			op_answer(c, &fl->b.ops[i], fl->r);
		else
			op_fail(&fl->b.ops[i]);
	if (ok)
		memset(fl->r, 0, fl->nr * sizeof(*fl->r)); /* taken */
	flight_free(fl);
	return ok ? 0 : -1;
}

int
cache_batch_send(struct cache *c, struct cache_batch *b)
{
	struct flight *fl;
	redisContext *ctx;
	size_t i;
	int done = 0;

	if (c->fl != NULL)
		cache_batch_finish(c);
	if (b->nt > 0)
		batch_touches(c, b);
	if (b->n == 0)
		return 0;
	if ((fl = calloc(1, sizeof(*fl))) == NULL) {
		log_warnx("redis %s: a batch of %zu: out of memory", c->addr,
		    b->n);
		return -1;
	}
	fl->b = *b;
	memset(b, 0, sizeof(*b));
	c->fl = fl;
	for (i = 0; i < fl->b.n; i++) {
		fl->b.ops[i].first = fl->nr;
		fl->nr += fl->b.ops[i].kind == OP_LOCKGET ? 2 : 1;
	}
	fl->state = FLIGHT_FAILED;
	if (fl->b.pl.failed ||
	    (fl->r = calloc(fl->nr, sizeof(*fl->r))) == NULL) {
		if (!fl->b.pl.failed)
			log_warnx("redis %s: a batch of %zu: out of memory",
			    c->addr, fl->b.n);
		return -1;
	}
	fl->reused = c->ctx != NULL;
	if ((ctx = cache_conn(c)) == NULL)
		return -1;
	fl->state = FLIGHT_ON;
	fl->deadline_ms = cache_now_ms() + c->timeout_ms;
	if (redisAppendFormattedCommand(ctx, fl->b.pl.buf, fl->b.pl.len) !=
	    REDIS_OK) {
		flight_lost(c, ctx->errstr);
		return fl->state == FLIGHT_FAILED ? -1 : 0;
	}
	while (!done)
		if (redisBufferWrite(ctx, &done) != REDIS_OK) {
			flight_lost(c, ctx->errstr);
			return fl->state == FLIGHT_FAILED ? -1 : 0;
		}
	return 0;
}

int
cache_batch_fd(const struct cache *c)
{
	return c->fl != NULL && c->fl->state == FLIGHT_ON && c->ctx != NULL
	    ? c->ctx->fd
	    : -1;
}

int
cache_batch_busy(const struct cache *c)
{
	return c->fl != NULL;
}

int
cache_batch_poll(struct cache *c)
{
	if (c->fl == NULL)
		return 1;
	if (c->fl->state == FLIGHT_ON)
		flight_read(c, 0);
	if (c->fl->state == FLIGHT_ON)
		return 0;
	return flight_answer(c) == 0 ? 1 : -1;
}

int
cache_batch_finish(struct cache *c)
{
	if (c->fl == NULL)
		return 0;
	if (c->fl->state == FLIGHT_ON)
		flight_read(c, 1);
	return flight_answer(c);
}

int
cache_batch_run(struct cache *c, struct cache_batch *b)
{
	if (cache_batch_send(c, b) == -1) {
		cache_batch_finish(c);
		return -1;
	}
	return cache_batch_finish(c);
}

int
cache_responder(struct cache *c, const char *keyhash, char **responder)
{
	char name[OCSP_KEYLEN + 32];
	const char *argv[2] = {"GET", name};
	redisReply *r;
	int ret = 0;

	*responder = NULL;
	snprintf(name, sizeof(name), "%sresponder:%s", c->aux, keyhash);
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
	/* [<tag>:]<hex key hash>[-]0x<hex serial>, the tag of a hash
	 * algorithm (ocsp_req_key()); 'x' or '-' ends the hex run. */
	p = key + plen;
	if ((n = strcspn(p, ":")) > 0 && p[n] == ':') {
		if (!ocsp_key_tag(p, n))
			return 0;
		p += n + 1;
	}
	n = strspn(p, hex);
	if (n >= 2 && p[n] == 'x' && p[n - 1] == '0')
		p += n + 1;
	else if (n >= 1 && strncmp(p + n, "-0x", 3) == 0)
		p += n + 3;
	else
		return 0;
	return *p != '\0' && strspn(p, hex) == strlen(p);
}

/* 1 when key ends in tail (a serial as ocsp_req_key() writes it) right
 * after the hex of its issuer key hash. */
static int
cache_has_serial(const char *key, const char *tail)
{
	size_t kl = strlen(key), tl = strlen(tail);

	return kl > tl && strcmp(key + kl - tl, tail) == 0 &&
	    strchr("0123456789abcdef", key[kl - tl - 1]) != NULL;
}

/*
 * One SCAN step with MATCH <prefix, escaped>*<tail>; calls fn for each
 * entry key (and, with serial, only for those ending in that serial).
 */
static int
cache_scan_match(struct cache *c, const char *tail, const char *serial,
    unsigned long long *cursor, long count, int (*fn)(void *, const char *),
    void *arg)
{
	char cur[32], cnt[32], match[2 * OCSP_KEYLEN], *m = match, *end;
	const char *argv[6] = {"SCAN", cur, "MATCH", match, "COUNT", cnt};
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
	/* cache_is_entry_key() sorts out what else matches. */
	snprintf(m, (size_t)(match + sizeof(match) - m), "%s", tail);
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
		    !cache_is_entry_key(c->prefix, k->str) ||
		    (serial != NULL && !cache_has_serial(k->str, serial)))
			continue;
		if (fn(arg, k->str) == -1)
			goto done;
	}
	ret = 0;
done:
	freeReplyObject(r);
	return ret;
}

int
cache_scan(struct cache *c, unsigned long long *cursor, long count,
    int (*fn)(void *, const char *), void *arg)
{
	return cache_scan_match(c, "*0x*", NULL, cursor, count, fn, arg);
}

int
cache_scan_serial(struct cache *c, const char *serial,
    unsigned long long *cursor, long count, int (*fn)(void *, const char *),
    void *arg)
{
	char tail[OCSP_KEYLEN];
	size_t n = strlen(serial);

	/* A serial is hex, "0x" and perhaps "-": nothing to escape. */
	if (n == 0 || n + 2 > sizeof(tail) || strstr(serial, "0x") == NULL ||
	    strspn(serial, "0123456789abcdefx-") != n) {
		log_warnx("redis %s: SCAN: '%.64s' is no serial of a key",
		    c->addr, serial);
		return -1;
	}
	snprintf(tail, sizeof(tail), "*%s", serial);
	return cache_scan_match(c, tail, serial, cursor, count, fn, arg);
}

int
cache_count(struct cache *c, const struct cache_count *add, size_t n)
{
	const char *argv[4] = {"HINCRBY", c->k_stats, NULL, NULL};
	struct pipeline pl;
	redisReply *r[32];
	char v[32][32];
	size_t i;
	int ret = 0;

	memset(&pl, 0, sizeof(pl));
	memset(r, 0, sizeof(r));
	if (n > 32) {
		log_warnx("redis %s: HINCRBY %s: %zu counters at once, more "
			  "than 32",
		    c->addr, c->k_stats, n);
		return -1;
	}
	/* Pipelined: one round trip for all of them. */
	for (i = 0; i < n; i++) {
		if (add[i].delta == 0)
			continue;
		snprintf(v[pl.n], sizeof(v[pl.n]), "%lld", add[i].delta);
		argv[2] = add[i].name;
		argv[3] = v[pl.n];
		pipeline_add(&pl, 4, argv, NULL);
	}
	if (pl.failed) {
		log_warnx("redis %s: HINCRBY %s: out of memory", c->addr,
		    c->k_stats);
		ret = -1;
	} else if (pl.n > 0 &&
	    cache_send_n(c, "HINCRBY", pl.buf, pl.len, pl.n, r) == -1)
		ret = -1;
	for (i = 0; i < pl.n; i++) {
		if (r[i] != NULL && r[i]->type == REDIS_REPLY_ERROR) {
			log_warnx("redis %s: HINCRBY %s: %s", c->addr,
			    c->k_stats, r[i]->str);
			ret = -1;
		}
		if (r[i] != NULL)
			freeReplyObject(r[i]);
	}
	free(pl.buf);
	return ret;
}

int
cache_set_stats(struct cache *c, const struct cache_count *set, size_t n)
{
	const char *argv[40];
	char v[16][32];
	redisReply *r;
	size_t i;

	if (n > 16)
		return -1;
	argv[0] = "HSET";
	argv[1] = c->k_stats;
	for (i = 0; i < n; i++) {
		snprintf(v[i], sizeof(v[i]), "%lld", set[i].delta);
		argv[2 + 2 * i] = set[i].name;
		argv[3 + 2 * i] = v[i];
	}
	if ((r = cache_cmd(c, c->k_stats, (int)(2 + 2 * n), argv, NULL)) ==
	    NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int
cache_stats(struct cache *c, time_t now, struct cache_stats *st)
{
	char a[32], b[32], ms[32];
	const char *keys[4] = {c->k_stats, c->k_next, c->k_this, c->k_breakers};
	const char *args[3] = {a, b, ms};
	redisReply *r, *h;
	size_t i;

	memset(st, 0, sizeof(*st));
	snprintf(a, sizeof(a), "%lld", (long long)now);
	snprintf(b, sizeof(b), "%lld", (long long)now + 86400);
	snprintf(ms, sizeof(ms), "%lld", (long long)now * 1000);
	if ((r = cache_eval(c, S_STATS, 4, keys, 3, args, NULL)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 6 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY) {
		log_warnx("redis %s: stats: unexpected reply", c->addr);
		freeReplyObject(r);
		return -1;
	}
	h = r->element[0];
	st->reply = r;
	st->names = calloc(h->elements / 2 + 1, sizeof(*st->names));
	st->values = calloc(h->elements / 2 + 1, sizeof(*st->values));
	if (st->names == NULL || st->values == NULL) {
		cache_stats_clear(st);
		return -1;
	}
	for (i = 0; i + 1 < h->elements; i += 2) {
		if (h->element[i]->type != REDIS_REPLY_STRING ||
		    h->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		st->names[st->n] = h->element[i]->str;
		st->values[st->n++] = strtoll(h->element[i + 1]->str, NULL, 10);
	}
	st->entries = r->element[1]->integer;
	st->expired = r->element[2]->integer;
	st->expiring = r->element[3]->integer;
	st->oldest = r->element[4]->type == REDIS_REPLY_STRING
	    ? strtoll(r->element[4]->str, NULL, 10)
	    : 0;
	st->breakers = r->element[5]->integer;
	return 0;
}

void
cache_stats_clear(struct cache_stats *st)
{
	if (st->reply != NULL)
		freeReplyObject(st->reply);
	free(st->names);
	free(st->values);
	memset(st, 0, sizeof(*st));
}

long long
cache_stat(const struct cache_stats *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->names[i], name) == 0)
			return st->values[i];
	return 0;
}

int
cache_clean_index(struct cache *c, long *gone)
{
	char cur[32] = "0";
	const char *keys[2] = {c->k_next, c->k_this};
	const char *args[1] = {cur};
	redisReply *r;

	*gone = 0;
	do {
		if ((r = cache_eval(c, S_CLEAN, 2, keys, 1, args, NULL)) ==
		    NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			log_warnx("redis %s: cleaning %s: unexpected reply",
			    c->addr, c->k_next);
			freeReplyObject(r);
			return -1;
		}
		snprintf(cur, sizeof(cur), "%s", r->element[0]->str);
		*gone += (long)r->element[1]->integer;
		freeReplyObject(r);
	} while (strcmp(cur, "0") != 0);
	return 0;
}

void
cache_track(struct cache *c)
{
	c->track = 1;
}

/* Tracking fails: logged once until it works again. */
static void
cache_track_fail(struct cache *c, const char *what, const char *reason)
{
	char why[WHYLEN];

	/* reason may live in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	if (c->tctx != NULL) {
		redisFree(c->tctx);
		c->tctx = NULL;
	}
	c->tracking = 0;
	c->track_retry_at = time(NULL) + 1;
	if (c->trackwarned)
		return;
	c->trackwarned = 1;
	log_warnx("redis %s: invalidations: %s failed: %s (memory answers "
		  "only while Redis is unreachable; logged once)",
	    c->addr, what, why);
}

/* A command on ctx whose reply must be of type: 0, or -1 with f set. */
static int
track_cmd(redisContext *ctx, int argc, const char **argv, int type,
    long long *integer, struct failure *f)
{
	redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);

	f->what = argv[0];
	if (r == NULL || r->type != type) {
		snprintf(f->why, sizeof(f->why), "%s",
		    r == NULL			       ? ctx->errstr
			: r->type == REDIS_REPLY_ERROR ? r->str
						       : "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	if (integer != NULL)
		*integer = r->integer;
	freeReplyObject(r);
	return 0;
}

/*
 * A second connection subscribed to __redis__:invalidate, and tracking
 * of every key under the prefix redirected to it (BCAST; NOLOOP: our own
 * writes we know of).
 */
static void
cache_track_start(struct cache *c)
{
	struct failure f;
	char id[32];
	long long n;
	const char *cid[2] = {"CLIENT", "ID"};
	const char *sub[2] = {"SUBSCRIBE", "__redis__:invalidate"};
	const char *off[3] = {"CLIENT", "TRACKING", "off"};
	const char *on[9] = {"CLIENT", "TRACKING", "on", "REDIRECT", id,
	    "BCAST", "PREFIX", c->prefix, "NOLOOP"};

	if (c->tctx != NULL)
		redisFree(c->tctx);
	c->tracking = 0;
	if ((c->tctx = cache_connect(c, c->addr, &f)) == NULL) {
		cache_track_fail(c, f.what, f.why);
		return;
	}
	if (track_cmd(c->tctx, 2, cid, REDIS_REPLY_INTEGER, &n, &f) == -1 ||
	    track_cmd(c->tctx, 2, sub, REDIS_REPLY_ARRAY, NULL, &f) == -1) {
		cache_track_fail(c, f.what, f.why);
		return;
	}
	snprintf(id, sizeof(id), "%lld", n);
	if (track_cmd(c->ctx, 3, off, REDIS_REPLY_STATUS, NULL, &f) == -1 ||
	    track_cmd(c->ctx, 9, on, REDIS_REPLY_STATUS, NULL, &f) == -1) {
		cache_track_fail(c, "CLIENT TRACKING", f.why);
		return;
	}
	c->tracking = c->tracknew = 1;
	if (c->trackwarned) {
		c->trackwarned = 0;
		log_info("redis %s: invalidations flow again", c->addr);
	}
}

/* One message of the invalidation channel: fn for each key it names. */
static void
track_message(const redisReply *r, void (*fn)(void *, const char *), void *arg)
{
	const redisReply *p;
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return;
	p = r->element[2];
	if (p->type == REDIS_REPLY_NIL) /* FLUSHALL, FLUSHDB */
		fn(arg, NULL);
	else if (p->type == REDIS_REPLY_STRING)
		fn(arg, p->str);
	else if (p->type == REDIS_REPLY_ARRAY)
		for (i = 0; i < p->elements; i++)
			if (p->element[i]->type == REDIS_REPLY_STRING)
				fn(arg, p->element[i]->str);
}

/*
 * The invalidation connection broke. When the master's connection is
 * lost too (a PING tells), that is the outage (logged once), or a new
 * connection (with its tracking, and with Sentinel the master found
 * again: a failover is one line); only a tracking connection lost alone
 * is logged here.
 */
static void
cache_track_lost(struct cache *c, const char *reason)
{
	char why[WHYLEN];

	/* reason lives in the context freed below. */
	snprintf(why, sizeof(why), "%s", reason);
	redisFree(c->tctx);
	c->tctx = NULL;
	c->tracking = 0;
	if (cache_ping(c) == -1 || c->tracking)
		return;
	cache_track_fail(c, "read", why);
}

int
cache_track_poll(struct cache *c, void (*fn)(void *, const char *), void *arg)
{
	struct pollfd pfd;
	void *r;

	/* Redis comes back, or tracking failed: tried once a second. */
	if (!c->tracking && time(NULL) >= c->track_retry_at) {
		if (c->ctx == NULL)
			cache_conn(c); /* starts tracking when it connects */
		else
			cache_track_start(c);
		c->track_retry_at = time(NULL) + 1;
	}
	if (!c->tracking)
		return CACHE_TRACK_NONE;
	pfd.fd = c->tctx->fd;
	pfd.events = POLLIN;
	for (;;) {
		if (redisGetReplyFromReader(c->tctx, &r) != REDIS_OK) {
			cache_track_lost(c, c->tctx->errstr);
			return CACHE_TRACK_NONE;
		}
		if (r != NULL) {
			track_message(r, fn, arg);
			freeReplyObject(r);
			continue;
		}
		if (poll(&pfd, 1, 0) != 1)
			break;
		if (redisBufferRead(c->tctx) != REDIS_OK) {
			cache_track_lost(c,
			    c->tctx->err ? c->tctx->errstr : "closed");
			return CACHE_TRACK_NONE;
		}
	}
	if (c->tracknew) {
		c->tracknew = 0;
		return CACHE_TRACK_NEW;
	}
	return CACHE_TRACK_OK;
}

int
cache_emptied(struct cache *c)
{
	const char *argv[2] = {"EXISTS", c->k_present};
	redisReply *r;
	int ret;

	if ((r = cache_cmd(c, c->k_present, 2, argv, NULL)) == NULL)
		return -1;
	ret = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
	freeReplyObject(r);
	return ret;
}
