/* breaker.c: a circuit breaker per responder, in Redis and in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "breaker.h"
#include "cache.h"
#include "log.h"

/* While Redis is unreachable: the breakers this process knows of. */
#define BREAKER_SLOTS 32
struct mem {
	char host[256]; /* "" when free */
	long long until, backoff, trial; /* ms */
	long long closed_at; /* Redis said closed then (breaker_trust()) */
};

struct breaker {
	struct cache *cache; /* borrowed */
	long trial_ms;
	long trust_ms; /* a closed verdict holds that long, 0: none */
	unsigned int seed;
	struct mem m[BREAKER_SLOTS];
};

struct breaker *
breaker_new(struct cache *c, long trial_ms)
{
	struct breaker *b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warn("breaker: calloc");
		return NULL;
	}
	b->cache = c;
	b->trial_ms = trial_ms;
	b->seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	return b;
}

void
breaker_trust(struct breaker *b, long ms)
{
	b->trust_ms = ms;
}

void
breaker_free(struct breaker *b)
{
	free(b);
}

int
breaker_host(const char *url, char *buf, size_t size)
{
	const char *p = url, *port = ":80";
	size_t n;
	int w;

	if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
		port = ":443";
	}
	if ((n = strcspn(p, "/?#")) == 0)
		return -1;
	/* The port named, else the scheme's: http and https apart. */
	if (memchr(p, ']', n) != NULL ? p[n - 1] != ']'
				      : memchr(p, ':', n) != NULL)
		port = "";
	w = snprintf(buf, size, "%.*s%s", (int)n, p, port);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

/* host's slot in memory; with make, a free or the oldest one. */
static struct mem *
mem_find(struct breaker *b, const char *host, int make)
{
	struct mem *old = &b->m[0];
	size_t i;

	for (i = 0; i < BREAKER_SLOTS; i++) {
		if (strcmp(b->m[i].host, host) == 0)
			return &b->m[i];
		if (b->m[i].until < old->until)
			old = &b->m[i];
	}
	if (!make)
		return NULL;
	memset(old, 0, sizeof(*old));
	snprintf(old->host, sizeof(old->host), "%s", host);
	return old;
}

/* breaker_check() from memory, Redis being unreachable. */
static enum breaker_verdict
mem_check(struct breaker *b, const char *host, long long now, long long *until)
{
	struct mem *m;

	if ((m = mem_find(b, host, 0)) == NULL || m->until == 0)
		return BREAKER_GO;
	if (now < m->until || now < m->trial) {
		*until = now < m->until ? m->until : m->trial;
		return BREAKER_HOLD;
	}
	m->trial = now + b->trial_ms;
	return BREAKER_TRIAL;
}

/*
 * Opens host's breaker in memory, as cache_breaker_open() does in Redis:
 * 1 newly opened, 0 already open (left alone: the fetches that fail
 * together count as one) or re-opened after a failed trial (doubled).
 */
static int
mem_open(struct breaker *b, const char *host, long long now, long jitter,
    long long *until)
{
	struct mem *m = mem_find(b, host, 1);
	int fresh = m->until == 0;

	if (!fresh && now < m->until) {
		*until = m->until;
		return 0;
	}
	m->backoff = fresh ? BREAKER_MIN_MS : m->backoff * 2;
	if (m->backoff > BREAKER_MAX_MS)
		m->backoff = BREAKER_MAX_MS;
	m->until = *until = now + m->backoff + m->backoff * jitter / 1000;
	m->trial = 0;
	return fresh;
}

static int
mem_close(struct breaker *b, const char *host)
{
	struct mem *m;
	int was;

	if ((m = mem_find(b, host, 0)) == NULL)
		return 0;
	was = m->until != 0;
	memset(m, 0, sizeof(*m));
	return was;
}

enum breaker_verdict
breaker_check(struct breaker *b, const char *url, time_t *until)
{
	struct mem *m;
	char host[256];
	long long now = cache_now_ms(), u = 0;
	int r;

	*until = 0;
	if (breaker_host(url, host, sizeof(host)) == -1)
		return BREAKER_GO;
	if (b->trust_ms > 0 && (m = mem_find(b, host, 0)) != NULL &&
	    m->until == 0 && now - m->closed_at < b->trust_ms)
		return BREAKER_GO;
	r = cache_breaker_check(b->cache, host, now, b->trial_ms, &u);
	switch (r) {
	case CACHE_BREAKER_CLOSED:
		mem_close(b, host);
		if (b->trust_ms > 0)
			mem_find(b, host, 1)->closed_at = now;
		return BREAKER_GO;
	case CACHE_BREAKER_TRIAL:
		return BREAKER_TRIAL;
	case CACHE_BREAKER_OPEN:
		break;
	default:
		if ((r = mem_check(b, host, now, &u)) != BREAKER_HOLD)
			return (enum breaker_verdict)r;
	}
	*until = (time_t)((u + 999) / 1000);
	return BREAKER_HOLD;
}

void
breaker_done(struct breaker *b, const char *url, enum breaker_verdict how,
    const char *reason)
{
	char host[256];
	long long now = cache_now_ms(), u = 0;
	long jitter;
	int r;

	if (breaker_host(url, host, sizeof(host)) == -1)
		return;
	if (reason != NULL &&
	    (strcmp(reason, "timeout") == 0 ||
		strcmp(reason, "connect") == 0)) {
		jitter = (long)(rand_r(&b->seed) % 501) - 250;
		r = cache_breaker_open(b->cache, host, now, BREAKER_MIN_MS,
		    BREAKER_MAX_MS, jitter, &u);
		if (r == -1)
			r = mem_open(b, host, now, jitter, &u);
		else
			mem_open(b, host, now, jitter, &u);
		if (r == 1)
			log_warnx("responder %s: circuit open after a %s: "
				  "fetches from it fail at once for %lld ms, "
				  "then one trial",
			    host, reason, u - now);
		return;
	}
	if (how != BREAKER_TRIAL)
		return;
	if ((r = cache_breaker_close(b->cache, host)) == -1)
		r = mem_close(b, host);
	else
		mem_close(b, host);
	if (r == 1)
		log_info("responder %s: answered the trial fetch, circuit "
			 "closed",
		    host);
}
