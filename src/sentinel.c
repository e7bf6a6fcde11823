/* sentinel.c: the master's address, as Redis Sentinel names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "config.h"
#include "log.h"
#include "sentinel.h"

struct peer {
	char addr[SENTINEL_ADDRLEN]; /* host:port */
	int failed; /* its failure was logged, not its recovery */
};

struct sentinel {
	struct peer peers[CONFIG_MAX_SENTINELS]; /* in the order to ask */
	size_t n;
	char *name; /* sentinel_master */
	char *password; /* sentinel_password, or NULL */
	struct timeval tv; /* to connect, and for each command */
	char named_by[SENTINEL_ADDRLEN]; /* the last that named the master */
};

/* What one Sentinel said. */
enum ask {
	ASK_NAMED, /* the master's address */
	ASK_UNKNOWN, /* it monitors no master of that name */
	ASK_FAILED /* no answer: connect, AUTH or the command failed */
};

/*
 * The memo of this process (see sentinel.h): the master last connected
 * to, under its name, and the Sentinel that named it.
 */
static struct {
	char name[129];
	char master[SENTINEL_ADDRLEN];
	char first[SENTINEL_ADDRLEN];
} memo;

/* Moves peers[i] to position to, keeping the order of the others. */
static void
peer_move(struct sentinel *s, size_t i, size_t to)
{
	struct peer p = s->peers[i];

	if (i < to)
		memmove(&s->peers[i], &s->peers[i + 1], (to - i) * sizeof(p));
	else if (i > to)
		memmove(&s->peers[to + 1], &s->peers[to], (i - to) * sizeof(p));
	s->peers[to] = p;
}

/* The index of the Sentinel at addr, or n. */
static size_t
peer_find(const struct sentinel *s, const char *addr)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->peers[i].addr, addr) == 0)
			break;
	return i;
}

struct sentinel *
sentinel_new(const struct config *cf, long timeout_ms)
{
	struct sentinel *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(cf->sentinel_master)) == NULL ||
	    (cf->sentinel_password != NULL &&
		(s->password = strdup(cf->sentinel_password)) == NULL)) {
		log_warn("sentinel: out of memory");
		sentinel_free(s);
		return NULL;
	}
	for (i = 0; i < cf->nsentinels && i < CONFIG_MAX_SENTINELS; i++)
		snprintf(s->peers[i].addr, sizeof(s->peers[i].addr), "%s",
		    cf->sentinels[i]);
	s->n = i;
	s->tv.tv_sec = timeout_ms / 1000;
	s->tv.tv_usec = (timeout_ms % 1000) * 1000;
	if ((i = peer_find(s, memo.first)) < s->n)
		peer_move(s, i, 0);
	return s;
}

void
sentinel_free(struct sentinel *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->password);
	free(s);
}

/*
 * One command on ctx; the reply (the caller frees it), or NULL with why
 * set, also for an error reply.
 */
static redisReply *
sentinel_cmd(redisContext *ctx, int argc, const char **argv, char *why)
{
	redisReply *r;

	if ((r = redisCommandArgv(ctx, argc, argv, NULL)) == NULL) {
		errfmt(why, "%s: %s", argv[0],
		    ctx->errstr[0] ? ctx->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		errfmt(why, "%s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Asks the Sentinel p; with ASK_NAMED, the address is in addr. */
static enum ask
sentinel_ask(struct sentinel *s, const struct peer *p, char *addr, char *why)
{
	const char *auth[2] = {"AUTH", s->password};
	const char *get[3] = {"SENTINEL", "get-master-addr-by-name", s->name};
	redisContext *ctx = NULL;
	redisReply *r = NULL;
	enum ask ret = ASK_FAILED;
	char host[SENTINEL_ADDRLEN], *colon;

	snprintf(host, sizeof(host), "%s", p->addr);
	if ((colon = strrchr(host, ':')) == NULL) { /* config.c checked */
		errfmt(why, "not host:port");
		return ASK_FAILED;
	}
	*colon = '\0';
	ctx = redisConnectWithTimeout(host, (int)strtol(colon + 1, NULL, 10),
	    s->tv);
	if (ctx == NULL || ctx->err) {
		errfmt(why, "connect: %s", ctx ? ctx->errstr : "out of memory");
		goto done;
	}
	if (redisSetTimeout(ctx, s->tv) != REDIS_OK) {
		errfmt(why, "set timeout: %s", ctx->errstr);
		goto done;
	}
	if (s->password != NULL) {
		if ((r = sentinel_cmd(ctx, 2, auth, why)) == NULL)
			goto done;
		freeReplyObject(r);
		r = NULL;
	}
	if ((r = sentinel_cmd(ctx, 3, get, why)) == NULL)
		goto done;
	if (r->type == REDIS_REPLY_NIL) {
		errfmt(why, "monitors no master named '%s'", s->name);
		ret = ASK_UNKNOWN;
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len + r->element[1]->len + 2 > SENTINEL_ADDRLEN)
		errfmt(why, "unexpected reply to get-master-addr-by-name");
	else {
		snprintf(addr, SENTINEL_ADDRLEN, "%s:%s", r->element[0]->str,
		    r->element[1]->str);
		ret = ASK_NAMED;
	}
done:
	if (r != NULL)
		freeReplyObject(r);
	if (ctx != NULL)
		redisFree(ctx);
	return ret;
}

int
sentinel_master(struct sentinel *s, char *addr, char *why)
{
	char err[ERRLEN] = "no Sentinel configured";
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct peer *p = &s->peers[i];

		if (sentinel_ask(s, p, addr, err) == ASK_NAMED) {
			if (p->failed) {
				p->failed = 0;
				log_info("sentinel %s answers again", p->addr);
			}
			peer_move(s, i, 0);
			snprintf(s->named_by, sizeof(s->named_by), "%s",
			    s->peers[0].addr);
			snprintf(memo.first, sizeof(memo.first), "%s",
			    s->named_by);
			return 0;
		}
		if (!p->failed) {
			p->failed = 1;
			log_warnx("sentinel %s: %s (asking the next; logged "
				  "once until it answers)",
			    p->addr, err);
		}
	}
	errfmt(why,
	    "none of %zu Sentinels named the master of '%s' (the "
	    "last: %s)",
	    s->n, s->name, err);
	return -1;
}

void
sentinel_distrust(struct sentinel *s)
{
	size_t i;

	if ((i = peer_find(s, s->named_by)) < s->n)
		peer_move(s, i, s->n - 1);
	if (strcmp(memo.first, s->named_by) == 0)
		memo.first[0] = '\0';
}

int
sentinel_confirm(struct sentinel *s, const char *addr, char *prev)
{
	int moved = strcmp(memo.name, s->name) == 0 && memo.master[0] != '\0' &&
	    strcmp(memo.master, addr) != 0;

	if (moved)
		snprintf(prev, SENTINEL_ADDRLEN, "%s", memo.master);
	snprintf(memo.name, sizeof(memo.name), "%s", s->name);
	snprintf(memo.master, sizeof(memo.master), "%s", addr);
	return moved;
}

const char *
sentinel_get0_name(const struct sentinel *s)
{
	return s->name;
}

const char *
sentinel_get0_named_by(const struct sentinel *s)
{
	return s->named_by;
}
