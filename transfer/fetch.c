/*
 * transfer fetch: connect back, Request=Fetch, stream into a temp file while
 * hashing, check, then rename into place. Nothing partial ever carries the
 * final name.
 */
#include "transfer/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "common/wire.h"

#define FETCH_BUF (64 * 1024)
#define SESSIONS_MAX 64

struct kept_session {
	char host[256];
	SSL_CTX *ctx;
	SSL_SESSION *sess;
	unsigned long long used;
};

static struct kept_session sessions[SESSIONS_MAX];
static unsigned long long session_clock;
static int last_resumed;

/*
 * The connection of the last good fetch, kept for the next one to the same address:
 * no TLS handshake then (the dearest part of a fetch on both sides). The worker waits
 * TRANSFER_KEEP_MS (5 s) for the next request; it is reused for FETCH_KEEP_MS after its
 * fetch, less, so that it is rarely the one closing as the request goes out (and when it
 * does, the request is sent again on a new connection: see request_reply). Never across a
 * fork: a copy of a TLS connection in two processes would corrupt it.
 */
#define FETCH_KEEP_MS 4000
static struct {
	SSL *ssl;
	SSL_CTX *ctx;
	char host[256];
	int port;
	pid_t pid;
	long long since;   /* monotonic ms: its last fetch ended */
} kept;
static int last_kept;

/* Let go of the kept connection: closed in the process that made it, only freed in another. */
static void
kept_drop(void)
{
	if (kept.ssl == NULL)
		return;
	if (kept.pid == getpid()) {
		tls_close(kept.ssl);
	} else {
		int fd = SSL_get_fd(kept.ssl);
		SSL_set_quiet_shutdown(kept.ssl, 1); /* not a word on the parent's connection */
		SSL_free(kept.ssl);
		if (fd != -1)
			close(fd);
	}
	kept.ssl = NULL;
}

/* The kept connection to ctx, host:port, if fresh enough (the caller owns it then), or NULL. */
static SSL *
kept_take(SSL_CTX *ctx, const char *host, int port)
{
	if (kept.ssl == NULL)
		return NULL;
	if (kept.pid != getpid() || kept.ctx != ctx || kept.port != port || strcmp(kept.host, host) != 0 ||
	    clock_mono_ms() - kept.since >= FETCH_KEEP_MS) {
		kept_drop();
		return NULL;
	}
	SSL *ssl = kept.ssl;
	kept.ssl = NULL;
	return ssl;
}

static void
kept_put(SSL_CTX *ctx, const char *host, int port, SSL *ssl)
{
	kept_drop();
	if (strlen(host) >= sizeof(kept.host)) {
		tls_close(ssl);
		return;
	}
	kept.ssl = ssl;
	kept.ctx = ctx;
	snprintf(kept.host, sizeof(kept.host), "%s", host);
	kept.port = port;
	kept.pid = getpid();
	kept.since = clock_mono_ms();
}

static struct kept_session *
session_find(SSL_CTX *ctx, const char *host)
{
	for (int i = 0; i < SESSIONS_MAX; i++)
		if (sessions[i].sess != NULL && sessions[i].ctx == ctx && strcmp(sessions[i].host, host) == 0)
			return &sessions[i];
	return NULL;
}

static void
session_drop(SSL_CTX *ctx, const char *host)
{
	struct kept_session *k = session_find(ctx, host);
	if (k != NULL) {
		SSL_SESSION_free(k->sess);
		memset(k, 0, sizeof(*k));
	}
}

/* Keep session s (a reference the caller gives up) for host, replacing the least recently used. */
static void
session_store(SSL_CTX *ctx, const char *host, SSL_SESSION *s)
{
	if (strlen(host) >= sizeof(sessions[0].host) || !SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		return;
	}
	struct kept_session *k = session_find(ctx, host);
	if (k == NULL) {
		k = &sessions[0];
		for (int i = 0; i < SESSIONS_MAX; i++) {
			if (sessions[i].sess == NULL) {
				k = &sessions[i];
				break;
			}
			if (sessions[i].used < k->used)
				k = &sessions[i];
		}
	}
	SSL_SESSION_free(k->sess);
	snprintf(k->host, sizeof(k->host), "%s", host);
	k->ctx = ctx;
	k->sess = s;
	k->used = ++session_clock;
}

/* Keep ssl's current session for host. */
static void
session_keep(SSL_CTX *ctx, const char *host, SSL *ssl)
{
	SSL_SESSION *s = SSL_get1_session(ssl);
	if (s != NULL)
		session_store(ctx, host, s);
}

void
transfer_fetch_sessions_each(void (*cb)(const char *host, const unsigned char *der, size_t len,
    void *arg), void *arg)
{
	for (int i = 0; i < SESSIONS_MAX; i++) {
		unsigned char *der = NULL;
		if (sessions[i].sess == NULL)
			continue;
		int len = i2d_SSL_SESSION(sessions[i].sess, &der);
		if (len > 0)
			cb(sessions[i].host, der, (size_t)len, arg);
		OPENSSL_free(der);
	}
}

int
transfer_fetch_session_import(SSL_CTX *ctx, const char *host, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)len);
	if (s == NULL) {
		ERR_clear_error();
		return -1;
	}
	session_store(ctx, host, s);
	return 0;
}

void
transfer_fetch_close_kept(void)
{
	kept_drop();
}

int
transfer_fetch_kept(void)
{
	return last_kept;
}

void
transfer_fetch_forget_sessions(void)
{
	for (int i = 0; i < SESSIONS_MAX; i++) {
		SSL_SESSION_free(sessions[i].sess);
		memset(&sessions[i], 0, sizeof(sessions[i]));
	}
}

int
transfer_fetch_resumed(void)
{
	return last_resumed;
}

static int
checksum_valid(const char *c)
{
	if (c == NULL || strncmp(c, "sha256:", 7) != 0 || strlen(c) != 7 + 64)
		return 0;
	for (const char *p = c + 7; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
			return 0;
	return 1;
}

/* Level 7: every message, with the key masked by wire_dump. */
static void
trace_msg(const char *what, const struct wire_msg *m)
{
	if (!log_enabled(LL_TRACE))
		return;
	char *d = wire_dump(m);
	log_trace("fetch: %s %s", what, d != NULL ? d : "(message)");
	free(d);
}

static int
send_request(SSL *ssl, const char *key, long long event_id, int seq, long long timeout_ms, char *err, size_t errlen)
{
	char why[256];
	size_t len = 0;
	char *buf = NULL;
	int rc = -1;

	struct wire_msg *m = wire_msg_new();
	if (m == NULL || wire_add(m, "Request", "Fetch", why, sizeof(why)) == -1 ||
	    wire_add(m, "Key", key, why, sizeof(why)) == -1 ||
	    wire_addf(m, why, sizeof(why), "Event-ID", "%lld", event_id) == -1 ||
	    wire_addf(m, why, sizeof(why), "Task-Sequence-ID", "%d", seq) == -1 ||
	    (buf = wire_build(m, &len)) == NULL) {
		snprintf(err, errlen, "fetch request could not be built");
		goto out;
	}
	trace_msg("sent", m);
	rc = tls_write_all(ssl, buf, len, timeout_ms, err, errlen);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	if (m != NULL) {
		for (int i = 0; i < m->nkeys; i++)
			OPENSSL_cleanse(m->values[i], strlen(m->values[i]));
		wire_msg_free(m);
	}
	return rc;
}

/*
 * Read the reply header, all of it within timeout_ms (a server that trickles
 * a byte now and then gets no longer); bytes that followed it stay in
 * buf[*start, *end). Returns the message, or NULL with err and *closed set when
 * the server closed or reset the connection before the first byte of a reply.
 */
static struct wire_msg *
read_reply(SSL *ssl, char *buf, size_t bufsize, size_t *start, size_t *end, long long timeout_ms,
    int *closed, char *err, size_t errlen)
{
	int got = 0;
	*closed = 0;
	struct wire_parser *p = wire_parser_new(0);
	struct wire_msg *m = NULL;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	long long deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
	for (;;) {
		long long left = deadline < 0 ? -1 : deadline - clock_mono_ms();
		if (deadline >= 0 && left <= 0) {
			snprintf(err, errlen, "reply not complete within %lld ms", timeout_ms);
			break;
		}
		ssize_t n = tls_read_some(ssl, buf, bufsize, left, err, errlen);
		if (n == 0)
			snprintf(err, errlen, "server closed the connection before its reply");
		if (n <= 0) {
			/* a closed or reset connection, not our own deadline */
			*closed = !got && (n == 0 || deadline < 0 || clock_mono_ms() < deadline);
			break;
		}
		got = 1;
		size_t used = 0;
		enum wire_status st = wire_feed(p, buf, (size_t)n, &used);
		if (st == WIRE_ERROR) {
			snprintf(err, errlen, "bad reply: %s", wire_parser_error(p));
			break;
		}
		if (st == WIRE_DONE) {
			m = wire_parser_take(p);
			if (m == NULL)
				snprintf(err, errlen, "out of memory");
			else
				trace_msg("received", m);
			*start = used;
			*end = (size_t)n;
			break;
		}
	}
	wire_parser_free(p);
	return m;
}

/*
 * Connect and handshake within timeout_ms in all. A server out of room for
 * connections that have not finished their handshake closes new ones (or its
 * oldest) before TLS: that is tried again with backoff (100 ms doubling to
 * 2 s, jittered) while time remains; nothing was sent, so the key is intact.
 */
static int
connect_retrying(SSL_CTX *ctx, const char *host, int port, long long timeout_ms, SSL **ssl, char *err,
    size_t errlen)
{
	long long deadline = clock_mono_ms() + timeout_ms, pause = 100;
	for (int attempt = 1;; attempt++) {
		struct kept_session *k = session_find(ctx, host);
		int refused = 0;
		long long left = deadline - clock_mono_ms();
		if (tls_connect_refusable(ctx, host, port, left > 0 ? left : 1, NULL, k != NULL ? k->sess : NULL,
			ssl, NULL, &refused, err, errlen) == 0)
			return 0;
		unsigned char r = 0;
		RAND_bytes(&r, 1);
		long long wait = pause / 2 + (pause / 2) * r / 255;
		if (!refused || clock_mono_ms() + wait >= deadline)
			return -1;
		log_detail("fetch %s:%d: turned away before tls (%s), attempt %d, again in %lld ms", host, port,
		    err, attempt, wait);
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		pause = pause * 2 > 2000 ? 2000 : pause * 2;
	}
}

/* What the caller asks for, before anything is connected. */
static int
check_request(const char *key, uint64_t size, const char *checksum, const char *final_name,
    size_t max_size, char *err, size_t errlen)
{
	if (final_name == NULL || final_name[0] == '\0' || strchr(final_name, '/') != NULL ||
	    strcmp(final_name, ".") == 0 || strcmp(final_name, "..") == 0 || strlen(final_name) > 200) {
		snprintf(err, errlen, "fetch: file name \"%.64s\" is not a plain base name", final_name ? final_name : "");
		return -1;
	}
	if (size > max_size) {
		snprintf(err, errlen, "fetch: file of %llu bytes is over the limit of %zu",
		    (unsigned long long)size, max_size);
		return -1;
	}
	if (!checksum_valid(checksum)) {
		snprintf(err, errlen, "fetch: checksum \"%.80s\" is not sha256:<64 hex>", checksum ? checksum : "");
		return -1;
	}
	if (key == NULL || strlen(key) != 32) {
		snprintf(err, errlen, "fetch: transfer key is malformed");
		return -1;
	}
	return 0;
}

/* The server's reply: Reply=Fetch, Result=Success, the announced Size and Checksum. */
static int
check_reply(const struct wire_msg *reply, const char *host, int port, uint64_t size,
    const char *checksum, size_t early, char *err, size_t errlen)
{
	const char *r = wire_get(reply, "Reply"), *result = wire_get(reply, "Result");
	if (r == NULL || strcmp(r, "Fetch") != 0 || result == NULL) {
		snprintf(err, errlen, "fetch: reply is not Reply=Fetch with a Result");
		return -1;
	}
	if (strcmp(result, "Success") != 0) {
		const char *e = wire_get(reply, "Error");
		snprintf(err, errlen, "fetch: refused by %s:%d: %s", host, port, e != NULL ? e : "no reason given");
		return -1;
	}
	const char *rsize = wire_get(reply, "Size"), *rsum = wire_get(reply, "Checksum");
	char expect_size[32];
	snprintf(expect_size, sizeof(expect_size), "%llu", (unsigned long long)size);
	if (rsize == NULL || strcmp(rsize, expect_size) != 0) {
		snprintf(err, errlen, "fetch: server offers Size=%.32s, expected %s", rsize ? rsize : "(none)", expect_size);
		return -1;
	}
	if (rsum == NULL || strcasecmp(rsum, checksum) != 0) {
		snprintf(err, errlen, "fetch: server offers a different checksum than announced");
		return -1;
	}
	if (early > size) {
		snprintf(err, errlen, "fetch: server sent more than Size=%llu bytes", (unsigned long long)size);
		return -1;
	}
	return 0;
}

/* The file being received: a temp file beside its final name, and its running sha256. */
struct part {
	int dirfd, fd;
	char name[300];   /* "" once there is nothing to remove */
	EVP_MD_CTX *md;
};

static int
part_open(struct part *pt, const struct transfer_req *r, char *err, size_t errlen)
{
	unsigned char rnd[8];
	char rnd_hex[2 * sizeof(rnd) + 1];
	int dirfd = r->dirfd;
	const char *final_name = r->name;

	pt->dirfd = dirfd;
	if (r->reuse != NULL && strlen(r->reuse) < sizeof(pt->name) &&
	    (pt->fd = fsutil_reuse_file(dirfd, r->reuse, r->uid)) != -1) {
		snprintf(pt->name, sizeof(pt->name), "%s", r->reuse);
		goto digest;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "fetch: no random bytes");
		return -1;
	}
	util_hex(rnd, sizeof(rnd), rnd_hex);
	snprintf(pt->name, sizeof(pt->name), ".%s.%s.part", final_name, rnd_hex);
	pt->fd = openat(dirfd, pt->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (pt->fd == -1) {
		snprintf(err, errlen, "fetch: temp file %s: %s", pt->name, strerror(errno));
		pt->name[0] = '\0';
		return -1;
	}
digest:
	pt->md = EVP_MD_CTX_new();
	if (pt->md == NULL || EVP_DigestInit_ex(pt->md, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "fetch: out of memory");
		return -1;
	}
	return 0;
}

static int
part_write(struct part *pt, const char *p, size_t n, char *err, size_t errlen)
{
	EVP_DigestUpdate(pt->md, p, n);
	while (n > 0) {
		ssize_t w = write(pt->fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			snprintf(err, errlen, "fetch: write %s: %s", pt->name, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Exactly size bytes: buf[start, end) came with the reply, the rest is read here. */
static int
part_receive(struct part *pt, SSL *ssl, char *buf, size_t start, size_t end, uint64_t size,
    long long timeout_ms, char *err, size_t errlen)
{
	char why[512];
	uint64_t got = 0;

	for (;;) {
		if (part_write(pt, buf + start, end - start, err, errlen) == -1)
			return -1;
		got += end - start;
		if (got == size)
			return 0;
		uint64_t want = size - got < FETCH_BUF ? size - got : FETCH_BUF;
		ssize_t rd = tls_read_some(ssl, buf, (size_t)want, timeout_ms, why, sizeof(why));
		if (rd <= 0) {
			snprintf(err, errlen, "fetch: after %llu of %llu bytes: %s", (unsigned long long)got,
			    (unsigned long long)size, rd == 0 ? "server closed the connection" : why);
			return -1;
		}
		start = 0;
		end = (size_t)rd;
	}
}

/* Checksum, owner, mode, fsync (unless no_sync), then the rename that makes the file appear whole. */
static int
part_finish(struct part *pt, const char *checksum, const char *final_name, mode_t mode, uid_t uid,
    gid_t gid, int no_sync, char *err, size_t errlen)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char hex[7 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256:";

	EVP_DigestFinal_ex(pt->md, digest, &dlen);
	util_hex(digest, dlen, hex + 7);
	if (strcasecmp(hex, checksum) != 0) {
		snprintf(err, errlen, "fetch: checksum mismatch: got %s", hex);
		return -1;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(pt->fd, uid, gid) == -1) {
		snprintf(err, errlen, "fetch: chown %s: %s", pt->name, strerror(errno));
		return -1;
	}
	if (fchmod(pt->fd, mode) == -1 || (!no_sync && fsync(pt->fd) == -1)) {
		snprintf(err, errlen, "fetch: %s: %s", pt->name, strerror(errno));
		return -1;
	}
	int closed = close(pt->fd);
	pt->fd = -1;
	if (closed == -1) {
		snprintf(err, errlen, "fetch: close %s: %s", pt->name, strerror(errno));
		return -1;
	}
	/* a kept file of the same name (part_open's reuse) is already in place */
	int renamed = strcmp(pt->name, final_name) != 0;
	if (renamed && renameat(pt->dirfd, pt->name, pt->dirfd, final_name) == -1) {
		snprintf(err, errlen, "fetch: rename to %s: %s", final_name, strerror(errno));
		return -1;
	}
	pt->name[0] = '\0';
	if (renamed && !no_sync)
		fsync(pt->dirfd); /* the rename itself; a failure here is not worth refusing the file */
	return 0;
}

/* Close and remove what is left of a failed transfer. */
static void
part_free(struct part *pt)
{
	if (pt->fd != -1)
		close(pt->fd);
	if (pt->name[0] != '\0')
		unlinkat(pt->dirfd, pt->name, 0);
	EVP_MD_CTX_free(pt->md);
}

/*
 * Connect, send the request and read the reply header. A server whose pre-TLS
 * budget is full may close a connection whose handshake the client already
 * thinks done (TLS 1.3: the server checks the client's certificate after the
 * client sent its Finished): a connection closed or reset before the first byte
 * of the reply is tried again like a refusal, while timeout_ms lasts. The key is
 * spent only when the server has read the request, and then it answers (an
 * error at worst): a retry after a silent close cannot run a task twice.
 * Returns the reply (with *ssl connected and buf[*start, *end) the bytes after
 * its header), or NULL with err.
 */
static struct wire_msg *
request_reply(SSL_CTX *ctx, const struct transfer_req *r, SSL **ssl, char *buf, size_t *start,
    size_t *end, char *err, size_t errlen)
{
	long long deadline = clock_mono_ms() + r->timeout_ms, pause = 100;
	*ssl = kept_take(ctx, r->host, r->port);
	last_kept = *ssl != NULL;
	for (int attempt = 1;; attempt++) {
		long long left = deadline - clock_mono_ms();
		int closed = 0, reused = *ssl != NULL;
		if (!reused && connect_retrying(ctx, r->host, r->port, left > 0 ? left : 1, ssl, err, errlen) == -1) {
			session_drop(ctx, r->host);
			return NULL;
		}
		struct wire_msg *m = NULL;
		if (send_request(*ssl, r->key, r->event_id, r->seq, r->timeout_ms, err, errlen) == 0)
			m = read_reply(*ssl, buf, FETCH_BUF, start, end, r->timeout_ms, &closed, err, errlen);
		else
			closed = 1; /* broken under the request: the server never read all of it */
		if (m != NULL)
			return m;
		tls_close(*ssl);
		*ssl = NULL;
		if (reused && closed) {
			/* the worker closed the kept connection as the request went out: it never
			 * answered, so the key is unspent; at once on a new connection */
			last_kept = 0;
			log_detail("fetch %s:%d: kept connection closed (%s), on a new one", r->host, r->port, err);
			attempt--;
			continue;
		}
		unsigned char rnd = 0;
		RAND_bytes(&rnd, 1);
		long long wait = pause / 2 + (pause / 2) * rnd / 255;
		if (!closed || clock_mono_ms() + wait >= deadline)
			return NULL;
		session_drop(ctx, r->host);
		log_detail("fetch %s:%d: closed before its reply (%s), attempt %d, again in %lld ms",
		    r->host, r->port, err, attempt, wait);
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		pause = pause * 2 > 2000 ? 2000 : pause * 2;
	}
}

int
transfer_fetch(SSL_CTX *ctx, const struct transfer_req *r, char *err, size_t errlen)
{
	char why[512];
	SSL *ssl = NULL;
	struct wire_msg *reply = NULL;
	struct part pt = {.dirfd = r->dirfd, .fd = -1};
	char *buf = NULL;
	size_t start = 0, end = 0;
	int rc = -1;

	if (check_request(r->key, r->size, r->checksum, r->name, r->max_size, err, errlen) == -1)
		return -1;
	if ((buf = malloc(FETCH_BUF)) == NULL) {
		snprintf(err, errlen, "fetch: out of memory");
		return -1;
	}
	reply = request_reply(ctx, r, &ssl, buf, &start, &end, why, sizeof(why));
	if (reply == NULL) {
		snprintf(err, errlen, "fetch: %s", why);
		goto out;
	}
	int resumed = last_kept || SSL_session_reused(ssl);
	session_keep(ctx, r->host, ssl);
	if (check_reply(reply, r->host, r->port, r->size, r->checksum, end - start, err, errlen) == -1 ||
	    part_open(&pt, r, err, errlen) == -1 ||
	    part_receive(&pt, ssl, buf, start, end, r->size, r->timeout_ms, err, errlen) == -1 ||
	    part_finish(&pt, r->checksum, r->name, r->mode, r->uid, r->gid, r->no_sync, err, errlen) == -1)
		goto out;
	last_resumed = resumed;
	log_debug("fetch %s:%d: event %lld seq %d: %llu bytes into %s%s", r->host, r->port, r->event_id,
	    r->seq, (unsigned long long)r->size, r->name,
	    last_kept ? " (connection kept)" : resumed ? " (tls session resumed)" : "");
	/* every byte read: the connection is at a message boundary, good for the next fetch */
	kept_put(ctx, r->host, r->port, ssl);
	ssl = NULL;
	rc = 0;
out:
	part_free(&pt);
	free(buf);
	wire_msg_free(reply);
	tls_close(ssl);
	return rc;
}
