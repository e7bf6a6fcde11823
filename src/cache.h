/*
 * cache.h: the Redis cache (hiredis), the only module that speaks Redis.
 * An entry is a hash under "<prefix><issuerKeyHash hex>0x<serial hex>",
 * or "<prefix><alg>:<issuerKeyHash hex>0x<serial hex>" for a CertID of
 * another hash algorithm than SHA-1 (ocsp_req_key()), with the fields of
 * the Perl ocsp_proxy (ocsp_responder request response thisupd nextupd
 * status nonce lastchecked) and ours (lasttry failures lasterror etag).
 * Failures of Redis are logged here, once per outage.
 *
 * The servers: `redis`, or the master the Sentinels name (sentinel.c),
 * found again after a connection error or a READONLY reply; every write
 * and every read but a hit's goes there. With `redis_replica`, a hit is
 * read from that replica while no invalidations flow (cache_track()),
 * and from the master when the replica holds no response valid now.
 */
#ifndef OCSPXY_CACHE_H
#define OCSPXY_CACHE_H

#include <stddef.h>
#include <time.h>

struct config;
struct cache;

struct cache_entry {
	void *reply; /* owns every pointer below */
	const char *response; /* NULL when the entry has none */
	size_t response_len;
	const char *request;
	size_t request_len;
	const char *responder; /* "host[:port][/path]", "https://..." */
	const char *status;
	const char *lasterror; /* NULL or "" after a success */
	const char *etag; /* NULL in entries of the Perl tool */
	time_t thisupd, nextupd, lastchecked, lasttry;
	long failures;
};

struct cache_record {
	const char *responder;
	const unsigned char *request;
	size_t request_len;
	const unsigned char *response;
	size_t response_len;
	const char *status;
	time_t thisupd, nextupd, now;
	const char *keyhash; /* learn responder, or NULL */
	char kh[129]; /* room for keyhash (store_record()) */
	const char *etag; /* SHA-1 hex of the response */
	int unlock; /* let go of our lock too */
};

/* A cache over the config's Redis; connects lazily. NULL on error. */
struct cache *cache_new(const struct config *);
void cache_free(struct cache *);
/* 1 while Redis answers, 0 during an outage. */
int cache_up(const struct cache *);
/* The master in use or last tried (unix:/path or host:port); borrowed. */
const char *cache_get0_addr(const struct cache *);
/*
 * With Sentinel, writes into buf (size bytes) which master is in use
 * ("master HOST:PORT of NAME, named by Sentinel HOST:PORT") or was last
 * tried, and returns buf; without Sentinel, NULL.
 */
const char *cache_master(const struct cache *, char *buf, size_t size);
/* A PING: 0 when Redis answers, -1 (an outage, logged) when not. */
int cache_ping(struct cache *);

/*
 * The hit path: reads response, thisupd, nextupd and etag under key with
 * one HMGET. Returns 1 (a response; free with cache_entry_clear()), 0, -1.
 */
int cache_hit(struct cache *, const char *key, struct cache_entry *);
/*
 * What the refresh schedule needs of n keys: their times (thisupd,
 * nextupd, lastchecked, lasttry, failures), an HMGET each, all in one
 * round trip.
 * Fills e[i] (fields of a missing key are NULL and 0; free each with
 * cache_entry_clear()) and bad[i] (1: keys[i] is no hash, logged).
 * Returns 0, or -1 when Redis fails (logged; nothing to free).
 */
int cache_peek_many(struct cache *, char *const *keys, size_t n,
    struct cache_entry *e, int *bad);
/*
 * Reads every field under key in one round trip; with touch (a client's
 * request that found no servable response), also counts a miss and
 * renews the key's lifetime to entry_ttl when it ran below. Returns 1
 * (fields set, free with cache_entry_clear()), 0 (no such key), -1.
 */
int cache_get(struct cache *, const char *key, int touch, struct cache_entry *);
void cache_entry_clear(struct cache_entry *);

/*
 * Stores every field at once and sets the key's lifetime to entry_ttl
 * beyond the response's nextUpdate, unless the
 * stored response has a later thisUpdate. With unlock, lets go of our
 * lock on key (cache_lock()) in the same step. With keyhash, records the
 * responder as the one of that issuer ("<prefix>responder:<keyhash>").
 * Returns 1 stored, 0 kept the newer stored entry, -1 error.
 */
int cache_put(struct cache *, const char *key, const struct cache_record *);
/*
 * The responder learned for an issuer key hash. Returns 1 with a new
 * string in *responder (the caller frees it), 0 none known, -1 error.
 */
int cache_responder(struct cache *, const char *keyhash, char **responder);
/*
 * Counts a failed refresh on an existing key, and with unlock lets go of
 * our lock on it. 1, 0 (no key), -1.
 */
int cache_fail(struct cache *, const char *key, time_t now, const char *why,
    int unlock);
/* Deletes key. 1 deleted, 0 absent, -1 error. */
int cache_del(struct cache *, const char *key);

/* The time in ms, as the marks and breakers in Redis count it. */
long long cache_now_ms(void);

/* A lock's state, as cache_lock_wait() finds it. */
enum cache_lock_state {
	CACHE_LOCK_HELD, /* by someone else, fetching */
	CACHE_LOCK_TAKEN, /* by us now */
	CACHE_LOCK_FAILED /* its holder's fetch failed (cache_lock_fail()) */
};
/* How long the mark of a failed fetch stays, in ms. */
#define CACHE_FAILED_MS 2000
/*
 * A short lock for key (SET NX PX), or what holds it: the mark of a
 * fetch that failed at or after since_ms (when we began to wait) is
 * CACHE_LOCK_FAILED, an older one is taken over. Returns an enum
 * cache_lock_state, or -1. cache_unlock() frees it only if it is still
 * ours.
 */
int cache_lock_wait(struct cache *, const char *key, long ms,
    long long since_ms);
int cache_unlock(struct cache *, const char *key);
/*
 * Our lock on key becomes the mark of a fetch failed at now_ms, for
 * CACHE_FAILED_MS, so that those waiting on it learn at once. 1, 0 (not
 * ours), -1.
 */
int cache_lock_fail(struct cache *, const char *key, long long now_ms);
/*
 * The stored response came back unchanged: writes lastchecked (and
 * clears the failure fields) only; with unlock, lets go of our lock.
 * 1, 0 (no key), -1.
 */
int cache_touch(struct cache *, const char *key, time_t now, int unlock);

/* A responder's circuit breaker (see breaker.h); times in ms. */
enum cache_breaker_state {
	CACHE_BREAKER_CLOSED,
	CACHE_BREAKER_OPEN, /* *until_ms set */
	CACHE_BREAKER_TRIAL /* the back-off passed: we are the trial */
};
/* Returns an enum cache_breaker_state, or -1. */
int cache_breaker_check(struct cache *, const char *host, long long now_ms,
    long trial_ms, long long *until_ms);
/*
 * Opens host's breaker for min_ms, or twice its last back-off (at most
 * max_ms) after a failed trial, with jitter in 1/1000; left alone while
 * open. Returns 1 newly opened, 0 otherwise, -1; *until_ms set.
 */
int cache_breaker_open(struct cache *, const char *host, long long now_ms,
    long min_ms, long max_ms, long jitter, long long *until_ms);
/* 1 closed, 0 none was open, -1. */
int cache_breaker_close(struct cache *, const char *host);
/* Calls fn for each breaker not closed yet (until_ms past: on trial). */
int cache_breakers(struct cache *, long long now_ms,
    void (*fn)(void *, const char *host, long long until_ms), void *arg);
/*
 * A batch of operations for the refresh daemon, formatted as they are
 * queued and sent in one round trip by cache_batch_run(), each answered
 * to its callback fn(arg, result, e) with the result its single
 * counterpart returns: cache_batch_lock_get() takes the lock for key (SET
 * NX PX) and reads the entry, 1 (locked; e is the entry, the callback's
 * to keep or clear), 2 (locked, no entry), 0 (held by someone else), -1,
 * cache_batch_put() as cache_put(), cache_batch_touch() as
 * cache_touch(), cache_batch_fail() as cache_fail(), cache_batch_unlock()
 * 1 or 0. When Redis fails, every callback is told -1. The queue calls
 * return 0, or -1 (logged: a key too long, out of memory; the callback
 * is then never called for it).
 */
struct cache_batch;
typedef void cache_batch_fn(void *arg, int result, struct cache_entry *e);
struct cache_batch *cache_batch_new(void);
void cache_batch_free(struct cache_batch *);
/* The operations queued. */
size_t cache_batch_len(const struct cache_batch *);
int cache_batch_lock_get(struct cache *, struct cache_batch *, const char *key,
    long ms, cache_batch_fn *, void *);
int cache_batch_put(struct cache *, struct cache_batch *, const char *key,
    const struct cache_record *, cache_batch_fn *, void *);
/* (The touches of a batch go as one command, and let go of our locks.) */
int cache_batch_touch(struct cache *, struct cache_batch *, const char *key,
    time_t now, cache_batch_fn *, void *);
int cache_batch_fail(struct cache *, struct cache_batch *, const char *key,
    time_t now, const char *why, int unlock, cache_batch_fn *, void *);
int cache_batch_unlock(struct cache *, struct cache_batch *, const char *key,
    cache_batch_fn *, void *);
/*
 * Sends what is queued at once and calls back each operation in the
 * order queued; the batch is empty again before the first callback (they
 * may queue the next). Returns 0, or -1 when Redis failed (logged).
 */
int cache_batch_run(struct cache *, struct cache_batch *);
/*
 * The same without waiting: sends the batch (after cache_batch_finish()
 * of one in flight) and returns; the batch is empty again. Its replies
 * are read by cache_batch_poll() when cache_batch_fd() is readable, and
 * before any other command of the cache. 0, or -1 when Redis failed
 * (logged; cache_batch_poll() then tells the callbacks).
 */
int cache_batch_send(struct cache *, struct cache_batch *);
/* The descriptor to wait on for the replies, or -1 (none awaited). */
int cache_batch_fd(const struct cache *);
/* 1 while a batch sent has not been answered yet. */
int cache_batch_busy(const struct cache *);
/*
 * Reads the replies that arrived, without blocking; once all are in,
 * calls the callbacks. Returns 0 while replies are awaited, 1 when none
 * are (the callbacks called), -1 when Redis failed (each told -1).
 */
int cache_batch_poll(struct cache *);
/* The same, waiting for the replies (at most redis_timeout): 0, or -1. */
int cache_batch_finish(struct cache *);

/*
 * One SCAN step over the entry keys from *cursor (0 to start); calls fn
 * for each entry key and sets *cursor (0 when the walk is done). Returns
 * 0, or -1 on a Redis error or when fn returns -1.
 */
int cache_scan(struct cache *, unsigned long long *cursor, long count,
    int (*fn)(void *, const char *), void *arg);
/*
 * The same over the entry keys of one serial, whatever their hash
 * algorithm and issuer: serial is the end of a key as ocsp_req_key()
 * writes it ("0x1001", "-0x5"); a key ending in "-0x1001" is not one of
 * "0x1001". Returns 0, or -1 (a Redis error or not a serial: logged, or
 * fn returned -1).
 */
int cache_scan_serial(struct cache *, const char *serial,
    unsigned long long *cursor, long count, int (*fn)(void *, const char *),
    void *arg);

/* A counter of the stats hash ("<prefix>stats") and a value. */
struct cache_count {
	const char *name;
	long long delta;
};

/* Counters, and gauges from the nextUpdate and thisUpdate indexes. */
struct cache_stats {
	void *reply; /* owns names */
	const char **names;
	long long *values;
	size_t n;
	long long entries, expired, expiring, oldest;
	long long breakers; /* responders held off or on trial */
};

/* Adds to counters (HINCRBY). 0, or -1. */
int cache_count(struct cache *, const struct cache_count *, size_t n);
/* Sets fields of the stats hash (HSET), at most 16. 0, or -1. */
int cache_set_stats(struct cache *, const struct cache_count *, size_t n);
/*
 * Reads the counters and the gauges (entries, expired, expiring within a
 * day of now, oldest thisUpdate) in one round trip. 0 (free with
 * cache_stats_clear()), or -1.
 */
int cache_stats(struct cache *, time_t now, struct cache_stats *);
void cache_stats_clear(struct cache_stats *);
/* A counter's value, 0 when absent. */
long long cache_stat(const struct cache_stats *, const char *name);
/* Drops index members whose key has expired. 0, or -1. */
int cache_clean_index(struct cache *, long *gone);

/*
 * 1 when key has the shape of an entry key under prefix, with or without
 * the tag of a hash algorithm (ocsp_key_tag()), else 0.
 */
int cache_is_entry_key(const char *prefix, const char *key);

/*
 * Server-assisted client-side caching (Redis 6+, RESP2), for the memory
 * tier: from the next connection on, a second connection subscribes to
 * __redis__:invalidate and the cache's connection tracks every key under
 * the prefix for it (BCAST; NOLOOP: not our own writes).
 */
void cache_track(struct cache *);

enum cache_track_state {
	CACHE_TRACK_NONE, /* no invalidations flow (Redis unreachable, or
			   * tracking failed: logged once) */
	CACHE_TRACK_NEW, /* they flow since the last poll, not before: what
			  * was kept may have changed unseen */
	CACHE_TRACK_OK /* every write since the last poll was told */
};
/*
 * Reads the invalidations that arrived, without blocking: fn(arg, key)
 * for each key named, fn(arg, NULL) for a flush of everything. Returns
 * an enum cache_track_state.
 */
int cache_track_poll(struct cache *, void (*fn)(void *, const char *),
    void *arg);
/*
 * 1 when Redis lost its data (restarted empty, a failover to an empty
 * replica): the mark written with every entry is gone; 0, -1.
 */
int cache_emptied(struct cache *);

#endif
