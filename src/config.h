/* config.h: the config file, plain "key value" lines and # comments. */
#ifndef OCSPXY_CONFIG_H
#define OCSPXY_CONFIG_H

#include <stddef.h>

#include <openssl/x509.h>

/* refresh_workers: at most; and how many "0" (one per CPU) gives at most. */
#define REFRESH_MAX_WORKERS 64
#define REFRESH_AUTO_WORKERS 4

/* An address with a prefix length (a CIDR), or a host name pattern. */
struct netmatch {
	char *pattern; /* host glob, or NULL for an address */
	int family; /* AF_INET, AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct portrange {
	long lo, hi;
};

/* "responder <issuer certificate file> <url>" */
struct cfresponder {
	X509 *issuer;
	char *url; /* "host[:port][/path]" for http:// (as the Perl tool
		    * stored it), the whole URL for https:// */
};

/* sentinel: at most this many Sentinels. */
#define CONFIG_MAX_SENTINELS 16

struct config {
	char *redis; /* unix:/path or host:port; not used with sentinel */
	char *redis_password; /* AUTH, or NULL */
	char *redis_user; /* AUTH user password (Redis 6 ACL), or NULL */
	char **sentinels; /* "host:port" of each Sentinel; none: redis */
	size_t nsentinels;
	char *sentinel_master; /* the master's name at the Sentinels */
	char *sentinel_password; /* AUTH at the Sentinels, or NULL */
	char *redis_replica; /* a replica to read hits from, or NULL */
	long redis_db; /* SELECT */
	char *prefix; /* key prefix, "ocspxy_" */
	long upstream_timeout; /* seconds for a whole fetch */
	long max_request_bytes; /* client request body cap */
	long max_response_bytes; /* upstream answer cap */
	long clock_skew; /* seconds thisUpdate may lie ahead */
	long redis_timeout_ms; /* connect and command timeout */
	long refresh_interval; /* seconds between refresh passes */
	long refresh_min_age; /* re-check age past half validity */
	long refresh_max_age; /* re-check age otherwise */
	long refresh_concurrency; /* fetches in flight at once, per worker */
	long refresh_workers; /* worker processes; 0: one per CPU, up to 4 */
	long entry_ttl; /* seconds a key lives unused */
	long upstream_connect_timeout; /* seconds to connect */
	int require_verified; /* store only verified responses */
	long upstream_max_waiting; /* processes of a host waiting upstream;
				    * 0: no limit */
	char *runtime_dir; /* the slot files of upstream_max_waiting */
	long memory_cache_bytes; /* each process's memory tier; 0: none */
	long refresh_per_responder; /* refresh fetches in flight, per
				     * responder and worker */
	char *upstream_ca; /* PEM CAs for https upstreams; NULL: the
			    * system's (libcurl's default) */
	char *haproxy_socket; /* HAProxy's runtime API (a unix socket) that
			       * the refresh daemon pushes to, or NULL */

	char **self; /* names of the proxy itself */
	size_t nself;
	struct cfresponder *responders;
	size_t nresponders;
	STACK_OF(X509) * issuers; /* known issuers, responders' too */
	struct portrange *ports; /* upstream_ports (http) */
	size_t nports;
	struct portrange *https_ports; /* upstream_https_ports */
	size_t nhttps_ports;
	struct netmatch *allow; /* upstream_allow */
	size_t nallow;
	struct netmatch *prune; /* prune_allow */
	size_t nprune;
};

/*
 * Writes a responder "[scheme://]host[:port][/path]" as the Perl tool
 * stored it: the root path "/" is left out.
 */
void config_strip_root(char *hostpath);

/*
 * 1 when host ("name[:port]", a client's Host) is the host and port of a
 * responder line's https:// URL (a port left out is 443 on both sides):
 * that responder speaks https, also when a client names it; else 0.
 */
int config_https_host(const struct config *, const char *host);

/*
 * Appends every PEM certificate of file, in order, to *certs (a new stack
 * when *certs is NULL; the caller frees it with sk_X509_pop_free() and
 * X509_free, also after a failure). Returns 0, or -1 with the reason in
 * err (ERRLEN bytes): the file cannot be read or holds no certificate.
 * The same reader as the config's issuer, issuer_dir and responder keys.
 */
int config_read_certs(STACK_OF(X509) * *certs, const char *file, char *err);

/* 1 when a file name ends in .pem, .crt or .cer: what a directory of
 * certificates (issuer_dir, an argument of ocspxy) is read for. */
int config_is_cert_file(const char *name);

/* 1 when the address (REMOTE_ADDR text, or a sockaddr's bytes) or host
 * name matches one of the entries; with exact, only a pattern without
 * wildcards matches a host. */
int config_match_addr(const struct netmatch *, size_t n, int family,
    const void *addr);
int config_match_text(const struct netmatch *, size_t n, const char *text);
int config_match_host(const struct netmatch *, size_t n, const char *host,
    int exact);

/*
 * Reads path (NULL: built-in defaults). Returns a new config that the
 * caller frees with config_free(), or NULL after logging one line that
 * names the file, the line and the key.
 */
struct config *config_load(const char *path);
void config_free(struct config *);

#endif
