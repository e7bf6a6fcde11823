/*
 * sentinel.h: the Sentinel side of cache.c's Redis (hiredis): which
 * server is the master, as Redis Sentinel names it. It follows Redis's
 * client algorithm: the Sentinels are asked in turn, each with a short
 * timeout, SENTINEL get-master-addr-by-name; the one that answered is
 * asked first from then on. cache.c connects to the address and checks
 * ROLE; when the server named is not the master, sentinel_distrust()
 * sends that Sentinel to the back. Only cache.c uses this module.
 *
 * A declared memo, per process: the master last connected to and the
 * Sentinel that named it, so that a failover is one log line per process
 * even where a cache lives for one pass only (the refresh daemon).
 */
#ifndef OCSPXY_SENTINEL_H
#define OCSPXY_SENTINEL_H

#include <stddef.h>

struct config;
struct sentinel;

/* "host:port" of a master or a Sentinel, with its NUL. */
#define SENTINEL_ADDRLEN 300

/*
 * The Sentinels of cf (sentinel, sentinel_master, sentinel_password),
 * asked with timeout_ms each to connect and to answer; the one that
 * named the master last in this process first. NULL (logged) when out of
 * memory. The caller frees it with sentinel_free().
 */
struct sentinel *sentinel_new(const struct config *cf, long timeout_ms);
void sentinel_free(struct sentinel *);

/*
 * Asks the Sentinels in turn for the master's address and writes
 * "host:port" into addr (SENTINEL_ADDRLEN bytes). Returns 0, or -1 with
 * why (ERRLEN bytes) when none named one; a Sentinel that fails is
 * logged once until it answers again, and the next one is asked.
 */
int sentinel_master(struct sentinel *, char *addr, char *why);

/*
 * The server the last answer named is not the master (ROLE said so):
 * the Sentinel that named it is asked last from now on.
 */
void sentinel_distrust(struct sentinel *);

/*
 * A connection to addr is made and ROLE says master. Returns 1 when this
 * process used another master before (a failover: its address is copied
 * into prev, SENTINEL_ADDRLEN bytes), else 0. The caller logs it.
 */
int sentinel_confirm(struct sentinel *, const char *addr, char *prev);

/* The master's name, and "host:port" of the Sentinel that named it last
 * ("" before any answer); borrowed from the sentinel. */
const char *sentinel_get0_name(const struct sentinel *);
const char *sentinel_get0_named_by(const struct sentinel *);

#endif
