/*
 * mem.h: the responses one process served, fetched or stored, kept in
 * its memory, bounded in bytes, least recently used out first, so that a
 * hit needs no Redis command. Pure data: the caller keeps it exact by
 * dropping what Redis's invalidations name (cache.c) before it answers.
 */
#ifndef OCSPXY_MEM_H
#define OCSPXY_MEM_H

#include <stddef.h>
#include <time.h>

struct mem;

/* An entry: what a hit serves, and what writing it back to Redis takes. */
struct mem_entry {
	const unsigned char *response;
	size_t response_len;
	const unsigned char *request; /* NULL: not known (no write-back) */
	size_t request_len;
	const char *responder; /* "host[:port][/path]" or NULL */
	const char *status; /* "good", ... or NULL */
	const char *etag; /* SHA-1 hex of the response */
	time_t thisupd, nextupd;
	int confirmed; /* Redis holds it, as far as we know */
};

/* A memory of at most max bytes (entries and their bookkeeping). */
struct mem *mem_new(size_t max);
void mem_free(struct mem *);

/*
 * The entry under key, or NULL; borrowed until the next call that
 * changes the memory. Makes it the most recently used.
 */
struct mem_entry *mem_get(struct mem *, const char *key);
/*
 * Puts a copy of e under key, in place of what was there, dropping the
 * least recently used entries until it fits. 0, or -1 when it can never
 * fit or memory runs out (then nothing is kept under key).
 */
int mem_put(struct mem *, const char *key, const struct mem_entry *e);
/* Drops key's entry, if any. 1 dropped, 0 none. */
int mem_del(struct mem *, const char *key);
/* Drops every entry. */
void mem_clear(struct mem *);
/* Every entry becomes unconfirmed (Redis may have changed unseen). */
void mem_unconfirm(struct mem *);
/* Calls fn for each entry, most recently used first. */
void mem_walk(struct mem *,
    void (*fn)(void *, const char *key, const struct mem_entry *), void *arg);
/* Entries held, and the bytes they take. */
size_t mem_count(const struct mem *);
size_t mem_bytes(const struct mem *);

#endif
