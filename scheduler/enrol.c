/*
 * enrol: the service process. One connection is a short state machine on a
 * TLS bufferevent:
 *   HANDSHAKE  in the pre-TLS budget (common/gate.c), ENROL_HANDSHAKE_MS
 *   REQUEST    one Request=Enroll, whole within agents.hello_timeout of the accept
 *   REPLY      the answer is flushed, then the connection is closed
 * The decision is the database's (pgfleet.enrol_request, migrations/0017_enrol.sql);
 * the signature is common/pki.c's. The database connection is this process's own
 * and is used synchronously: enrolments are short and this process does nothing else.
 */
#include "scheduler/enrol.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/db.h"
#include "common/enrolmsg.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/gate.h"
#include "common/log.h"
#include "common/pki.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/util.h"
#include "common/wire.h"

static const char SQL_REQUEST[] =
    "SELECT verdict, code, message, computer_id, enrolment_id"
    " FROM pgfleet.enrol_request($1, $2, $3, $4, $5, $6)";
static const char SQL_ISSUED[] =
    "SELECT pgfleet.enrol_issued($1::bigint, $2::bigint, $3, $4, to_timestamp($5::float8),"
    " to_timestamp($6::float8), $7, $8::boolean)";

enum estate { E_HANDSHAKE, E_REQUEST, E_REPLY, E_CLOSED };

struct enrol;

struct econn {
	struct enrol *e;
	struct gate_entry gate;
	struct bufferevent *bev;
	struct wire_parser *parser;
	struct event *deadline;
	enum estate state;
	long long accepted_ms;
	char host[INET6_ADDRSTRLEN];
};

struct enrol {
	const struct conf_scheduler *conf;
	struct event_base *base;
	struct evconnlistener *listener;
	struct gate *gate;
	SSL_CTX *ctx;
	struct pki_ca *ca;
	struct db *db;
	struct event *sig[3];
};

static void
econn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	free(arg);
}

static void
econn_close(struct econn *c)
{
	if (c->state == E_CLOSED)
		return;
	c->state = E_CLOSED;
	gate_leave(c->e->gate, &c->gate);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	wire_parser_free(c->parser);
	c->parser = NULL;
	evloop_event_free(c->deadline);
	c->deadline = NULL;
	struct timeval zero = {0, 0};
	if (event_base_once(c->e->base, -1, EV_TIMEOUT, econn_free_cb, c, &zero) == -1)
		fatalx("event_base_once failed");
}

static void
reply_flushed_cb(struct bufferevent *bev, void *arg)
{
	struct econn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		econn_close(c);
}

/* Send the answer and close once it is out (or at the deadline). */
static void
econn_reply(struct econn *c, const char *result, int code, const char *error, long long id,
    const char *cert, size_t cert_len)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	if (m == NULL)
		fatalx("out of memory");
	int rc = wire_add(m, "Reply", "Enroll", err, sizeof(err));
	if (rc == 0)
		rc = wire_add(m, "Result", result, err, sizeof(err));
	if (rc == 0)
		rc = wire_addf(m, err, sizeof(err), "Status-Code", "%d", code);
	if (rc == 0 && error != NULL)
		rc = wire_add(m, "Error", error, err, sizeof(err));
	if (rc == 0 && id > 0)
		rc = wire_addf(m, err, sizeof(err), "ID", "%lld", id);
	if (rc == 0 && cert != NULL)
		rc = wire_set_body(m, cert, cert_len);
	size_t len = 0;
	char *buf = rc == 0 ? wire_build(m, &len) : NULL;
	wire_msg_free(m);
	if (buf == NULL) {
		log_warnx("enrol: %s: reply could not be built", c->host);
		econn_close(c);
		return;
	}
	rc = bufferevent_write(c->bev, buf, len);
	wire_buf_free(buf, len);
	if (rc == -1) {
		econn_close(c);
		return;
	}
	c->state = E_REPLY;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, reply_flushed_cb, NULL, c);
	struct timeval tv = clock_tv(ENROL_HANDSHAKE_MS);
	evtimer_add(c->deadline, &tv);
}

/* A client certificate (a renewal): it must be an agent's, for the name asked. */
static int
peer_serial(struct econn *c, const char *name, char serial[PKI_SERIAL_HEX], char *why, size_t whylen)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	X509 *pc = SSL_get0_peer_certificate(ssl);
	char role[64], cn[256];
	serial[0] = '\0';
	if (pc == NULL)
		return 0;
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		snprintf(why, whylen, "the client certificate does not verify");
		return -1;
	}
	if (tls_cert_role(pc, role, sizeof(role)) == -1 || strcmp(role, TLS_ROLE_AGENT) != 0) {
		snprintf(why, whylen, "the client certificate is not an agent's");
		return -1;
	}
	if (tls_peer_name(ssl, cn, sizeof(cn)) == -1 || strcmp(cn, name) != 0) {
		snprintf(why, whylen, "Computer \"%s\" does not match the certificate name", name);
		return -1;
	}
	if (pki_serial_hex(pc, serial) == -1) {
		snprintf(why, whylen, "the client certificate has no usable serial");
		return -1;
	}
	return 1;
}

/* The database said issue: sign, record, answer. */
static void
issue(struct econn *c, const struct enrol_request *r, const char *cid, const char *eid, int renewal)
{
	struct enrol *e = c->e;
	struct pki_issued is;
	char err[512], nb[32], na[32];
	if (pki_sign_csr(e->ca, r->csr, r->csr_len, r->computer, TLS_ROLE_AGENT,
	    (long)(e->conf->enrol_lifetime_ms / 1000), &is, err, sizeof(err)) == -1) {
		log_warnx("enrol: %s from %s: cannot sign: %s", r->computer, c->host, err);
		econn_reply(c, "Failed", STATUS_ENROL_REFUSED, err, 0, NULL, 0);
		return;
	}
	snprintf(nb, sizeof(nb), "%lld", is.not_before);
	snprintf(na, sizeof(na), "%lld", is.not_after);
	const char *p[] = {cid, eid, is.serial, is.pubkey_sha256, nb, na, e->conf->name,
	    renewal ? "true" : "false"};
	if (db_exec(e->db, NULL, SQL_ISSUED, 8, p, err, sizeof(err)) == -1) {
		log_warnx("enrol: %s from %s: certificate not recorded: %s", r->computer, c->host, err);
		econn_reply(c, "Retry", 0, "the database is unavailable; try again", 0, NULL, 0);
		pki_issued_free(&is);
		return;
	}
	log_notice("enrol: computer %s (%s) from %s: %s certificate %s, valid until %s", r->computer, cid,
	    c->host, renewal ? "renewed," : "enrolled,", is.serial, na);
	econn_reply(c, "Success", 0, NULL, strtoll(cid, NULL, 10), is.pem, is.pem_len);
	pki_issued_free(&is);
}

static void
econn_request(struct econn *c, const struct wire_msg *m)
{
	struct enrol *e = c->e;
	struct enrol_request r;
	char why[512], serial[PKI_SERIAL_HEX], pub[65], hash[65];
	if (enrolmsg_parse_request(m, &r, why, sizeof(why)) == -1) {
		gate_refused(e->gate, c->host, why);
		econn_reply(c, "Failed", STATUS_ENROL_REFUSED, why, 0, NULL, 0);
		return;
	}
	int renewal = peer_serial(c, r.computer, serial, why, sizeof(why));
	if (renewal == 1 && r.token != NULL)
		renewal = 0; /* enrolling again with a token, over an older certificate */
	if (renewal == 0 && r.token == NULL)
		snprintf(why, sizeof(why), "Enroll without Token or a client certificate");
	if (renewal == -1 || (renewal == 0 && r.token == NULL) ||
	    pki_csr_check(r.csr, r.csr_len, r.computer, pub, why, sizeof(why)) == -1) {
		log_warnx("enrol: %s from %s refused: %s", r.computer, c->host, why);
		econn_reply(c, "Failed", STATUS_ENROL_REFUSED, why, 0, NULL, 0);
		return;
	}
	if (r.token != NULL && util_sha256_hex(r.token, strlen(r.token), hash) == -1)
		fatalx("sha256 failed");
	const char *p[] = {r.computer, pub, r.token != NULL ? hash : NULL, renewal ? serial : NULL, c->host,
	    r.version};
	struct db_result *res = NULL;
	if (db_exec(e->db, &res, SQL_REQUEST, 6, p, why, sizeof(why)) == -1) {
		log_warnx("enrol: %s from %s: %s", r.computer, c->host, why);
		econn_reply(c, "Retry", 0, "the database is unavailable; try again", 0, NULL, 0);
		return;
	}
	const char *verdict = db_value(res, 0, 0), *msg = db_value(res, 0, 2);
	int code = atoi(db_value(res, 0, 1));
	if (strcmp(verdict, "issue") == 0) {
		issue(c, &r, db_value(res, 0, 3), db_isnull(res, 0, 4) ? NULL : db_value(res, 0, 4), renewal);
	} else if (strcmp(verdict, "pending") == 0) {
		log_info("enrol: computer %s from %s: %s", r.computer, c->host, msg);
		econn_reply(c, "Pending", code, msg, 0, NULL, 0);
	} else {
		log_warnx("enrol: computer %s from %s refused: %s", r.computer, c->host, msg);
		econn_reply(c, "Failed", code, msg, 0, NULL, 0);
	}
	db_result_free(res);
}

static void
econn_read_cb(struct bufferevent *bev, void *arg)
{
	struct econn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096];
	int n;
	while (c->state == E_REQUEST && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n && c->state == E_REQUEST) {
			size_t used = 0;
			enum wire_status st = wire_feed(c->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				char why[300];
				snprintf(why, sizeof(why), "bad message: %s", wire_parser_error(c->parser));
				gate_refused(c->e->gate, c->host, why);
				econn_reply(c, "Failed", STATUS_ENROL_REFUSED, why, 0, NULL, 0);
				return;
			}
			struct wire_msg *m = wire_parser_take(c->parser);
			if (m == NULL)
				fatalx("out of memory");
			econn_request(c, m);
			wire_msg_free(m);
			return; /* one request per connection */
		}
	}
}

static void
econn_connected(struct econn *c)
{
	gate_leave(c->e->gate, &c->gate);
	c->state = E_REQUEST;
	c->parser = wire_parser_new(ENROL_MAX_CSR);
	if (c->parser == NULL)
		fatalx("out of memory");
	long long left = c->e->conf->agents_hello_timeout_ms - (clock_mono_ms() - c->accepted_ms);
	struct timeval tv = clock_tv(left > 0 ? left : 1);
	evtimer_add(c->deadline, &tv);
}

static void
econn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct econn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		econn_connected(c);
		return;
	}
	if (c->state == E_HANDSHAKE) {
		unsigned long codes[8];
		int n = 0;
		unsigned long ec;
		char why[400];
		while ((ec = bufferevent_get_openssl_error(c->bev)) != 0)
			if (n < 8)
				codes[n++] = ec;
		tls_describe(bufferevent_openssl_get_ssl(c->bev), codes, n, why, sizeof(why));
		gate_refused(c->e->gate, c->host, why[0] != '\0' ? why : "tls handshake failed");
	}
	while (ERR_get_error() != 0)
		;
	econn_close(c);
}

static void
econn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct econn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == E_HANDSHAKE)
		gate_refused(c->e->gate, c->host, "no tls handshake in time");
	else if (c->state == E_REQUEST)
		gate_refused(c->e->gate, c->host, "no whole Request=Enroll in time (agents.hello_timeout)");
	econn_close(c);
}

static void
econn_evict(struct gate_entry *g, const char *why)
{
	struct econn *c = (struct econn *)((char *)g - offsetof(struct econn, gate));
	(void)why;
	econn_close(c);
}

static void
enrol_accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct enrol *e = arg;
	(void)lis;
	(void)salen;
	struct econn *c = calloc(1, sizeof(*c));
	SSL *ssl = evloop_tls_admit(e->ctx, e->gate, c != NULL ? &c->gate : NULL, econn_evict, fd, sa, NULL);
	if (ssl == NULL) {
		free(c);
		return;
	}
	c->e = e;
	c->accepted_ms = clock_mono_ms();
	snprintf(c->host, sizeof(c->host), "%s", c->gate.host);
	const struct evloop_tls_cbs cbs = {.read = econn_read_cb, .event = econn_event_cb,
	    .deadline = econn_deadline_cb, .arg = c};
	if (evloop_tls_accept(e->base, fd, ssl, &cbs, ENROL_HANDSHAKE_MS, &c->bev, &c->deadline) == -1)
		econn_close(c);
}

static void
enrol_signal(evutil_socket_t sig, short what, void *arg)
{
	struct enrol *e = arg;
	(void)what;
	if (sig == SIGHUP) {
		if (log_reopen() == -1)
			log_warn("log: reopen");
		return;
	}
	event_base_loopbreak(e->base);
}

static void
enrol_accept_error_cb(struct evconnlistener *lis, void *arg)
{
	(void)lis;
	(void)arg;
	log_warn("enrol: accept");
}

/* The child: never returns. */
static void
enrol_main(const struct conf_scheduler *conf, int listen_fd)
{
	struct enrol e = {.conf = conf};
	char err[512];
	log_procinit("enrol");
	db_application_name("pgfleet-enrol");
	/* the key is read here, after the fork: no other process of ours ever holds it */
	if ((e.ca = pki_ca_open(conf->enrol_ca_cert, conf->enrol_ca_key, err, sizeof(err))) == NULL)
		fatalx("enrol: %s", err);
	if ((e.ctx = tls_server_ctx(conf->tls_ca, conf->tls_cert, conf->tls_key, err, sizeof(err))) == NULL)
		fatalx("enrol: tls: %s", err);
	tls_ctx_client_cert_optional(e.ctx);
	while ((e.db = db_open(conf->database, err, sizeof(err))) == NULL) {
		log_warnx("enrol: %s; retrying in 1s", err);
		sleep(1);
	}
	if ((e.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	e.gate = gate_new(e.base, "enrol", ENROL_PRETLS_MAX, ENROL_PRETLS_PER_SOURCE);
	e.listener = e.gate != NULL ? evconnlistener_new(e.base, enrol_accept_cb, &e, LEV_OPT_CLOSE_ON_EXEC,
	    -1, listen_fd) : NULL;
	if (e.listener == NULL)
		fatalx("enrol: cannot accept on enrol.listen");
	evconnlistener_set_error_cb(e.listener, enrol_accept_error_cb);
	int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		e.sig[i] = evsignal_new(e.base, sigs[i], enrol_signal, &e);
		evsignal_add(e.sig[i], NULL);
	}
	log_info("enrol: service ready, certificates valid for %lld s", conf->enrol_lifetime_ms / 1000);
	event_base_dispatch(e.base);
	log_info("enrol: stopped");
	_exit(0);
}

pid_t
enrol_spawn(const struct conf_scheduler *c, int listen_fd)
{
	pid_t pid = fork();
	if (pid == -1) {
		log_warn("enrol: fork");
		return -1;
	}
	if (pid > 0) {
		log_info("enrol: service started, pid %ld", (long)pid);
		return pid;
	}
	int keep[] = {listen_fd, log_fileno()};
	fsutil_close_except(3, keep, 2);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	enrol_main(c, listen_fd);
	_exit(1);
}
