/*
 * Unit tests for common/tls: contexts, TLS 1.3 only, mutual certificates and
 * peer names, over an AF_UNIX socketpair (no network), with certificates
 * made by common/pki.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/pki.h"
#include "common/tls.h"

static char err[1024];
static char dir[64], dir2[64];

static void
rm_tree(const char *d)
{
	DIR *dp = opendir(d);
	if (dp == NULL)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		unlink(path);
	}
	closedir(dp);
	rmdir(d);
}

static void
setup(void)
{
	struct pki_opts local = {.days = 10, .localhost = 1}, expired = {.days = 1, .backdate = 2 * 86400};
	signal(SIGPIPE, SIG_IGN); /* closing one end then the other */
	strcpy(dir, "/tmp/pgfleet-tls-XXXXXX");
	strcpy(dir2, "/tmp/pgfleet-tls2-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir2));
	ck_assert_int_eq(pki_init(dir, 10, err, sizeof(err)), 0);
	struct pki_opts sched = {.days = 10, .role = TLS_ROLE_SCHEDULER};
	ck_assert_int_eq(pki_issue_opts(dir, "sched-a", &sched, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue_opts(dir, "web-01", &local, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue_opts(dir, "old", &expired, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_init(dir2, 10, err, sizeof(err)), 0);
	ck_assert_int_eq(pki_issue(dir2, "web-01", 10, err, sizeof(err)), 0);
}

static void
teardown(void)
{
	rm_tree(dir);
	rm_tree(dir2);
}

/* A context trusting the CA of cadir, presenting d/name. */
static SSL_CTX *
ctx_mixed(int server, const char *cadir, const char *d, const char *name)
{
	char ca[128], crt[128], key[128];
	snprintf(ca, sizeof(ca), "%s/ca.crt", cadir);
	snprintf(crt, sizeof(crt), "%s/%s.crt", d, name);
	snprintf(key, sizeof(key), "%s/%s.key", d, name);
	SSL_CTX *c = server ? tls_server_ctx(ca, crt, key, err, sizeof(err)) : tls_client_ctx(ca, crt, key, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static SSL_CTX *
ctx_for(int server, const char *d, const char *name)
{
	return ctx_mixed(server, d, d, name);
}

struct pair {
	SSL *c, *s;
	int cok, sok;
};

/* Both ends of a handshake on a socketpair, stepped in turn until each is done or failed. */
static void
handshake(SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *resume, struct pair *p)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	p->c = SSL_new(cctx);
	p->s = SSL_new(sctx);
	SSL_set_fd(p->c, sv[0]);
	SSL_set_fd(p->s, sv[1]);
	tls_offer_session(p->c, resume);
	int cdone = 0, sdone = 0;
	p->cok = p->sok = 0;
	for (int i = 0; i < 200 && (!cdone || !sdone); i++) {
		if (!cdone) {
			int r = SSL_connect(p->c);
			int e = SSL_get_error(p->c, r);
			if (r == 1)
				cdone = p->cok = 1;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				cdone = 1;
		}
		if (!sdone) {
			int r = SSL_accept(p->s);
			int e = SSL_get_error(p->s, r);
			if (r == 1)
				sdone = p->sok = 1;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				sdone = 1;
		}
	}
	ERR_clear_error();
}

static void
pair_free(struct pair *p)
{
	tls_close(p->c);
	tls_close(p->s);
}

START_TEST(test_tls_ctx_refuses_missing_or_mismatched_files)
{
	char ca[128], crt[128], key[128], want[256];
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/web-01.crt", dir);
	snprintf(key, sizeof(key), "%s/sched-a.key", dir);
	ck_assert_ptr_null(tls_server_ctx("/nonexistent/ca.crt", crt, key, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "tls ca /nonexistent/ca.crt: ", 28) == 0, "%s", err);
	ck_assert_ptr_null(tls_client_ctx(ca, "/nonexistent/x.crt", key, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "tls certificate /nonexistent/x.crt: ", 36) == 0, "%s", err);
	ck_assert_ptr_null(tls_client_ctx(ca, crt, key, err, sizeof(err)));
	snprintf(want, sizeof(want), "tls key %s: ", key);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(test_tls_contexts_allow_tls13_only)
{
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_for(0, dir, "web-01");
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(s), TLS1_3_VERSION);
	ck_assert_int_eq(SSL_CTX_get_max_proto_version(s), TLS1_3_VERSION);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(c), TLS1_3_VERSION);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(s), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(c), SSL_VERIFY_PEER);
	/* a TLS 1.2 client gets nowhere */
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
	struct pair p;
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.sok, 0);
	ck_assert_int_eq(p.cok, 0);
	pair_free(&p);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_peer_role_is_required_in_the_handshake)
{
	char role[32];
	X509 *x = NULL;
	char path[160];
	snprintf(path, sizeof(path), "%s/sched-a.crt", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(tls_cert_role(x, role, sizeof(role)), 0);
	ck_assert_str_eq(role, "scheduler");
	X509_free(x);

	/* an agent's listener: a scheduler may push, another agent may not */
	SSL_CTX *agent_srv = ctx_for(1, dir, "web-01");
	ck_assert_int_eq(tls_ctx_require_peer_role(agent_srv, TLS_ROLE_SCHEDULER, err, sizeof(err)), 0);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(agent_srv), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX *sched_cli = ctx_for(0, dir, "sched-a"), *agent_cli = ctx_for(0, dir, "web-01");
	struct pair p;
	handshake(sched_cli, agent_srv, NULL, &p);
	ck_assert_int_eq(p.sok, 1);
	pair_free(&p);
	handshake(agent_cli, agent_srv, NULL, &p);
	ck_assert_int_eq(p.sok, 0);
	ck_assert_int_eq(SSL_get_verify_result(p.s), X509_V_ERR_APPLICATION_VERIFICATION);
	pair_free(&p);

	/* a worker dialling a computer: a scheduler's certificate cannot pose as one */
	SSL_CTX *worker_cli = ctx_for(0, dir, "sched-a"), *sched_srv = ctx_for(1, dir, "sched-a");
	ck_assert_int_eq(tls_ctx_require_peer_role(worker_cli, TLS_ROLE_AGENT, err, sizeof(err)), 0);
	handshake(worker_cli, sched_srv, NULL, &p);
	ck_assert_int_eq(p.cok, 0);
	ck_assert_int_eq(SSL_get_verify_result(p.c), X509_V_ERR_APPLICATION_VERIFICATION);
	pair_free(&p);
	handshake(worker_cli, agent_srv, NULL, &p);
	ck_assert_int_eq(p.cok, 1);
	ck_assert_int_eq(p.sok, 1);
	pair_free(&p);
	SSL_CTX_free(agent_srv);
	SSL_CTX_free(sched_cli);
	SSL_CTX_free(agent_cli);
	SSL_CTX_free(worker_cli);
	SSL_CTX_free(sched_srv);
}
END_TEST

START_TEST(test_tls_mutual_handshake_names_both_peers)
{
	SSL_CTX *s = ctx_for(1, dir, "web-01"), *c = ctx_for(0, dir, "sched-a");
	struct pair p;
	char name[128];
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.cok, 1);
	ck_assert_int_eq(p.sok, 1);
	ck_assert_int_eq(tls_peer_name(p.s, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "sched-a");
	ck_assert_int_eq(tls_peer_name(p.c, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "web-01");
	/* the worker checks it reached the computer it meant */
	ck_assert_int_eq(tls_check_peer_name(p.c, "web-01", err, sizeof(err)), 0);
	ck_assert_int_eq(tls_check_peer_name(p.c, "localhost", err, sizeof(err)), 0);
	ck_assert_int_eq(tls_check_peer_name(p.c, "127.0.0.1", err, sizeof(err)), 0);
	ck_assert_int_eq(tls_check_peer_name(p.c, "web-02", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "peer certificate is for \"web-01\", not \"web-02\"");
	ck_assert_int_eq(tls_check_peer_name(p.c, "10.0.0.1", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "peer certificate is for \"web-01\", not \"10.0.0.1\"");
	ck_assert_int_eq(tls_check_peer_name(p.c, "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no expected peer name given");
	/* the agent's allow-list of schedulers */
	const char *allow[] = {"sched-b", "SCHED-A"};
	const char *deny[] = {"sched-b", "sched"};
	ck_assert_int_eq(tls_peer_allowed(p.s, allow, 2), 1);
	ck_assert_int_eq(tls_peer_allowed(p.s, deny, 2), 0);
	ck_assert_int_eq(tls_peer_allowed(p.s, allow, 0), 0);
	pair_free(&p);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_peer_checks_without_certificate)
{
	SSL_CTX *c = ctx_for(0, dir, "sched-a");
	SSL *ssl = SSL_new(c);
	char name[64];
	const char *allow[] = {"sched-a"};
	ck_assert_int_eq(tls_peer_name(ssl, name, sizeof(name)), -1);
	ck_assert_int_eq(tls_check_peer_name(ssl, "web-01", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "peer sent no certificate");
	ck_assert_int_eq(tls_peer_allowed(ssl, allow, 1), 0);
	SSL_free(ssl);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_server_refuses_client_of_other_ca)
{
	/* the client trusts the server, but its own certificate comes from another CA */
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_mixed(0, dir, dir2, "web-01");
	struct pair p;
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.sok, 0);
	ck_assert_int_ne(SSL_get_verify_result(p.s), X509_V_OK);
	pair_free(&p);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_server_refuses_expired_client)
{
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_for(0, dir, "old");
	struct pair p;
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.sok, 0);
	ck_assert_int_eq(SSL_get_verify_result(p.s), X509_V_ERR_CERT_HAS_EXPIRED);
	pair_free(&p);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_client_refuses_server_of_other_ca)
{
	SSL_CTX *s = ctx_mixed(1, dir, dir2, "web-01"), *c = ctx_for(0, dir, "sched-a");
	struct pair p;
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.cok, 0);
	ck_assert_int_ne(SSL_get_verify_result(p.c), X509_V_OK);
	pair_free(&p);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_session_is_resumed_with_ticket)
{
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_for(0, dir, "web-01");
	struct pair p;
	char b[4];
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.cok && p.sok, 1);
	ck_assert_int_eq(SSL_session_reused(p.c), 0);
	/* tickets arrive after the handshake: read once to take them in */
	ck_assert_int_eq(SSL_write(p.s, "x", 1), 1);
	ck_assert_int_eq(SSL_read(p.c, b, sizeof(b)), 1);
	SSL_SESSION *sess = SSL_get1_session(p.c);
	ck_assert_ptr_nonnull(sess);
	ck_assert_int_eq(SSL_SESSION_is_resumable(sess), 1);
	pair_free(&p);
	handshake(c, s, sess, &p);
	ck_assert_int_eq(p.cok && p.sok, 1);
	ck_assert_int_eq(SSL_session_reused(p.c), 1);
	char name[64];
	ck_assert_int_eq(tls_peer_name(p.s, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "web-01");
	pair_free(&p);
	SSL_SESSION_free(sess);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

/* A byte from the server read by the client: the tickets sent after the handshake taken in.
 * The client's session then: a new one when a ticket came, else the copy it resumed, spent. */
static SSL_SESSION *
client_session_after_read(struct pair *p)
{
	char b[4];
	ck_assert_int_eq(SSL_write(p->s, "x", 1), 1);
	ck_assert_int_eq(SSL_read(p->c, b, sizeof(b)), 1);
	SSL_SESSION *sess = SSL_get1_session(p->c);
	ck_assert_ptr_nonnull(sess);
	return sess;
}

/* The server's end freed as a bufferevent frees it: no shutdown sent; kept or not. */
static void
pair_free_server_unshut(struct pair *p, int keep)
{
	int fd = SSL_get_fd(p->s);
	if (keep)
		tls_keep_session(p->s);
	SSL_free(p->s);
	close(fd);
	p->s = NULL;
	tls_close(p->c);
}

/* Sessions kept in the server's memory (stateful tickets): resumed, the peer's name there,
 * the same session again (a resumption sends no new ticket), also after the server's end
 * was freed without a shutdown (tls_keep_session), not without. */
START_TEST(test_tls_session_kept_in_server_memory_is_resumed)
{
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_for(0, dir, "web-01");
	tls_ctx_keep_sessions(s, 16);
	struct pair p;
	char name[64];
	SSL_SESSION *sess = NULL;
	for (int round = 0; round < 4; round++) {
		handshake(c, s, sess, &p);
		ck_assert_int_eq(p.cok && p.sok, 1);
		/* round 0 is a full handshake; round 3 follows a server end freed without keeping */
		ck_assert_int_eq(SSL_session_reused(p.c), round == 1 || round == 2);
		ck_assert_int_eq(tls_peer_name(p.s, name, sizeof(name)), 0);
		ck_assert_str_eq(name, "web-01");
		SSL_SESSION *now = client_session_after_read(&p);
		/* a ticket after each full handshake only; the resumed copy is spent, the kept
		 * session is not (tls_offer_session offered a copy) */
		ck_assert_int_eq(SSL_SESSION_is_resumable(now), round == 0 || round == 3);
		if (SSL_SESSION_is_resumable(now)) {
			SSL_SESSION_free(sess);
			sess = now;
		} else {
			SSL_SESSION_free(now);
			ck_assert_int_eq(SSL_SESSION_is_resumable(sess), 1);
		}
		ck_assert_int_eq(SSL_CTX_sess_number(s), 1);
		pair_free_server_unshut(&p, round < 2);
	}
	SSL_SESSION_free(sess);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

/* A session resumed past half its lifetime gets a new ticket, and the client moves to it. */
START_TEST(test_tls_session_past_half_its_life_gets_a_new_ticket)
{
	SSL_CTX *s = ctx_for(1, dir, "sched-a"), *c = ctx_for(0, dir, "web-01");
	tls_ctx_keep_sessions(s, 16);
	struct pair p;
	handshake(c, s, NULL, &p);
	ck_assert_int_eq(p.cok && p.sok, 1);
	SSL_SESSION *first = client_session_after_read(&p);
	ck_assert_int_eq(SSL_SESSION_is_resumable(first), 1);
	pair_free_server_unshut(&p, 1);

	handshake(c, s, first, &p);
	ck_assert_int_eq(SSL_session_reused(p.c), 1);
	/* the server's end holds the cached session itself: made 3/4 of its lifetime ago */
	SSL_SESSION *cached = SSL_get_session(p.s);
	ck_assert_ptr_nonnull(cached);
	long life = SSL_SESSION_get_timeout(cached);
	ck_assert_int_gt(life, 4);
	ck_assert_int_gt(SSL_SESSION_set_time(cached, (long)time(NULL) - life * 3 / 4), 0);
	SSL_SESSION *spent = client_session_after_read(&p);
	ck_assert_int_eq(SSL_SESSION_is_resumable(spent), 0); /* no ticket: decided at its start */
	SSL_SESSION_free(spent);
	pair_free_server_unshut(&p, 1);

	handshake(c, s, first, &p);
	ck_assert_int_eq(SSL_session_reused(p.c), 1);
	SSL_SESSION *renewed = client_session_after_read(&p);
	ck_assert_int_eq(SSL_SESSION_is_resumable(renewed), 1);
	ck_assert_ptr_ne(renewed, first);
	pair_free_server_unshut(&p, 1);

	handshake(c, s, renewed, &p);
	ck_assert_int_eq(SSL_session_reused(p.c), 1);
	pair_free(&p);
	SSL_SESSION_free(renewed);
	SSL_SESSION_free(first);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}
END_TEST

START_TEST(test_tls_error_string_drains_queue_into_one_line)
{
	char buf[512];
	ERR_clear_error();
	ck_assert_str_eq(tls_error_string(buf, sizeof(buf)), "unknown tls error");
	ck_assert_ptr_null(tls_client_ctx("/nonexistent/ca.crt", "/x", "/y", err, sizeof(err)));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(ERR_peek_error(), 0);
	tls_close(NULL);
}
END_TEST

/* A fresh TCP socket (never connected: no traffic) gets TCP_NODELAY; a socket
 * that is not TCP (a socketpair) refuses it with -1, and nothing breaks. */
START_TEST(test_tls_set_nodelay_turns_nagle_off_on_tcp_only)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	int v = 1;
	socklen_t len = sizeof(v);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(tls_set_nodelay(fd), 0);
	len = sizeof(v);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	ck_assert_int_ne(v, 0);
	close(fd);

	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	errno = 0;
	ck_assert_int_eq(tls_set_nodelay(sp[0]), -1);
	ck_assert_int_ne(errno, 0);
	close(sp[0]);
	close(sp[1]);
	ck_assert_int_eq(tls_set_nodelay(-1), -1);
}
END_TEST

Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tls_ctx_refuses_missing_or_mismatched_files);
	tcase_add_test(tc, test_tls_contexts_allow_tls13_only);
	tcase_add_test(tc, test_tls_mutual_handshake_names_both_peers);
	tcase_add_test(tc, test_tls_peer_role_is_required_in_the_handshake);
	tcase_add_test(tc, test_tls_peer_checks_without_certificate);
	tcase_add_test(tc, test_tls_server_refuses_client_of_other_ca);
	tcase_add_test(tc, test_tls_server_refuses_expired_client);
	tcase_add_test(tc, test_tls_client_refuses_server_of_other_ca);
	tcase_add_test(tc, test_tls_session_is_resumed_with_ticket);
	tcase_add_test(tc, test_tls_session_kept_in_server_memory_is_resumed);
	tcase_add_test(tc, test_tls_session_past_half_its_life_gets_a_new_ticket);
	tcase_add_test(tc, test_tls_set_nodelay_turns_nagle_off_on_tcp_only);
	tcase_add_test(tc, test_tls_error_string_drains_queue_into_one_line);
	suite_add_tcase(s, tc);
	return s;
}
