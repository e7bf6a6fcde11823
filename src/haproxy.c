/* haproxy.c: HAProxy's runtime API over its unix socket. */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "haproxy.h"
#include "log.h"
#include "ocsp.h"

/* The largest answer read: "show ssl ocsp-response" of many certificates
 * (about 300 bytes each). */
#define HAPROXY_MAX_ANSWER (16 * 1024 * 1024)

/* What "show ssl ocsp-response" answers first, and before each CertID. */
#define HAPROXY_LIST_HEAD "# Certificate IDs"
#define HAPROXY_ID_TAG "Certificate ID key : "
/* What "set ssl ocsp-response" answers when HAProxy took the response. */
#define HAPROXY_UPDATED "OCSP Response updated"

struct haproxy {
	char *path;
	char **keys; /* cache keys, sorted */
	size_t n;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline: 0, or -1 with err. */
static int
haproxy_wait(int fd, short events, long long deadline, char *err)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	long long left;
	int r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0) {
			errfmt(err, "no answer within %d ms",
			    HAPROXY_TIMEOUT_MS);
			return -1;
		}
		if ((r = poll(&pfd, 1, (int)left)) > 0)
			return 0;
		if (r == -1 && errno != EINTR) {
			errfmt(err, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* A non-blocking connection to the unix socket path: fd, or -1 with err. */
static int
haproxy_connect(const char *path, char *err)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errfmt(err, "socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1) {
		errfmt(err, "socket: %s", strerror(errno));
		return -1;
	}
	/* A unix socket connects at once, or fails (EAGAIN: its listen
	 * queue is full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		errfmt(err, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends the command line cmd (with its newline) to HAProxy at path and
 * reads the answer until HAProxy closes the connection (it does after
 * one command line). Returns the answer as a new NUL-terminated string
 * the caller frees, or NULL with err.
 */
static char *
haproxy_ask(const char *path, const char *cmd, size_t len, char *err)
{
	long long deadline = now_ms() + HAPROXY_TIMEOUT_MS;
	char *buf = NULL, *nb;
	size_t off = 0, cap = 0, sent = 0;
	ssize_t n;
	int fd;

	if ((fd = haproxy_connect(path, err)) == -1)
		return NULL;
	while (sent < len) {
		n = send(fd, cmd + sent, len - sent, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (haproxy_wait(fd, POLLOUT, deadline, err) == -1)
				goto fail;
			continue;
		}
		errfmt(err, "send: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		if (cap - off < 4096) {
			if (cap >= HAPROXY_MAX_ANSWER) {
				errfmt(err, "answer over %d bytes",
				    HAPROXY_MAX_ANSWER);
				goto fail;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				errfmt(err, "out of memory");
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + off, cap - off - 1);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EAGAIN || errno == EINTR) {
			if (haproxy_wait(fd, POLLIN, deadline, err) == -1)
				goto fail;
			continue;
		}
		errfmt(err, "read: %s", strerror(errno));
		goto fail;
	}
	close(fd);
	buf[off] = '\0';
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* The first line of an answer, for a log line: into buf. */
static const char *
first_line(const char *answer, char *buf, size_t size)
{
	size_t n = strcspn(answer, "\r\n");

	if (n == 0)
		return "(an empty answer)";
	snprintf(buf, size, "%.*s", (int)n, answer);
	return buf;
}

/*
 * The cache key of a CertID in hex (HAProxy's "Certificate ID key"),
 * through a one-certificate request and ocsp_req_key(): into key
 * (OCSP_KEYLEN). 0, or -1 with err.
 */
static int
haproxy_key(const char *hex, size_t hexlen, const char *prefix, char *key,
    char *err)
{
	unsigned char der[OCSP_KEYLEN], *rder = NULL;
	const unsigned char *p = der;
	OCSP_CERTID *id = NULL;
	OCSP_REQUEST *rq = NULL;
	struct ocsp_req *req = NULL;
	size_t i, len = hexlen / 2;
	int hi, lo, n, ret = -1;

	if (hexlen % 2 != 0 || len == 0 || len > sizeof(der)) {
		errfmt(err, "not a CertID in hex");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i])) < 0 ||
		    (lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1])) <
			0) {
			errfmt(err, "not a CertID in hex");
			return -1;
		}
		der[i] = (unsigned char)(hi << 4 | lo);
	}
	if ((id = d2i_OCSP_CERTID(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		errfmt(err, "not a DER CertID");
		goto done;
	}
	if ((rq = OCSP_REQUEST_new()) == NULL ||
	    OCSP_request_add0_id(rq, id) == NULL) {
		errfmt(err, "out of memory");
		goto done;
	}
	id = NULL; /* the request's now */
	if ((n = i2d_OCSP_REQUEST(rq, &rder)) <= 0) {
		errfmt(err, "cannot encode a request for it");
		goto done;
	}
	if ((req = ocsp_req_parse(rder, (size_t)n, err)) == NULL)
		goto done;
	ret = ocsp_req_key(req, prefix, key, err);
done:
	ocsp_req_free(req);
	OPENSSL_free(rder);
	OCSP_REQUEST_free(rq);
	OCSP_CERTID_free(id);
	return ret;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Adds the key of every "Certificate ID key" line of the answer; one
 * that names no key we can make is a log line and left out. 0, or -1
 * with err (out of memory).
 */
static int
haproxy_parse(struct haproxy *h, const char *answer, const char *prefix,
    char *err)
{
	const char *line, *hex, *end;
	char key[OCSP_KEYLEN], why[ERRLEN], **k;
	size_t hexlen;

	for (line = answer; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (strncmp(line, HAPROXY_ID_TAG, strlen(HAPROXY_ID_TAG)) != 0)
			continue;
		hex = line + strlen(HAPROXY_ID_TAG);
		hexlen = strcspn(hex, " \r\n");
		if (haproxy_key(hex, hexlen, prefix, key, why) == -1) {
			log_warnx(
			    "haproxy %s: certificate ID %.*s left out: %s",
			    h->path, (int)(hexlen > 80 ? 80 : hexlen), hex,
			    why);
			continue;
		}
		if ((k = reallocarray(h->keys, h->n + 1, sizeof(*k))) == NULL) {
			errfmt(err, "out of memory");
			return -1;
		}
		h->keys = k;
		if ((k[h->n] = strdup(key)) == NULL) {
			errfmt(err, "out of memory");
			return -1;
		}
		h->n++;
	}
	if (h->n > 0)
		qsort(h->keys, h->n, sizeof(*h->keys), key_cmp);
	return 0;
}

struct haproxy *
haproxy_new(const char *path, const char *prefix)
{
	static const char cmd[] = "show ssl ocsp-response\n";
	struct haproxy *h = NULL;
	char err[ERRLEN], line[128], *answer = NULL;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->path = strdup(path)) == NULL) {
		errfmt(err, "out of memory");
		goto fail;
	}
	if ((answer = haproxy_ask(path, cmd, sizeof(cmd) - 1, err)) == NULL)
		goto fail;
	/* Anything else says why: "Permission denied" below level admin,
	 * "Unknown command" before HAProxy 2.5. */
	if (strncmp(answer, HAPROXY_LIST_HEAD, strlen(HAPROXY_LIST_HEAD)) !=
	    0) {
		errfmt(err, "show ssl ocsp-response answered: %s",
		    first_line(answer, line, sizeof(line)));
		goto fail;
	}
	if (haproxy_parse(h, answer, prefix, err) == -1)
		goto fail;
	free(answer);
	return h;
fail:
	log_warnx("haproxy %s: cannot list its certificates: %s", path, err);
	free(answer);
	haproxy_free(h);
	return NULL;
}

void
haproxy_free(struct haproxy *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		free(h->keys[i]);
	free(h->keys);
	free(h->path);
	free(h);
}

const char *
haproxy_get0_path(const struct haproxy *h)
{
	return h->path;
}

size_t
haproxy_count(const struct haproxy *h)
{
	return h->n;
}

const char *
haproxy_get0_key(const struct haproxy *h, size_t i)
{
	return i < h->n ? h->keys[i] : NULL;
}

int
haproxy_wants(const struct haproxy *h, const char *key)
{
	return h->n > 0 &&
	    bsearch(&key, h->keys, h->n, sizeof(*h->keys), key_cmp) != NULL;
}

int
haproxy_push(struct haproxy *h, const char *key, const unsigned char *der,
    size_t len)
{
	static const char verb[] = "set ssl ocsp-response ";
	char err[ERRLEN], line[128], *cmd = NULL, *answer = NULL;
	size_t b64len = 4 * ((len + 2) / 3), n;
	int ret = -1;

	if (len == 0 || len > 16 * 1024 * 1024) {
		log_warnx("haproxy %s: %s: a response of %zu bytes not sent",
		    h->path, key, len);
		return -1;
	}
	if ((cmd = malloc(sizeof(verb) + b64len + 2)) == NULL) {
		log_warnx("haproxy %s: %s: out of memory", h->path, key);
		return -1;
	}
	memcpy(cmd, verb, sizeof(verb) - 1);
	n = sizeof(verb) - 1;
	n += (size_t)EVP_EncodeBlock((unsigned char *)cmd + n, der, (int)len);
	cmd[n++] = '\n';
	cmd[n] = '\0';
	if ((answer = haproxy_ask(h->path, cmd, n, err)) == NULL)
		log_warnx("haproxy %s: %s: response not sent: %s", h->path, key,
		    err);
	else if (strstr(answer, HAPROXY_UPDATED) == NULL)
		log_warnx("haproxy %s: %s: response not taken: %s", h->path,
		    key, first_line(answer, line, sizeof(line)));
	else
		ret = 0;
	free(answer);
	free(cmd);
	return ret;
}
