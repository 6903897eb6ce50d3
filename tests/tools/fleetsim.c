/*
 * pgfleet-test-fleetsim: a fleet of simulated computers in one event-driven
 * process (libevent, OpenSSL, non-blocking), for the large-fleet test and
 * bench/fleet.sh. Each simulated computer does what pgfleet-agent does on
 * the wire (docs/protocol.md): it connects OUT to one of --servers over
 * mutual TLS 1.3 with a certificate of its own (CN = its computer name),
 * sends Request=Hello, keeps the connection with keepalives, reconnects with
 * back-off and full jitter failing over round the list, answers
 * Request=SendFile by fetching the file from the worker's transfer port over
 * TLS (checking Key, Size and Checksum as transfer/fetch.c does, the bytes
 * hashed, not written), then Reply=StatusUpdate 2500 and 2501 and the final
 * Reply=SendFile; Request=Cancel is answered as the agent does. No script is
 * run: the "script" ends after --delay-ms with --code, or as the fate drawn
 * for it says (fail, hang until its timeout, or lose the connection while
 * it runs, its result then replayed from a small journal after
 * reconnecting, Replayed=1, as the agent's journal does).
 *
 * A task's fate is a pure function of --seed, the computer and (Event-ID,
 * Task-Sequence-ID): two runs with one seed draw the same fates. A request is
 * read by the agent's own request_check (agent/request.c) against the
 * shipped agent defaults (os Linux, boot_env Production, run_as.default root,
 * max_script 16 MiB; --run-as-allow adds users), reconnection follows the
 * agent's back-off (common/backoff.c).
 *
 *   pgfleet-test-fleetsim --servers 127.0.0.1:4020[,HOST:PORT...] --count N
 *       (--ca DIR | --cert-dir DIR) [--prefix sim-] [--first 1]
 *       [--code 0] [--delay-ms N|MIN-MAX] [--fail-rate P --fail-code 1]
 *       [--hang-rate P] [--disconnect-rate P] [--seed 1]
 *       [--source 127.1.0.1|none] [--ramp-ms 0] [--max-connecting 0] [--resume yes|no]
 *       [--reconnect-backoff-ms 1000 --reconnect-max-ms 60000]
 *       [--keepalive-ms 30000 --keepalive-timeout-ms 90000 --connect-timeout-ms 10000]
 *       [--run-as-allow USER,...] [--output TEXT] [--results FILE] [--stats FILE] [--status-ms 1000]
 *
 * --ca DIR: DIR/ca.crt and DIR/ca.key of `pgfleet pki init`; one certificate
 * per computer is issued in memory at start (role agent, CN <prefix><i>; the
 * computers share one key pair, which the scheduler neither sees nor minds).
 * --cert-dir DIR: DIR/ca.crt and DIR/<prefix><i>.crt and .key made by
 * `pgfleet pki issue`. --source: computer i connects from ADDR + i (skipping
 * .0 and .255), so that a fleet on one machine does not look like one
 * address to the scheduler's per-address limits. --max-connecting P: at
 * most P attempts under way (TCP connect, TLS handshake, Hello) at once, the
 * others queued in order (0: no limit). On a real fleet each computer does
 * its handshake on its own CPU; here one process does them all, and when it
 * falls behind, the scheduler sees slow handshakes pile up past its pre-TLS
 * budget (64 per worker, the oldest closed) as if the fleet were a herd.
 * Fetch handshakes have a pool of P of their own (a queued fetch's 30 s
 * deadline waits with it).
 * Keep P under that budget to test what happens after connecting; leave it
 * at 0 to measure a herd. A status line goes to
 * stderr every --status-ms; --stats FILE gets key=value figures at each
 * status line and at exit; --results FILE one line per final reply sent:
 * "name computer_id event_id seq attempt code replayed ran" (ran: 1 when a script
 * was run for it, 0 when not, as for a failed fetch). SIGTERM or SIGINT:
 * every connection closed, final figures written, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/backoff.h"
#include "agent/request.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/pki.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/wire.h"

#define PROG "pgfleet-test-fleetsim"
#define PROTOCOL "1"
#define VERSION "fleetsim-1"
#define FETCH_TIMEOUT_MS 30000   /* as the agent's CONTROL_FETCH_TIMEOUT_MS */
#define MAX_TASKS 64             /* the agent's TASKS_MAX */
#define JOURNAL_SLOTS 4          /* results kept per computer for replays */
#define MAX_SERVERS 16
#define MAX_HOSTS 64             /* transfer hosts whose sessions are kept */

enum sstate { S_WAIT, S_CONNECTING, S_HELLO, S_UP, S_STOPPED };
enum fate { F_RUN, F_FAIL, F_HANG, F_DISCONNECT };
enum tstate { T_FETCH, T_RUN, T_DONE };

struct jentry {
	long long event_id;
	int seq;
	int code;      /* final code, valid when used */
	int used;
};

struct sim;

/* One task in flight: fetched, then "running" until its timer fires. */
struct task {
	struct task *next;
	struct task *qnext;      /* in the fetch queue (--max-connecting) */
	long long queued_at;
	struct sim *s;
	struct tconn *fetch;
	char *in;                /* the fetch reply's header until it is whole */
	size_t inlen;
	EVP_MD_CTX *md;
	struct event *timer;     /* fetch deadline, retry pause, then the script's end */
	uint64_t gen;            /* the connection its replies go on */
	uint64_t size, got;
	long long event_id, timeout_ms, fetch_start, pause_ms, delay_ms;
	int seq, attempt, port, code;
	enum fate fate;
	enum tstate state;
	int hdr_done, replayed, cancelled, handshook, has_attempt;
	unsigned char fqueued, finflight; /* --max-connecting: waiting for a slot, holding one */
	unsigned char host;      /* index in hosts[] */
	char key[33], checksum[72], name[129], user[33];
	char event_s[24], seq_s[16], schedule_s[24], id_s[24];
};

/* One simulated computer. Kept small: the fleet is large. */
struct sim {
	struct tconn *tc;          /* the control connection */
	char *in;                  /* a message not yet whole */
	size_t inlen;
	struct event *timer;       /* back-off wait, attempt deadline, then keepalive tick */
	X509 *cert;
	EVP_PKEY *key;             /* --cert-dir only; else the fleet's one key */
	SSL_SESSION *sess;         /* the last transfer session, for hosts[sess_host] */
	struct task *tasks;
	long long id;              /* from Reply=Hello */
	long long last_rx, last_tx, last_ping;
	uint64_t gen;              /* connections that came up */
	struct jentry journal[JOURNAL_SLOTS];
	uint32_t idx;              /* 0-based */
	uint32_t src;              /* source address, host order; 0: none */
	int n;                     /* attempts since the last connection up */
	unsigned char state, k, cur, started, sess_host, jnext, ever_up;
	unsigned char inflight;    /* counted in n_inflight (--max-connecting) */
	unsigned char queued;      /* waiting in the queue for a slot */
};

static struct opts {
	const char *ca_dir, *cert_dir, *prefix, *results, *stats, *output;
	char *servers_arg;
	long long count, first, code, fail_code, delay_min, delay_max, seed, ramp_ms, max_connecting;
	long long backoff_ms, max_backoff_ms, keepalive_ms, keepalive_timeout_ms, connect_timeout_ms;
	long long status_ms;
	double fail_rate, hang_rate, disconnect_rate;
	uint32_t source;
	int resume;
} o = {
	.prefix = "sim-", .count = 0, .first = 1, .code = 0, .fail_code = 1, .seed = 1,
	.backoff_ms = 1000, .max_backoff_ms = 60000, .keepalive_ms = 30000, .keepalive_timeout_ms = 90000,
	.connect_timeout_ms = 10000, .status_ms = 1000, .resume = 1, .source = 0x7f010001, /* 127.1.0.1 */
};

/* What request_check reads of an agent's configuration: the shipped defaults. */
static struct conf_agent sim_conf = {
	.os = "Linux", .boot_env = "Production", .run_as_default = "root", .max_script = 16ULL << 20,
	.timeout_ms = 3600000,
};

static struct counters {
	long long connects, ups, reconnects, attempts_failed, lost, refused_hello;
	long long tasks, replays, finals, failed, hung, disconnects, cancels, refused_tasks;
	long long fetches, fetch_full, fetch_resumed, fetch_retries, fetch_failed;
	long long fetch_tickets;        /* new sessions the transfer ports sent */
	long long keepalives, errors_sent, unexpected;
} cnt;

static struct event_base *base;
static SSL_CTX *ctx;
static struct sim *sims;
/* --max-connecting: attempts under way, and the ones waiting for a slot (a ring of sims indices) */
static long long n_inflight, q_head, q_len;
static uint32_t *queue;
static struct event *queue_ev;
/* the same for fetch handshakes, a pool of their own */
static long long f_inflight;
static struct task *fq_head, *fq_tail;
static struct event *fq_ev;
static EVP_PKEY *fleet_key;
static struct wire_parser *parser;
static struct sockaddr_storage servers[MAX_SERVERS];
static socklen_t server_len[MAX_SERVERS];
static char server_name[MAX_SERVERS][80];
static int nservers;
static char *hosts[MAX_HOSTS];
static int nhosts;
static FILE *results_f;
static long long t_start, rss_base_kb;
static int sess_index = -1;
static char last_error[300];
static int errors_shown;


static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

/* The first few distinct failures are shown; the rest are counted. */
static void
note_error(const struct sim *s, const char *what, const char *why)
{
	char line[sizeof(last_error)];
	snprintf(line, sizeof(line), "%s: %s", what, why);
	if (strcmp(line, last_error) != 0 && errors_shown < 20) {
		errors_shown++;
		fprintf(stderr, PROG ": %s%u: %s\n", o.prefix, (unsigned)(o.first + s->idx), line);
	}
	snprintf(last_error, sizeof(last_error), "%s", line);
}

/* --- randomness: splitmix64, seeded; fates are hashes, jitter a stream */

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rng_state;

static uint32_t
rng32(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(mix64(rng_state) >> 32);
}

/* Uniform in [0, 1) from 24 bits of h taken at shift. */
static double
unit(uint64_t h, int shift)
{
	return (double)((h >> shift) & 0xffffff) / 16777216.0;
}

static enum fate
draw_fate(const struct sim *s, long long event_id, int seq, long long *delay)
{
	uint64_t h = mix64((uint64_t)o.seed ^ mix64(((uint64_t)s->idx << 32) ^ (uint64_t)seq) ^
	    mix64((uint64_t)event_id));
	double u = unit(h, 0);
	long long span = o.delay_max - o.delay_min;
	*delay = o.delay_min + (span > 0 ? (long long)(unit(h, 24) * (double)(span + 1)) : 0);
	if (u < o.disconnect_rate)
		return F_DISCONNECT;
	u -= o.disconnect_rate;
	if (u >= 0 && u < o.hang_rate)
		return F_HANG;
	u -= o.hang_rate;
	if (u >= 0 && u < o.fail_rate)
		return F_FAIL;
	return F_RUN;
}

/* --- names and addresses */

static const char *
sim_name(const struct sim *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s%lld", o.prefix, o.first + (long long)s->idx);
	return buf;
}

/* Computer i's source address: o.source + i, skipping host parts .0 and .255. */
static uint32_t
source_of(uint32_t idx)
{
	if (o.source == 0)
		return 0;
	uint32_t a = o.source;
	for (uint32_t i = 0; i < idx; i++) {
		a++;
		while ((a & 0xff) == 0 || (a & 0xff) == 255)
			a++;
	}
	return a;
}

static int
host_index(const char *host)
{
	for (int i = 0; i < nhosts; i++)
		if (strcmp(hosts[i], host) == 0)
			return i;
	if (nhosts == MAX_HOSTS)
		return -1;
	hosts[nhosts] = strdup(host);
	if (hosts[nhosts] == NULL)
		die("%s", "out of memory");
	return nhosts++;
}

/* A non-blocking TCP socket bound to s's source address. -1 with errno. */
static int
sim_socket(const struct sim *s, int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || s->src == 0 || family != AF_INET)
		return fd;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(s->src)};
#ifdef IP_BIND_ADDRESS_NO_PORT
	int one = 1;
	(void)setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * --- tconn: one non-blocking TLS client connection on one libevent event.
 * Not bufferevent_openssl: libevent's last SSL_read of each burst (the one
 * that would block) makes OpenSSL allocate its 17 KiB read buffer again and
 * leaves an empty 8 KiB evbuffer chain behind, about 25 KiB per idle
 * connection. Here the read loop ends with SSL_free_buffers, and bytes are
 * buffered only when a write would block.
 */
enum tc_state { TC_TCP, TC_HANDSHAKE, TC_UP };
enum tc_what { TC_CONNECTED, TC_DATA, TC_CLOSED };

struct tconn;
/* TC_DATA: data, len; TC_CLOSED: data is why (the owner then calls tconn_free). */
typedef void (*tconn_cb)(struct tconn *c, enum tc_what what, const char *data, size_t len, void *arg);

struct tconn {
	SSL *ssl;
	struct event *ev;
	tconn_cb cb;
	void *arg;
	char *out;               /* what SSL_write has not taken yet */
	size_t outlen;
	int fd, err;             /* err: a connect() failure to report */
	short want;
	unsigned char state, busy, doomed, failed;
	unsigned char refused;   /* closed or reset during the handshake without a TLS alert */
};

static void tconn_io(evutil_socket_t fd, short what, void *arg);

static void
tconn_want(struct tconn *c, short want)
{
	if (want == c->want && event_pending(c->ev, EV_READ | EV_WRITE, NULL))
		return;
	event_del(c->ev);
	event_assign(c->ev, base, c->fd, (short)(want | EV_PERSIST), tconn_io, c);
	event_add(c->ev, NULL);
	c->want = want;
}

static void
tconn_release(struct tconn *c)
{
	if (c->ssl != NULL) {
		if (c->state == TC_UP)
			(void)SSL_shutdown(c->ssl); /* close_notify, best effort */
		SSL_free(c->ssl);
	}
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->fd != -1)
		close(c->fd);
	free(c->out);
	free(c);
	ERR_clear_error();
}

/* Close and free; inside one of c's callbacks, once it returns. NULL is fine. */
static void
tconn_free(struct tconn *c)
{
	if (c == NULL)
		return;
	if (c->busy)
		c->doomed = 1;
	else
		tconn_release(c);
}

/* Why a TLS call failed, one line; sets c->refused when the peer just went away mid-handshake. */
static void
tconn_reason(struct tconn *c, int r, int sslerr, char *why, size_t size)
{
	int e = errno;
	unsigned long top = ERR_peek_error();
	int eof = (sslerr == SSL_ERROR_SYSCALL && top == 0) || sslerr == SSL_ERROR_ZERO_RETURN ||
	    (ERR_GET_LIB(top) == ERR_LIB_SSL && ERR_GET_REASON(top) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
	if (c->state == TC_HANDSHAKE && eof && (e == 0 || e == ECONNRESET || e == EPIPE || r == 0 || top != 0))
		c->refused = 1;
	if (sslerr == SSL_ERROR_ZERO_RETURN)
		snprintf(why, size, "closed by the peer");
	else if (top != 0)
		tls_error_string(why, size);
	else if (sslerr == SSL_ERROR_SYSCALL && e != 0)
		snprintf(why, size, "%s", strerror(e));
	else
		snprintf(why, size, "connection closed by the peer");
	ERR_clear_error();
}

static void
tconn_closed(struct tconn *c, const char *why)
{
	if (c->doomed)
		return;
	c->failed = 1;
	event_del(c->ev);
	c->cb(c, TC_CLOSED, why, strlen(why), c->arg);
}

/* Write what is queued; 0, or -1 after reporting the connection closed. */
static int
tconn_flush(struct tconn *c)
{
	while (c->outlen > 0) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_write(c->ssl, c->out, (int)c->outlen);
		if (n > 0) {
			memmove(c->out, c->out + n, c->outlen - (size_t)n);
			c->outlen -= (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return 0;
		char why[300];
		tconn_reason(c, n, e, why, sizeof(why));
		tconn_closed(c, why);
		return -1;
	}
	free(c->out);
	c->out = NULL;
	return 0;
}

/* Queue len bytes and write what the socket takes. 0, or -1 when the connection is not up or failed. */
static int
tconn_write(struct tconn *c, const char *buf, size_t len)
{
	if (c == NULL || c->state != TC_UP || c->failed || c->doomed)
		return -1;
	char *p = realloc(c->out, c->outlen + len);
	if (p == NULL)
		die("%s", "out of memory");
	memcpy(p + c->outlen, buf, len);
	c->out = p;
	c->outlen += len;
	if (c->busy)
		return 0; /* the event handler flushes on its way out */
	c->busy = 1;
	int rc = tconn_flush(c);
	if (rc == 0 && !c->doomed)
		tconn_want(c, c->outlen > 0 ? EV_READ | EV_WRITE : EV_READ);
	c->busy = 0;
	if (c->doomed)
		tconn_release(c);
	return rc;
}

static void
tconn_io(evutil_socket_t fd, short what, void *arg)
{
	struct tconn *c = arg;
	char buf[16384], why[300];
	(void)fd;
	c->busy = 1;
	if (c->state == TC_TCP) {
		int soerr = c->err;
		socklen_t sl = sizeof(soerr);
		if (soerr == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			soerr = errno;
		if (soerr != 0) {
			snprintf(why, sizeof(why), "%s", strerror(soerr));
			tconn_closed(c, why);
			goto out;
		}
		(void)tls_set_nodelay(c->fd);
		if (SSL_set_fd(c->ssl, c->fd) != 1) {
			tconn_closed(c, "tls: SSL_set_fd failed");
			goto out;
		}
		c->state = TC_HANDSHAKE;
	}
	if (c->state == TC_HANDSHAKE) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				tconn_want(c, EV_READ);
			else if (e == SSL_ERROR_WANT_WRITE)
				tconn_want(c, EV_READ | EV_WRITE);
			else {
				tconn_reason(c, r, e, why, sizeof(why));
				tconn_closed(c, why);
			}
			goto out;
		}
		c->state = TC_UP;
		c->cb(c, TC_CONNECTED, NULL, 0, c->arg);
		if (c->doomed || c->failed)
			goto out;
	}
	if (c->outlen > 0 && tconn_flush(c) == -1)
		goto out;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			c->cb(c, TC_DATA, buf, (size_t)n, c->arg);
			if (c->doomed || c->failed)
				goto out;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		tconn_reason(c, n, e, why, sizeof(why));
		tconn_closed(c, why);
		goto out;
	}
	if (c->outlen > 0 && tconn_flush(c) == -1)
		goto out;
	if (c->outlen == 0 && SSL_pending(c->ssl) == 0)
		(void)!SSL_free_buffers(c->ssl);
	tconn_want(c, c->outlen > 0 ? EV_READ | EV_WRITE : EV_READ);
out:
	c->busy = 0;
	if (c->doomed)
		tconn_release(c);
	else if (c->failed)
		event_del(c->ev);
	(void)what;
}

/*
 * Connect s (from its source address) to sa and start TLS with s's
 * certificate, offering session (may be NULL); ex is kept on the SSL for the
 * new-session callback. NULL with errno/why on failure.
 */
static struct tconn *
tconn_new(struct sim *s, const struct sockaddr *sa, socklen_t salen, SSL_SESSION *session, void *ex, tconn_cb cb,
    void *arg, char *why, size_t whylen)
{
	struct tconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		die("%s", "out of memory");
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	c->ssl = SSL_new(ctx);
	c->ev = event_new(base, -1, 0, tconn_io, c);
	if (c->ssl == NULL || c->ev == NULL || SSL_use_certificate(c->ssl, s->cert) != 1 ||
	    SSL_use_PrivateKey(c->ssl, s->key) != 1) {
		snprintf(why, whylen, "tls setup failed");
		goto fail;
	}
	SSL_set_connect_state(c->ssl);
	if (ex != NULL)
		SSL_set_ex_data(c->ssl, sess_index, ex);
	tls_offer_session(c->ssl, session);
	c->fd = sim_socket(s, sa->sa_family);
	if (c->fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto fail;
	}
	c->state = TC_TCP;
	if (connect(c->fd, sa, salen) == -1 && errno != EINPROGRESS)
		c->err = errno; /* reported from the loop, like a late failure */
	tconn_want(c, EV_WRITE);
	if (c->err != 0)
		event_active(c->ev, EV_WRITE, 0);
	return c;
fail:
	tconn_release(c);
	return NULL;
}

/*
 * Whole messages (header blocks, the scheduler's carry no body) out of what
 * arrived, through the shared parser; a partial one waits in *in / *inlen.
 * on_msg returns non-zero to stop (the connection went away). 0, or -1 with
 * why on a message that does not parse.
 */
static int
split_msgs(char **in, size_t *inlen, const char *data, size_t len, int (*on_msg)(struct wire_msg *, void *),
    void *arg, char *why, size_t whylen)
{
	const char *p = data;
	size_t n = len;
	if (*inlen > 0) {
		char *q = realloc(*in, *inlen + len);
		if (q == NULL)
			die("%s", "out of memory");
		memcpy(q + *inlen, data, len);
		*in = q;
		*inlen += len;
		p = *in;
		n = *inlen;
	}
	size_t off = 0;
	int rc = 0;
	while (off < n) {
		const char *end = memmem(p + off, n - off, "\n\n", 2);
		size_t mlen = end != NULL ? (size_t)(end - (p + off)) + 2 : p[off] == '\n' ? 1 : 0;
		if (mlen == 0) {
			if (n - off > WIRE_MAX_HEADER) {
				snprintf(why, whylen, "message header over %d bytes", WIRE_MAX_HEADER);
				rc = -1;
			}
			break;
		}
		size_t used = 0;
		enum wire_status st = wire_feed(parser, p + off, mlen, &used);
		off += used > 0 ? used : mlen;
		if (st != WIRE_DONE) {
			snprintf(why, whylen, "%s", st == WIRE_ERROR ? wire_parser_error(parser) : "message with a body");
			wire_parser_free(parser);
			parser = wire_parser_new(0);
			rc = -1;
			break;
		}
		struct wire_msg *m = wire_parser_take(parser);
		if (m == NULL)
			die("%s", "out of memory");
		if (on_msg(m, arg) != 0) {
			rc = 1;
			break;
		}
	}
	if (rc != 0 || off == n) {
		free(*in);
		*in = NULL;
		*inlen = 0;
	} else if (p == data) {
		*in = malloc(n - off);
		if (*in == NULL)
			die("%s", "out of memory");
		memcpy(*in, p + off, n - off);
		*inlen = n - off;
	} else {
		memmove(*in, *in + off, n - off);
		*inlen = n - off;
	}
	return rc < 0 ? -1 : 0;
}

/* --- sending */

static int
send_msg(struct sim *s, struct tconn *tc, const struct wire_msg *m)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL)
		return -1;
	int rc = tconn_write(tc, buf, len);
	wire_buf_free(buf, len);
	if (s != NULL)
		s->last_tx = clock_mono_ms();
	return rc;
}

/* Build from pairs (a NULL key leaves that pair out) and an optional body; send on tc. */
static int
send_kv(struct sim *s, struct tconn *tc, const char *const (*kv)[2], size_t n, const char *body,
    size_t bodylen)
{
	char err[256];
	struct wire_msg *m = wire_msg_new();
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (kv[i][0] != NULL)
			rc = wire_add(m, kv[i][0], kv[i][1], err, sizeof(err));
	if (rc == 0 && body != NULL && bodylen > 0)
		rc = wire_set_body(m, body, bodylen);
	if (rc == 0)
		rc = send_msg(s, tc, m);
	wire_msg_free(m);
	return rc;
}

/* The connection a task's replies go on: the one its SendFile came in on, if still up. */
static struct tconn *
task_conn(const struct task *t)
{
	const struct sim *s = t->s;
	return s->state == S_UP && s->gen == t->gen ? s->tc : NULL;
}

static void
send_update(struct task *t, int code, int replayed)
{
	struct tconn *tc = task_conn(t);
	if (tc == NULL)
		return;
	char code_s[16], att[16];
	snprintf(code_s, sizeof(code_s), "%d", code);
	snprintf(att, sizeof(att), "%d", t->attempt);
	const char *const kv[][2] = {
		{"Reply", "StatusUpdate"}, {"Filename", t->name}, {"ID", t->id_s},
		{"Schedule-ID", t->schedule_s}, {"Event-ID", t->event_s}, {"Task-Sequence-ID", t->seq_s},
		{"Status-Code", code_s}, {t->has_attempt ? "Attempt" : NULL, att}, {replayed ? "Replayed" : NULL, "1"},
	};
	if (send_kv(t->s, tc, kv, 9, NULL, 0) == -1)
		note_error(t->s, "status update", "could not be sent");
}

static void
results_line(const struct task *t, int code, int replayed, int ran)
{
	char name[96];
	if (results_f != NULL)
		fprintf(results_f, "%s %lld %s %s %d %d %d %d\n", sim_name(t->s, name, sizeof(name)), t->s->id,
		    t->event_s, t->seq_s, t->attempt, code, replayed, ran);
}

/* The final Reply=SendFile; ran: a script ran (Output-Size is sent). */
static void
send_final(struct task *t, int code, const char *module, const char *why, int ran, int replayed)
{
	struct tconn *tc = task_conn(t);
	if (tc == NULL)
		return;
	char code_s[16], size_s[24], att[16];
	size_t outlen = ran && o.output != NULL ? strlen(o.output) : 0;
	snprintf(code_s, sizeof(code_s), "%d", code);
	snprintf(att, sizeof(att), "%d", t->attempt);
	snprintf(size_s, sizeof(size_s), "%zu", outlen);
	const char *const kv[][2] = {
		{"Reply", "SendFile"}, {"Event", "Execute"}, {"Result", code == 0 ? "Success" : "Failed"},
		{"Schedule-ID", t->schedule_s}, {"Event-ID", t->event_s}, {"Status-Code", code_s},
		{"Status-Module", module}, {"SystemUser-ID", t->user}, {"Task-Sequence-ID", t->seq_s},
		{"User-ID", ""}, {why != NULL && why[0] != '\0' ? "Error" : NULL, why},
		{t->has_attempt ? "Attempt" : NULL, att}, {replayed ? "Replayed" : NULL, "1"},
		{ran ? "Output-Size" : NULL, size_s},
	};
	if (send_kv(t->s, tc, kv, 14, o.output, outlen) == -1) {
		note_error(t->s, "result", "could not be sent");
		return;
	}
	cnt.finals++;
	results_line(t, code, replayed, ran);
}

/* --- the journal: recent results, so that a task pushed again is replayed */

static struct jentry *
journal_find(struct sim *s, long long event_id, int seq)
{
	for (int i = 0; i < JOURNAL_SLOTS; i++)
		if (s->journal[i].used && s->journal[i].event_id == event_id && s->journal[i].seq == seq)
			return &s->journal[i];
	return NULL;
}

static void
journal_put(struct sim *s, long long event_id, int seq, int code)
{
	struct jentry *e = journal_find(s, event_id, seq);
	if (e == NULL) {
		e = &s->journal[s->jnext];
		s->jnext = (unsigned char)((s->jnext + 1) % JOURNAL_SLOTS);
	}
	*e = (struct jentry){.event_id = event_id, .seq = seq, .code = code, .used = 1};
}

/* --- tasks */

/* t's fetch handshake is over (done, refused or closed): its slot goes to the next queued one. */
static void
fetch_leave(struct task *t)
{
	if (!t->finflight)
		return;
	t->finflight = 0;
	f_inflight--;
	if (fq_head != NULL && fq_ev != NULL)
		event_active(fq_ev, EV_TIMEOUT, 0);
}

static void
task_free(struct task *t)
{
	struct sim *s = t->s;
	for (struct task **pp = &s->tasks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	fetch_leave(t);
	if (t->fqueued) {
		struct task *prev = NULL;
		for (struct task *q = fq_head; q != NULL; prev = q, q = q->qnext)
			if (q == t) {
				if (prev == NULL)
					fq_head = t->qnext;
				else
					prev->qnext = t->qnext;
				if (fq_tail == t)
					fq_tail = prev;
				break;
			}
	}
	tconn_free(t->fetch);
	free(t->in);
	EVP_MD_CTX_free(t->md);
	if (t->timer != NULL)
		event_free(t->timer);
	OPENSSL_cleanse(t->key, sizeof(t->key));
	free(t);
}

static struct task *
task_find(struct sim *s, long long event_id, int seq)
{
	for (struct task *t = s->tasks; t != NULL; t = t->next)
		if (t->event_id == event_id && t->seq == seq)
			return t;
	return NULL;
}

static int
task_count(const struct sim *s)
{
	int n = 0;
	for (const struct task *t = s->tasks; t != NULL; t = t->next)
		n++;
	return n;
}

/* The task is over with code (journaled when something ran) and freed. */
static void
task_end(struct task *t, int code, const char *module, const char *why, int ran)
{
	if (ran)
		journal_put(t->s, t->event_id, t->seq, code);
	if (t->fate == F_HANG && code == STATUS_TIMEOUT)
		cnt.hung++;
	else if (code != 0)
		cnt.failed++;
	send_final(t, code, module, why, ran, t->replayed);
	task_free(t);
}

static void sim_lost(struct sim *s, const char *why);

/* The script's end, as its fate says. */
static void
task_script_end(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	char why[64];
	(void)fd;
	(void)what;
	if (t->cancelled) {
		task_end(t, STATUS_CANCELLED, "RunScript", "cancelled", 1);
	} else if (t->fate == F_HANG) {
		snprintf(why, sizeof(why), "timed out after %lld ms", t->timeout_ms);
		task_end(t, STATUS_TIMEOUT, "RunScript", why, 1);
	} else {
		task_end(t, t->fate == F_FAIL ? (int)o.fail_code : t->code, "RunScript", NULL, 1);
	}
}

/*
 * Delivered: 2500, the script "starts" (2501), and ends after its delay. A
 * task drawn to disconnect loses the connection right after its fetch,
 * before 2500: the worker has pushed it and heard nothing, and gets 2500,
 * 2501 and the result replayed (Replayed=1) when it pushes it again.
 */
static void
task_start_script(struct task *t)
{
	t->state = T_RUN;
	if (t->fate == F_DISCONNECT && task_conn(t) != NULL) {
		cnt.disconnects++;
		sim_lost(t->s, "dropped on purpose (--disconnect-rate)");
	}
	send_update(t, STATUS_DELIVERED, 0);
	send_update(t, STATUS_STARTED, 0);
	long long delay = t->fate == F_HANG ? t->timeout_ms : t->delay_ms;
	struct timeval tv = clock_tv(delay);
	event_assign(t->timer, base, -1, 0, task_script_end, t);
	evtimer_add(t->timer, &tv);
}

static int
num_of(const char *v, long long lo, long long hi, long long *out)
{
	if (v == NULL || *v == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
		return -1;
	long long x = strtoll(v, NULL, 10);
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

/* --- the transfer fetch */

static void fetch_attempt(evutil_socket_t fd, short what, void *arg);

static void
fetch_fail(struct task *t, const char *reason)
{
	char why[512];
	cnt.fetch_failed++;
	snprintf(why, sizeof(why), "transfer from %s:%d: fetch: %s", hosts[t->host], t->port, reason);
	note_error(t->s, "fetch", reason);
	task_end(t, STATUS_TRANSFER_FAILED, "Agent", why, 0);
}

static void
fetch_done(struct task *t)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char hex[7 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256:";
	EVP_DigestFinal_ex(t->md, digest, &dlen);
	for (unsigned int i = 0; i < dlen; i++)
		snprintf(hex + 7 + 2 * i, 3, "%02x", digest[i]);
	if (strcasecmp(hex, t->checksum) != 0) {
		char why[200];
		snprintf(why, sizeof(why), "checksum mismatch: got %s", hex);
		fetch_fail(t, why);
		return;
	}
	tconn_free(t->fetch);
	t->fetch = NULL;
	evtimer_del(t->timer);
	task_start_script(t);
}

/* Body bytes: hashed and counted, never more than Size. */
static void
fetch_body(struct task *t, const char *data, size_t len)
{
	if (t->got + len > t->size) {
		char why[100];
		snprintf(why, sizeof(why), "server sent more than Size=%llu bytes", (unsigned long long)t->size);
		fetch_fail(t, why);
		return;
	}
	EVP_DigestUpdate(t->md, data, len);
	t->got += len;
	if (t->got == t->size)
		fetch_done(t);
}

/* The reply header (Reply=Fetch, Result, Size, Checksum) as transfer/fetch.c checks it; "" when good. */
static void
fetch_check_reply(const struct task *t, const struct wire_msg *m, char *why, size_t whylen)
{
	const char *reply = wire_get(m, "Reply"), *result = wire_get(m, "Result");
	const char *rsize = wire_get(m, "Size"), *rsum = wire_get(m, "Checksum");
	char expect[32];
	snprintf(expect, sizeof(expect), "%llu", (unsigned long long)t->size);
	why[0] = '\0';
	if (reply == NULL || strcmp(reply, "Fetch") != 0 || result == NULL) {
		snprintf(why, whylen, "reply is not Reply=Fetch with a Result");
	} else if (strcmp(result, "Success") != 0) {
		const char *e = wire_get(m, "Error");
		snprintf(why, whylen, "refused by %s:%d: %s", hosts[t->host], t->port, e != NULL ? e : "no reason given");
	} else if (rsize == NULL || strcmp(rsize, expect) != 0) {
		snprintf(why, whylen, "server offers Size=%.32s, expected %s", rsize ? rsize : "(none)", expect);
	} else if (rsum == NULL || strcasecmp(rsum, t->checksum) != 0) {
		snprintf(why, whylen, "server offers a different checksum than announced");
	}
}

/* The reply's header, gathered until its empty line; what follows it is file data. */
static void
fetch_header(struct task *t, const char *data, size_t len)
{
	char why[300];
	char *q = realloc(t->in, t->inlen + len);
	if (q == NULL)
		die("%s", "out of memory");
	memcpy(q + t->inlen, data, len);
	t->in = q;
	t->inlen += len;
	const char *end = memmem(t->in, t->inlen, "\n\n", 2);
	if (end == NULL) {
		if (t->inlen > WIRE_MAX_HEADER)
			fetch_fail(t, "bad reply: header over 16 KiB");
		return;
	}
	size_t hlen = (size_t)(end - t->in) + 2, used = 0;
	enum wire_status st = wire_feed(parser, t->in, hlen, &used);
	if (st != WIRE_DONE) {
		snprintf(why, sizeof(why), "bad reply: %s", st == WIRE_ERROR ? wire_parser_error(parser) : "not whole");
		wire_parser_free(parser);
		parser = wire_parser_new(0);
		fetch_fail(t, why);
		return;
	}
	struct wire_msg *m = wire_parser_take(parser);
	if (m == NULL)
		die("%s", "out of memory");
	fetch_check_reply(t, m, why, sizeof(why));
	wire_msg_free(m);
	if (why[0] != '\0') {
		fetch_fail(t, why);
		return;
	}
	t->hdr_done = 1;
	t->md = EVP_MD_CTX_new();
	if (t->md == NULL || EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1)
		die("%s", "out of memory");
	char *rest = t->in;
	size_t restlen = t->inlen - hlen;
	t->in = NULL;
	t->inlen = 0;
	if (restlen > 0 || t->size == 0)
		fetch_body(t, rest + hlen, restlen);
	free(rest);
}

static void
fetch_io(struct tconn *tc, enum tc_what what, const char *data, size_t len, void *arg)
{
	struct task *t = arg;
	if (what == TC_CONNECTED) {
		if (SSL_session_reused(tc->ssl))
			cnt.fetch_resumed++;
		else
			cnt.fetch_full++;
		t->handshook = 1;
		fetch_leave(t);
		char ev[24], sq[16];
		snprintf(ev, sizeof(ev), "%lld", t->event_id);
		snprintf(sq, sizeof(sq), "%d", t->seq);
		const char *const kv[][2] = {{"Request", "Fetch"}, {"Key", t->key}, {"Event-ID", ev},
		    {"Task-Sequence-ID", sq}};
		if (send_kv(NULL, tc, kv, 4, NULL, 0) == -1 && !tc->failed)
			fetch_fail(t, "fetch request could not be sent");
		return;
	}
	if (what == TC_DATA) {
		if (t->hdr_done)
			fetch_body(t, data, len);
		else
			fetch_header(t, data, len);
		return;
	}
	/*
	 * Closed or reset before the handshake ended, with no TLS alert: the
	 * transfer port's pre-TLS budget turned us away, and the key was never
	 * sent. Or closed after our side of the handshake and before the first
	 * byte of the reply: the worker, behind, still counted us in that budget
	 * (TLS 1.3: it checks our certificate after we sent our Finished) and
	 * closed us to make room; it never read the request, so the key is
	 * intact. The agent tries both again (100 ms doubling to 2 s, jittered)
	 * within its fetch timeout, the second without the session it resumed.
	 */
	int silent = t->handshook && !t->hdr_done && t->inlen == 0;
	if (((!t->handshook && tc->refused) || silent) &&
	    clock_mono_ms() - t->fetch_start + t->pause_ms < FETCH_TIMEOUT_MS) {
		cnt.fetch_retries++;
		if (silent && t->s->sess != NULL) {
			SSL_SESSION_free(t->s->sess);
			t->s->sess = NULL;
		}
		fetch_leave(t);
		tconn_free(t->fetch);
		t->fetch = NULL;
		evtimer_del(t->timer);
		long long wait = t->pause_ms / 2 + (long long)(rng32() % (uint32_t)(t->pause_ms / 2 + 1));
		t->pause_ms = t->pause_ms * 2 > 2000 ? 2000 : t->pause_ms * 2;
		struct timeval tv = clock_tv(wait);
		event_assign(t->timer, base, -1, 0, fetch_attempt, t);
		evtimer_add(t->timer, &tv);
		return;
	}
	char why[400];
	if (t->hdr_done)
		snprintf(why, sizeof(why), "after %llu of %llu bytes: %.*s", (unsigned long long)t->got,
		    (unsigned long long)t->size, (int)len, data);
	else
		snprintf(why, sizeof(why), "%.*s", (int)len, data);
	fetch_fail(t, why);
}

static void
fetch_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	char why[100];
	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "not done within %d ms", FETCH_TIMEOUT_MS);
	fetch_fail(t, why);
}

static void
fetch_attempt(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	struct sim *s = t->s;
	char why[300];
	(void)fd;
	(void)what;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
	if (inet_pton(AF_INET, hosts[t->host], &sa.sin_addr) != 1) {
		fetch_fail(t, "Transfer-Host is not an IPv4 address (the simulator takes only those)");
		return;
	}
	if (o.max_connecting > 0) {
		if (f_inflight >= o.max_connecting) {
			/* the deadline waits too: the queue is the simulator's, not the fleet's */
			evtimer_del(t->timer);
			t->fqueued = 1;
			t->queued_at = clock_mono_ms();
			t->qnext = NULL;
			if (fq_tail != NULL)
				fq_tail->qnext = t;
			else
				fq_head = t;
			fq_tail = t;
			return;
		}
		t->finflight = 1;
		f_inflight++;
	}
	t->handshook = 0;
	t->fetch = tconn_new(s, (struct sockaddr *)&sa, sizeof(sa),
	    o.resume && s->sess != NULL && s->sess_host == t->host ? s->sess : NULL, t, fetch_io, t, why, sizeof(why));
	if (t->fetch == NULL) {
		fetch_fail(t, why);
		return;
	}
	cnt.fetches++;
	long long left = FETCH_TIMEOUT_MS - (clock_mono_ms() - t->fetch_start);
	struct timeval tv = clock_tv(left > 1 ? left : 1);
	event_assign(t->timer, base, -1, 0, fetch_deadline_cb, t);
	evtimer_add(t->timer, &tv);
}

/* A new TLS session from a transfer port: kept for the next fetch (the control
 * connection's sessions are not: the agent resumes only on the transfer channel). */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct task *t = SSL_get_ex_data(ssl, sess_index);
	if (t != NULL)
		cnt.fetch_tickets++;
	if (t == NULL || !o.resume || !SSL_SESSION_is_resumable(sess))
		return 0;
	struct sim *s = t->s;
	s->sess_host = t->host;
	SSL_SESSION_free(s->sess);
	s->sess = sess;
	return 1;
}

/* --- requests from the scheduler, read by the agent's own request_check (agent/request.c) */

/* Reply=Error with code, naming the task when the request had valid ids (request_ids). */
static void
send_error(struct sim *s, const struct wire_msg *m, int code, const char *why)
{
	const char *ev = NULL, *sq = NULL;
	int ids = request_ids(m, &ev, &sq);
	char code_s[16];
	cnt.errors_sent++;
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *const kv[][2] = {{"Reply", "Error"}, {"Status-Code", code_s},
	    {ids ? "Event-ID" : NULL, ev}, {ids ? "Task-Sequence-ID" : NULL, sq}, {"Error", why}};
	(void)send_kv(s, s->tc, kv, 5, NULL, 0);
}

static void
handle_cancel(struct sim *s, const struct request_task *rt)
{
	cnt.cancels++;
	struct task *t = task_find(s, rt->event_id, rt->seq);
	struct jentry *je = journal_find(s, rt->event_id, rt->seq);
	char why[100], code_s[16];
	snprintf(code_s, sizeof(code_s), "%d", STATUS_CANCELLED);
	if (t != NULL) {
		t->cancelled = 1;
		const char *const kv[][2] = {{"Reply", "Cancel"}, {"Event-ID", rt->event_s},
		    {"Task-Sequence-ID", rt->seq_s}, {"Result", "Success"}, {"Status-Code", code_s}};
		(void)send_kv(s, s->tc, kv, 5, NULL, 0);
		if (t->state == T_RUN) {
			/* SIGTERM to the script: it ends now, the final reply follows */
			struct timeval zero = {0, 0};
			evtimer_add(t->timer, &zero);
		}
		return;
	}
	if (je != NULL)
		snprintf(why, sizeof(why), "not running: ended with code %d", je->code);
	else
		snprintf(why, sizeof(why), "not running");
	const char *const kv[][2] = {{"Reply", "Cancel"}, {"Event-ID", rt->event_s}, {"Task-Sequence-ID", rt->seq_s},
	    {"Result", "Failed"}, {"Error", why}};
	(void)send_kv(s, s->tc, kv, 5, NULL, 0);
}

/* A task's identity for its replies, from the checked request. */
static void
task_fill(struct task *t, struct sim *s, const struct request_task *rt)
{
	long long v;
	t->s = s;
	t->gen = s->gen;
	t->event_id = rt->event_id;
	t->seq = rt->seq;
	snprintf(t->event_s, sizeof(t->event_s), "%s", rt->event_s);
	snprintf(t->seq_s, sizeof(t->seq_s), "%s", rt->seq_s);
	snprintf(t->schedule_s, sizeof(t->schedule_s), "%s", rt->schedule_s != NULL ? rt->schedule_s : "");
	snprintf(t->id_s, sizeof(t->id_s), "%s", rt->id_s != NULL ? rt->id_s : "");
	snprintf(t->name, sizeof(t->name), "%s", rt->name);
	snprintf(t->user, sizeof(t->user), "%s", rt->user);
	/* replies echo the push's Attempt (request_check has checked it is a number) */
	t->has_attempt = rt->attempt_s != NULL && num_of(rt->attempt_s, 0, 2147483647LL, &v) == 0;
	t->attempt = t->has_attempt ? (int)v : 0;
}

/*
 * A SendFile, as the agent takes it: checked (a refusal is its final reply),
 * refused when 64 tasks run, answered from the journal when pushed again
 * (never run twice), else fetched and "run".
 */
static void
handle_sendfile(struct sim *s, const struct request_task *rt, enum request_verdict v, int code,
    const char *why)
{
	cnt.tasks++;
	struct task *t = task_find(s, rt->event_id, rt->seq);
	struct jentry *je = journal_find(s, rt->event_id, rt->seq);
	if (v == REQUEST_ACT && (t != NULL || je != NULL)) {
		cnt.replays++;
		if (t != NULL) { /* still running: 2500 and 2501 again now, the result when it ends */
			t->gen = s->gen;
			t->replayed = 1;
			task_fill(t, s, rt);
			if (t->state == T_RUN) {
				send_update(t, STATUS_DELIVERED, 1);
				send_update(t, STATUS_STARTED, 1);
			}
			return;
		}
		struct task tmp = {0};
		task_fill(&tmp, s, rt);
		send_update(&tmp, STATUS_DELIVERED, 1);
		send_update(&tmp, STATUS_STARTED, 1);
		send_final(&tmp, je->code, "RunScript", je->code == STATUS_TIMEOUT ? "timed out" : NULL, 1, 1);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		die("%s", "out of memory");
	task_fill(t, s, rt);
	t->timer = event_new(base, -1, 0, fetch_deadline_cb, t);
	if (t->timer == NULL)
		die("%s", "out of memory");
	int busy = task_count(s) >= MAX_TASKS;
	t->next = s->tasks;
	s->tasks = t;
	if (v == REQUEST_REFUSE || busy) {
		char text[100];
		cnt.refused_tasks++;
		snprintf(text, sizeof(text), "agent busy: %d tasks running", MAX_TASKS);
		task_end(t, busy ? STATUS_AGENT_ERROR : code, "Agent", busy ? text : why, 0);
		return;
	}
	const char *host = rt->host != NULL && rt->host[0] != '\0' ? rt->host : server_name[s->cur];
	int hi = host_index(host);
	if (hi < 0) {
		fetch_fail(t, "too many transfer hosts");
		return;
	}
	t->host = (unsigned char)hi;
	t->size = rt->size;
	t->port = rt->port;
	t->timeout_ms = rt->timeout_ms > 0 ? rt->timeout_ms : sim_conf.timeout_ms;
	t->code = (int)o.code;
	snprintf(t->key, sizeof(t->key), "%s", rt->key);
	snprintf(t->checksum, sizeof(t->checksum), "%s", rt->checksum);
	if (strlen(rt->key) != 32 || strlen(rt->checksum) != 71 || strncmp(rt->checksum, "sha256:", 7) != 0) {
		/* what transfer_fetch refuses before connecting */
		fetch_fail(t, strlen(rt->key) != 32 ? "transfer key is malformed" : "checksum is not sha256:<64 hex>");
		return;
	}
	t->fate = draw_fate(s, t->event_id, t->seq, &t->delay_ms);
	t->state = T_FETCH;
	t->fetch_start = clock_mono_ms();
	t->pause_ms = 100;
	fetch_attempt(-1, 0, t);
}

static void
handle_request(struct sim *s, const struct wire_msg *m)
{
	struct request_task rt;
	char why[600];
	int code;
	enum request_verdict v = request_check(m, &sim_conf, s->id, &rt, &code, why, sizeof(why));
	if (v == REQUEST_BAD)
		send_error(s, m, code, why);
	else if (rt.kind == REQUEST_CANCEL)
		handle_cancel(s, &rt);
	else
		handle_sendfile(s, &rt, v, code, why);
}

/* --- the control connection */

static void sim_attempt(evutil_socket_t fd, short what, void *arg);
static void sim_tick(evutil_socket_t fd, short what, void *arg);

/* s's attempt is over (up, failed or stopped): its slot goes to the next queued one. */
static void
inflight_leave(struct sim *s)
{
	if (!s->inflight)
		return;
	s->inflight = 0;
	n_inflight--;
	if (q_len > 0 && queue_ev != NULL)
		event_active(queue_ev, EV_TIMEOUT, 0);
}

static void
sim_close(struct sim *s)
{
	inflight_leave(s);
	tconn_free(s->tc);
	s->tc = NULL;
	free(s->in);
	s->in = NULL;
	s->inlen = 0;
	evtimer_del(s->timer);
}

/* The next attempt: full jitter over a window doubling per failure, round the list. */
static void
sim_schedule(struct sim *s)
{
	long long delay = backoff_delay(o.backoff_ms, o.max_backoff_ms, s->n, rng32());
	if (!s->started) /* the first attempt after start: at once, or within the ramp */
		delay = o.ramp_ms > 0 ? (long long)(rng32() % (uint32_t)(o.ramp_ms + 1)) : 0;
	s->started = 1;
	s->cur = (unsigned char)backoff_server(s->k, s->n, nservers);
	s->state = S_WAIT;
	struct timeval tv = clock_tv(delay);
	event_assign(s->timer, base, -1, 0, sim_attempt, s);
	evtimer_add(s->timer, &tv);
}

static void
sim_fail(struct sim *s, const char *why)
{
	cnt.attempts_failed++;
	note_error(s, server_name[s->cur], why);
	sim_close(s);
	if (s->state == S_STOPPED)
		return;
	s->n++;
	sim_schedule(s);
}

static void
sim_lost(struct sim *s, const char *why)
{
	cnt.lost++;
	(void)why;
	sim_close(s);
	if (s->state == S_STOPPED)
		return;
	s->k = s->cur;
	s->n = 0;
	sim_schedule(s);
}

static void
sim_down(struct sim *s, const char *why)
{
	if (s->state == S_UP)
		sim_lost(s, why);
	else if (s->state == S_CONNECTING || s->state == S_HELLO)
		sim_fail(s, why);
}

static void
sim_hello_reply(struct sim *s, const struct wire_msg *m)
{
	const char *reply = wire_get(m, "Reply"), *result = wire_get(m, "Result");
	char why[400];
	if (reply == NULL || strcmp(reply, "Hello") != 0 || result == NULL) {
		sim_fail(s, "the scheduler did not answer Request=Hello");
		return;
	}
	if (strcmp(result, "Success") != 0) {
		const char *e = wire_get(m, "Error");
		cnt.refused_hello++;
		snprintf(why, sizeof(why), "refused us: %s", e != NULL ? e : "(no reason given)");
		sim_fail(s, why);
		return;
	}
	long long id;
	if (num_of(wire_get(m, "ID"), 1, 999999999999999999LL, &id) == -1) {
		sim_fail(s, "Reply=Hello without a valid ID");
		return;
	}
	s->id = id;
	s->state = S_UP;
	inflight_leave(s);
	if (s->ever_up)
		cnt.reconnects++;
	s->ever_up = 1;
	s->gen++;
	s->k = s->cur;
	s->n = 0;
	cnt.ups++;
	evtimer_del(s->timer);
	s->last_ping = s->last_rx;
	long long iv = o.keepalive_ms, slack = o.keepalive_timeout_ms - iv;
	long long every = (iv < slack ? iv : slack) / 2;
	struct timeval tv = clock_tv(every > 20 ? every : 20);
	event_assign(s->timer, base, -1, EV_PERSIST, sim_tick, s);
	evtimer_add(s->timer, &tv);
}

static void
sim_message(struct sim *s, const struct wire_msg *m)
{
	if (s->state == S_HELLO) {
		sim_hello_reply(s, m);
		return;
	}
	const char *req = wire_get(m, "Request"), *reply = wire_get(m, "Reply");
	if (req != NULL)
		handle_request(s, m);
	else if (reply == NULL || strcmp(reply, "Keepalive") != 0)
		cnt.unexpected++;
}

/* One whole message on the control connection; non-zero when the connection went away meanwhile. */
static int
sim_on_msg(struct wire_msg *m, void *arg)
{
	struct sim *s = arg;
	struct tconn *tc = s->tc;
	sim_message(s, m);
	wire_msg_free(m);
	return s->tc != tc || (s->state != S_HELLO && s->state != S_UP);
}

static void
sim_io(struct tconn *tc, enum tc_what what, const char *data, size_t len, void *arg)
{
	struct sim *s = arg;
	char why[400], w2[500];
	if (what == TC_CONNECTED) {
		char name[96], ka[24];
		s->state = S_HELLO;
		s->last_rx = clock_mono_ms();
		snprintf(ka, sizeof(ka), "%lld", o.keepalive_ms);
		const char *const kv[][2] = {{"Request", "Hello"}, {"Computer", sim_name(s, name, sizeof(name))},
		    {"Protocol", PROTOCOL}, {"Agent-Version", VERSION}, {"Keepalive", ka}, {"Facts-Hash", ""}};
		if (send_kv(s, tc, kv, 6, NULL, 0) == -1 && !tc->failed)
			sim_fail(s, "Request=Hello could not be sent");
		return;
	}
	if (what == TC_CLOSED) {
		snprintf(why, sizeof(why), "%s%.*s", tc->state == TC_UP || tc->refused ? "" : "refused: ", (int)len,
		    data);
		sim_down(s, why);
		return;
	}
	s->last_rx = clock_mono_ms();
	if (split_msgs(&s->in, &s->inlen, data, len, sim_on_msg, s, why, sizeof(why)) == -1 && s->tc == tc) {
		snprintf(w2, sizeof(w2), "bad message from the scheduler: %s", why);
		if (s->state == S_UP) {
			const char *const kv[][2] = {{"Reply", "Error"}, {"Status-Code", "-11"}, {"Error", w2}};
			(void)send_kv(s, tc, kv, 3, NULL, 0);
		}
		note_error(s, "control", w2);
		sim_down(s, w2);
	}
}

static void
sim_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	char why[100];
	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "not connected within %lld ms (connect_timeout)", o.connect_timeout_ms);
	sim_fail(s, why);
}

static void
sim_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	(void)fd;
	(void)what;
	if (s->state != S_UP)
		return;
	long long now = clock_mono_ms();
	if (now - s->last_rx >= o.keepalive_timeout_ms) {
		sim_lost(s, "nothing from the scheduler (keepalive.timeout)");
		return;
	}
	int quiet = now - s->last_rx >= o.keepalive_ms || now - s->last_tx >= o.keepalive_ms;
	if (quiet && now - s->last_ping >= o.keepalive_ms) {
		s->last_ping = now;
		cnt.keepalives++;
		const char *const kv[][2] = {{"Request", "Keepalive"}};
		if (send_kv(s, s->tc, kv, 1, NULL, 0) == -1 && s->state == S_UP)
			sim_lost(s, "keepalive could not be sent");
	}
}

static void
sim_attempt(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	char why[300];
	(void)fd;
	(void)what;
	if (o.max_connecting > 0) {
		if (n_inflight >= o.max_connecting) {
			s->queued = 1;
			queue[(q_head + q_len) % o.count] = s->idx;
			q_len++;
			return;
		}
		s->inflight = 1;
		n_inflight++;
	}
	s->state = S_CONNECTING;
	cnt.connects++;
	struct timeval tv = clock_tv(o.connect_timeout_ms);
	event_assign(s->timer, base, -1, 0, sim_deadline, s);
	evtimer_add(s->timer, &tv);
	s->tc = tconn_new(s, (const struct sockaddr *)&servers[s->cur], server_len[s->cur], NULL, NULL, sim_io, s, why,
	    sizeof(why));
	if (s->tc == NULL)
		sim_fail(s, why);
}

/* Fetch slots freed: the queued fetches start, oldest first, their deadline moved by the wait. */
static void
fetch_queue_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	while (fq_head != NULL && f_inflight < o.max_connecting) {
		struct task *t = fq_head;
		fq_head = t->qnext;
		if (fq_head == NULL)
			fq_tail = NULL;
		t->fqueued = 0;
		t->fetch_start += clock_mono_ms() - t->queued_at;
		fetch_attempt(fd, what, t);
	}
}

/* Slots freed: the queued attempts start, oldest first. */
static void
queue_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	while (q_len > 0 && n_inflight < o.max_connecting) {
		struct sim *s = &sims[queue[q_head]];
		q_head = (q_head + 1) % o.count;
		q_len--;
		s->queued = 0;
		if (s->state == S_WAIT)
			sim_attempt(fd, what, s);
	}
}

/* --- figures */

static long long
rss_kb(void)
{
	long long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%lld %lld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* Bytes malloc has handed out and not had back (RSS also counts what it keeps free). */
static long long
heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();
	return (long long)(m.uordblks + m.hblkhd);
}

static void
figures(FILE *f, int line)
{
	long long up = 0, wait = 0, conn = 0, running = 0, ever = 0, queued = 0;
	for (long long i = 0; i < o.count; i++) {
		struct sim *s = &sims[i];
		ever += s->ever_up;
		up += s->state == S_UP;
		wait += s->state == S_WAIT;
		queued += s->queued;
		conn += s->state == S_CONNECTING || s->state == S_HELLO;
		running += task_count(s);
	}
	long long rss = rss_kb();
	double per = o.count > 0 ? (double)(rss - rss_base_kb) * 1024.0 / (double)o.count : 0;
	double secs = (double)(clock_mono_ms() - t_start) / 1000.0;
	if (line) {
		fprintf(f, PROG ": %.1fs connected %lld/%lld (connecting %lld, waiting %lld, queued %lld), tasks %lld received, "
			   "%lld done (%lld failed, %lld hung), %lld running, %lld replays; fetches %lld (%lld resumed, "
			   "%lld retried, %lld failed); reconnects %lld, failed attempts %lld; rss %lld KiB (%.0f B per "
			   "computer)\n",
		    secs, up, o.count, conn, wait, queued, cnt.tasks, cnt.finals, cnt.failed, cnt.hung, running, cnt.replays, cnt.fetches,
		    cnt.fetch_resumed, cnt.fetch_retries, cnt.fetch_failed, cnt.reconnects,
		    cnt.attempts_failed, rss, per);
		return;
	}
	fprintf(f, "seconds=%.3f\ncount=%lld\nconnected=%lld\nconnecting=%lld\nwaiting=%lld\nqueued=%lld\n", secs,
	    o.count, up, conn, wait, queued);
	fprintf(f, "ever_connected=%lld\nreconnects=%lld\n", ever, cnt.reconnects);
	fprintf(f, "connects=%lld\nups=%lld\nattempts_failed=%lld\nlost=%lld\nrefused_hello=%lld\n", cnt.connects,
	    cnt.ups, cnt.attempts_failed, cnt.lost, cnt.refused_hello);
	fprintf(f, "tasks=%lld\nfinals=%lld\nfailed=%lld\nhung=%lld\nrunning=%lld\nreplays=%lld\ndisconnects=%lld\n",
	    cnt.tasks, cnt.finals, cnt.failed, cnt.hung, running, cnt.replays, cnt.disconnects);
	fprintf(f, "cancels=%lld\nrefused_tasks=%lld\nerrors_sent=%lld\nunexpected=%lld\nkeepalives=%lld\n", cnt.cancels,
	    cnt.refused_tasks, cnt.errors_sent, cnt.unexpected, cnt.keepalives);
	fprintf(f, "fetches=%lld\nfetch_full=%lld\nfetch_resumed=%lld\nfetch_retries=%lld\nfetch_failed=%lld\n",
	    cnt.fetches, cnt.fetch_full, cnt.fetch_resumed, cnt.fetch_retries, cnt.fetch_failed);
	fprintf(f, "fetch_tickets=%lld\n", cnt.fetch_tickets);
	fprintf(f, "rss_kb=%lld\nrss_base_kb=%lld\nbytes_per_computer=%.0f\nheap_in_use_kb=%lld\nopen_fds=%d\n", rss,
	    rss_base_kb, per, heap_in_use() / 1024, open_fds());
	fprintf(f, "last_error=%s\n", last_error);
}

static void
write_stats(void)
{
	if (o.stats == NULL)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", o.stats);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return;
	figures(f, 0);
	if (fclose(f) == 0)
		(void)rename(tmp, o.stats);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* what the handshakes freed goes back, so that RSS tells what the fleet holds */
	(void)malloc_trim(0);
	figures(stderr, 1);
	write_stats();
	if (results_f != NULL)
		fflush(results_f);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	fprintf(stderr, PROG ": signal %d: closing %lld computers\n", (int)sig, o.count);
	for (long long i = 0; i < o.count; i++) {
		struct sim *s = &sims[i];
		s->state = S_STOPPED;
		while (s->tasks != NULL)
			task_free(s->tasks);
		sim_close(s);
	}
	event_base_loopbreak(base);
}

/* --- start-up */

static long long
num_arg(const char *opt, const char *v, long long lo, long long hi)
{
	long long x;
	if (num_of(v, lo, hi, &x) == -1) {
		fprintf(stderr, PROG ": %s: \"%s\" is not a number in [%lld, %lld]\n", opt, v, lo, hi);
		exit(2);
	}
	return x;
}

static double
rate_arg(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !(x >= 0.0 && x <= 1.0)) {
		fprintf(stderr, PROG ": %s: \"%s\" is not a fraction in [0, 1]\n", opt, v);
		exit(2);
	}
	return x;
}

static void
usage(void)
{
	fprintf(stderr, "usage: " PROG " --servers HOST:PORT[,...] --count N (--ca DIR | --cert-dir DIR)\n"
			"  [--prefix sim-] [--first 1] [--code 0] [--delay-ms N|MIN-MAX] [--fail-rate P] [--fail-code 1]\n"
			"  [--hang-rate P] [--disconnect-rate P] [--seed 1] [--source 127.1.0.1|none] [--ramp-ms 0]\n"
			"  [--max-connecting 0]\n"
			"  [--resume yes|no] [--reconnect-backoff-ms 1000] [--reconnect-max-ms 60000]\n"
			"  [--keepalive-ms 30000] [--keepalive-timeout-ms 90000] [--connect-timeout-ms 10000]\n"
			"  [--run-as-allow USER,...] [--output TEXT] [--results FILE] [--stats FILE] [--status-ms 1000]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--servers") == 0)
			o.servers_arg = strdup(v);
		else if (strcmp(a, "--count") == 0)
			o.count = num_arg(a, v, 1, 1000000);
		else if (strcmp(a, "--first") == 0)
			o.first = num_arg(a, v, 0, 1000000000);
		else if (strcmp(a, "--prefix") == 0)
			o.prefix = v;
		else if (strcmp(a, "--ca") == 0)
			o.ca_dir = v;
		else if (strcmp(a, "--cert-dir") == 0)
			o.cert_dir = v;
		else if (strcmp(a, "--code") == 0)
			o.code = num_arg(a, v, 0, 255);
		else if (strcmp(a, "--fail-code") == 0)
			o.fail_code = v[0] == '-' ? -num_arg(a, v + 1, 1, 99) : num_arg(a, v, 0, 255);
		else if (strcmp(a, "--delay-ms") == 0) {
			char lo[32];
			const char *dash = strchr(v, '-');
			snprintf(lo, sizeof(lo), "%.*s", dash != NULL ? (int)(dash - v) : (int)strlen(v), v);
			o.delay_min = num_arg(a, lo, 0, 86400000);
			o.delay_max = dash != NULL ? num_arg(a, dash + 1, o.delay_min, 86400000) : o.delay_min;
		} else if (strcmp(a, "--fail-rate") == 0)
			o.fail_rate = rate_arg(a, v);
		else if (strcmp(a, "--hang-rate") == 0)
			o.hang_rate = rate_arg(a, v);
		else if (strcmp(a, "--disconnect-rate") == 0)
			o.disconnect_rate = rate_arg(a, v);
		else if (strcmp(a, "--seed") == 0)
			o.seed = num_arg(a, v, 0, 999999999999999999LL);
		else if (strcmp(a, "--source") == 0) {
			struct in_addr in;
			if (strcmp(v, "none") == 0)
				o.source = 0;
			else if (inet_pton(AF_INET, v, &in) == 1 && (ntohl(in.s_addr) >> 24) == 127)
				o.source = ntohl(in.s_addr);
			else
				die("--source: \"%s\" is neither none nor an address in 127.0.0.0/8", v);
		} else if (strcmp(a, "--ramp-ms") == 0)
			o.ramp_ms = num_arg(a, v, 0, 3600000);
		else if (strcmp(a, "--max-connecting") == 0)
			o.max_connecting = num_arg(a, v, 0, 1000000);
		else if (strcmp(a, "--resume") == 0)
			o.resume = strcmp(v, "yes") == 0 ? 1 : strcmp(v, "no") == 0 ? 0 : (usage(), 0);
		else if (strcmp(a, "--reconnect-backoff-ms") == 0)
			o.backoff_ms = num_arg(a, v, 1, 3600000);
		else if (strcmp(a, "--reconnect-max-ms") == 0)
			o.max_backoff_ms = num_arg(a, v, 1, 86400000);
		else if (strcmp(a, "--keepalive-ms") == 0)
			o.keepalive_ms = num_arg(a, v, 100, 3600000);
		else if (strcmp(a, "--keepalive-timeout-ms") == 0)
			o.keepalive_timeout_ms = num_arg(a, v, 200, 86400000);
		else if (strcmp(a, "--connect-timeout-ms") == 0)
			o.connect_timeout_ms = num_arg(a, v, 100, 3600000);
		else if (strcmp(a, "--run-as-allow") == 0) {
			char *list = strdup(v), *save = NULL;
			if (list == NULL)
				die("%s", "out of memory");
			for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
				char **nv = realloc(sim_conf.run_as_allow.v, (sim_conf.run_as_allow.n + 1) * sizeof(char *));
				if (nv == NULL || (nv[sim_conf.run_as_allow.n] = strdup(u)) == NULL)
					die("%s", "out of memory");
				sim_conf.run_as_allow.v = nv;
				sim_conf.run_as_allow.n++;
			}
			free(list);
		} else if (strcmp(a, "--output") == 0)
			o.output = v;
		else if (strcmp(a, "--results") == 0)
			o.results = v;
		else if (strcmp(a, "--stats") == 0)
			o.stats = v;
		else if (strcmp(a, "--status-ms") == 0)
			o.status_ms = num_arg(a, v, 0, 3600000);
		else
			usage();
	}
	if (o.servers_arg == NULL || o.count == 0 || (o.ca_dir == NULL) == (o.cert_dir == NULL))
		usage();
	if (o.keepalive_timeout_ms <= o.keepalive_ms)
		die("%s", "--keepalive-timeout-ms must be more than --keepalive-ms");
	if (o.max_backoff_ms < o.backoff_ms)
		o.max_backoff_ms = o.backoff_ms;
	if (o.fail_rate + o.hang_rate + o.disconnect_rate > 1.0)
		die("%s", "--fail-rate, --hang-rate and --disconnect-rate add up to more than 1");
}

static void
resolve_servers(void)
{
	for (char *save = NULL, *tok = strtok_r(o.servers_arg, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (nservers == MAX_SERVERS)
			die("%s", "--servers: at most 16");
		char *colon = strrchr(tok, ':');
		if (colon == NULL)
			die("--servers: \"%s\" is not HOST:PORT", tok);
		*colon = '\0';
		const char *host = tok;
		size_t hl = strlen(host);
		char hbuf[80];
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			snprintf(hbuf, sizeof(hbuf), "%.*s", (int)(hl - 2), host + 1);
			host = hbuf;
		}
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
		int g = getaddrinfo(host, colon + 1, &hints, &ai);
		if (g != 0)
			die("--servers: %s", gai_strerror(g));
		memcpy(&servers[nservers], ai->ai_addr, ai->ai_addrlen);
		server_len[nservers] = ai->ai_addrlen;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, server_name[nservers], sizeof(server_name[0]), NULL, 0,
			NI_NUMERICHOST) != 0)
			snprintf(server_name[nservers], sizeof(server_name[0]), "%s", host);
		freeaddrinfo(ai);
		nservers++;
	}
	if (nservers == 0)
		usage();
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: cannot open", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die("%s: not a PEM certificate", path);
	return x;
}

static void
load_certs(void)
{
	char err[1024], name[96], path[4200];
	long long t0 = clock_mono_ms();
	if (o.ca_dir != NULL) {
		X509 *ca;
		EVP_PKEY *ca_key;
		if (pki_ca_load(o.ca_dir, &ca, &ca_key, err, sizeof(err)) == -1)
			die("--ca: %s", err);
		fleet_key = EVP_EC_gen("P-256");
		if (fleet_key == NULL)
			die("%s", "key generation failed");
		struct pki_opts po = {.days = 30, .role = TLS_ROLE_AGENT};
		for (long long i = 0; i < o.count; i++) {
			sims[i].cert = pki_cert_new(sim_name(&sims[i], name, sizeof(name)), fleet_key, ca, ca_key, &po,
			    err, sizeof(err));
			if (sims[i].cert == NULL)
				die("--ca: %s", err);
			sims[i].key = fleet_key;
		}
		X509_free(ca);
		EVP_PKEY_free(ca_key);
	} else {
		for (long long i = 0; i < o.count; i++) {
			sim_name(&sims[i], name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s.crt", o.cert_dir, name);
			sims[i].cert = read_cert(path);
			snprintf(path, sizeof(path), "%s/%s.key", o.cert_dir, name);
			FILE *f = fopen(path, "r");
			if (f == NULL)
				die("%s: cannot open", path);
			sims[i].key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
			if (sims[i].key == NULL)
				die("%s: not a PEM private key", path);
		}
	}
	fprintf(stderr, PROG ": %lld certificates ready in %lld ms\n", o.count, clock_mono_ms() - t0);
}

int
main(int argc, char **argv)
{
	char err[1024], ca[4200];
	parse_args(argc, argv);
	resolve_servers();
	signal(SIGPIPE, SIG_IGN);
	rng_state = mix64((uint64_t)o.seed ^ 0x5eed);
	rss_base_kb = rss_kb();
	t_start = clock_mono_ms();

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (long long)rl.rlim_cur < o.count + 64)
		fprintf(stderr, PROG ": open files limit %llu is low for %lld computers (one connection each, and a "
				"second while fetching): raise ulimit -n\n", (unsigned long long)rl.rlim_cur, o.count);

	sims = calloc((size_t)o.count, sizeof(*sims));
	if (sims == NULL)
		die("%s", "out of memory");
	for (long long i = 0; i < o.count; i++) {
		sims[i].idx = (uint32_t)i;
		sims[i].src = source_of((uint32_t)i);
	}
	load_certs();

	snprintf(ca, sizeof(ca), "%s/ca.crt", o.ca_dir != NULL ? o.ca_dir : o.cert_dir);
	ctx = tls_client_ctx(ca, NULL, NULL, err, sizeof(err));
	if (ctx == NULL)
		die("%s", err);
	if (tls_ctx_require_peer_role(ctx, TLS_ROLE_SCHEDULER, err, sizeof(err)) == -1)
		die("%s", err);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	sess_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	parser = wire_parser_new(0);

	base = event_base_new();
	if (base == NULL)
		die("%s", "event_base_new failed");
	for (long long i = 0; i < o.count; i++) {
		sims[i].timer = evtimer_new(base, sim_attempt, &sims[i]);
		if (sims[i].timer == NULL)
			die("%s", "out of memory");
	}
	if (o.results != NULL && (results_f = fopen(o.results, "w")) == NULL)
		die("--results: cannot open %s", o.results);
	/* a line per final reply, at once: a reader that saw the scheduler record
	 * a result finds its line within moments, not at the next status line */
	if (results_f != NULL)
		setvbuf(results_f, NULL, _IOLBF, 0);
	struct event *sigterm = evsignal_new(base, SIGTERM, stop_cb, NULL);
	struct event *sigint = evsignal_new(base, SIGINT, stop_cb, NULL);
	struct event *status = event_new(base, -1, EV_PERSIST, status_cb, NULL);
	if (sigterm == NULL || sigint == NULL || status == NULL || evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1)
		die("%s", "event setup failed");
	if (o.status_ms > 0) {
		struct timeval tv = clock_tv(o.status_ms);
		evtimer_add(status, &tv);
	}
	if (o.max_connecting > 0) {
		queue = calloc((size_t)o.count, sizeof(*queue));
		queue_ev = event_new(base, -1, 0, queue_cb, NULL);
		fq_ev = event_new(base, -1, 0, fetch_queue_cb, NULL);
		if (queue == NULL || queue_ev == NULL || fq_ev == NULL)
			die("%s", "out of memory");
	}
	for (long long i = 0; i < o.count; i++)
		sim_schedule(&sims[i]);
	fprintf(stderr, PROG ": %lld computers %s%lld..%s%lld connecting to %s%s\n", o.count, o.prefix, o.first,
	    o.prefix, o.first + o.count - 1, server_name[0], nservers > 1 ? " (and others)" : "");
	event_base_dispatch(base);

	figures(stderr, 1);
	write_stats();
	if (results_f != NULL && fclose(results_f) != 0)
		fprintf(stderr, PROG ": %s: %s\n", o.results, strerror(errno));
	for (long long i = 0; i < o.count; i++) {
		event_free(sims[i].timer);
		SSL_SESSION_free(sims[i].sess);
		X509_free(sims[i].cert);
		if (sims[i].key != fleet_key)
			EVP_PKEY_free(sims[i].key);
	}
	EVP_PKEY_free(fleet_key);
	event_free(sigterm);
	event_free(sigint);
	event_free(status);
	if (queue_ev != NULL)
		event_free(queue_ev);
	if (fq_ev != NULL)
		event_free(fq_ev);
	free(queue);
	event_base_free(base);
	SSL_CTX_free(ctx);
	wire_parser_free(parser);
	for (int i = 0; i < nhosts; i++)
		free(hosts[i]);
	free(sims);
	free(o.servers_arg);
	for (size_t i = 0; i < sim_conf.run_as_allow.n; i++)
		free(sim_conf.run_as_allow.v[i]);
	free(sim_conf.run_as_allow.v);
	fprintf(stderr, PROG ": stopped\n");
	return 0;
}
