/*
 * pgfleet-test-tlsbench: what a TLS 1.3 handshake costs each side with pgfleet's
 * own contexts (common/tls.c: a worker's transfer port, which keeps its sessions,
 * and an agent's fetch, which offers its kept one), for bench/tls.sh. Both ends
 * run in this process over a Unix socketpair (no TCP: the TLS work alone), stepped
 * in turn; each side's CPU is the thread's CPU time around its own calls.
 *   pgfleet-test-tlsbench [--resumed N] [--full N] [--new-tickets]
 * --new-tickets: the server sends a ticket after every handshake and the client
 * resumes the newest (pgfleet before 2026-12-02, night: no info callback), instead
 * of resuming its first session again.
 * A throwaway CA, a scheduler's and an agent's certificate are made in a temp
 * directory (removed at exit). Prints one line per kind: handshakes, how many
 * resumed, and the client's and the server's CPU per handshake in microseconds.
 * Exit 1 when a handshake fails or a resumption is declined.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/pki.h"
#include "common/tls.h"

static char dir[64];

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "pgfleet-test-tlsbench: %s: %s\n", what, why);
	exit(1);
}

static void
remove_dir(void)
{
	DIR *dp = opendir(dir);
	if (dp == NULL)
		return;
	struct dirent *e;
	char path[600];
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		(void)unlink(path);
	}
	closedir(dp);
	(void)rmdir(dir);
}

static double
cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct sides {
	double client, server; /* CPU seconds */
};

/* One step of a handshake: 1 done, 0 wants more, -1 failed. */
static int
step(SSL *ssl, int server)
{
	int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/*
 * A handshake offering session resume (NULL: a full one), then a byte from the server
 * (its tickets taken in), each end closed as a worker and an agent close theirs. The
 * client's session afterwards in *out when out is not NULL. 1 resumed, 0 not, -1 failed.
 */
static int
handshake(SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *resume, SSL_SESSION **out, struct sides *t)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		die("socketpair", strerror(errno));
	double a = cpu_s();
	SSL *c = SSL_new(cctx);
	if (c == NULL || SSL_set_fd(c, sv[0]) != 1)
		die("client", "out of memory");
	tls_offer_session(c, resume);
	double b = cpu_s();
	SSL *s = SSL_new(sctx);
	if (s == NULL || SSL_set_fd(s, sv[1]) != 1)
		die("server", "out of memory");
	double d = cpu_s();
	t->client += b - a;
	t->server += d - b;
	int cdone = 0, sdone = 0;
	for (int i = 0; i < 64 && !(cdone && sdone); i++) {
		a = cpu_s();
		if (!cdone && (cdone = step(c, 0)) == -1)
			return -1;
		b = cpu_s();
		if (!sdone && (sdone = step(s, 1)) == -1)
			return -1;
		d = cpu_s();
		t->client += b - a;
		t->server += d - b;
	}
	if (!cdone || !sdone)
		return -1;
	char x[4];
	a = cpu_s();
	int w = SSL_write(s, "x", 1);
	b = cpu_s();
	int r = SSL_read(c, x, sizeof(x));
	d = cpu_s();
	t->server += b - a;
	t->client += d - b;
	if (w != 1 || r != 1)
		return -1;
	int reused = SSL_session_reused(c);
	if (out != NULL)
		*out = SSL_get1_session(c);
	a = cpu_s();
	tls_keep_session(s);
	SSL_free(s);
	close(sv[1]);
	b = cpu_s();
	tls_close(c); /* close_notify into a closed socket: SIGPIPE ignored */
	d = cpu_s();
	t->server += b - a;
	t->client += d - b;
	ERR_clear_error();
	return reused;
}

static void
report(const char *kind, int n, int resumed, const struct sides *t)
{
	printf("%-26s %6d handshakes, %6d resumed: client %6.0f us, server %6.0f us per handshake\n", kind, n,
	    resumed, t->client / n * 1e6, t->server / n * 1e6);
}

int
main(int argc, char **argv)
{
	long resumed_n = 2000, full_n = 200;
	int new_tickets = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--new-tickets") == 0)
			new_tickets = 1;
		else if (strcmp(argv[i], "--resumed") == 0 && i + 1 < argc)
			resumed_n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--full") == 0 && i + 1 < argc)
			full_n = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: pgfleet-test-tlsbench [--resumed N] [--full N] [--new-tickets]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (resumed_n < 1 || resumed_n > 10000000 || full_n < 1 || full_n > 1000000) {
		fprintf(stderr, "pgfleet-test-tlsbench: --resumed and --full take 1 to 10,000,000 and 1,000,000\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char err[1024], ca[128], scrt[128], skey[128], acrt[128], akey[128];
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-tlsbench-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("temp dir", strerror(errno));
	atexit(remove_dir);
	struct pki_opts sched = {.days = 2, .role = TLS_ROLE_SCHEDULER}, agent = {.days = 2};
	if (pki_init(dir, 2, err, sizeof(err)) == -1 ||
	    pki_issue_opts(dir, "sched-a", &sched, err, sizeof(err)) == -1 ||
	    pki_issue_opts(dir, "web-01", &agent, err, sizeof(err)) == -1)
		die("certificates", err);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(scrt, sizeof(scrt), "%s/sched-a.crt", dir);
	snprintf(skey, sizeof(skey), "%s/sched-a.key", dir);
	snprintf(acrt, sizeof(acrt), "%s/web-01.crt", dir);
	snprintf(akey, sizeof(akey), "%s/web-01.key", dir);
	/* the worker's transfer port and the agent's fetch, as worker.c and agent/main.c make them */
	SSL_CTX *sctx = tls_server_ctx(ca, scrt, skey, err, sizeof(err));
	if (sctx == NULL || tls_ctx_require_peer_role(sctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1)
		die("server context", err);
	tls_ctx_keep_sessions(sctx, 1024);
	if (new_tickets)
		SSL_CTX_set_info_callback(sctx, NULL);
	SSL_CTX *cctx = tls_client_ctx(ca, acrt, akey, err, sizeof(err));
	if (cctx == NULL || tls_ctx_require_peer_role(cctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1)
		die("client context", err);

	struct sides t = {0, 0};
	SSL_SESSION *kept = NULL;
	if (handshake(cctx, sctx, NULL, &kept, &t) != 0 || kept == NULL)
		die("first handshake", "failed");
	t = (struct sides){0, 0};
	int resumed = 0;
	for (long i = 0; i < resumed_n; i++) {
		SSL_SESSION *next = NULL;
		int r = handshake(cctx, sctx, kept, new_tickets ? &next : NULL, &t);
		if (r == -1)
			die("resumed handshake", "failed");
		resumed += r;
		if (next != NULL) {
			SSL_SESSION_free(kept);
			kept = next;
		}
	}
	report(new_tickets ? "resumed, a new ticket each" : "resumed", (int)resumed_n, resumed, &t);
	t = (struct sides){0, 0};
	int none = 0;
	for (long i = 0; i < full_n; i++) {
		int r = handshake(cctx, sctx, NULL, NULL, &t);
		if (r == -1)
			die("full handshake", "failed");
		none += r;
	}
	report("full", (int)full_n, none, &t);
	SSL_SESSION_free(kept);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return resumed == resumed_n && none == 0 ? 0 : 1;
}
