/*
 * pgfleet-test-fleetserve: a small scheduler side for testing the fleet
 * simulator without a database: one libevent loop accepting agent
 * connections over mutual TLS (agent role required), answering
 * Request=Hello (the certificate's name must be the Computer; ID = 5000000 +
 * the number the name ends in) and keepalives, and pushing --tasks
 * Request=SendFile per computer, one after another, each built by
 * worker/sendfile.c and served from a real transfer port (transfer/serve.c).
 * A task whose connection is lost before its final reply is pushed again,
 * same Event-ID and Task-Sequence-ID, one Attempt more, when the computer
 * is back. Figures as key=value lines go to --summary FILE once every
 * computer seen has had its tasks (and at SIGTERM).
 *   --ca --cert --key   the scheduler's certificate
 *   --port-file F       the control port, once listening on 127.0.0.1
 *   --port-range LO-HI  the transfer port's range
 *   --script FILE       the file every task sends
 *   --tasks K           tasks per computer (default 1)
 *   --count N           computers expected: the summary is written when N have had K tasks
 *   --summary FILE
 *   --cancel-every M    computer ids divisible by M get Request=Cancel right after 2501
 *   --timeout-ms MS     the tasks' Timeout (default 60000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/keys.h"
#include "transfer/serve.h"
#include "worker/sendfile.h"

#define PROG "pgfleet-test-fleetserve"
#define MAX_COMPUTERS 100000
#define BASE_ID 5000000

struct conn;

struct computer {
	struct conn *conn;
	int done;          /* final replies taken */
	int pushed;        /* the current task was pushed and not answered */
	int attempt;
};

struct conn {
	struct bufferevent *bev;
	struct wire_parser *parser;
	long long id;      /* 0 until Hello */
};

static struct {
	const char *ca, *cert, *key, *port_file, *script, *summary;
	int port_lo, port_hi, tasks, count, cancel_every, timeout_ms;
} o = {.tasks = 1, .timeout_ms = 60000};

static struct event_base *base;
static SSL_CTX *sctx;
static struct transfer_keys *keys;
static struct transfer_serve *ts;
static struct computer *computers;
static uint64_t fsize;
static char fsum[TRANSFER_CHECKSUM_MAX];
static long long hellos, refused, finals, updates_2500, updates_2501, replayed, cancels, complete, errors;
static long long transfers_failed;
static long long codes[512];  /* final codes -256..255 */

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static void
write_summary(void)
{
	if (o.summary == NULL)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", o.summary);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "hellos=%lld\nrefused=%lld\nfinals=%lld\nupdates_2500=%lld\nupdates_2501=%lld\n", hellos, refused,
	    finals, updates_2500, updates_2501);
	fprintf(f, "replayed=%lld\ncancels=%lld\ncomplete=%lld\nerrors=%lld\ntransfers_failed=%lld\n", replayed, cancels,
	    complete, errors, transfers_failed);
	for (int i = 0; i < 512; i++)
		if (codes[i] > 0)
			fprintf(f, "code_%d=%lld\n", i - 256, codes[i]);
	fclose(f);
	(void)rename(tmp, o.summary);
}

static int
send_kv(struct conn *cn, const char *const (*kv)[2], size_t n)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	size_t len;
	char *buf = rc == 0 ? wire_build(m, &len) : NULL;
	if (buf != NULL) {
		rc = bufferevent_write(cn->bev, buf, len);
		wire_buf_free(buf, len);
	} else
		rc = -1;
	wire_msg_free(m);
	return rc;
}

static void
conn_free(struct conn *cn)
{
	if (cn->id > 0 && computers[cn->id - BASE_ID].conn == cn)
		computers[cn->id - BASE_ID].conn = NULL;
	bufferevent_free(cn->bev);
	wire_parser_free(cn->parser);
	free(cn);
}

static long long
event_of(long long id, int done)
{
	return id * 1000 + done;
}

/* Push the computer's current task (again, after a lost connection). */
static void
push(struct conn *cn)
{
	struct computer *cp = &computers[cn->id - BASE_ID];
	char key[TRANSFER_KEY_HEX + 1], err[512];
	if (cp->done >= o.tasks)
		return;
	long long ev = event_of(cn->id, cp->done);
	if (cp->pushed)
		cp->attempt++;
	if (transfer_keys_add(keys, ev, 0, o.script, fsize, fsum, key, err, sizeof(err)) == -1)
		die("key: %s", err);
	struct sendfile_req r = {.now = time(NULL), .size = fsize, .port = transfer_serve_port(ts),
	    .transfer_host = "127.0.0.1", .key = key, .checksum = fsum, .os_required = "Linux",
	    .boot_env = "Production", .timeout_ms = o.timeout_ms, .schedule_id = 100000001, .event_id = ev, .seq = 0,
	    .attempt = cp->attempt, .computer_id = cn->id};
	struct wire_msg *m;
	if (sendfile_build(&r, &m, err, sizeof(err)) == -1)
		die("sendfile: %s", err);
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL || bufferevent_write(cn->bev, buf, len) == -1)
		die("%s", "sendfile could not be sent");
	wire_buf_free(buf, len);
	wire_msg_free(m);
	cp->pushed = 1;
}

static void
message(struct conn *cn, const struct wire_msg *m)
{
	const char *req = wire_get(m, "Request"), *reply = wire_get(m, "Reply");
	if (cn->id == 0) {
		char cert_name[256], why[400];
		SSL *ssl = bufferevent_openssl_get_ssl(cn->bev);
		const char *comp = wire_get(m, "Computer");
		const char *digits = comp != NULL ? comp + strcspn(comp, "0123456789") : "";
		long long n = strtoll(digits, NULL, 10);
		why[0] = '\0';
		if (req == NULL || strcmp(req, "Hello") != 0)
			snprintf(why, sizeof(why), "expected Request=Hello");
		else if (tls_peer_name(ssl, cert_name, sizeof(cert_name)) == -1 || comp == NULL ||
		    strcmp(comp, cert_name) != 0)
			snprintf(why, sizeof(why), "Computer \"%s\" does not match the certificate name \"%s\"",
			    comp != NULL ? comp : "", cert_name);
		else if (n < 1 || n >= MAX_COMPUTERS)
			snprintf(why, sizeof(why), "no computer named \"%s\" is registered", comp);
		if (why[0] != '\0') {
			refused++;
			const char *const kv[][2] = {{"Reply", "Hello"}, {"Result", "Failed"}, {"Error", why}};
			(void)send_kv(cn, kv, 3);
			return;
		}
		cn->id = BASE_ID + n;
		struct computer *cp = &computers[n];
		if (cp->conn != NULL) /* reconnected before we noticed: the newer wins */
			conn_free(cp->conn);
		cp->conn = cn;
		hellos++;
		char id_s[24];
		snprintf(id_s, sizeof(id_s), "%lld", cn->id);
		const char *const kv[][2] = {{"Reply", "Hello"}, {"Result", "Success"}, {"ID", id_s},
		    {"Scheduler", "fleetserve"}, {"Protocol", "1"}};
		(void)send_kv(cn, kv, 5);
		push(cn);
		return;
	}
	struct computer *cp = &computers[cn->id - BASE_ID];
	const char *code_s = wire_get(m, "Status-Code"), *ev_s = wire_get(m, "Event-ID");
	int code = code_s != NULL ? atoi(code_s) : 0;
	int is_replay = wire_get(m, "Replayed") != NULL;
	if (req != NULL && strcmp(req, "Keepalive") == 0) {
		const char *const kv[][2] = {{"Reply", "Keepalive"}};
		(void)send_kv(cn, kv, 1);
	} else if (reply != NULL && strcmp(reply, "StatusUpdate") == 0) {
		updates_2500 += code == 2500;
		updates_2501 += code == 2501;
		if (code == 2501 && o.cancel_every > 0 && cn->id % o.cancel_every == 0 && !is_replay) {
			const char *const kv[][2] = {{"Request", "Cancel"}, {"Event-ID", ev_s}, {"Task-Sequence-ID", "0"}};
			(void)send_kv(cn, kv, 3);
		}
	} else if (reply != NULL && strcmp(reply, "Cancel") == 0) {
		cancels++;
	} else if (reply != NULL && strcmp(reply, "SendFile") == 0 && ev_s != NULL &&
	    strtoll(ev_s, NULL, 10) == event_of(cn->id, cp->done)) {
		finals++;
		replayed += is_replay;
		if (code >= -256 && code < 256)
			codes[code + 256]++;
		cp->done++;
		cp->pushed = 0;
		cp->attempt = 0;
		if (cp->done == o.tasks && ++complete == o.count)
			write_summary();
		push(cn);
	} else {
		errors++;
		fprintf(stderr, PROG ": computer %lld: unexpected %s=%s (%s)\n", cn->id, req != NULL ? "Request" : "Reply",
		    req != NULL ? req : reply != NULL ? reply : "?", wire_get(m, "Error") ? wire_get(m, "Error") : "");
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n) {
			size_t used = 0;
			enum wire_status st = wire_feed(cn->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				errors++;
				conn_free(cn);
				return;
			}
			struct wire_msg *m = wire_parser_take(cn->parser);
			message(cn, m);
			wire_msg_free(m);
		}
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	SSL *ssl = SSL_new(sctx);
	struct conn *cn = calloc(1, sizeof(*cn));
	if (ssl == NULL || cn == NULL)
		die("%s", "out of memory");
	cn->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	cn->parser = wire_parser_new(1 << 20);
	if (cn->bev == NULL || cn->parser == NULL)
		die("%s", "out of memory");
	bufferevent_openssl_set_allow_dirty_shutdown(cn->bev, 1);
	bufferevent_setcb(cn->bev, read_cb, NULL, event_cb, cn);
	bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
}

static void
transfer_cb(const struct transfer_result *r, void *arg)
{
	(void)arg;
	if (r->ok)
		return;
	if (transfers_failed++ < 10)
		fprintf(stderr, PROG ": transfer for event %lld from %s (%s) failed: %s\n", r->event_id, r->peer, r->addr,
		    r->error != NULL ? r->error : "?");
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	char err[1024];
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "--ca") == 0) o.ca = v;
		else if (strcmp(a, "--cert") == 0) o.cert = v;
		else if (strcmp(a, "--key") == 0) o.key = v;
		else if (strcmp(a, "--port-file") == 0) o.port_file = v;
		else if (strcmp(a, "--script") == 0) o.script = v;
		else if (strcmp(a, "--summary") == 0) o.summary = v;
		else if (strcmp(a, "--tasks") == 0) o.tasks = atoi(v);
		else if (strcmp(a, "--count") == 0) o.count = atoi(v);
		else if (strcmp(a, "--cancel-every") == 0) o.cancel_every = atoi(v);
		else if (strcmp(a, "--timeout-ms") == 0) o.timeout_ms = atoi(v);
		else if (strcmp(a, "--port-range") == 0) {
			if (sscanf(v, "%d-%d", &o.port_lo, &o.port_hi) != 2)
				die("--port-range: %s", v);
		} else
			die("unknown option %s", a);
	}
	if (o.ca == NULL || o.cert == NULL || o.key == NULL || o.port_file == NULL || o.script == NULL ||
	    o.port_lo <= 0)
		die("%s", "usage: --ca --cert --key --port-file --port-range --script [--tasks K] [--count N] "
			  "[--summary FILE] [--cancel-every M]");
	signal(SIGPIPE, SIG_IGN);
	if (log_init(LL_NOTICE, NULL) == -1)
		die("%s", "log_init failed");
	computers = calloc(MAX_COMPUTERS, sizeof(*computers));
	sctx = tls_server_ctx(o.ca, o.cert, o.key, err, sizeof(err));
	if (computers == NULL || sctx == NULL)
		die("%s", computers == NULL ? "out of memory" : err);
	if (tls_ctx_require_peer_role(sctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1)
		die("%s", err);
	if (transfer_file_checksum(o.script, &fsize, fsum, sizeof(fsum), err, sizeof(err)) == -1)
		die("%s", err);
	base = event_base_new();
	keys = transfer_keys_new(0);
	if (base == NULL || keys == NULL)
		die("%s", "out of memory");
	ts = transfer_serve_new(base, sctx, o.port_lo, o.port_hi, "127.0.0.1", keys, err, sizeof(err));
	if (ts == NULL)
		die("%s", err);
	/* a test of the simulator, not of these limits: a loaded machine may take seconds per handshake */
	transfer_serve_set_pretls(ts, 1024, 1024, 60000);
	transfer_serve_set_timeouts(ts, 60000, 0);
	transfer_serve_set_callback(ts, transfer_cb, NULL);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct evconnlistener *l = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096, (struct sockaddr *)&sa, sizeof(sa));
	if (l == NULL)
		die("listen: %s", strerror(errno));
	struct sockaddr_in bound;
	socklen_t bl = sizeof(bound);
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &bl) == -1)
		die("%s", strerror(errno));
	FILE *f = fopen(o.port_file, "w");
	if (f == NULL)
		die("%s: cannot write", o.port_file);
	fprintf(f, "%d\n", ntohs(bound.sin_port));
	fclose(f);
	struct event *term = evsignal_new(base, SIGTERM, stop_cb, NULL);
	if (term == NULL || evsignal_add(term, NULL) == -1)
		die("%s", "signal setup failed");
	event_base_dispatch(base);
	write_summary();
	fprintf(stderr, PROG ": %lld hellos, %lld finals, %lld replayed, %lld errors\n", hellos, finals, replayed,
	    errors);
	evconnlistener_free(l);
	event_free(term);
	transfer_serve_free(ts);
	transfer_keys_free(keys);
	event_base_free(base);
	SSL_CTX_free(sctx);
	free(computers);
	return 0;
}
