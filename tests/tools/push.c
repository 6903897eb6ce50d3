/*
 * pgfleet-test-push: a small scheduler for the agent's integration tests, over
 * real TLS, in two halves.
 *
 * pgfleet-test-push serve --ca C --cert C --key K --sock PATH [--listen H:P]
 *     [--port-file F] [--hello-id N] [--refuse TEXT] [--scheduler NAME]
 *   accepts agents (certificate of role agent) on --listen (default
 *   127.0.0.1:0, the port written to --port-file), answers their Hello
 *   (Reply=Hello with ID --hello-id, default 5000011, or Result=Failed with
 *   --refuse), keeps the latest connection, and takes push requests on the
 *   unix socket --sock. Prints one line per agent connection ("connected NAME
 *   from ADDR", "hello Computer=…", "closed …") and every reply no request
 *   waits for ("stray Reply=…"). Until SIGTERM.
 *
 * pgfleet-test-push --sock PATH [push options]
 *   asks the server to send one Request=SendFile (or Request=Cancel with
 *   --cancel) down the agent's connection (waiting for one to connect), and
 *   prints every reply to it as "Key=Value" lines (the body follows, unless
 *   --body FILE takes it) with a blank line after each, then
 *   "final Status-Code=N". Exit 0 once a final reply (Reply=SendFile,
 *   Reply=Cancel or Reply=Error) arrived, 1 otherwise ("final none").
 *   --event --seq --schedule --computer, --script FILE, --run-as, --timeout MS,
 *   --interpreter, --os-required, --boot-env, --port-range LO-HI
 *   forged requests: --key-override HEX, --reuse (spend the key first),
 *   --expire-ms MS (key lifetime, waited out before sending), --filename V,
 *   --execute V, --no-transfer-host, --request NAME (another Request=),
 *   --drop KEY (leave a key out)
 *   --wait-ms MS: give up after this long (default 120000)
 * Each request has a transfer server and key store of its own (port from
 * --port-range); its fetches are logged to the server's stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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
#include "transfer/fetch.h"
#include "transfer/keys.h"
#include "transfer/serve.h"

#define MAX_ARGS 64

struct opts {
	const char *script, *run_as, *interpreter, *os_required, *boot_env;
	const char *key_override, *filename, *execute, *request, *drop;
	long long event, seq, schedule, computer, timeout, expire_ms;
	int port_lo, port_hi, reuse, cancel, no_transfer_host;
};

/* ---- the client: argv to the server, replies back to stdout ---- */

static int
client_main(int argc, char **argv)
{
	const char *sock = getenv("PGFLEET_TEST_PUSH_SOCK"), *body_file = NULL;
	long long wait_ms = 120000;
	char out[65536];
	size_t len = 0;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--sock") == 0) {
			sock = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--body") == 0) {
			body_file = argv[++i];
		} else {
			if (i + 1 < argc && strcmp(argv[i], "--wait-ms") == 0)
				wait_ms = atoll(argv[i + 1]);
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s\n", argv[i]);
		}
	}
	len += (size_t)snprintf(out + len, sizeof(out) - len, "\n");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (sock == NULL || strlen(sock) >= sizeof(sun.sun_path) || len >= sizeof(out)) {
		fprintf(stderr, "pgfleet-test-push: needs --sock PATH (or serve)\n");
		return 2;
	}
	strcpy(sun.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, out, len) != (ssize_t)len) {
		printf("error: push server %s: %s\nfinal none\n", sock, strerror(errno));
		return 1;
	}
	struct wire_parser *p = wire_parser_new(64 * 1024 * 1024);
	int final = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!final) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long left = wait_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			printf("error: no final reply within %lld ms\n", wait_ms);
			break;
		}
		char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		size_t off = 0;
		while (off < (size_t)n && !final) {
			size_t used = 0;
			enum wire_status st = wire_feed(p, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				printf("error: %s\n", wire_parser_error(p));
				final = -1;
				break;
			}
			struct wire_msg *m = wire_parser_take(p);
			const char *local = wire_get(m, "Local-Error"), *tr = wire_get(m, "Local-Transfer");
			if (tr != NULL) {
				fprintf(stderr, "transfer: %s\n", tr);
				wire_msg_free(m);
				continue;
			}
			if (local != NULL) {
				printf("error: %s\n", local);
				final = -1;
				wire_msg_free(m);
				break;
			}
			for (int i = 0; i < m->nkeys; i++)
				printf("%s=%s\n", m->keys[i], m->values[i]);
			if (m->body != NULL && m->body_len > 0) {
				FILE *f = body_file != NULL ? fopen(body_file, "w") : stdout;
				if (f != NULL) {
					fwrite(m->body, 1, m->body_len, f);
					if (f != stdout)
						fclose(f);
					else if (m->body[m->body_len - 1] != '\n')
						printf("\n");
				}
			}
			printf("\n");
			const char *reply = wire_get(m, "Reply"), *code = wire_get(m, "Status-Code");
			if (reply != NULL && (strcmp(reply, "SendFile") == 0 || strcmp(reply, "Cancel") == 0 ||
			    strcmp(reply, "Error") == 0)) {
				printf("final Status-Code=%s\n", code != NULL ? code : "");
				final = 1;
			}
			fflush(stdout); /* a test may wait for a line while we wait for the final */
			wire_msg_free(m);
		}
	}
	if (final != 1)
		printf("final none\n");
	fflush(stdout);
	wire_parser_free(p);
	close(fd);
	return final == 1 ? 0 : 1;
}

/* ---- the server ---- */

struct server;

struct agent_conn {
	struct server *s;
	struct bufferevent *bev;
	struct wire_parser *parser;
	int ready;
	char name[256];
	char addr[64];
};

struct req {
	struct server *s;
	struct req *next;
	struct opts o;
	char lines[65536];
	size_t nlines;
	struct bufferevent *client;
	struct transfer_keys *keys;
	struct transfer_serve *srv;
	struct event *timer;
	char keyhex[TRANSFER_KEY_HEX + 1];
	char fsum[TRANSFER_CHECKSUM_MAX];
	uint64_t fsize;
	int parsed, can_send, sent, done;
};

struct server {
	struct event_base *base;
	SSL_CTX *sctx;             /* agents connecting: role agent required */
	SSL_CTX *tctx;             /* transfer ports: any client of the CA, as a test may spend a key */
	const char *ca, *cert, *key, *refuse, *sched_name;
	long long hello_id;
	struct agent_conn *agent;
	struct req *reqs;
};

static long long
num(const char *s, char *err, size_t errlen, int *bad)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s) {
		snprintf(err, errlen, "bad number \"%s\"", s);
		*bad = 1;
	}
	return v;
}

/* A push request's options, from the client's argv. 0, or -1 with err. */
static int
parse(int argc, char **argv, struct opts *o, char *err, size_t errlen)
{
	int bad = 0;
	memset(o, 0, sizeof(*o));
	o->schedule = 100000001;
	o->computer = 5000001;
	o->port_lo = 20000;
	o->port_hi = 29999;
	o->run_as = "";
	o->interpreter = "/bin/sh";
	o->os_required = "";
	o->boot_env = "";
	o->event = -1;
	for (int i = 0; i < argc && !bad; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--reuse") == 0) { o->reuse = 1; continue; }
		if (strcmp(a, "--cancel") == 0) { o->cancel = 1; continue; }
		if (strcmp(a, "--no-transfer-host") == 0) { o->no_transfer_host = 1; continue; }
		if (i + 1 >= argc) {
			snprintf(err, errlen, "option %s needs a value", a);
			return -1;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--script") == 0) o->script = v;
		else if (strcmp(a, "--run-as") == 0) o->run_as = v;
		else if (strcmp(a, "--interpreter") == 0) o->interpreter = v;
		else if (strcmp(a, "--os-required") == 0) o->os_required = v;
		else if (strcmp(a, "--boot-env") == 0) o->boot_env = v;
		else if (strcmp(a, "--key-override") == 0) o->key_override = v;
		else if (strcmp(a, "--filename") == 0) o->filename = v;
		else if (strcmp(a, "--execute") == 0) o->execute = v;
		else if (strcmp(a, "--request") == 0) o->request = v;
		else if (strcmp(a, "--drop") == 0) o->drop = v;
		else if (strcmp(a, "--event") == 0) o->event = num(v, err, errlen, &bad);
		else if (strcmp(a, "--seq") == 0) o->seq = num(v, err, errlen, &bad);
		else if (strcmp(a, "--schedule") == 0) o->schedule = num(v, err, errlen, &bad);
		else if (strcmp(a, "--computer") == 0) o->computer = num(v, err, errlen, &bad);
		else if (strcmp(a, "--timeout") == 0) o->timeout = num(v, err, errlen, &bad);
		else if (strcmp(a, "--expire-ms") == 0) o->expire_ms = num(v, err, errlen, &bad);
		else if (strcmp(a, "--wait-ms") == 0) (void)num(v, err, errlen, &bad);
		else if (strcmp(a, "--port-range") == 0) {
			if (sscanf(v, "%d-%d", &o->port_lo, &o->port_hi) != 2) {
				snprintf(err, errlen, "bad port range \"%s\"", v);
				return -1;
			}
		} else {
			snprintf(err, errlen, "unknown option %s", a);
			return -1;
		}
	}
	if (bad)
		return -1;
	if (o->event < 0 || (!o->cancel && o->script == NULL)) {
		snprintf(err, errlen, "needs --event and --script (or --cancel)");
		return -1;
	}
	return 0;
}

#define ADD(k, ...) do { \
	if ((r->o.drop == NULL || strcmp(r->o.drop, k) != 0) && \
	    wire_addf(m, err, sizeof(err), k, __VA_ARGS__) == -1) { \
		wire_msg_free(m); \
		return NULL; \
	} \
} while (0)

static struct wire_msg *
build_sendfile(struct req *r)
{
	char err[256], exec_buf[512];
	struct wire_msg *m = wire_msg_new();
	const char *filename = r->o.filename != NULL ? r->o.filename : "temp:rxscript.sh";
	const char *execute = r->o.execute;
	if (execute == NULL) {
		if (strncmp(filename, "temp:", 5) == 0)
			snprintf(exec_buf, sizeof(exec_buf), "temp:\"%s\"", filename + 5);
		else
			snprintf(exec_buf, sizeof(exec_buf), "%s", filename);
		execute = exec_buf;
	}
	long long now = (long long)time(NULL);
	ADD("Request", "%s", r->o.request != NULL ? r->o.request : "SendFile");
	ADD("Filename", "%s", filename);
	ADD("Date", "%lld", now);
	ADD("Attributes", "32");
	ADD("Size", "%llu", (unsigned long long)r->fsize);
	ADD("Port", "%d", transfer_serve_port(r->srv));
	if (!r->o.no_transfer_host)
		ADD("Transfer-Host", "127.0.0.1");
	ADD("Key", "%s", r->o.key_override != NULL ? r->o.key_override : r->keyhex);
	ADD("Checksum", "%s", r->fsum);
	ADD("Execute", "%s", execute);
	ADD("Task-Type", "RunScript");
	ADD("Interpreter", "%s", r->o.interpreter);
	ADD("OS-Required", "%s", r->o.os_required);
	ADD("Boot-Env", "%s", r->o.boot_env);
	ADD("Allow-Defer", "5");
	ADD("Options", "%s", "");
	ADD("Window", "0");
	ADD("Run-As", "%s", r->o.run_as);
	ADD("Timeout", "%lld", r->o.timeout);
	ADD("Schedule-ID", "%lld", r->o.schedule);
	ADD("Event-ID", "%lld", r->o.event);
	ADD("Task-Sequence-ID", "%lld", r->o.seq);
	ADD("Attempt", "0");
	ADD("CurrentFileCount", "1");
	ADD("TotalFileCount", "1");
	ADD("TotalFileCopySize", "%llu", (unsigned long long)r->fsize);
	ADD("ID", "%lld", r->o.computer);
	ADD("FileStamp", "%lld", now);
	return m;
}

static struct wire_msg *
build_request(struct req *r)
{
	char err[256];
	if (!r->o.cancel)
		return build_sendfile(r);
	struct wire_msg *m = wire_msg_new();
	ADD("Request", "Cancel");
	ADD("Event-ID", "%lld", r->o.event);
	ADD("Task-Sequence-ID", "%lld", r->o.seq);
	return m;
}

static int
send_msg(struct bufferevent *bev, const struct wire_msg *m)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL)
		return -1;
	int rc = bufferevent_write(bev, buf, len);
	wire_buf_free(buf, len);
	return rc;
}

static void
req_free(struct req *r)
{
	struct server *s = r->s;
	for (struct req **pp = &s->reqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (r->client != NULL)
		bufferevent_free(r->client);
	if (r->timer != NULL)
		event_free(r->timer);
	transfer_serve_free(r->srv);
	transfer_keys_free(r->keys);
	free(r);
}

static void
client_flushed(struct bufferevent *bev, void *arg)
{
	struct req *r = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		req_free(r);
}

/* To the client, and when it is the last: the request is over once that is written. */
static void
req_reply(struct req *r, const struct wire_msg *m, int final)
{
	/* the agent's task process may keep its transfer connection for a next fetch: this
	 * push is over, so it is let go (and said done) before the final reply */
	if (final && r->srv != NULL)
		transfer_serve_release_kept(r->srv);
	if (send_msg(r->client, m) == -1)
		final = 1;
	if (final) {
		r->done = 1;
		bufferevent_setcb(r->client, NULL, client_flushed, NULL, r);
		client_flushed(r->client, r);
	}
}

static void
req_fail(struct req *r, const char *why)
{
	char err[128];
	struct wire_msg *m = wire_msg_new();
	if (wire_add(m, "Local-Error", why, err, sizeof(err)) == 0)
		req_reply(r, m, 1);
	else
		req_free(r);
	wire_msg_free(m);
}

static void
req_try_send(struct req *r)
{
	struct agent_conn *a = r->s->agent;
	if (r->sent || !r->can_send || a == NULL || !a->ready)
		return;
	struct wire_msg *m = build_request(r);
	if (m == NULL || send_msg(a->bev, m) == -1) {
		wire_msg_free(m);
		req_fail(r, "request cannot be built");
		return;
	}
	wire_msg_free(m);
	r->sent = 1;
}

static void
send_all(struct server *s)
{
	for (struct req *r = s->reqs, *next; r != NULL; r = next) {
		next = r->next;
		req_try_send(r);
	}
}

static void
req_timer(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;
	(void)fd;
	(void)what;
	r->can_send = 1;
	req_try_send(r);
}

static void
on_transfer(const struct transfer_result *t, void *arg)
{
	struct req *r = arg;
	char line[1024], err[128];
	snprintf(line, sizeof(line), "ok=%d authorized=%d bytes=%llu peer=%s error=%s", t->ok,
	    t->authorized, (unsigned long long)t->bytes, t->peer[0] ? t->peer : "-",
	    t->error != NULL ? t->error : "-");
	for (char *c = line; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	fprintf(stderr, "transfer: %s\n", line);
	/* the client says it on its stderr, as a push that served its own file did */
	struct wire_msg *m = wire_msg_new();
	if (!r->done && wire_add(m, "Local-Transfer", line, err, sizeof(err)) == 0)
		send_msg(r->client, m);
	wire_msg_free(m);
	if (r->o.reuse && !r->can_send) {
		r->can_send = 1; /* the key is spent now: send it anyway */
		req_try_send(r);
	}
}

/* --reuse: spend the key from a child process (the loop serves it), then push with it. */
static void
spend_key(struct req *r)
{
	pid_t pid = fork();
	if (pid != 0)
		return;
	char err[512], dir[] = "/tmp/pgfleet-push-XXXXXX";
	if (mkdtemp(dir) == NULL)
		_exit(1);
	SSL_CTX *c = tls_client_ctx(r->s->ca, r->s->cert, r->s->key, err, sizeof(err));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	const struct transfer_req req = {.host = "127.0.0.1", .port = transfer_serve_port(r->srv),
	    .key = r->keyhex, .event_id = r->o.event, .seq = (int)r->o.seq, .size = r->fsize,
	    .checksum = r->fsum, .dirfd = dfd, .name = "spent", .mode = 0700, .uid = (uid_t)-1,
	    .gid = (gid_t)-1, .timeout_ms = 10000, .max_size = 1 << 30};
	int rc = c == NULL ? -1 : transfer_fetch(c, &req, err, sizeof(err));
	if (rc == 0)
		unlinkat(dfd, "spent", 0);
	close(dfd);
	rmdir(dir);
	_exit(rc == 0 ? 0 : 1);
}

/* The file, its key and its own transfer server; then when it may be sent. */
static int
req_prepare(struct req *r, char *err, size_t errlen)
{
	if (r->o.cancel) {
		r->can_send = 1;
		return 0;
	}
	if (transfer_file_checksum(r->o.script, &r->fsize, r->fsum, sizeof(r->fsum), err, errlen) == -1)
		return -1;
	r->keys = transfer_keys_new(r->o.expire_ms);
	r->srv = transfer_serve_new(r->s->base, r->s->tctx, r->o.port_lo, r->o.port_hi, "127.0.0.1",
	    r->keys, err, errlen);
	if (r->keys == NULL || r->srv == NULL)
		return -1;
	transfer_serve_set_callback(r->srv, on_transfer, r);
	if (transfer_keys_add(r->keys, r->o.event, (int)r->o.seq, r->o.script, r->fsize, r->fsum,
		r->keyhex, err, errlen) == -1)
		return -1;
	if (r->o.reuse) {
		spend_key(r);
	} else if (r->o.expire_ms > 0) {
		r->timer = evtimer_new(r->s->base, req_timer, r);
		struct timeval tv = {(r->o.expire_ms + 200) / 1000, ((r->o.expire_ms + 200) % 1000) * 1000};
		evtimer_add(r->timer, &tv);
	} else {
		r->can_send = 1;
	}
	return 0;
}

/* The client's argv, one line each, ended by an empty line. */
static void
client_read(struct bufferevent *bev, void *arg)
{
	struct req *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (r->parsed) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	size_t n = evbuffer_remove(in, r->lines + r->nlines, sizeof(r->lines) - 1 - r->nlines);
	r->nlines += n;
	r->lines[r->nlines] = '\0';
	char *end = strstr(r->lines, "\n\n");
	if (end == NULL && !(r->nlines == 1 && r->lines[0] == '\n'))
		return;
	char *argv[MAX_ARGS], err[512];
	int argc = 0;
	for (char *p = r->lines; p != NULL && *p != '\0' && *p != '\n' && argc < MAX_ARGS;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		argv[argc++] = p;
		p = nl + 1;
	}
	r->parsed = 1;
	if (parse(argc, argv, &r->o, err, sizeof(err)) == -1 || req_prepare(r, err, sizeof(err)) == -1) {
		req_fail(r, err);
		return;
	}
	req_try_send(r);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	req_free(arg); /* the client gave up */
}

static void
on_client(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct server *s = arg;
	(void)l;
	(void)sa;
	(void)salen;
	struct req *r = calloc(1, sizeof(*r));
	r->s = s;
	r->client = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(r->client, client_read, NULL, client_event, r);
	bufferevent_enable(r->client, EV_READ | EV_WRITE);
	r->next = s->reqs;
	s->reqs = r;
}

static void
agent_free(struct agent_conn *a)
{
	struct server *s = a->s;
	if (s->agent == a) {
		s->agent = NULL;
		/* what was sent down it gets no answer now: say so, as a closed connection did */
		for (struct req *r = s->reqs, *next; r != NULL; r = next) {
			next = r->next;
			if (r->sent && !r->done)
				req_fail(r, "control connection closed by agent");
		}
	}
	bufferevent_free(a->bev);
	wire_parser_free(a->parser);
	free(a);
}

/*
 * The request a reply answers: a Cancel's by its ids, anything else by the push
 * of them. Two pushes of one task at once (a test of the journal): a reply
 * with Replayed=1 answers the newer one, the others the older one.
 */
static struct req *
match(struct server *s, const struct wire_msg *m)
{
	const char *reply = wire_get(m, "Reply"), *ev = wire_get(m, "Event-ID");
	const char *seq = wire_get(m, "Task-Sequence-ID"), *rp = wire_get(m, "Replayed");
	int cancel = reply != NULL && strcmp(reply, "Cancel") == 0;
	int replayed = rp != NULL && strcmp(rp, "1") == 0;
	struct req *newest_sent = NULL, *newest = NULL, *oldest = NULL;
	for (struct req *r = s->reqs; r != NULL; r = r->next) { /* newest first */
		if (!r->sent || r->done)
			continue;
		if (newest_sent == NULL)
			newest_sent = r;
		if (ev == NULL || seq == NULL || r->o.cancel != cancel || atoll(ev) != r->o.event ||
		    atoll(seq) != r->o.seq)
			continue;
		if (newest == NULL)
			newest = r;
		oldest = r;
	}
	if (newest != NULL)
		return replayed ? newest : oldest;
	/* a Reply=Error without ids answers the newest request sent */
	return reply != NULL && strcmp(reply, "Error") == 0 && (ev == NULL || seq == NULL) ?
	    newest_sent : NULL;
}

static void
agent_hello(struct agent_conn *a, const struct wire_msg *m)
{
	struct server *s = a->s;
	char id[24], err[128];
	printf("hello Computer=%s Protocol=%s Agent-Version=%s\n", wire_get(m, "Computer") ?: "-",
	    wire_get(m, "Protocol") ?: "-", wire_get(m, "Agent-Version") ?: "-");
	fflush(stdout);
	struct wire_msg *r = wire_msg_new();
	snprintf(id, sizeof(id), "%lld", s->hello_id);
	int rc = wire_add(r, "Reply", "Hello", err, sizeof(err));
	if (s->refuse != NULL) {
		rc |= wire_add(r, "Result", "Failed", err, sizeof(err));
		rc |= wire_add(r, "Error", s->refuse, err, sizeof(err));
	} else {
		rc |= wire_add(r, "Result", "Success", err, sizeof(err));
		rc |= wire_add(r, "ID", id, err, sizeof(err));
		rc |= wire_add(r, "Scheduler", s->sched_name, err, sizeof(err));
		rc |= wire_add(r, "Protocol", "1", err, sizeof(err));
	}
	if (rc == 0)
		send_msg(a->bev, r);
	wire_msg_free(r);
	if (s->refuse != NULL)
		return;
	/* the newest connection is the agent's */
	if (s->agent != NULL && s->agent != a)
		agent_free(s->agent);
	s->agent = a;
	a->ready = 1;
	send_all(s);
}

static void
agent_message(struct agent_conn *a, const struct wire_msg *m)
{
	const char *req = wire_get(m, "Request"), *reply = wire_get(m, "Reply");
	if (!a->ready) {
		agent_hello(a, m);
		return;
	}
	if (req != NULL && strcmp(req, "Keepalive") == 0) {
		char err[64];
		struct wire_msg *k = wire_msg_new();
		if (wire_add(k, "Reply", "Keepalive", err, sizeof(err)) == 0)
			send_msg(a->bev, k);
		wire_msg_free(k);
		return;
	}
	struct req *r = match(a->s, m);
	if (r == NULL) {
		printf("stray Reply=%s Event-ID=%s Task-Sequence-ID=%s Status-Code=%s Replayed=%s\n",
		    reply ?: "-", wire_get(m, "Event-ID") ?: "-", wire_get(m, "Task-Sequence-ID") ?: "-",
		    wire_get(m, "Status-Code") ?: "-", wire_get(m, "Replayed") ?: "-");
		fflush(stdout);
		return;
	}
	int final = reply != NULL && (strcmp(reply, "SendFile") == 0 || strcmp(reply, "Cancel") == 0 ||
	    strcmp(reply, "Error") == 0);
	req_reply(r, m, final);
}

static void
agent_read(struct bufferevent *bev, void *arg)
{
	struct agent_conn *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n) {
			size_t used = 0;
			enum wire_status st = wire_feed(a->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE)
				break;
			if (st == WIRE_ERROR) {
				printf("closed %s: bad message: %s\n", a->name, wire_parser_error(a->parser));
				fflush(stdout);
				agent_free(a);
				return;
			}
			struct wire_msg *m = wire_parser_take(a->parser);
			agent_message(a, m);
			wire_msg_free(m);
		}
	}
}

static void
agent_event(struct bufferevent *bev, short what, void *arg)
{
	struct agent_conn *a = arg;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (tls_peer_name(ssl, a->name, sizeof(a->name)) == -1)
			snprintf(a->name, sizeof(a->name), "?");
		printf("connected %s from %s\n", a->name, a->addr);
		fflush(stdout);
		return;
	}
	unsigned long codes[8];
	int n = 0;
	unsigned long e;
	char why[400];
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (n < 8)
			codes[n++] = e;
	tls_describe(bufferevent_openssl_get_ssl(bev), codes, n, why, sizeof(why));
	printf("closed %s from %s: %s\n", a->name[0] ? a->name : "?", a->addr,
	    why[0] != '\0' ? why : (what & BEV_EVENT_EOF) ? "closed by agent" : "error");
	fflush(stdout);
	agent_free(a);
}

static void
on_agent(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct server *s = arg;
	(void)l;
	struct agent_conn *a = calloc(1, sizeof(*a));
	a->s = s;
	if (getnameinfo(sa, (socklen_t)salen, a->addr, sizeof(a->addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(a->addr, sizeof(a->addr), "?");
	a->parser = wire_parser_new(64 * 1024 * 1024);
	a->bev = bufferevent_openssl_socket_new(s->base, fd, SSL_new(s->sctx), BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(a->bev, 1);
	bufferevent_setcb(a->bev, agent_read, NULL, agent_event, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
}

static void
on_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pgfleet-test-push serve: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static struct evconnlistener *
listen_tcp(struct server *s, const char *where, const char *port_file)
{
	char host[128], port[16];
	const char *colon = strrchr(where, ':');
	if (colon == NULL || colon == where || (size_t)(colon - where) >= sizeof(host))
		die("\"%s\" is not host:port", where);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - where), where);
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("cannot resolve %s", host);
	struct evconnlistener *lis = evconnlistener_new_bind(s->base, on_agent, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (lis == NULL)
		die("cannot listen on %s", where);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &len);
	FILE *f = port_file != NULL ? fopen(port_file, "w") : NULL;
	if (f != NULL) {
		fprintf(f, "%d\n", ntohs(sin.sin_port));
		fclose(f);
	}
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return lis;
}

static int
serve_main(int argc, char **argv)
{
	struct server s = {.hello_id = 5000011, .sched_name = "sched-a"};
	const char *where = "127.0.0.1:0", *port_file = NULL, *sock = NULL;
	char err[1024];
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "--ca") == 0) s.ca = v;
		else if (strcmp(a, "--cert") == 0) s.cert = v;
		else if (strcmp(a, "--key") == 0) s.key = v;
		else if (strcmp(a, "--listen") == 0) where = v;
		else if (strcmp(a, "--port-file") == 0) port_file = v;
		else if (strcmp(a, "--sock") == 0) sock = v;
		else if (strcmp(a, "--hello-id") == 0) s.hello_id = atoll(v);
		else if (strcmp(a, "--refuse") == 0) s.refuse = v;
		else if (strcmp(a, "--scheduler") == 0) s.sched_name = v;
		else die("unknown option %s", a);
	}
	if (s.ca == NULL || s.cert == NULL || s.key == NULL || sock == NULL)
		die("%s", "needs --ca --cert --key --sock");
	s.base = event_base_new();
	if ((s.sctx = tls_server_ctx(s.ca, s.cert, s.key, err, sizeof(err))) == NULL)
		die("%s", err);
	if (tls_ctx_require_peer_role(s.sctx, TLS_ROLE_AGENT, err, sizeof(err)) == -1)
		die("%s", err);
	if ((s.tctx = tls_server_ctx(s.ca, s.cert, s.key, err, sizeof(err))) == NULL)
		die("%s", err);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	unlink(sock);
	struct evconnlistener *ul = evconnlistener_new_bind(s.base, on_client, &s, LEV_OPT_CLOSE_ON_FREE,
	    16, (struct sockaddr *)&sun, sizeof(sun));
	if (ul == NULL)
		die("cannot listen on %s", sock);
	struct evconnlistener *tl = listen_tcp(&s, where, port_file);
	struct event *term = evsignal_new(s.base, SIGTERM, on_term, s.base);
	evsignal_add(term, NULL);
	event_base_dispatch(s.base);
	evconnlistener_free(ul);
	evconnlistener_free(tl);
	unlink(sock);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	log_init(getenv("PGFLEET_TEST_LOG") != NULL ? atoi(getenv("PGFLEET_TEST_LOG")) : LL_WARNING, NULL);
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	return client_main(argc, argv);
}
