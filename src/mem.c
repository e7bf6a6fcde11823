/* mem.c: a bounded LRU of responses, by cache key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "ocsp.h"

/* One entry: its node and its bytes in one allocation. */
struct node {
	struct node *next; /* in its bucket */
	struct node *newer, *older; /* in the LRU list */
	uint32_t hash;
	size_t size; /* of the allocation */
	const char *key;
	struct mem_entry e; /* points into the allocation */
};

struct mem {
	struct node **bucket;
	size_t nbuckets; /* a power of two */
	size_t count, bytes, max;
	struct node *newest, *oldest;
};

struct mem *
mem_new(size_t max)
{
	struct mem *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->max = max;
	m->nbuckets = 64;
	if ((m->bucket = calloc(m->nbuckets, sizeof(*m->bucket))) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
mem_free(struct mem *m)
{
	if (m == NULL)
		return;
	mem_clear(m);
	free(m->bucket);
	free(m);
}

static struct node **
mem_slot(struct mem *m, const char *key, uint32_t h)
{
	struct node **p = &m->bucket[h & (m->nbuckets - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

static void
lru_unlink(struct mem *m, struct node *n)
{
	if (n->newer != NULL)
		n->newer->older = n->older;
	else
		m->newest = n->older;
	if (n->older != NULL)
		n->older->newer = n->newer;
	else
		m->oldest = n->newer;
	n->newer = n->older = NULL;
}

static void
lru_push(struct mem *m, struct node *n)
{
	n->older = m->newest;
	n->newer = NULL;
	if (m->newest != NULL)
		m->newest->newer = n;
	m->newest = n;
	if (m->oldest == NULL)
		m->oldest = n;
}

/* Unlinks the node at *p and frees it. */
static void
mem_drop(struct mem *m, struct node **p)
{
	struct node *n = *p;

	*p = n->next;
	lru_unlink(m, n);
	m->count--;
	m->bytes -= n->size;
	free(n);
}

struct mem_entry *
mem_get(struct mem *m, const char *key)
{
	struct node *n = *mem_slot(m, key, ocsp_hash(key, strlen(key)));

	if (n == NULL)
		return NULL;
	lru_unlink(m, n);
	lru_push(m, n);
	return &n->e;
}

int
mem_del(struct mem *m, const char *key)
{
	struct node **p = mem_slot(m, key, ocsp_hash(key, strlen(key)));

	if (*p == NULL)
		return 0;
	mem_drop(m, p);
	return 1;
}

/* Doubles the buckets when entries outnumber them (a failure is not one:
 * the chains only grow longer). */
static void
mem_grow(struct mem *m)
{
	struct node **b, *n, *next;
	size_t i, nb = m->nbuckets * 2;

	if (m->count < m->nbuckets || (b = calloc(nb, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < m->nbuckets; i++)
		for (n = m->bucket[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	free(m->bucket);
	m->bucket = b;
	m->nbuckets = nb;
}

/* Copies len bytes of s to *at, moving *at on; NULL for a NULL s. */
static void *
mem_copy(char **at, const void *s, size_t len)
{
	void *d = *at;

	if (s == NULL)
		return NULL;
	memcpy(d, s, len);
	*at += len;
	return d;
}

static size_t
slen(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

int
mem_put(struct mem *m, const char *key, const struct mem_entry *e)
{
	struct node *n;
	size_t size;
	uint32_t h = ocsp_hash(key, strlen(key));
	char *at;

	mem_del(m, key);
	size = sizeof(*n) + strlen(key) + 1 + e->response_len + e->request_len +
	    slen(e->responder) + slen(e->status) + slen(e->etag);
	if (size > m->max || (n = calloc(1, size)) == NULL)
		return -1;
	while (m->bytes + size > m->max && m->oldest != NULL)
		mem_del(m, m->oldest->key);
	at = (char *)(n + 1);
	n->size = size;
	n->hash = h;
	n->key = mem_copy(&at, key, strlen(key) + 1);
	n->e = *e;
	n->e.response = mem_copy(&at, e->response, e->response_len);
	n->e.request = mem_copy(&at, e->request, e->request_len);
	n->e.responder = mem_copy(&at, e->responder, slen(e->responder));
	n->e.status = mem_copy(&at, e->status, slen(e->status));
	n->e.etag = mem_copy(&at, e->etag, slen(e->etag));
	n->next = m->bucket[h & (m->nbuckets - 1)];
	m->bucket[h & (m->nbuckets - 1)] = n;
	lru_push(m, n);
	m->count++;
	m->bytes += size;
	mem_grow(m);
	return 0;
}

void
mem_clear(struct mem *m)
{
	while (m->oldest != NULL)
		mem_del(m, m->oldest->key);
}

void
mem_unconfirm(struct mem *m)
{
	struct node *n;

	for (n = m->newest; n != NULL; n = n->older)
		n->e.confirmed = 0;
}

void
mem_walk(struct mem *m,
    void (*fn)(void *, const char *key, const struct mem_entry *), void *arg)
{
	struct node *n;

	for (n = m->newest; n != NULL; n = n->older)
		fn(arg, n->key, &n->e);
}

size_t
mem_count(const struct mem *m)
{
	return m->count;
}

size_t
mem_bytes(const struct mem *m)
{
	return m->bytes;
}
