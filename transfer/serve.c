/*
 * transfer serve: one listener per worker on a port of transfer.port_range;
 * each connection is a tiny state machine on a TLS bufferevent:
 *   REQUEST  handshake (its own deadline, in the pre-TLS budget), then one
 *            Request=Fetch header (deadline timer, from accept)
 *   SENDING  the file is read in CHUNK pieces whenever the output buffer
 *            falls under LOWMARK, so memory stays flat whatever the size
 *   FLUSHING every byte queued; wait until the output buffer is empty
 *   LINGER   all written; success when the peer closes cleanly, or when it sends
 *            its next Request=Fetch on the same connection (then REQUEST again:
 *            an agent's task process keeps its connection for the next fetch,
 *            TRANSFER_KEEP_MS at most, instead of a TLS handshake per file)
 *   CLOSING  a refusal is being flushed, then the connection ends
 */
#include "transfer/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/evloop.h"
#include "common/gate.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/util.h"
#include "common/wire.h"

#define CHUNK (64 * 1024)
#define LOWMARK (64 * 1024)
#define HIGHMARK (256 * 1024)

enum conn_state { C_REQUEST, C_SENDING, C_FLUSHING, C_LINGER, C_CLOSING };

struct conn {
	struct transfer_serve *s;
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct event *deadline;
	struct wire_parser *parser;
	enum conn_state state;
	int handshaken;
	struct gate_entry gate; /* in the pre-TLS budget until the handshake is done */
	long long accepted_ms;  /* monotonic */
	int file;
	uint64_t left, sent;
	long long event_id;
	int seq;
	int authorized;
	char addr[INET6_ADDRSTRLEN + 8];
	char peer[256];
	char error[512];
};

struct transfer_serve {
	struct event_base *base;
	SSL_CTX *ctx;
	struct transfer_keys *keys;
	struct evconnlistener *listener;
	int port;
	long long request_ms, idle_ms;
	transfer_serve_cb cb;
	void *cb_arg;
	struct conn *conns;
	int active;
	struct gate *gate;
	long long handshake_ms;
};


static void conn_end(struct conn *c, int ok, const char *error);


static void
conn_free(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->s->active--;
	gate_leave(c->s->gate, &c->gate);
	evloop_event_free(c->deadline);
	if (c->bev != NULL) {
		tls_keep_session(bufferevent_openssl_get_ssl(c->bev));
		bufferevent_free(c->bev); /* frees the SSL and closes the socket */
	}
	wire_parser_free(c->parser);
	if (c->file != -1)
		close(c->file);
	free(c);
}

/* The outcome of the connection's current transfer, to the owner. */
static void
conn_report(struct conn *c, int ok, const char *error)
{
	struct transfer_serve *s = c->s;
	if (s->cb != NULL) {
		struct transfer_result r = {
			.event_id = c->event_id, .seq = c->seq, .authorized = c->authorized, .ok = ok,
			.bytes = c->sent, .peer = c->peer, .addr = c->addr, .error = ok ? NULL : error,
		};
		s->cb(&r, s->cb_arg);
	}
}

static void
conn_end(struct conn *c, int ok, const char *error)
{
	conn_report(c, ok, error);
	conn_free(c);
}

/*
 * End a kept connection whose file went out whole (its keep time is up, or room is
 * needed): with a TLS close_notify first, so that the agent reads a clean close and
 * its TLS session stays good to resume (one ended without it is not resumable).
 */
static void
conn_end_kept(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl != NULL && SSL_is_init_finished(ssl)) {
		(void)SSL_shutdown(ssl); /* non-blocking: the alert goes out or not, no matter */
		ERR_clear_error();
	}
	conn_end(c, 1, NULL);
}

/*
 * A kept connection speaks again: its transfer was received whole (the agent asks
 * again only after that), so it is reported done, and the connection waits for the
 * request now coming, within the request deadline. 0, or -1 when c was ended.
 */
static int
conn_next_request(struct conn *c)
{
	conn_report(c, 1, NULL);
	c->event_id = -1;
	c->seq = -1;
	c->authorized = 0;
	c->sent = 0;
	c->left = 0;
	c->error[0] = '\0';
	wire_parser_free(c->parser);
	if ((c->parser = wire_parser_new(0)) == NULL) {
		conn_end(c, 0, "out of memory");
		return -1;
	}
	c->state = C_REQUEST;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	struct timeval tv = clock_tv(c->s->request_ms);
	evtimer_add(c->deadline, &tv);
	return 0;
}

/*
 * Past TRANSFER_MAX_CONNECTIONS: close a kept connection that waits for its agent's
 * next fetch (its transfer done) to make room, rather than refuse a new one. 1 when
 * one was closed.
 */
static int
evict_kept(struct transfer_serve *s, const struct conn *keep)
{
	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		if (c != keep && c->state == C_LINGER) {
			conn_end_kept(c);
			return 1;
		}
	}
	return 0;
}

/* Queue a reply header; -1 when it could not be built. */
static int
send_msg(struct conn *c, struct wire_msg *m)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL)
		return -1;
	if (log_enabled(LL_TRACE)) {
		char *d = wire_dump(m);
		log_trace("transfer %s: sent %s", c->addr, d != NULL ? d : "(message)");
		free(d);
	}
	int rc = bufferevent_write(c->bev, buf, len);
	free(buf);
	return rc;
}

/* Refuse the request: reply Result=Failed and close once it is flushed. */
static void
refuse(struct conn *c, int code, const char *why)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();

	snprintf(c->error, sizeof(c->error), "%s", why);
	if (m == NULL || wire_add(m, "Reply", "Fetch", err, sizeof(err)) == -1 ||
	    wire_add(m, "Result", "Failed", err, sizeof(err)) == -1 ||
	    wire_addf(m, err, sizeof(err), "Status-Code", "%d", code) == -1 ||
	    wire_add(m, "Error", why, err, sizeof(err)) == -1 || send_msg(c, m) == -1) {
		wire_msg_free(m);
		conn_end(c, 0, c->error);
		return;
	}
	wire_msg_free(m);
	c->state = C_CLOSING;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	struct timeval idle = clock_tv(c->s->idle_ms);
	bufferevent_set_timeouts(c->bev, NULL, &idle);
}

/* Read the file into the output buffer up to HIGHMARK. */
static void
refill(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->left > 0 && evbuffer_get_length(out) < HIGHMARK) {
		size_t want = c->left < CHUNK ? (size_t)c->left : CHUNK;
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) {
			conn_end(c, 0, "out of memory");
			return;
		}
		ssize_t n;
		do
			n = read(c->file, v.iov_base, want < v.iov_len ? want : v.iov_len);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			snprintf(c->error, sizeof(c->error), "file read: %s",
			    n == 0 ? "file is shorter than its size" : strerror(errno));
			conn_end(c, 0, c->error);
			return;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(out, &v, 1);
		c->left -= (uint64_t)n;
		c->sent += (uint64_t)n;
		metrics_add(MC_TRANSFER_BYTES, (unsigned long long)n);
	}
	if (c->left == 0) {
		close(c->file);
		c->file = -1;
		c->state = C_FLUSHING;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		if (evbuffer_get_length(out) == 0)
			c->state = C_LINGER;
	}
}

static int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
wipe_key(struct wire_msg *m)
{
	for (int i = 0; i < m->nkeys; i++)
		if (strcmp(m->keys[i], "Key") == 0)
			OPENSSL_cleanse(m->values[i], strlen(m->values[i]));
}

static void
handle_request(struct conn *c, struct wire_msg *m)
{
	struct transfer_key_grant g;
	char err[256];
	long long ev, seq;

	if (log_enabled(LL_TRACE)) {
		char *d = wire_dump(m);
		log_trace("transfer %s: received %s", c->addr, d != NULL ? d : "(message)");
		free(d);
	}
	event_del(c->deadline);
	const char *req = wire_get(m, "Request");
	if (req == NULL || strcmp(req, "Fetch") != 0) {
		refuse(c, STATUS_PROTOCOL, "request is not Request=Fetch");
		return;
	}
	if (parse_ll(wire_get(m, "Event-ID"), 0, LLONG_MAX, &ev) == -1 ||
	    parse_ll(wire_get(m, "Task-Sequence-ID"), 0, INT_MAX, &seq) == -1) {
		refuse(c, STATUS_PROTOCOL, "request has no valid Event-ID and Task-Sequence-ID");
		return;
	}
	c->event_id = ev;
	c->seq = (int)seq;
	if (transfer_keys_take(c->s->keys, wire_get(m, "Key"), ev, (int)seq, &g, err, sizeof(err)) == -1) {
		refuse(c, STATUS_TRANSFER_FAILED, err);
		return;
	}
	c->authorized = 1;
	struct stat st;
	c->file = open(g.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (c->file == -1 || fstat(c->file, &st) == -1 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != g.size) {
		const char *why = c->file == -1 ? strerror(errno) : "changed since its key was made";
		log_warnx("transfer event %lld seq %d: file %s: %s", ev, c->seq, g.path, why);
		snprintf(err, sizeof(err), "file unavailable on the server");
		transfer_key_grant_clear(&g);
		refuse(c, STATUS_TRANSFER_FAILED, err);
		return;
	}
	struct wire_msg *r = wire_msg_new();
	if (r == NULL || wire_add(r, "Reply", "Fetch", err, sizeof(err)) == -1 ||
	    wire_add(r, "Result", "Success", err, sizeof(err)) == -1 ||
	    wire_addf(r, err, sizeof(err), "Event-ID", "%lld", ev) == -1 ||
	    wire_addf(r, err, sizeof(err), "Task-Sequence-ID", "%d", c->seq) == -1 ||
	    wire_addf(r, err, sizeof(err), "Size", "%llu", (unsigned long long)g.size) == -1 ||
	    wire_add(r, "Checksum", g.checksum, err, sizeof(err)) == -1 || send_msg(c, r) == -1) {
		wire_msg_free(r);
		transfer_key_grant_clear(&g);
		conn_end(c, 0, "reply could not be built");
		return;
	}
	wire_msg_free(r);
	c->left = g.size;
	transfer_key_grant_clear(&g);
	c->state = C_SENDING;
	struct timeval idle = clock_tv(c->s->idle_ms);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_setwatermark(c->bev, EV_WRITE, LOWMARK, 0);
	refill(c);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* a kept connection: the agent's next fetch */
	if (c->state == C_LINGER && evbuffer_get_length(in) > 0 && conn_next_request(c) == -1)
		return;
	while (c->state == C_REQUEST && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		enum wire_status st = wire_feed(c->parser, v.iov_base, v.iov_len, &used);
		OPENSSL_cleanse(v.iov_base, used); /* the request holds the key */
		evbuffer_drain(in, used);
		if (st == WIRE_ERROR) {
			char why[300];
			snprintf(why, sizeof(why), "bad request: %s", wire_parser_error(c->parser));
			event_del(c->deadline);
			refuse(c, STATUS_PROTOCOL, why);
			return;
		}
		if (st == WIRE_DONE) {
			struct wire_msg *m = wire_parser_take(c->parser);
			if (m == NULL) {
				conn_end(c, 0, "out of memory");
				return;
			}
			handle_request(c, m); /* may end c */
			wipe_key(m);
			wire_msg_free(m);
			return;
		}
		if (used == 0)
			break;
	}
	/* nothing more is expected from the peer after its request */
	if (c->state != C_REQUEST)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

	switch (c->state) {
	case C_SENDING:
		refill(c);
		break;
	case C_FLUSHING:
		if (pending == 0) {
			/* the peer closes, or keeps the connection for its next fetch (not long) */
			c->state = C_LINGER;
			long long keep = c->s->idle_ms < TRANSFER_KEEP_MS ? c->s->idle_ms : TRANSFER_KEEP_MS;
			struct timeval idle = clock_tv(keep);
			bufferevent_set_timeouts(bev, &idle, NULL);
		}
		break;
	case C_CLOSING:
		if (pending == 0)
			conn_end(c, 0, c->error);
		break;
	default:
		break;
	}
}

static void
ssl_errors(struct conn *c, const char *what)
{
	unsigned long codes[8];
	int n = 0;
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (n < 8)
			codes[n++] = e;
	char why[400];
	tls_describe(bufferevent_openssl_get_ssl(c->bev), codes, n, why, sizeof(why));
	if (why[0] == '\0' && errno != 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	snprintf(c->error, sizeof(c->error), "%s%s%s", what, why[0] != '\0' ? ": " : "", why);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		struct transfer_serve *s = c->s;
		c->handshaken = 1;
		gate_leave(s->gate, &c->gate);
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (tls_peer_name(ssl, c->peer, sizeof(c->peer)) == -1)
			snprintf(c->peer, sizeof(c->peer), "(unnamed)");
		log_debug("transfer %s: tls connection from \"%s\"%s", c->addr, c->peer,
		    SSL_session_reused(ssl) ? " (resumed)" : "");
		int past = s->active - gate_count(s->gate);
		if (past > TRANSFER_MAX_CONNECTIONS && evict_kept(s, c))
			past--;
		if (past > TRANSFER_MAX_CONNECTIONS) {
			snprintf(c->error, sizeof(c->error), "%d connections open, limit %d", past - 1,
			    TRANSFER_MAX_CONNECTIONS);
			conn_end(c, 0, c->error);
			return;
		}
		/* the rest of the request deadline, counted from accept */
		long long left = s->request_ms - (clock_mono_ms() - c->accepted_ms);
		struct timeval tv = clock_tv(left > 0 ? left : 1);
		evtimer_add(c->deadline, &tv);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->state == C_LINGER) {
		conn_end_kept(c); /* all sent; kept for a next fetch that did not come */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(c->error, sizeof(c->error), "peer made no progress for %lld ms after %llu bytes",
		    c->s->idle_ms, (unsigned long long)c->sent);
		conn_end(c, 0, c->error);
		return;
	}
	if (c->state == C_LINGER) {
		/* every byte went out: closed cleanly, or dropped while kept (a task process
		 * killed between fetches closes without a TLS close_notify) */
		conn_end(c, 1, NULL);
		return;
	}
	if (c->state == C_CLOSING) {
		conn_end(c, 0, c->error); /* the refusal is the reason */
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->state == C_REQUEST)
			snprintf(c->error, sizeof(c->error), "peer closed the connection before its request");
		else
			snprintf(c->error, sizeof(c->error), "peer closed the connection after %llu of %llu bytes",
			    (unsigned long long)c->sent, (unsigned long long)(c->sent + c->left));
		conn_end(c, 0, c->error);
		return;
	}
	ssl_errors(c, c->handshaken ? "tls" : "tls handshake");
	conn_end(c, 0, c->error);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	long long hs = c->s->handshake_ms < c->s->request_ms ? c->s->handshake_ms : c->s->request_ms;
	snprintf(c->error, sizeof(c->error), "%s within %lld ms",
	    c->handshaken ? "no request" : "no tls handshake", c->handshaken ? c->s->request_ms : hs);
	conn_end(c, 0, c->error);
}

/* The pre-TLS budget closes this connection to make room. */
static void
conn_evict(struct gate_entry *e, const char *why)
{
	struct conn *c = (struct conn *)((char *)e - offsetof(struct conn, gate));
	snprintf(c->error, sizeof(c->error), "closed before its tls handshake: %s", why);
	conn_end(c, 0, c->error);
}

/* The budget's probe: has the agent's ClientHello come? */
static int
conn_started(const struct gate_entry *e)
{
	const struct conn *c = (const struct conn *)((const char *)e - offsetof(struct conn, gate));
	return c->bev != NULL && tls_hello_seen(bufferevent_openssl_get_ssl(c->bev));
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct transfer_serve *s = arg;
	(void)l;
	(void)salen;
	int port;
	struct conn *c = calloc(1, sizeof(*c));
	SSL *ssl = evloop_tls_admit(s->ctx, s->gate, c != NULL ? &c->gate : NULL, conn_evict, fd, sa, &port);
	if (ssl == NULL) {
		free(c);
		return;
	}
	c->gate.started = conn_started;
	/* the reply header and the file go out as separate TLS records: without
	 * this, Nagle holds the second until the peer's delayed ACK (40 ms) */
	(void)tls_set_nodelay(fd);
	c->s = s;
	c->file = -1;
	c->event_id = -1;
	c->seq = -1;
	c->accepted_ms = clock_mono_ms();
	snprintf(c->addr, sizeof(c->addr), "%s:%d", c->gate.host, port);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->active++;
	if ((c->parser = wire_parser_new(0)) == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	long long first = s->handshake_ms < s->request_ms ? s->handshake_ms : s->request_ms;
	const struct evloop_tls_cbs cbs = {.read = read_cb, .write = write_cb, .event = event_cb,
	    .deadline = deadline_cb, .arg = c};
	if (evloop_tls_accept(s->base, fd, ssl, &cbs, first, &c->bev, &c->deadline) == -1)
		conn_free(c);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	struct transfer_serve *s = arg;
	log_warn("transfer: accept on port %d", s->port);
}

static int
bind_range(const char *bind_addr, int lo, int hi, int *port_out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *a = bind_addr != NULL ? bind_addr : "0.0.0.0";

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sl = sizeof(*sin6);
	} else {
		snprintf(err, errlen, "transfer bind address \"%s\" is not an IP address", a);
		return -1;
	}
	if (lo < 1 || hi > 65535 || lo > hi) {
		snprintf(err, errlen, "transfer port range %d-%d is not valid", lo, hi);
		return -1;
	}
	for (int port = lo; port <= hi; port++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			snprintf(err, errlen, "transfer socket: %s", strerror(errno));
			return -1;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET)
			sin->sin_port = htons((uint16_t)port);
		else
			sin6->sin6_port = htons((uint16_t)port);
		if (bind(fd, (struct sockaddr *)&ss, sl) == 0 && listen(fd, 128) == 0) {
			*port_out = port;
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != EADDRINUSE) {
			snprintf(err, errlen, "transfer bind %s port %d: %s", a, port, strerror(e));
			return -1;
		}
	}
	snprintf(err, errlen, "transfer port range %d-%d on %s: every port is in use", lo, hi, a);
	return -1;
}

/* The budget is full of fetch handshakes under way: new fetches wait in the listen queue. */
static void
serve_pause(void *arg, int paused)
{
	struct transfer_serve *s = arg;
	if (paused)
		evconnlistener_disable(s->listener);
	else
		evconnlistener_enable(s->listener);
}

struct transfer_serve *
transfer_serve_new(struct event_base *base, SSL_CTX *ctx, int port_lo, int port_hi, const char *bind_addr,
    struct transfer_keys *keys, char *err, size_t errlen)
{
	int port;
	int fd = bind_range(bind_addr, port_lo, port_hi, &port, err, errlen);
	if (fd == -1)
		return NULL;
	struct transfer_serve *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		snprintf(err, errlen, "transfer: out of memory");
		return NULL;
	}
	s->base = base;
	s->ctx = ctx;
	s->keys = keys;
	s->port = port;
	s->request_ms = TRANSFER_REQUEST_TIMEOUT_MS;
	s->idle_ms = TRANSFER_IDLE_TIMEOUT_MS;
	s->handshake_ms = TRANSFER_HANDSHAKE_TIMEOUT_MS;
	s->gate = gate_new(base, "transfer", TRANSFER_PRETLS_MAX, TRANSFER_PRETLS_PER_SOURCE);
	if (s->gate == NULL) {
		close(fd);
		free(s);
		snprintf(err, errlen, "transfer: out of memory");
		return NULL;
	}
	gate_set_stale(s->gate, TRANSFER_HANDSHAKE_TIMEOUT_MS / 2);
	s->listener = evconnlistener_new(base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (s->listener == NULL) {
		gate_free(s->gate);
		close(fd);
		free(s);
		snprintf(err, errlen, "transfer: cannot listen on port %d", port);
		return NULL;
	}
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	gate_set_pause(s->gate, serve_pause, s);
	return s;
}

void
transfer_serve_set_callback(struct transfer_serve *s, transfer_serve_cb cb, void *arg)
{
	s->cb = cb;
	s->cb_arg = arg;
}

void
transfer_serve_set_timeouts(struct transfer_serve *s, long long request_ms, long long idle_ms)
{
	if (request_ms > 0)
		s->request_ms = request_ms;
	if (idle_ms > 0)
		s->idle_ms = idle_ms;
}

void
transfer_serve_set_pretls(struct transfer_serve *s, int max, int per_source, long long handshake_ms)
{
	gate_set_limits(s->gate, max, per_source);
	if (handshake_ms > 0)
		s->handshake_ms = handshake_ms;
	gate_set_stale(s->gate, s->handshake_ms / 2);
}

void
transfer_serve_release_kept(struct transfer_serve *s)
{
	struct conn *c = s->conns, *next;
	for (; c != NULL; c = next) {
		next = c->next;
		if (c->state == C_LINGER)
			conn_end_kept(c);
	}
}

int
transfer_serve_port(const struct transfer_serve *s)
{
	return s->port;
}

int
transfer_serve_active(const struct transfer_serve *s)
{
	return s->active;
}

void
transfer_serve_free(struct transfer_serve *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_free(s->conns);
	gate_free(s->gate);
	evconnlistener_free(s->listener);
	free(s);
}

int
transfer_file_checksum(const char *path, uint64_t *size, char *checksum, size_t cslen, char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *buf = NULL;
	int rc = -1;
	uint64_t total = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	buf = malloc(CHUNK);
	if (md_ctx == NULL || buf == NULL || EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md_ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(md_ctx, md, &mdlen);
	if (cslen < 7 + 2 * (size_t)mdlen + 1) {
		snprintf(err, errlen, "checksum buffer too small");
		goto out;
	}
	memcpy(checksum, "sha256:", 7);
	util_hex(md, mdlen, checksum + 7);
	*size = total;
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(md_ctx);
	close(fd);
	return rc;
}
