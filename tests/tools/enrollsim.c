/*
 * pgfleet-test-enrollsim: many simulated agents over the real protocols, for
 * bench/enroll.sh and the tests.
 *
 * pgfleet-test-enrollsim enrol --server HOST:PORT --ca FILE --token TOKEN --dir DIR
 *     --count N [--procs P] [--prefix NAME]
 *   enrols computers PREFIX1 .. PREFIXN as pgfleet-agent does (agent/enroll.c: a
 *   key made here, a certificate request with the token over TLS), P processes
 *   at once, each key and certificate in DIR/PREFIXi.{key,crt}.
 * pgfleet-test-enrollsim facts --server HOST:PORT --ca FILE --dir DIR --count N
 *     [--procs P] [--prefix NAME]
 *   for each of those computers: one control connection to the scheduler's
 *   agents.listen with its certificate, Request=Hello with the hash of a facts
 *   document of its own, Request=Facts when the scheduler asks for it, close.
 * Prints "<what>: N done, F failed in S s (R/s)"; exit 0 when none failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/enroll.h"
#include "agent/facts.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"

struct opts {
	const char *server, *ca, *token, *dir, *prefix;
	int count, procs;
};

static int
enrol_one(const struct opts *o, int i)
{
	char name[80], cert[4096], key[4096], msg[512];
	int code;
	snprintf(name, sizeof(name), "%s%d", o->prefix, i);
	snprintf(cert, sizeof(cert), "%s/%s.crt", o->dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", o->dir, name);
	struct enroll_params p = {.server = o->server, .ca = o->ca, .name = name, .token = o->token,
	    .cert = cert, .key = key, .version = "sim", .timeout_ms = 30000};
	enum enroll_outcome r = enroll_once(&p, &code, msg, sizeof(msg));
	if (r != ENROLL_DONE)
		fprintf(stderr, "%s: %s (code %d)\n", name, msg, code);
	return r == ENROLL_DONE ? 0 : -1;
}

/* Read one whole message from ssl. */
static struct wire_msg *
read_msg(SSL *ssl, long long timeout_ms)
{
	struct wire_parser *wp = wire_parser_new(0);
	struct wire_msg *m = NULL;
	char buf[4096], err[256];
	long long end = clock_mono_ms() + timeout_ms;
	while (m == NULL && wp != NULL) {
		ssize_t n = tls_read_some(ssl, buf, 1, end - clock_mono_ms(), err, sizeof(err));
		if (n <= 0)
			break;
		size_t used = 0;
		enum wire_status st = wire_feed(wp, buf, (size_t)n, &used);
		if (st == WIRE_ERROR)
			break;
		if (st != WIRE_MORE)
			m = wire_parser_take(wp);
	}
	wire_parser_free(wp);
	return m;
}

static int
send_kv(SSL *ssl, const char *const (*kv)[2], size_t n, const char *body)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	int rc = m != NULL ? 0 : -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	if (rc == 0 && body != NULL)
		rc = wire_set_body(m, body, strlen(body));
	size_t len = 0;
	char *buf = rc == 0 ? wire_build(m, &len) : NULL;
	wire_msg_free(m);
	if (buf == NULL)
		return -1;
	rc = tls_write_all(ssl, buf, len, 10000, err, sizeof(err));
	wire_buf_free(buf, len);
	return rc;
}

static int
facts_one(const struct opts *o, int i)
{
	char name[80], cert[4096], key[4096], err[512], hash[72], doc[1024];
	struct conf_listen hp = {0};
	snprintf(name, sizeof(name), "%s%d", o->prefix, i);
	snprintf(cert, sizeof(cert), "%s/%s.crt", o->dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", o->dir, name);
	/* a document of this computer's own: its name, an address and a MAC of its own */
	snprintf(doc, sizeof(doc), "{\"hostname\":\"%s\",\"os\":{\"id\":\"debian\",\"version_id\":\"12\"},"
	    "\"kernel\":{\"name\":\"Linux\",\"release\":\"6.1.0\"},\"arch\":\"x86_64\",\"cpu\":{\"count\":4},"
	    "\"memory_mb\":%d,\"nics\":[{\"name\":\"eth0\",\"mac\":\"02:00:00:%02x:%02x:%02x\","
	    "\"ipv4\":[\"10.%d.%d.%d/16\"],\"default_route\":true}],\"ip\":\"10.%d.%d.%d\","
	    "\"mac\":\"02:00:00:%02x:%02x:%02x\",\"dmi\":{\"vendor\":\"Sim\",\"model\":\"Sim 1\",\"serial\":\"SIM-%d\"},"
	    "\"agent_version\":\"sim\"}", name, 2048 << (i % 4), (i >> 16) & 255, (i >> 8) & 255, i & 255,
	    (i >> 16) & 255, (i >> 8) & 255, i & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255,
	    (i >> 16) & 255, (i >> 8) & 255, i & 255, i);
	if (facts_hash(doc, hash) == -1 || conf_parse_server(o->server, &hp, err, sizeof(err)) == -1)
		return -1;
	SSL_CTX *ctx = tls_client_ctx(o->ca, cert, key, err, sizeof(err));
	SSL *ssl = NULL;
	int fd = -1, rc = -1;
	if (ctx == NULL || tls_ctx_require_peer_role(ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1 ||
	    tls_connect_blocking(ctx, hp.host, hp.port, 30000, NULL, NULL, &ssl, &fd, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", name, err);
		goto out;
	}
	const char *const hello[][2] = {{"Request", "Hello"}, {"Computer", name}, {"Protocol", "1"},
	    {"Agent-Version", "sim"}, {"Facts-Hash", hash}};
	if (send_kv(ssl, hello, 5, NULL) == -1)
		goto out;
	struct wire_msg *r = read_msg(ssl, 30000);
	const char *res = r != NULL ? wire_get(r, "Result") : NULL, *f = r != NULL ? wire_get(r, "Facts") : NULL;
	if (res == NULL || strcmp(res, "Success") != 0) {
		fprintf(stderr, "%s: Hello refused: %s\n", name, r != NULL && wire_get(r, "Error") != NULL ?
		    wire_get(r, "Error") : "(no answer)");
	} else if (f != NULL && strcmp(f, "Send") == 0) {
		const char *const kv[][2] = {{"Request", "Facts"}, {"Facts-Hash", hash}};
		rc = send_kv(ssl, kv, 2, doc);
		/* the keepalive's answer proves the worker read the facts before we close */
		const char *const ka[][2] = {{"Request", "Keepalive"}};
		if (rc == 0 && send_kv(ssl, ka, 1, NULL) == 0) {
			struct wire_msg *k = read_msg(ssl, 30000);
			rc = k != NULL ? 0 : -1;
			wire_msg_free(k);
		}
	} else {
		rc = 0; /* known already */
	}
	wire_msg_free(r);
out:
	tls_close(ssl);
	SSL_CTX_free(ctx);
	free(hp.host);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pgfleet-test-enrollsim enrol|facts --server HOST:PORT --ca FILE [--token T] "
	    "--dir DIR --count N [--procs P] [--prefix NAME]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = {.prefix = "sim-", .procs = 4};
	if (argc < 2)
		usage();
	int facts = strcmp(argv[1], "facts") == 0;
	if (!facts && strcmp(argv[1], "enrol") != 0)
		usage();
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--server") == 0) o.server = v;
		else if (strcmp(k, "--ca") == 0) o.ca = v;
		else if (strcmp(k, "--token") == 0) o.token = v;
		else if (strcmp(k, "--dir") == 0) o.dir = v;
		else if (strcmp(k, "--prefix") == 0) o.prefix = v;
		else if (strcmp(k, "--count") == 0) o.count = atoi(v);
		else if (strcmp(k, "--procs") == 0) o.procs = atoi(v);
		else usage();
	}
	if (o.server == NULL || o.ca == NULL || o.dir == NULL || o.count < 1 || o.procs < 1 ||
	    (!facts && o.token == NULL))
		usage();
	char err[256];
	if (log_start(2, NULL, 0, 0, "enrollsim", 1, err, sizeof(err)) == -1)
		return 2;
	long long t0 = clock_mono_ms();
	pid_t pids[256];
	int np = o.procs > 256 ? 256 : o.procs;
	for (int p = 0; p < np; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			int bad = 0;
			for (int i = p + 1; i <= o.count; i += np)
				bad += (facts ? facts_one(&o, i) : enrol_one(&o, i)) == -1;
			_exit(bad > 250 ? 250 : bad);
		}
	}
	int failed = 0;
	for (int p = 0; p < np; p++) {
		int st;
		if (pids[p] > 0 && waitpid(pids[p], &st, 0) == pids[p])
			failed += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		else
			failed++;
	}
	double s = (double)(clock_mono_ms() - t0) / 1000.0;
	printf("%s: %d done, %d failed in %.2f s (%.1f/s)\n", facts ? "facts" : "enrolments", o.count - failed,
	    failed, s, (o.count - failed) / (s > 0 ? s : 1));
	return failed == 0 ? 0 : 1;
}
