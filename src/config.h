/* config.h: the config file, plain "key value" lines and # comments. */
#ifndef OCSPXY_CONFIG_H
#define OCSPXY_CONFIG_H

struct config {
	char	*redis;			/* unix:/path or host:port */
	char	*prefix;		/* key prefix, "ocspxy_" */
	long	 upstream_timeout;	/* seconds for a whole fetch */
	long	 max_request_bytes;	/* client request body cap */
	long	 max_response_bytes;	/* upstream answer cap */
	long	 clock_skew;		/* seconds thisUpdate may lie ahead */
	long	 redis_timeout_ms;	/* connect and command timeout */
	long	 refresh_interval;	/* seconds between refresh passes */
	long	 refresh_min_age;	/* re-check age past half validity */
	long	 refresh_max_age;	/* re-check age otherwise */
	long	 refresh_concurrency;	/* fetches in flight at once */
	long	 entry_ttl;		/* seconds a key lives unused */
};

/*
 * Reads path (NULL: built-in defaults). Returns a new config that the
 * caller frees with config_free(), or NULL after logging one line that
 * names the file, the line and the key.
 */
struct config *config_load(const char *path);
void config_free(struct config *);

#endif
