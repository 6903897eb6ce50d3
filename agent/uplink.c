/*
 * uplink: the connection's states, on a TLS bufferevent:
 *   WAIT        the back-off timer runs (none before the very first attempt)
 *   CONNECTING  TCP and TLS, within connect_timeout of the attempt's start
 *   HELLO       Request=Hello sent, Reply=Hello awaited, same deadline
 *   UP          requests to the owner, keepalives both ways
 *   STOPPED     no more attempts
 * Any failure goes back to WAIT with the next attempt's delay and server.
 */
#include "agent/uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/evloop.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"

#define MAX_REQUEST_BODY 0 /* the scheduler's requests carry no body */

enum ustate { U_WAIT, U_CONNECTING, U_HELLO, U_UP, U_STOPPED };

struct uplink {
	struct event_base *base;
	SSL_CTX *ctx;
	const struct conf_agent *conf;
	char version[33];
	struct uplink_hooks hooks;
	enum ustate state;
	struct bufferevent *bev;
	struct wire_parser *parser;
	struct event *timer;      /* back-off wait, then the attempt's deadline */
	struct event *tick;       /* while up: keepalives and the silence limit */
	struct event *msg_timer;  /* a message under way must be whole by then */
	int msg_open;
	int k;                    /* the server of the last connection up */
	int n;                    /* attempts since then */
	int cur;                  /* the server of this attempt */
	int started;
	long long last_rx, last_tx, last_ping;
	long long up_since;       /* when Reply=Hello said Success */
	uint64_t gen;
	long long id;
	char target[300];         /* servers[cur] as written */
	char addr[INET6_ADDRSTRLEN];
	char peer_name[256];
	char facts_hash[72];
	int facts_supported;
};



int uplink_is_up(const struct uplink *u) { return u->state == U_UP; }
uint64_t uplink_generation(const struct uplink *u) { return u->gen; }
const char *uplink_peer_addr(const struct uplink *u) { return u->addr; }
const char *uplink_peer_name(const struct uplink *u) { return u->peer_name; }
long long uplink_computer_id(const struct uplink *u) { return u->id; }
void uplink_set_conf(struct uplink *u, const struct conf_agent *conf) { u->conf = conf; }
void uplink_set_ctx(struct uplink *u, SSL_CTX *ctx) { u->ctx = ctx; }
int uplink_facts_supported(const struct uplink *u) { return u->state == U_UP && u->facts_supported; }

void
uplink_set_facts_hash(struct uplink *u, const char *hash)
{
	snprintf(u->facts_hash, sizeof(u->facts_hash), "%s", hash != NULL ? hash : "");
}

static void uplink_attempt(evutil_socket_t fd, short what, void *arg);

static void
uplink_close(struct uplink *u)
{
	if (u->bev != NULL)
		bufferevent_free(u->bev);
	u->bev = NULL;
	wire_parser_free(u->parser);
	u->parser = NULL;
	u->msg_open = 0;
	evtimer_del(u->timer);
	evtimer_del(u->tick);
	evtimer_del(u->msg_timer);
	while (ERR_get_error() != 0)
		;
}

/* The next attempt: its delay (full jitter) and server (the walk round the list). */
static void
uplink_schedule(struct uplink *u)
{
	const struct conf_agent *cf = u->conf;
	int count = (int)cf->servers.n;
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)clock_mono_ms();
	long long window = backoff_window(cf->reconnect_backoff_ms, cf->reconnect_max_backoff_ms, u->n);
	long long delay = backoff_delay(cf->reconnect_backoff_ms, cf->reconnect_max_backoff_ms, u->n, r);
	if (!u->started)
		delay = window = 0; /* the very first attempt after start */
	u->started = 1;
	u->cur = backoff_server(u->k, u->n, count);
	snprintf(u->target, sizeof(u->target), "%s", cf->servers.v[u->cur]);
	log_info("reconnect: attempt %d to %s in %lld ms (window %lld ms)", u->n, u->target, delay,
	    window);
	u->state = U_WAIT;
	struct timeval tv = clock_tv(delay);
	evtimer_assign(u->timer, u->base, uplink_attempt, u);
	evtimer_add(u->timer, &tv);
}

/* This attempt failed: the next one, one server on. */
static void
uplink_fail(struct uplink *u, const char *why)
{
	log_warnx("connect: %s%s%s%s: %s", u->target, u->peer_name[0] != '\0' ? " (" : "",
	    u->peer_name, u->peer_name[0] != '\0' ? ")" : "", why);
	uplink_close(u);
	if (u->state == U_STOPPED)
		return;
	u->n++;
	uplink_schedule(u);
}

/*
 * The connection that was up is lost. When it had lasted connect_timeout, the same
 * server first, with the first window; sooner, it counts as one more failed attempt
 * (the next server, a wider window): a scheduler that accepts and then always breaks
 * the connection must not hold the agent.
 */
static void
uplink_lost(struct uplink *u, const char *why)
{
	log_warnx("connection to %s (%s) lost: %s", u->target, u->peer_name, why);
	uplink_close(u);
	u->state = U_WAIT;
	if (u->hooks.down != NULL)
		u->hooks.down(u->hooks.arg);
	if (u->state == U_STOPPED)
		return;
	if (clock_mono_ms() - u->up_since >= u->conf->connect_timeout_ms) {
		u->k = u->cur;
		u->n = 0;
	} else {
		u->n++;
	}
	uplink_schedule(u);
}

static void
uplink_down(struct uplink *u, const char *why)
{
	if (u->state == U_UP)
		uplink_lost(u, why);
	else if (u->state == U_CONNECTING || u->state == U_HELLO)
		uplink_fail(u, why);
}

static int
uplink_write(struct uplink *u, const struct wire_msg *m)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL) {
		log_warnx("connection to %s: message over the header limit not sent", u->target);
		return -1;
	}
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Sent on socket (%d) - %zu chars sent to %s (%s).\n%s",
		    (int)bufferevent_getfd(u->bev), len, u->peer_name, u->addr, dump != NULL ? dump : "");
		free(dump);
	}
	int rc = bufferevent_write(u->bev, buf, len);
	wire_buf_free(buf, len);
	u->last_tx = clock_mono_ms();
	return rc;
}

int
uplink_send(struct uplink *u, const struct wire_msg *m)
{
	if (u->state != U_UP)
		return -1;
	return uplink_write(u, m);
}

static int
uplink_send_kv(struct uplink *u, const char *const (*kv)[2], size_t n)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	int rc = m != NULL ? 0 : -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	if (rc == 0)
		rc = uplink_write(u, m);
	wire_msg_free(m);
	return rc;
}

/* Reply=Hello: we are connected, or refused. */
static void
uplink_hello_reply(struct uplink *u, const struct wire_msg *m)
{
	const char *reply = wire_get(m, "Reply"), *result = wire_get(m, "Result");
	char why[400];
	if (reply == NULL || strcmp(reply, "Hello") != 0 || result == NULL) {
		uplink_fail(u, "the scheduler did not answer Request=Hello");
		return;
	}
	if (strcmp(result, "Success") != 0) {
		const char *e = wire_get(m, "Error");
		snprintf(why, sizeof(why), "refused us: %s", e != NULL ? e : "(no reason given)");
		uplink_fail(u, why);
		return;
	}
	const char *id_s = wire_get(m, "ID"), *name = wire_get(m, "Scheduler");
	char *end = NULL;
	long long id = id_s != NULL ? strtoll(id_s, &end, 10) : 0;
	u->id = end != NULL && *end == '\0' && id > 0 ? id : 0;
	if (u->conf->computer_id != 0 && u->id != 0 && u->id != u->conf->computer_id)
		log_warnx("connect: the scheduler says this is computer %lld, computer_id says %lld: "
		    "requests are checked against %lld", u->id, u->conf->computer_id, u->id);
	u->state = U_UP;
	u->gen++;
	log_notice("connected to %s (%s) as computer %lld after %d attempt%s", u->target,
	    name != NULL ? name : u->peer_name, u->id, u->n + 1, u->n == 0 ? "" : "s");
	u->up_since = clock_mono_ms();
	evtimer_del(u->timer);
	long long iv = u->conf->keepalive_interval_ms, slack = u->conf->keepalive_timeout_ms - iv;
	long long every = (iv < slack ? iv : slack) / 2;
	struct timeval tv = clock_tv(every > 20 ? every : 20);
	event_add(u->tick, &tv);
	u->last_ping = u->last_rx;
	if (u->hooks.up != NULL)
		u->hooks.up(u->hooks.arg);
	const char *facts = wire_get(m, "Facts");
	u->facts_supported = facts != NULL;
	if (facts != NULL && u->hooks.facts != NULL && u->state == U_UP)
		u->hooks.facts(strcmp(facts, "Send") == 0, u->hooks.arg);
}

static void
uplink_message(struct uplink *u, const struct wire_msg *m)
{
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Received on socket (%d) from %s (%s).\n%s",
		    (int)bufferevent_getfd(u->bev), u->peer_name, u->addr, dump != NULL ? dump : "");
		free(dump);
	}
	if (u->state == U_HELLO) {
		uplink_hello_reply(u, m);
		return;
	}
	const char *req = wire_get(m, "Request"), *reply = wire_get(m, "Reply");
	if (req != NULL) {
		u->hooks.request(m, u->hooks.arg);
		return;
	}
	if (reply != NULL && strcmp(reply, "Keepalive") == 0)
		return;
	log_warnx("connection to %s: unexpected message %s from the scheduler, ignored", u->target,
	    reply != NULL ? reply : "(no Request or Reply)");
}

static void
uplink_read_cb(struct bufferevent *bev, void *arg)
{
	struct uplink *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	u->last_rx = clock_mono_ms();
	while (u->bev == bev && (u->state == U_HELLO || u->state == U_UP) &&
	    (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n && u->bev == bev) {
			size_t used = 0;
			enum wire_status st = wire_feed(u->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE) {
				if (used > 0 && !u->msg_open) {
					u->msg_open = 1;
					struct timeval tv = clock_tv(u->conf->message_timeout_ms);
					evtimer_add(u->msg_timer, &tv);
				}
				break;
			}
			if (st == WIRE_ERROR) {
				char why[300];
				snprintf(why, sizeof(why), "bad message from the scheduler: %s",
				    wire_parser_error(u->parser));
				uplink_down(u, why);
				return;
			}
			u->msg_open = 0;
			evtimer_del(u->msg_timer);
			struct wire_msg *m = wire_parser_take(u->parser);
			if (m == NULL)
				fatalx("out of memory");
			uplink_message(u, m);
			wire_msg_free(m);
		}
	}
}

/* OpenSSL's reasons, one line; "" when there were none. */
static void
uplink_tls_error(struct uplink *u, char *buf, size_t size)
{
	unsigned long codes[8];
	int n = 0;
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(u->bev)) != 0)
		if (n < 8)
			codes[n++] = e;
	tls_describe(bufferevent_openssl_get_ssl(u->bev), codes, n, buf, size);
}

/* TLS is up: a scheduler of our CA (the context checked its role); say who we are. */
static void
uplink_connected(struct uplink *u)
{
	const struct conf_agent *cf = u->conf;
	SSL *ssl = bufferevent_openssl_get_ssl(u->bev);
	if (tls_peer_name(ssl, u->peer_name, sizeof(u->peer_name)) == -1)
		snprintf(u->peer_name, sizeof(u->peer_name), "?");
	const struct conf_strlist *allow = &cf->tls_allow_schedulers;
	if (allow->n > 0 && !tls_peer_allowed(ssl, (const char *const *)allow->v, (int)allow->n)) {
		char why[400];
		snprintf(why, sizeof(why), "refused: certificate \"%s\" is not in tls.allow_schedulers",
		    u->peer_name);
		uplink_fail(u, why);
		return;
	}
	(void)tls_set_nodelay(bufferevent_getfd(u->bev));
	u->state = U_HELLO;
	u->parser = wire_parser_new(MAX_REQUEST_BODY);
	if (u->parser == NULL)
		fatalx("out of memory");
	char ka[24];
	snprintf(ka, sizeof(ka), "%lld", cf->keepalive_interval_ms);
	const char *const kv[][2] = {{"Request", "Hello"}, {"Computer", cf->computer},
	    {"Protocol", UPLINK_PROTOCOL}, {"Agent-Version", u->version}, {"Keepalive", ka},
	    {"Facts-Hash", u->facts_hash}};
	if (uplink_send_kv(u, kv, 6) == -1)
		uplink_fail(u, "Request=Hello could not be sent");
}

static void
uplink_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct uplink *u = arg;
	char why[600], tls[500];
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		uplink_connected(u);
		return;
	}
	uplink_tls_error(u, tls, sizeof(tls));
	if (tls[0] != '\0')
		snprintf(why, sizeof(why), "refused: %s", tls);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by the scheduler");
	else
		snprintf(why, sizeof(why), "%s", EVUTIL_SOCKET_ERROR() != 0 ?
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : "connection closed");
	uplink_down(u, why);
}

/* The attempt's connect + TLS + Hello deadline, or a message under way too long. */
static void
uplink_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	char why[200];
	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "not connected within %lld ms (connect_timeout)",
	    u->conf->connect_timeout_ms);
	uplink_fail(u, why);
}

static void
uplink_msg_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	char why[200];
	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "message not complete within %lld ms of its first byte "
	    "(message_timeout), closed", u->conf->message_timeout_ms);
	log_warnx("connection to %s (%s): %s", u->target, u->peer_name, why);
	uplink_down(u, why);
}

/* While up: a keepalive when either way has been quiet, a lost connection when the scheduler has. */
static void
uplink_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	const struct conf_agent *cf = u->conf;
	(void)fd;
	(void)what;
	if (u->state != U_UP)
		return;
	long long now = clock_mono_ms();
	if (now - u->last_rx >= cf->keepalive_timeout_ms) {
		char why[160];
		snprintf(why, sizeof(why), "nothing from the scheduler for %lld ms (keepalive.timeout)",
		    now - u->last_rx);
		uplink_lost(u, why);
		return;
	}
	int quiet = now - u->last_rx >= cf->keepalive_interval_ms ||
	    now - u->last_tx >= cf->keepalive_interval_ms;
	if (quiet && now - u->last_ping >= cf->keepalive_interval_ms) {
		const char *const kv[][2] = {{"Request", "Keepalive"}};
		u->last_ping = now;
		if (uplink_send_kv(u, kv, 1) == -1)
			uplink_lost(u, "keepalive could not be sent");
	}
}

static int
uplink_resolve(struct uplink *u, struct addrinfo **ai, char *why, size_t whylen)
{
	struct conf_listen hp = {0};
	char port[16];
	if (conf_parse_server(u->target, &hp, why, whylen) == -1)
		return -1;
	snprintf(port, sizeof(port), "%d", hp.port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int gai = getaddrinfo(hp.host, port, &hints, ai);
	if (gai != 0)
		snprintf(why, whylen, "%s", gai_strerror(gai));
	free(hp.host);
	return gai != 0 ? -1 : 0;
}

/* Start attempt n: TCP to the server, then TLS as the client. */
static void
uplink_attempt(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	struct addrinfo *ai = NULL;
	char why[300];
	(void)fd;
	(void)what;
	u->peer_name[0] = '\0';
	u->state = U_CONNECTING;
	if (uplink_resolve(u, &ai, why, sizeof(why)) == -1) {
		uplink_fail(u, why);
		return;
	}
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, u->addr, sizeof(u->addr), NULL, 0,
		NI_NUMERICHOST) != 0)
		snprintf(u->addr, sizeof(u->addr), "?");
	SSL *ssl = SSL_new(u->ctx);
	if (ssl == NULL)
		fatalx("SSL_new failed");
	u->bev = bufferevent_openssl_socket_new(u->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (u->bev == NULL)
		fatalx("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(u->bev, 1);
	bufferevent_setcb(u->bev, uplink_read_cb, NULL, uplink_event_cb, u);
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
	struct timeval tv = clock_tv(u->conf->connect_timeout_ms);
	evtimer_assign(u->timer, u->base, uplink_deadline_cb, u);
	evtimer_add(u->timer, &tv);
	int rc = bufferevent_socket_connect(u->bev, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc == -1)
		uplink_fail(u, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

struct uplink *
uplink_new(struct event_base *base, SSL_CTX *ctx, const struct conf_agent *conf,
    const char *version, const struct uplink_hooks *hooks)
{
	struct uplink *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->base = base;
	u->ctx = ctx;
	u->conf = conf;
	u->hooks = *hooks;
	snprintf(u->version, sizeof(u->version), "%s", version);
	u->timer = evtimer_new(base, uplink_attempt, u);
	u->tick = event_new(base, -1, EV_PERSIST, uplink_tick_cb, u);
	u->msg_timer = evtimer_new(base, uplink_msg_deadline_cb, u);
	if (u->timer == NULL || u->tick == NULL || u->msg_timer == NULL) {
		uplink_free(u);
		return NULL;
	}
	u->state = U_WAIT;
	return u;
}

void
uplink_start(struct uplink *u)
{
	uplink_schedule(u);
}

void
uplink_stop(struct uplink *u)
{
	uplink_close(u);
	u->state = U_STOPPED;
}

void
uplink_free(struct uplink *u)
{
	if (u == NULL)
		return;
	uplink_close(u);
	evloop_event_free(u->timer);
	evloop_event_free(u->tick);
	evloop_event_free(u->msg_timer);
	free(u);
}

int
uplink_fd(const struct uplink *u)
{
	return u->bev != NULL ? (int)bufferevent_getfd(u->bev) : -1;
}
