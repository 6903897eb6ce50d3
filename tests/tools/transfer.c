/*
 * pgfleet-test-transfer: drives transfer/serve and transfer/fetch from the
 * integration tests, over real TLS.
 *   serve --ca C --cert C --key K --file F --event E --seq S [--ttl MS] [--keys N]
 *         [--port-range LO-HI] [--bind ADDR] [--request-timeout MS] [--idle-ms MS]
 *     prints "port P" and "key K" lines, then one "result ..." line per
 *     transfer, until SIGTERM. --idle-ms also bounds how long a connection whose
 *     file went out is kept for the next request.
 *   fetch --ca C --cert C --key K --host H --port P --event E --seq S --size N
 *         --checksum sha256:X --dir D (--key-hex K --name N)... [--timeout-ms MS]
 *         [--no-keep] [--go-file PATH]
 *     fetches each (key, name) pair in order in this one process, printing
 *     "fetched NAME resumed=0|1 kept=0|1" or "error NAME: why"; exit 1 if any
 *     failed. --no-keep closes the connection after each fetch (the next one
 *     resumes the TLS session); --go-file waits, before each fetch after the
 *     first, until PATH exists (for --timeout-ms).
 *   raw --host H --port P [--send TEXT] [--wait-ms MS]
 *     a plain TCP client: prints "received N bytes" and whether the server closed.
 *   stall --ca C --cert C --key K --host H --port P --event E --seq S --key-hex K
 *         [--wait-ms MS] [--go-file PATH]
 *     a fetch that stops reading: TLS, the request, then (a 4 KiB receive buffer) not a
 *     byte read until PATH exists or MS pass; prints "stalled for N ms".
 *   checksum FILE: prints "SIZE sha256:HEX".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/fetch.h"
#include "transfer/keys.h"
#include "transfer/serve.h"

#define MAXPAIRS 16

struct opts {
	const char *ca, *cert, *key, *file, *host, *dir, *checksum, *bind, *send;
	const char *keyhex[MAXPAIRS], *name[MAXPAIRS];
	int nkeyhex, nname;
	long long event, seq, ttl, nkeys, port, size, timeout, request_timeout, wait_ms, idle_ms;
	int no_keep;
	const char *go_file;
	int port_lo, port_hi;
};

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pgfleet-test-transfer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static long long
num(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		die("bad number \"%s\"", s);
	return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ttl = 30000;
	o->nkeys = 1;
	o->timeout = 10000;
	o->port_lo = 20000;
	o->port_hi = 20999;
	o->bind = "127.0.0.1";
	o->host = "127.0.0.1";
	o->wait_ms = 5000;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--no-keep") == 0) {
			o->no_keep = 1;
			continue;
		}
		if (i + 1 >= argc)
			die("option %s needs a value", a);
		const char *v = argv[++i];
		if (strcmp(a, "--ca") == 0) o->ca = v;
		else if (strcmp(a, "--cert") == 0) o->cert = v;
		else if (strcmp(a, "--key") == 0) o->key = v;
		else if (strcmp(a, "--file") == 0) o->file = v;
		else if (strcmp(a, "--host") == 0) o->host = v;
		else if (strcmp(a, "--dir") == 0) o->dir = v;
		else if (strcmp(a, "--checksum") == 0) o->checksum = v;
		else if (strcmp(a, "--bind") == 0) o->bind = v;
		else if (strcmp(a, "--send") == 0) o->send = v;
		else if (strcmp(a, "--event") == 0) o->event = num(v);
		else if (strcmp(a, "--seq") == 0) o->seq = num(v);
		else if (strcmp(a, "--ttl") == 0) o->ttl = num(v);
		else if (strcmp(a, "--keys") == 0) o->nkeys = num(v);
		else if (strcmp(a, "--port") == 0) o->port = num(v);
		else if (strcmp(a, "--size") == 0) o->size = num(v);
		else if (strcmp(a, "--timeout-ms") == 0) o->timeout = num(v);
		else if (strcmp(a, "--request-timeout") == 0) o->request_timeout = num(v);
		else if (strcmp(a, "--idle-ms") == 0) o->idle_ms = num(v);
		else if (strcmp(a, "--go-file") == 0) o->go_file = v;
		else if (strcmp(a, "--wait-ms") == 0) o->wait_ms = num(v);
		else if (strcmp(a, "--port-range") == 0) {
			if (sscanf(v, "%d-%d", &o->port_lo, &o->port_hi) != 2)
				die("bad port range \"%s\"", v);
		} else if (strcmp(a, "--key-hex") == 0 && o->nkeyhex < MAXPAIRS) o->keyhex[o->nkeyhex++] = v;
		else if (strcmp(a, "--name") == 0 && o->nname < MAXPAIRS) o->name[o->nname++] = v;
		else die("unknown option %s", a);
	}
}

static void
on_result(const struct transfer_result *r, void *arg)
{
	(void)arg;
	printf("result ok=%d authorized=%d event=%lld seq=%d bytes=%llu peer=%s error=%s\n", r->ok, r->authorized,
	    r->event_id, r->seq, (unsigned long long)r->bytes, r->peer[0] ? r->peer : "-",
	    r->error != NULL ? r->error : "-");
	fflush(stdout);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static int
serve(struct opts *o)
{
	char err[1024], sum[80];
	uint64_t size;

	if (o->ca == NULL || o->cert == NULL || o->key == NULL || o->file == NULL)
		die("%s", "serve needs --ca --cert --key --file");
	SSL_CTX *ctx = tls_server_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (ctx == NULL)
		die("%s", err);
	tls_ctx_keep_sessions(ctx, 1024); /* as a scheduler's worker keeps them */
	if (transfer_file_checksum(o->file, &size, sum, sizeof(sum), err, sizeof(err)) == -1)
		die("%s", err);
	struct event_base *base = event_base_new();
	struct transfer_keys *keys = transfer_keys_new(o->ttl);
	struct transfer_serve *s = transfer_serve_new(base, ctx, o->port_lo, o->port_hi, o->bind, keys, err, sizeof(err));
	if (s == NULL)
		die("%s", err);
	transfer_serve_set_callback(s, on_result, NULL);
	transfer_serve_set_timeouts(s, o->request_timeout, o->idle_ms);
	printf("port %d\nsize %llu\nchecksum %s\n", transfer_serve_port(s), (unsigned long long)size, sum);
	for (long long i = 0; i < o->nkeys; i++) {
		char hex[TRANSFER_KEY_HEX + 1];
		if (transfer_keys_add(keys, o->event, (int)o->seq, o->file, size, sum, hex, err, sizeof(err)) == -1)
			die("%s", err);
		printf("key %s\n", hex);
	}
	fflush(stdout);
	struct event *st = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *si = evsignal_new(base, SIGINT, on_signal, base);
	event_add(st, NULL);
	event_add(si, NULL);
	event_base_dispatch(base);
	event_free(st);
	event_free(si);
	transfer_serve_free(s);
	transfer_keys_free(keys);
	event_base_free(base);
	SSL_CTX_free(ctx);
	return 0;
}

static int
fetch(struct opts *o)
{
	char err[1024];
	int failed = 0;

	if (o->ca == NULL || o->cert == NULL || o->key == NULL || o->dir == NULL || o->checksum == NULL ||
	    o->nkeyhex == 0 || o->nkeyhex != o->nname)
		die("%s", "fetch needs --ca --cert --key --dir --checksum and as many --key-hex as --name");
	SSL_CTX *ctx = tls_client_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	int dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1)
		die("cannot open --dir %s", o->dir);
	for (int i = 0; i < o->nkeyhex; i++) {
		if (i > 0 && o->go_file != NULL) {
			long long waited = 0;
			while (access(o->go_file, F_OK) != 0 && waited < o->timeout) {
				usleep(10000);
				waited += 10;
			}
		}
		const struct transfer_req req = {.host = o->host, .port = (int)o->port,
		    .key = o->keyhex[i], .event_id = o->event, .seq = (int)o->seq,
		    .size = (uint64_t)o->size, .checksum = o->checksum, .dirfd = dirfd,
		    .name = o->name[i], .mode = 0700, .uid = (uid_t)-1, .gid = (gid_t)-1,
		    .timeout_ms = o->timeout, .max_size = (size_t)1 << 31};
		if (transfer_fetch(ctx, &req, err, sizeof(err)) == -1) {
			printf("error %s: %s\n", o->name[i], err);
			failed = 1;
		} else {
			printf("fetched %s resumed=%d kept=%d\n", o->name[i], transfer_fetch_resumed(),
			    transfer_fetch_kept());
			if (o->no_keep)
				transfer_fetch_close_kept();
		}
		fflush(stdout);
	}
	close(dirfd);
	transfer_fetch_close_kept();
	transfer_fetch_forget_sessions();
	SSL_CTX_free(ctx);
	return failed;
}


static int
raw(struct opts *o)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	char buf[4096];
	long long total = 0, start = clock_mono_ms();
	int closed = 0;

	inet_pton(AF_INET, o->host, &sin.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("%s", "raw: cannot connect");
	if (o->send != NULL && write(fd, o->send, strlen(o->send)) == -1)
		die("%s", "raw: write failed");
	for (;;) {
		long long left = o->wait_ms - (clock_mono_ms() - start);
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			closed = 1;
			break;
		}
		total += n;
	}
	printf("received %lld bytes\n%s after %lld ms\n", total, closed ? "closed by server" : "still open",
	    clock_mono_ms() - start);
	close(fd);
	return 0;
}

/* A TCP connection to o->host:o->port whose receive buffer is 4 KiB, set before the
 * handshake so that the window stays that small: the fd, or -1. */
static int
small_window(const struct opts *o)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
	if (fd == -1 || inet_pton(AF_INET, o->host, &sin.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int
stall(struct opts *o)
{
	char err[1024];
	size_t len = 0;
	if (o->ca == NULL || o->cert == NULL || o->key == NULL || o->nkeyhex != 1)
		die("%s", "stall needs --ca --cert --key --key-hex");
	SSL_CTX *ctx = tls_client_ctx(o->ca, o->cert, o->key, err, sizeof(err));
	if (ctx == NULL)
		die("%s", err);
	int fd = small_window(o);
	if (fd == -1)
		die("%s", "stall: cannot connect");
	SSL *ssl = SSL_new(ctx);
	struct wire_msg *m = wire_msg_new();
	char *buf = NULL;
	if (ssl == NULL || m == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 ||
	    wire_add(m, "Request", "Fetch", err, sizeof(err)) == -1 ||
	    wire_add(m, "Key", o->keyhex[0], err, sizeof(err)) == -1 ||
	    wire_addf(m, err, sizeof(err), "Event-ID", "%lld", o->event) == -1 ||
	    wire_addf(m, err, sizeof(err), "Task-Sequence-ID", "%lld", o->seq) == -1 ||
	    (buf = wire_build(m, &len)) == NULL || SSL_write(ssl, buf, (int)len) != (int)len)
		die("%s", "stall: the handshake or the request failed");
	/* read nothing: the server fills the small window and its own buffers, then waits; its
	 * close cannot reach us behind the data we do not read, so the caller watches the
	 * server's side and says when to stop (--go-file) */
	long long start = clock_mono_ms();
	while (clock_mono_ms() - start < o->wait_ms && (o->go_file == NULL || access(o->go_file, F_OK) != 0))
		usleep(10000);
	printf("stalled for %lld ms\n", clock_mono_ms() - start);
	wire_buf_free(buf, len);
	wire_msg_free(m);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;

	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("PGFLEET_TEST_LOG") != NULL ? atoi(getenv("PGFLEET_TEST_LOG")) : LL_WARNING, NULL);
	if (argc < 2)
		die("%s", "usage: pgfleet-test-transfer serve|fetch|raw|stall|checksum ...");
	if (strcmp(argv[1], "checksum") == 0 && argc == 3) {
		char sum[80], err[512];
		uint64_t size;
		if (transfer_file_checksum(argv[2], &size, sum, sizeof(sum), err, sizeof(err)) == -1)
			die("%s", err);
		printf("%llu %s\n", (unsigned long long)size, sum);
		return 0;
	}
	parse(argc, argv, &o);
	if (strcmp(argv[1], "serve") == 0)
		return serve(&o);
	if (strcmp(argv[1], "fetch") == 0)
		return fetch(&o);
	if (strcmp(argv[1], "raw") == 0)
		return raw(&o);
	if (strcmp(argv[1], "stall") == 0)
		return stall(&o);
	die("unknown command %s", argv[1]);
	return 2;
}
