/*
 * pgfleet-test-push: a small worker side for the agent's integration tests,
 * over real TLS: a libevent loop holding a transfer server (transfer/serve)
 * and one control connection (bufferevent_openssl) to the agent. Sends one
 * Request=SendFile (or Request=Cancel with --cancel), prints every reply as
 * "Key=Value" lines (the body follows, unless --body FILE takes it) with a
 * blank line after each, then "final Status-Code=N". Exit 0 once a final
 * reply (Reply=SendFile, Reply=Cancel or Reply=Error) arrived, 1 otherwise.
 *   --ca --cert --key      the scheduler's certificate
 *   --host --port --name   the agent, and the certificate name it must show
 *   --event --seq --schedule --computer, --script FILE, --run-as, --timeout MS,
 *   --interpreter, --os-required, --boot-env, --port-range LO-HI
 *   forged requests: --key-override HEX, --reuse (spend the key first),
 *   --expire-ms MS (key lifetime, waited out before sending), --filename V,
 *   --execute V, --no-transfer-host, --request NAME (another Request=),
 *   --drop KEY (leave a key out)
 *   --cancel: Request=Cancel for --event/--seq instead
 *   --wait-ms MS: give up after this long (default 120000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/fetch.h"
#include "transfer/keys.h"
#include "transfer/serve.h"

struct opts {
	const char *ca, *cert, *key, *host, *name, *script, *run_as, *interpreter, *os_required, *boot_env;
	const char *key_override, *filename, *execute, *body_file, *request, *drop;
	long long port, event, seq, schedule, computer, timeout, expire_ms, wait_ms;
	int port_lo, port_hi, reuse, cancel, no_transfer_host;
};

static struct opts o;
static struct event_base *base;
static SSL_CTX *cctx;
static struct bufferevent *bev;
static struct wire_parser *parser;
static char keyhex[TRANSFER_KEY_HEX + 1];
static int transfer_port;
static uint64_t fsize;
static char fsum[TRANSFER_CHECKSUM_MAX];
static int got_final;
static int final_code;

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pgfleet-test-push: ");
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
parse(int argc, char **argv)
{
	o.host = "127.0.0.1";
	o.seq = 0;
	o.schedule = 100000001;
	o.computer = 5000001;
	o.port_lo = 20000;
	o.port_hi = 29999;
	o.run_as = "";
	o.interpreter = "/bin/sh";
	o.os_required = "";
	o.boot_env = "";
	o.wait_ms = 120000;
	o.event = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--reuse") == 0) { o.reuse = 1; continue; }
		if (strcmp(a, "--cancel") == 0) { o.cancel = 1; continue; }
		if (strcmp(a, "--no-transfer-host") == 0) { o.no_transfer_host = 1; continue; }
		if (i + 1 >= argc)
			die("option %s needs a value", a);
		const char *v = argv[++i];
		if (strcmp(a, "--ca") == 0) o.ca = v;
		else if (strcmp(a, "--cert") == 0) o.cert = v;
		else if (strcmp(a, "--key") == 0) o.key = v;
		else if (strcmp(a, "--host") == 0) o.host = v;
		else if (strcmp(a, "--name") == 0) o.name = v;
		else if (strcmp(a, "--script") == 0) o.script = v;
		else if (strcmp(a, "--run-as") == 0) o.run_as = v;
		else if (strcmp(a, "--interpreter") == 0) o.interpreter = v;
		else if (strcmp(a, "--os-required") == 0) o.os_required = v;
		else if (strcmp(a, "--boot-env") == 0) o.boot_env = v;
		else if (strcmp(a, "--key-override") == 0) o.key_override = v;
		else if (strcmp(a, "--filename") == 0) o.filename = v;
		else if (strcmp(a, "--execute") == 0) o.execute = v;
		else if (strcmp(a, "--body") == 0) o.body_file = v;
		else if (strcmp(a, "--request") == 0) o.request = v;
		else if (strcmp(a, "--drop") == 0) o.drop = v;
		else if (strcmp(a, "--port") == 0) o.port = num(v);
		else if (strcmp(a, "--event") == 0) o.event = num(v);
		else if (strcmp(a, "--seq") == 0) o.seq = num(v);
		else if (strcmp(a, "--schedule") == 0) o.schedule = num(v);
		else if (strcmp(a, "--computer") == 0) o.computer = num(v);
		else if (strcmp(a, "--timeout") == 0) o.timeout = num(v);
		else if (strcmp(a, "--expire-ms") == 0) o.expire_ms = num(v);
		else if (strcmp(a, "--wait-ms") == 0) o.wait_ms = num(v);
		else if (strcmp(a, "--port-range") == 0) {
			if (sscanf(v, "%d-%d", &o.port_lo, &o.port_hi) != 2)
				die("bad port range \"%s\"", v);
		} else die("unknown option %s", a);
	}
	if (o.ca == NULL || o.cert == NULL || o.key == NULL || o.port <= 0 || o.name == NULL || o.event < 0)
		die("%s", "needs --ca --cert --key --port --name --event");
	if (!o.cancel && o.script == NULL)
		die("%s", "needs --script (or --cancel)");
}

#define ADD(k, ...) do { \
	if ((o.drop == NULL || strcmp(o.drop, k) != 0) && \
	    wire_addf(m, err, sizeof(err), k, __VA_ARGS__) == -1) \
		die("request cannot be built: %s", err); \
} while (0)

static struct wire_msg *
build_request(void)
{
	char err[256], exec_buf[512];
	struct wire_msg *m = wire_msg_new();
	if (o.cancel) {
		ADD("Request", "Cancel");
		ADD("Event-ID", "%lld", o.event);
		ADD("Task-Sequence-ID", "%lld", o.seq);
		return m;
	}
	const char *filename = o.filename != NULL ? o.filename : "temp:rxscript.sh";
	const char *execute = o.execute;
	if (execute == NULL) {
		if (strncmp(filename, "temp:", 5) == 0)
			snprintf(exec_buf, sizeof(exec_buf), "temp:\"%s\"", filename + 5);
		else
			snprintf(exec_buf, sizeof(exec_buf), "%s", filename);
		execute = exec_buf;
	}
	long long now = (long long)time(NULL);
	ADD("Request", "%s", o.request != NULL ? o.request : "SendFile");
	ADD("Filename", "%s", filename);
	ADD("Date", "%lld", now);
	ADD("Attributes", "32");
	ADD("Size", "%llu", (unsigned long long)fsize);
	ADD("Port", "%d", transfer_port);
	if (!o.no_transfer_host)
		ADD("Transfer-Host", "127.0.0.1");
	ADD("Key", "%s", o.key_override != NULL ? o.key_override : keyhex);
	ADD("Checksum", "%s", fsum);
	ADD("Execute", "%s", execute);
	ADD("Task-Type", "RunScript");
	ADD("Interpreter", "%s", o.interpreter);
	ADD("OS-Required", "%s", o.os_required);
	ADD("Boot-Env", "%s", o.boot_env);
	ADD("Allow-Defer", "5");
	ADD("Options", "%s", "");
	ADD("Window", "0");
	ADD("Run-As", "%s", o.run_as);
	ADD("Timeout", "%lld", o.timeout);
	ADD("Schedule-ID", "%lld", o.schedule);
	ADD("Event-ID", "%lld", o.event);
	ADD("Task-Sequence-ID", "%lld", o.seq);
	ADD("Attempt", "0");
	ADD("CurrentFileCount", "1");
	ADD("TotalFileCount", "1");
	ADD("TotalFileCopySize", "%llu", (unsigned long long)fsize);
	ADD("ID", "%lld", o.computer);
	ADD("FileStamp", "%lld", now);
	return m;
}

static void
print_msg(const struct wire_msg *m)
{
	for (int i = 0; i < m->nkeys; i++)
		printf("%s=%s\n", m->keys[i], m->values[i]);
	if (m->body != NULL && m->body_len > 0) {
		if (o.body_file != NULL) {
			FILE *f = fopen(o.body_file, "w");
			if (f == NULL)
				die("cannot write %s", o.body_file);
			fwrite(m->body, 1, m->body_len, f);
			fclose(f);
		} else {
			fwrite(m->body, 1, m->body_len, stdout);
			if (m->body[m->body_len - 1] != '\n')
				printf("\n");
		}
	}
	printf("\n");
	fflush(stdout);
}

static void
on_read(struct bufferevent *b, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(b);
	char buf[16384];
	int n;
	while (!got_final && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n && !got_final) {
			size_t used = 0;
			enum wire_status st = wire_feed(parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				printf("error: bad message from agent: %s\n", wire_parser_error(parser));
				event_base_loopbreak(base);
				return;
			}
			struct wire_msg *m = wire_parser_take(parser);
			print_msg(m);
			const char *reply = wire_get(m, "Reply");
			if (reply != NULL && (strcmp(reply, "SendFile") == 0 || strcmp(reply, "Cancel") == 0 ||
			    strcmp(reply, "Error") == 0)) {
				const char *code = wire_get(m, "Status-Code");
				got_final = 1;
				final_code = code != NULL ? atoi(code) : 0;
				printf("final Status-Code=%s\n", code != NULL ? code : "");
				fflush(stdout);
				event_base_loopbreak(base);
			}
			wire_msg_free(m);
		}
	}
}

static void
on_event(struct bufferevent *b, short what, void *arg)
{
	(void)arg;
	if (what & BEV_EVENT_CONNECTED) {
		struct wire_msg *m = build_request();
		size_t len;
		char *buf = wire_build(m, &len);
		if (buf == NULL)
			die("%s", "request over the header limit");
		bufferevent_write(b, buf, len);
		wire_buf_free(buf, len);
		wire_msg_free(m);
		return;
	}
	char why[512] = "";
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(b)) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	printf("error: control connection %s%s%s\n", (what & BEV_EVENT_EOF) ? "closed by agent" :
	    (what & BEV_EVENT_TIMEOUT) ? "timed out" : "failed", why[0] ? ": " : "", why);
	fflush(stdout);
	event_base_loopbreak(base);
}

static void
connect_control(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%lld", o.port);
	if (getaddrinfo(o.host, port, &hints, &ai) != 0)
		die("cannot resolve %s", o.host);
	SSL *ssl = SSL_new(cctx);
	SSL_set1_host(ssl, o.name);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, ai->ai_addr, (int)ai->ai_addrlen) == -1)
		die("%s", "connect failed");
	freeaddrinfo(ai);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	connect_control();
}

static void
on_give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	printf("error: no final reply within %lld ms\n", o.wait_ms);
	fflush(stdout);
	event_base_loopbreak(base);
}

static int reuse_pending;

static void
on_transfer(const struct transfer_result *r, void *arg)
{
	(void)arg;
	fprintf(stderr, "transfer: ok=%d authorized=%d bytes=%llu peer=%s error=%s\n", r->ok, r->authorized,
	    (unsigned long long)r->bytes, r->peer[0] ? r->peer : "-", r->error != NULL ? r->error : "-");
	if (reuse_pending) {
		reuse_pending = 0;
		connect_control(); /* the key is spent now: send it anyway */
	}
}

/* --reuse: spend the key from a child process (the loop serves it), then push with it. */
static void
spend_key(void)
{
	pid_t pid = fork();
	if (pid == -1)
		die("%s", "fork");
	if (pid > 0)
		return;
	char err[512], dir[] = "/tmp/pgfleet-push-XXXXXX";
	if (mkdtemp(dir) == NULL)
		_exit(1);
	SSL_CTX *c = tls_client_ctx(o.ca, o.cert, o.key, err, sizeof(err));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int rc = c == NULL ? -1 : transfer_fetch(c, "127.0.0.1", transfer_port, keyhex, o.event, (int)o.seq, fsize,
	    fsum, dfd, "spent", 0700, (uid_t)-1, (gid_t)-1, 10000, 1 << 30, err, sizeof(err));
	if (rc == 0)
		unlinkat(dfd, "spent", 0);
	close(dfd);
	rmdir(dir);
	_exit(rc == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{
	char err[1024];

	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	log_init(getenv("PGFLEET_TEST_LOG") != NULL ? atoi(getenv("PGFLEET_TEST_LOG")) : LL_WARNING, NULL);
	parse(argc, argv);
	base = event_base_new();
	cctx = tls_client_ctx(o.ca, o.cert, o.key, err, sizeof(err));
	if (cctx == NULL)
		die("%s", err);
	parser = wire_parser_new(64 * 1024 * 1024);

	SSL_CTX *sctx = NULL;
	struct transfer_keys *keys = NULL;
	struct transfer_serve *srv = NULL;
	struct event *timer = NULL, *give_up = evtimer_new(base, on_give_up, NULL);
	struct timeval wait = {o.wait_ms / 1000, (o.wait_ms % 1000) * 1000};
	evtimer_add(give_up, &wait);
	if (o.cancel) {
		connect_control();
	} else {
		if ((sctx = tls_server_ctx(o.ca, o.cert, o.key, err, sizeof(err))) == NULL)
			die("%s", err);
		if (transfer_file_checksum(o.script, &fsize, fsum, sizeof(fsum), err, sizeof(err)) == -1)
			die("%s", err);
		keys = transfer_keys_new(o.expire_ms);
		srv = transfer_serve_new(base, sctx, o.port_lo, o.port_hi, "127.0.0.1", keys, err, sizeof(err));
		if (srv == NULL)
			die("%s", err);
		transfer_serve_set_callback(srv, on_transfer, NULL);
		transfer_port = transfer_serve_port(srv);
		if (transfer_keys_add(keys, o.event, (int)o.seq, o.script, fsize, fsum, keyhex, err, sizeof(err)) == -1)
			die("%s", err);
		if (o.reuse) {
			reuse_pending = 1;
			spend_key();
		} else if (o.expire_ms > 0) {
			timer = evtimer_new(base, on_timer, NULL);
			struct timeval tv = {(o.expire_ms + 200) / 1000, ((o.expire_ms + 200) % 1000) * 1000};
			evtimer_add(timer, &tv);
		} else {
			connect_control();
		}
	}
	event_base_dispatch(base);
	if (!got_final)
		printf("final none\n");
	if (bev != NULL)
		bufferevent_free(bev);
	if (timer != NULL)
		event_free(timer);
	event_free(give_up);
	transfer_serve_free(srv);
	transfer_keys_free(keys);
	wire_parser_free(parser);
	event_base_free(base);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	(void)final_code;
	return got_final ? 0 : 1;
}
