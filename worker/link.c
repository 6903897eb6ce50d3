/*
 * link: one agent's control connection in a worker, as a small state machine
 * on a TLS bufferevent:
 *   HANDSHAKE  in the pre-TLS budget, with its own deadline
 *   HELLO      waiting for Request=Hello, within agents.hello_timeout of the accept
 *   VERDICT    the parent looks the certificate's name up
 *   READY      the computer is connected: keepalives, replies about tasks
 *   CLOSING    a refusal is being flushed
 * Every message must arrive whole within timeouts.message of its first byte;
 * a READY connection silent for agents.idle_timeout is closed.
 */
#include "worker/link.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "common/idmap.h"

#include "common/clock.h"
#include "common/conf.h"
#include "common/evloop.h"
#include "common/gate.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/wire.h"

enum link_state { L_HANDSHAKE, L_HELLO, L_VERDICT, L_READY, L_CLOSING, L_CLOSED };

struct link {
	struct links *ls;
	struct link *prev, *next;
	int64_t id;
	int64_t computer_id;
	enum link_state state;
	struct gate_entry gate;
	struct bufferevent *bev;
	struct wire_parser *parser;
	struct event *deadline;  /* handshake + Hello, then each message under way */
	int msg_open;
	int dead;                /* link_close has begun */
	int seen;                /* a message since the last links_take_seen */
	long long accepted_ms;
	char host[INET6_ADDRSTRLEN];
	char addr[INET6_ADDRSTRLEN + 8];
	char name[IPC_NAME_MAX + 1];
	char version[IPC_VERSION_MAX + 1];
	char serial[IPC_SERIAL_MAX + 1];
	char facts_hash[IPC_HASH_MAX + 1];
};

struct links {
	struct event_base *base;
	SSL_CTX *ctx;
	const struct conf_scheduler *conf;
	struct evconnlistener *listener;
	struct gate *gate;        /* before and during the TLS handshake */
	struct gate *refusals;    /* after it (a Hello refused): logged per address on their own */
	struct link *head;
	struct idmap *by_id;      /* every link in the list, by id: links_find per message */
	struct link *seen_cursor; /* where links_take_seen goes on */
	int n, nready;
	uint32_t counter;
	struct links_hooks hooks;
};



int64_t link_id(const struct link *l) { return l->id; }
int64_t link_computer(const struct link *l) { return l->computer_id; }
const char *link_name(const struct link *l) { return l->name; }
const char *link_peer(const struct link *l) { return l->host; }
const char *link_version(const struct link *l) { return l->version; }
const char *link_serial(const struct link *l) { return l->serial; }
const char *link_facts_hash(const struct link *l) { return l->facts_hash; }
int link_ready(const struct link *l) { return l->state == L_READY; }
int links_ready(const struct links *ls) { return ls->nready; }

struct link *
links_first(struct links *ls)
{
	struct link *l = ls->head;
	while (l != NULL && l->state >= L_CLOSING)
		l = l->next;
	return l;
}

struct link *
link_next(struct link *l)
{
	for (l = l->next; l != NULL && l->state >= L_CLOSING; l = l->next)
		;
	return l;
}

struct link *
links_find(struct links *ls, int64_t id)
{
	struct link *l = id > 0 ? idmap_get(ls->by_id, id) : NULL;
	return l != NULL && l->state < L_CLOSING ? l : NULL;
}

static void
link_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	free(arg);
}

/* Out of the list and its resources released; the memory goes on the next loop turn. */
static void
link_release(struct link *l)
{
	struct links *ls = l->ls;
	gate_leave(ls->gate, &l->gate);
	if (ls->seen_cursor == l)
		ls->seen_cursor = l->next;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		ls->head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	idmap_del(ls->by_id, l->id);
	ls->n--;
	if (l->bev != NULL)
		bufferevent_free(l->bev); /* frees the SSL and closes the socket */
	l->bev = NULL;
	wire_parser_free(l->parser);
	l->parser = NULL;
	evloop_event_free(l->deadline);
	l->deadline = NULL;
	l->state = L_CLOSED;
	struct timeval zero = {0, 0};
	if (event_base_once(ls->base, -1, EV_TIMEOUT, link_free_cb, l, &zero) == -1)
		fatalx("event_base_once failed");
}

void
link_close(struct link *l, int code, const char *why)
{
	if (l->dead)
		return;
	l->dead = 1;
	int accepted = l->state == L_READY;
	if (accepted)
		l->ls->nready--;
	l->state = L_CLOSING; /* hidden from links_find while the hook runs */
	if (l->ls->hooks.gone != NULL)
		l->ls->hooks.gone(l, accepted, code, why, l->ls->hooks.arg);
	link_release(l);
}

static int
link_write(struct link *l, const struct wire_msg *m, char *err, size_t errlen)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL) {
		snprintf(err, errlen, "header over %d bytes", WIRE_MAX_HEADER);
		return -1;
	}
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Sent data to computer %s (%s), %zu chars sent.\n%s",
		    l->name[0] != '\0' ? l->name : "?", l->addr, len, dump != NULL ? dump : "");
		free(dump);
	}
	int rc = bufferevent_write(l->bev, buf, len);
	wire_buf_free(buf, len);
	if (rc == -1)
		snprintf(err, errlen, "out of memory");
	return rc;
}

int
link_send(struct link *l, const struct wire_msg *m, char *err, size_t errlen)
{
	if (l->state != L_READY) {
		snprintf(err, errlen, "the connection is not open");
		return -1;
	}
	return link_write(l, m, err, errlen);
}

/* A reply of our own, from (key, value) pairs; one that cannot be built closes the link. */
static int
link_reply(struct link *l, const char *const (*kv)[2], size_t n)
{
	char err[256] = "";
	struct wire_msg *m = wire_msg_new();
	int rc = m != NULL ? 0 : -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	if (rc == 0)
		rc = link_write(l, m, err, sizeof(err));
	wire_msg_free(m);
	if (rc == -1) {
		log_warnx("agents: %s (%s): reply could not be sent: %s", l->name, l->addr, err);
		link_close(l, 0, "reply could not be sent");
	}
	return rc;
}

void
link_accept(struct link *l, int64_t computer_id, int want_facts)
{
	if (l->state != L_VERDICT)
		return;
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)computer_id);
	const char *const kv[][2] = {{"Reply", "Hello"}, {"Result", "Success"}, {"ID", id},
	    {"Scheduler", l->ls->conf->name}, {"Protocol", LINK_PROTOCOL},
	    {"Facts", want_facts ? "Send" : "Known"}};
	l->computer_id = computer_id;
	l->state = L_READY;
	l->ls->nready++;
	l->seen = 1;
	evtimer_del(l->deadline);
	struct timeval idle = clock_tv(l->ls->conf->agents_idle_timeout_ms);
	bufferevent_set_timeouts(l->bev, &idle, NULL);
	if (link_reply(l, kv, 6) == 0)
		log_info("agents: computer %s (%lld) connected from %s", l->name, (long long)computer_id,
		    l->host);
}

static void
closing_write_cb(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		link_close(l, 0, "refused");
}

void
link_refuse(struct link *l, const char *why)
{
	if (l->state != L_VERDICT && l->state != L_HELLO)
		return;
	const char *const kv[][2] = {{"Reply", "Hello"}, {"Result", "Failed"}, {"Error", why}};
	if (link_reply(l, kv, 3) == -1)
		return;
	/* closed once the refusal is out, or at the deadline */
	l->state = L_CLOSING;
	bufferevent_setcb(l->bev, NULL, closing_write_cb, NULL, l);
	bufferevent_disable(l->bev, EV_READ);
	struct timeval tv = clock_tv(LINK_HANDSHAKE_MS);
	evtimer_add(l->deadline, &tv);
}

/* Facts-Hash: absent, empty, or sha256: and 64 lower-case hex digits. */
static int
link_facts_hash_ok(const char *h)
{
	if (h == NULL || h[0] == '\0')
		return 1;
	if (strlen(h) != 71 || strncmp(h, "sha256:", 7) != 0)
		return 0;
	for (int i = 7; i < 71; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return 1;
}

/* Request=Hello: the name it gives must be the certificate's; the parent decides the rest. */
static void
link_hello(struct link *l, const struct wire_msg *m)
{
	char why[200];
	const char *req = wire_get(m, "Request"), *proto = wire_get(m, "Protocol");
	const char *comp = wire_get(m, "Computer"), *ver = wire_get(m, "Agent-Version");
	const char *fh = wire_get(m, "Facts-Hash");
	if (req == NULL || strcmp(req, "Hello") != 0)
		snprintf(why, sizeof(why), "expected Request=Hello");
	else if (comp == NULL)
		snprintf(why, sizeof(why), "Hello without Computer");
	else if (proto == NULL || strcmp(proto, LINK_PROTOCOL) != 0)
		snprintf(why, sizeof(why), "protocol %.20s is not supported (%s)", proto != NULL ? proto : "",
		    LINK_PROTOCOL);
	else if (strcmp(comp, l->name) != 0)
		snprintf(why, sizeof(why), "Computer \"%.64s\" does not match the certificate name \"%s\"",
		    comp, l->name);
	else if (!link_facts_hash_ok(fh))
		snprintf(why, sizeof(why), "Facts-Hash is not sha256:<64 hex digits>");
	else
		why[0] = '\0';
	if (why[0] != '\0') {
		gate_refused(l->ls->refusals, l->host, why);
		link_refuse(l, why);
		return;
	}
	snprintf(l->version, sizeof(l->version), "%s", ver != NULL ? ver : "");
	snprintf(l->facts_hash, sizeof(l->facts_hash), "%s", fh != NULL ? fh : "");
	l->state = L_VERDICT;
	l->ls->hooks.hello(l, l->ls->hooks.arg);
}

/* One whole message; may close l. */
static void
link_message(struct link *l, struct wire_msg *m)
{
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Received from computer %s (%s):\n%s", l->name, l->addr,
		    dump != NULL ? dump : "");
		free(dump);
	}
	if (l->state == L_HELLO) {
		link_hello(l, m);
		return;
	}
	const char *req = wire_get(m, "Request"), *reply = wire_get(m, "Reply");
	if (l->state == L_READY && req != NULL && strcmp(req, "Keepalive") == 0) {
		l->seen = 1;
		const char *const kv[][2] = {{"Reply", "Keepalive"}};
		(void)link_reply(l, kv, 1);
		return;
	}
	if (l->state == L_READY && reply != NULL) {
		l->seen = 1;
		l->ls->hooks.message(l, m, l->ls->hooks.arg);
		return;
	}
	if (l->state == L_READY && req != NULL && strcmp(req, "Facts") == 0 && l->ls->hooks.facts != NULL) {
		l->seen = 1;
		l->ls->hooks.facts(l, m, l->ls->hooks.arg);
		return;
	}
	char why[160];
	snprintf(why, sizeof(why), "unexpected message %s=%.40s", req != NULL ? "Request" : "Reply",
	    req != NULL ? req : reply != NULL ? reply : "(none)");
	log_warnx("agents: computer %s (%s): %s, connection closed", l->name, l->addr, why);
	link_close(l, STATUS_PROTOCOL, why);
}

static void
link_read_cb(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	while (!l->dead && l->state < L_CLOSING && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n && !l->dead && l->state < L_CLOSING) {
			size_t used = 0;
			enum wire_status st = wire_feed(l->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE) {
				/* all of a message within timeouts.message of its first byte */
				if (used > 0 && !l->msg_open && l->state == L_READY) {
					l->msg_open = 1;
					struct timeval tv = clock_tv(l->ls->conf->timeout_message_ms);
					evtimer_add(l->deadline, &tv);
				}
				break;
			}
			if (st == WIRE_ERROR) {
				char why[300];
				snprintf(why, sizeof(why), "bad message from agent: %s",
				    wire_parser_error(l->parser));
				log_warnx("agents: computer %s (%s): %s", l->name, l->addr, why);
				link_close(l, STATUS_PROTOCOL, why);
				return;
			}
			if (l->msg_open) {
				l->msg_open = 0;
				evtimer_del(l->deadline);
			}
			struct wire_msg *m = wire_parser_take(l->parser);
			if (m == NULL)
				fatalx("out of memory");
			link_message(l, m);
			wire_msg_free(m);
		}
	}
}

/* The handshake is done: the budget's slot is free, the name known, Hello awaited. */
static void
link_connected(struct link *l)
{
	struct links *ls = l->ls;
	gate_leave(ls->gate, &l->gate);
	SSL *ssl = bufferevent_openssl_get_ssl(l->bev);
	char name[256];
	size_t len;
	if (tls_peer_name(ssl, name, sizeof(name)) == -1 || (len = strlen(name)) > IPC_NAME_MAX) {
		gate_refused(ls->gate, l->host, "certificate without a usable name");
		link_close(l, 0, "no name");
		return;
	}
	/* memcpy with the checked length: at -O1 (make asan) gcc's -Wformat-truncation
	 * cannot see the bound above through snprintf */
	memcpy(l->name, name, len + 1);
	/* the serial goes with the Hello: revoked ones are refused (docs/enrolment.md) */
	X509 *pc = SSL_get0_peer_certificate(ssl);
	if (pc == NULL || pki_serial_hex(pc, l->serial) == -1)
		l->serial[0] = '\0';
	if (ls->n - gate_count(ls->gate) > ls->conf->agents_max_connections) {
		char why[96];
		snprintf(why, sizeof(why), "%d agent connections open (agents.max_connections)",
		    ls->conf->agents_max_connections);
		gate_refused(ls->gate, l->host, why);
		link_close(l, 0, why);
		return;
	}
	(void)tls_set_nodelay(bufferevent_getfd(l->bev));
	l->state = L_HELLO;
	l->parser = wire_parser_new(LINK_MAX_BODY);
	if (l->parser == NULL)
		fatalx("out of memory");
	long long left = ls->conf->agents_hello_timeout_ms - (clock_mono_ms() - l->accepted_ms);
	struct timeval tv = clock_tv(left > 0 ? left : 1);
	evtimer_add(l->deadline, &tv);
	log_debug("agents: tls connection from %s: certificate \"%s\"", l->addr, l->name);
}

/* OpenSSL's reasons, one line. */
static void
link_tls_error(struct link *l, char *buf, size_t size)
{
	unsigned long codes[8];
	int n = 0;
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(l->bev)) != 0)
		if (n < 8)
			codes[n++] = e;
	size_t off = (size_t)snprintf(buf, size, "tls handshake");
	if (off + 2 < size) {
		buf[off++] = ':';
		buf[off++] = ' ';
		tls_describe(bufferevent_openssl_get_ssl(l->bev), codes, n, buf + off, size - off);
		if (buf[off] == '\0')
			buf[off - 2] = '\0';
	}
}

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct link *l = arg;
	char why[400];
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		link_connected(l);
		return;
	}
	if (l->state == L_HANDSHAKE) {
		link_tls_error(l, why, sizeof(why));
		gate_refused(l->ls->gate, l->host, why);
		link_close(l, 0, why);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "silent for %lld ms (agents.idle_timeout)",
		    l->ls->conf->agents_idle_timeout_ms);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by the agent");
	else
		snprintf(why, sizeof(why), "%s", EVUTIL_SOCKET_ERROR() != 0 ?
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : "connection closed");
	while (ERR_get_error() != 0)
		;
	if (l->state == L_READY)
		log_info("agents: computer %s (%s): connection lost: %s", l->name, l->addr, why);
	else
		log_debug("agents: connection from %s (%s): %s", l->addr, l->name, why);
	link_close(l, 0, why);
}

static void
link_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	char why[200];
	(void)fd;
	(void)what;
	if (l->state == L_HANDSHAKE) {
		snprintf(why, sizeof(why), "no tls handshake within %d ms", LINK_HANDSHAKE_MS);
		gate_refused(l->ls->gate, l->host, why);
		link_close(l, 0, why);
	} else if (l->state == L_HELLO || l->state == L_VERDICT) {
		snprintf(why, sizeof(why), "no Hello within %lld ms (agents.hello_timeout)",
		    l->ls->conf->agents_hello_timeout_ms);
		gate_refused(l->ls->gate, l->host, why);
		link_close(l, 0, why);
	} else if (l->state == L_READY && l->msg_open) {
		snprintf(why, sizeof(why), "message from agent not complete within %lld ms of its first "
		    "byte (timeouts.message)", l->ls->conf->timeout_message_ms);
		log_warnx("agents: computer %s (%s): %s", l->name, l->addr, why);
		link_close(l, STATUS_MESSAGE_TIMEOUT, why);
	} else {
		link_close(l, 0, "closed");
	}
}

/* The pre-TLS budget closes this connection to make room. */
static void
link_evict(struct gate_entry *e, const char *why)
{
	struct link *l = (struct link *)((char *)e - offsetof(struct link, gate));
	link_close(l, 0, why);
}

/* The budget's probe: has the agent's ClientHello come? */
static int
link_started(const struct gate_entry *e)
{
	const struct link *l = (const struct link *)((const char *)e - offsetof(struct link, gate));
	return l->bev != NULL && tls_hello_seen(bufferevent_openssl_get_ssl(l->bev));
}

static void
link_accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct links *ls = arg;
	(void)lis;
	(void)salen;
	int port;
	struct link *l = calloc(1, sizeof(*l));
	SSL *ssl = evloop_tls_admit(ls->ctx, ls->gate, l != NULL ? &l->gate : NULL, link_evict, fd, sa, &port);
	if (ssl == NULL) {
		free(l);
		return;
	}
	/* an agent resumes on the transfer channel only: no session kept for this connection */
	(void)SSL_set_num_tickets(ssl, 0); /* fails only for a value it cannot hold */
	l->gate.started = link_started;
	l->ls = ls;
	l->id = ((int64_t)getpid() << 32) | ++ls->counter;
	void *old = NULL;
	if (idmap_put(ls->by_id, l->id, l, &old) == -1) {
		log_warnx("agents: out of memory for a connection from %s", l->gate.host);
		gate_leave(ls->gate, &l->gate);
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(l);
		return;
	}
	l->accepted_ms = clock_mono_ms();
	snprintf(l->host, sizeof(l->host), "%s", l->gate.host);
	snprintf(l->addr, sizeof(l->addr), "%s:%d", l->gate.host, port);
	l->next = ls->head;
	if (ls->head != NULL)
		ls->head->prev = l;
	ls->head = l;
	ls->n++;
	long long hs = ls->conf->agents_hello_timeout_ms < LINK_HANDSHAKE_MS ?
	    ls->conf->agents_hello_timeout_ms : LINK_HANDSHAKE_MS;
	const struct evloop_tls_cbs cbs = {.read = link_read_cb, .event = link_event_cb,
	    .deadline = link_deadline_cb, .arg = l};
	if (evloop_tls_accept(ls->base, fd, ssl, &cbs, hs, &l->bev, &l->deadline) == -1)
		link_release(l);
}

static void
link_accept_error_cb(struct evconnlistener *lis, void *arg)
{
	(void)lis;
	(void)arg;
	/* EMFILE and the like: say so; the listener carries on */
	log_warn("agents: accept");
}

/*
 * This worker's budget is full of agents' handshakes under way: it stops accepting, and
 * the listening socket's queue holds new agents for the other workers, or for this one
 * once a handshake is done, instead of refusing them into their back-off.
 */
static void
links_pause(void *arg, int paused)
{
	struct links *ls = arg;
	if (paused)
		evconnlistener_disable(ls->listener);
	else
		evconnlistener_enable(ls->listener);
}

struct links *
links_new(struct event_base *base, SSL_CTX *ctx, int listen_fd, int slot,
    const struct conf_scheduler *conf, const struct links_hooks *hooks, char *err, size_t errlen)
{
	struct links *ls = calloc(1, sizeof(*ls));
	if (ls == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	(void)slot;
	ls->base = base;
	ls->ctx = ctx;
	ls->conf = conf;
	ls->hooks = *hooks;
	ls->gate = gate_new(base, "agents", LINK_PRETLS_MAX, LINK_PRETLS_PER_SOURCE);
	ls->refusals = gate_new(base, "agents", 1, 1);
	ls->by_id = idmap_new();
	if (ls->gate != NULL)
		gate_set_stale(ls->gate, LINK_HANDSHAKE_MS / 2);
	/* the socket is the parent's and every worker's: never closed here */
	ls->listener = ls->gate != NULL && ls->refusals != NULL && ls->by_id != NULL ?
	    evconnlistener_new(base, link_accept_cb, ls,
	    LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd) : NULL;
	if (ls->listener == NULL) {
		snprintf(err, errlen, "agents: cannot accept on the agent listener: %s", strerror(errno));
		gate_free(ls->gate);
		gate_free(ls->refusals);
		idmap_free(ls->by_id);
		free(ls);
		return NULL;
	}
	evconnlistener_set_error_cb(ls->listener, link_accept_error_cb);
	gate_set_pause(ls->gate, links_pause, ls);
	return ls;
}

void
links_stop_accepting(struct links *ls)
{
	if (ls->listener != NULL) {
		evconnlistener_free(ls->listener);
		ls->listener = NULL;
	}
}

void
links_free(struct links *ls)
{
	if (ls == NULL)
		return;
	links_stop_accepting(ls);
	ls->hooks.gone = NULL;
	while (ls->head != NULL) {
		struct link *l = ls->head;
		if (l->state == L_READY)
			ls->nready--;
		link_release(l);
	}
	gate_free(ls->gate);
	gate_free(ls->refusals);
	idmap_free(ls->by_id);
	free(ls);
}

int
links_take_seen(struct links *ls, int64_t *ids, int max)
{
	int n = 0;
	struct link *l = ls->seen_cursor != NULL ? ls->seen_cursor : ls->head;
	for (; l != NULL && n < max; l = l->next) {
		if (l->state == L_READY && l->seen) {
			ids[n++] = l->computer_id;
			l->seen = 0;
		}
	}
	ls->seen_cursor = l;
	return n;
}
