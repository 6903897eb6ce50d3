/*
 * notify: one struct delivery per claimed notification, with up to two parts under way
 * (the webhook's request, the command's process); when both have ended the row is
 * written sent, or due again with the first failure as last_error. The parent's
 * synchronous connection writes these short updates, as it writes its claims.
 */
#include "scheduler/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/conf.h"
#include "common/db.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pgarray.h"
#include "common/util.h"
#include "common/version.h"

static const char SQL_CLAIM[] =
    "SELECT id, topic, payload, attempts FROM pgfleet.outbox_claim($1, $2::text[], $3::int,"
    " $4::int * interval '1 second')";
static const char SQL_DONE[] =
    "SELECT pgfleet.outbox_done($1::bigint, $2, $3, $4::bigint * interval '1 millisecond')";

#define SECRET_MAX 4096

struct delivery {
	struct notify *n;
	long long id;
	int attempts;
	char topic[32];
	char *body;
	size_t len;
	int parts;        /* parts still under way */
	char err[300];    /* the first failure; "" when none */
	struct evhttp_connection *conn;
	pid_t pid;        /* the command, 0 when not running */
	struct event *timer; /* the command's timeout */
	struct delivery *next;
};

/* What the sender needs of the configuration, copied: a reload frees the old one (and
 * the notify: keys take effect at a restart). */
struct notify_conf {
	long long webhook_timeout_ms, command_timeout_ms, backoff_ms, max_ms;
	char **argv; /* the command, NULL-terminated; NULL: none */
};

struct notify {
	struct event_base *base;
	struct db *db;
	const char *owner;
	struct notify_conf c;
	struct evdns_base *dns;
	struct evhttp_uri *uri;   /* NULL: no webhook */
	SSL_CTX *ssl;             /* https only */
	unsigned char secret[SECRET_MAX];
	size_t secret_len;        /* 0: requests go unsigned */
	char *topics;             /* the text[] literal of the topics sent */
	struct delivery *list;
	int inflight;
};

int
notify_signature(const unsigned char *key, size_t keylen, const char *body, size_t len, char *out,
    size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (outlen < 7 + 64 + 1 ||
	    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)body, len, mac, &maclen) == NULL ||
	    maclen != 32)
		return -1;
	memcpy(out, "sha256=", 7);
	util_hex(mac, maclen, out + 7);
	return 0;
}

long long
notify_backoff_ms(long long backoff_ms, long long max_ms, int n, double r)
{
	long long d = backoff_ms;
	for (int i = 1; i < n && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 2 + (long long)((double)(d - d / 2) * r);
}

/* Read the key; -1 with err. */
static int
read_secret(struct notify *n, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "notify.webhook.secret_file %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t r;
	do
		r = read(fd, n->secret, sizeof(n->secret));
	while (r == -1 && errno == EINTR);
	close(fd);
	if (r <= 0 || (size_t)r == sizeof(n->secret)) {
		snprintf(err, errlen, "notify.webhook.secret_file %s: %s", path,
		    r < 0 ? strerror(errno) : r == 0 ? "empty" : "larger than 4 KiB");
		OPENSSL_cleanse(n->secret, sizeof(n->secret));
		return -1;
	}
	n->secret_len = (size_t)r;
	/* a trailing newline of an editor is not part of the key */
	while (n->secret_len > 0 && (n->secret[n->secret_len - 1] == '\n' || n->secret[n->secret_len - 1] == '\r'))
		n->secret_len--;
	if (n->secret_len == 0) {
		snprintf(err, errlen, "notify.webhook.secret_file %s: empty", path);
		return -1;
	}
	return 0;
}

static int
setup_webhook(struct notify *n, const struct conf_scheduler *c, char *err, size_t errlen)
{
	if ((n->uri = evhttp_uri_parse(c->notify_webhook_url)) == NULL ||
	    evhttp_uri_get_host(n->uri) == NULL) {
		snprintf(err, errlen, "notify.webhook.url: \"%.80s\" cannot be parsed", c->notify_webhook_url);
		return -1;
	}
	if ((n->dns = evdns_base_new(n->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL) {
		snprintf(err, errlen, "notify: no DNS resolver (/etc/resolv.conf)");
		return -1;
	}
	if (strcmp(evhttp_uri_get_scheme(n->uri), "https") == 0) {
		if ((n->ssl = SSL_CTX_new(TLS_client_method())) == NULL ||
		    SSL_CTX_set_min_proto_version(n->ssl, TLS1_2_VERSION) != 1 ||
		    (c->notify_webhook_ca != NULL
			? SSL_CTX_load_verify_locations(n->ssl, c->notify_webhook_ca, NULL)
			: SSL_CTX_set_default_verify_paths(n->ssl)) != 1) {
			snprintf(err, errlen, "notify: TLS client context failed%s%s",
			    c->notify_webhook_ca != NULL ? ": cannot load " : "",
			    c->notify_webhook_ca != NULL ? c->notify_webhook_ca : "");
			return -1;
		}
		SSL_CTX_set_verify(n->ssl, SSL_VERIFY_PEER, NULL);
	}
	if (c->notify_webhook_secret_file != NULL &&
	    read_secret(n, c->notify_webhook_secret_file, err, errlen) == -1)
		return -1;
	return 0;
}

struct notify *
notify_new(struct event_base *base, struct db *db, const char *owner,
    const struct conf_scheduler *c, int *failed, char *err, size_t errlen)
{
	static const char *const all[] = {CONF_NOTIFY_TOPICS};
	*failed = 0;
	if (c->notify_webhook_url == NULL && c->notify_command.n == 0)
		return NULL;
	struct notify *n = calloc(1, sizeof(*n));
	if (n == NULL)
		fatal("notify: calloc");
	n->base = base;
	n->db = db;
	n->owner = owner;
	n->c.webhook_timeout_ms = c->notify_webhook_timeout_ms;
	n->c.command_timeout_ms = c->notify_command_timeout_ms;
	n->c.backoff_ms = c->notify_retry_backoff_ms;
	n->c.max_ms = c->notify_retry_max_ms;
	if (c->notify_command.n > 0) {
		if ((n->c.argv = calloc(c->notify_command.n + 1, sizeof(char *))) == NULL)
			fatal("notify: calloc");
		for (size_t i = 0; i < c->notify_command.n; i++)
			if ((n->c.argv[i] = strdup(c->notify_command.v[i])) == NULL)
				fatal("notify: strdup");
	}
	struct pgarray t = {0};
	for (size_t i = 0; i < (c->notify_on.n > 0 ? c->notify_on.n : sizeof(all) / sizeof(all[0])); i++)
		pgarray_text(&t, c->notify_on.n > 0 ? c->notify_on.v[i] : all[i]);
	const char *lit = pgarray_end(&t);
	if (lit == NULL || (n->topics = strdup(lit)) == NULL)
		fatal("notify: out of memory");
	free(t.p);
	if (c->notify_webhook_url != NULL && setup_webhook(n, c, err, errlen) == -1) {
		*failed = 1;
		notify_free(n);
		return NULL;
	}
	return n;
}

static void
delivery_free(struct delivery *d)
{
	evloop_event_free(d->timer);
	free(d->body);
	free(d);
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	for (struct delivery *d = n->list, *next; d != NULL; d = next) {
		next = d->next;
		if (d->conn != NULL)
			evhttp_connection_free(d->conn);
		if (d->pid > 0)
			kill(-d->pid, SIGKILL);
		delivery_free(d);
	}
	if (n->uri != NULL)
		evhttp_uri_free(n->uri);
	if (n->dns != NULL)
		evdns_base_free(n->dns, 0);
	if (n->ssl != NULL)
		SSL_CTX_free(n->ssl);
	OPENSSL_cleanse(n->secret, sizeof(n->secret));
	for (size_t i = 0; n->c.argv != NULL && n->c.argv[i] != NULL; i++)
		free(n->c.argv[i]);
	free(n->c.argv);
	free(n->topics);
	free(n);
}

int
notify_inflight(const struct notify *n)
{
	return n != NULL ? n->inflight : 0;
}

static void
fail_part(struct delivery *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail_part(struct delivery *d, const char *fmt, ...)
{
	if (d->err[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

/* Both parts ended: the row is sent, or due again. */
static void
delivery_end(struct delivery *d)
{
	struct notify *n = d->n;
	char sid[24], retry[24], why[512];
	long long wait = notify_backoff_ms(n->c.backoff_ms, n->c.max_ms,
	    d->attempts, (double)random() / ((double)RAND_MAX + 1.0));
	snprintf(sid, sizeof(sid), "%lld", d->id);
	snprintf(retry, sizeof(retry), "%lld", wait);
	const char *p[4] = {sid, n->owner, d->err[0] != '\0' ? d->err : NULL, retry};
	if (db_exec(n->db, NULL, SQL_DONE, 4, p, why, sizeof(why)) == -1)
		log_warnx("notification %lld: %s; sent again once its claim lapses", d->id, why);
	else if (d->err[0] != '\0')
		log_warnx("notification %lld (%s): attempt %d failed: %s; again in %lld ms", d->id,
		    d->topic, d->attempts, d->err, wait);
	else
		log_info("notification %lld (%s) sent", d->id, d->topic);
	for (struct delivery **pp = &n->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	n->inflight--;
	delivery_free(d);
}

static void
part_done(struct delivery *d)
{
	if (--d->parts == 0)
		delivery_end(d);
}

/* ---- webhook ------------------------------------------------------------- */

static void
free_conn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

static void
http_done(struct evhttp_request *req, void *arg)
{
	struct delivery *d = arg;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (code == 0)
		fail_part(d, "webhook: no answer (connection refused, failed or timed out)");
	else if (code < 200 || code > 299)
		fail_part(d, "webhook: HTTP %d", code);
	/* freed on the next turn: not from inside its own callback */
	struct timeval zero = {0, 0};
	if (event_base_once(d->n->base, -1, EV_TIMEOUT, free_conn, d->conn, &zero) == -1)
		fatalx("event_base_once failed");
	d->conn = NULL;
	part_done(d);
}

static struct evhttp_connection *
http_connection(struct notify *n, const char *host, int port)
{
	if (n->ssl == NULL)
		return evhttp_connection_base_new(n->base, n->dns, host, (unsigned short)port);
	SSL *ssl = SSL_new(n->ssl);
	if (ssl == NULL)
		return NULL;
	/* the certificate must name the host: its address for an address, else its name (SNI) */
	int is_ip = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
	if (!is_ip && (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	struct bufferevent *bev = bufferevent_openssl_socket_new(n->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	return evhttp_connection_base_bufferevent_new(n->base, n->dns, bev, host, (unsigned short)port);
}

static int
http_start(struct delivery *d)
{
	struct notify *n = d->n;
	const char *host = evhttp_uri_get_host(n->uri), *path = evhttp_uri_get_path(n->uri);
	const char *query = evhttp_uri_get_query(n->uri);
	int port = evhttp_uri_get_port(n->uri);
	char target[2048], sig[80], idbuf[24], hosthdr[300];
	if (port < 0)
		port = n->ssl != NULL ? 443 : 80;
	snprintf(target, sizeof(target), "%s%s%s", path != NULL && *path != '\0' ? path : "/",
	    query != NULL ? "?" : "", query != NULL ? query : "");
	snprintf(hosthdr, sizeof(hosthdr), "%s:%d", host, port);
	snprintf(idbuf, sizeof(idbuf), "%lld", d->id);
	if ((d->conn = http_connection(n, host, port)) == NULL) {
		fail_part(d, "webhook: cannot open a connection to %s", hosthdr);
		return -1;
	}
	struct timeval tv = {n->c.webhook_timeout_ms / 1000,
	    (n->c.webhook_timeout_ms % 1000) * 1000};
	evhttp_connection_set_timeout_tv(d->conn, &tv);
	evhttp_connection_set_retries(d->conn, 0);
	struct evhttp_request *req = evhttp_request_new(http_done, d);
	if (req == NULL)
		fatalx("notify: out of memory");
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char agent[64];
	snprintf(agent, sizeof(agent), "pgfleet-scheduler/%s", version_string());
	int bad = evhttp_add_header(h, "Host", hosthdr) != 0 ||
	    evhttp_add_header(h, "Content-Type", "application/json") != 0 ||
	    evhttp_add_header(h, "User-Agent", agent) != 0 ||
	    evhttp_add_header(h, "X-Pgfleet-Delivery", idbuf) != 0 ||
	    evhttp_add_header(h, "X-Pgfleet-Topic", d->topic) != 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), d->body, d->len) != 0;
	if (!bad && n->secret_len > 0) {
		if (notify_signature(n->secret, n->secret_len, d->body, d->len, sig, sizeof(sig)) == -1)
			bad = 1;
		else
			bad = evhttp_add_header(h, "X-Pgfleet-Signature", sig) != 0;
	}
	if (bad) {
		evhttp_request_free(req);
		fail_part(d, "webhook: the request could not be built");
		evhttp_connection_free(d->conn);
		d->conn = NULL;
		return -1;
	}
	if (evhttp_make_request(d->conn, req, EVHTTP_REQ_POST, target) == -1) {
		/* libevent has freed the request */
		fail_part(d, "webhook: the request could not be sent");
		evhttp_connection_free(d->conn);
		d->conn = NULL;
		return -1;
	}
	return 0;
}

/* ---- command ------------------------------------------------------------- */

static void
cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	(void)fd;
	(void)what;
	fail_part(d, "command: still running after %lld ms, killed", d->n->c.command_timeout_ms);
	if (d->pid > 0)
		kill(-d->pid, SIGKILL);
}

static int
cmd_start(struct delivery *d)
{
	struct notify *n = d->n;
	int p[2];
	char idbuf[24];
	if (pipe2(p, O_CLOEXEC) == -1) {
		fail_part(d, "command: pipe: %s", strerror(errno));
		return -1;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", d->id);
	pid_t pid = fork();
	if (pid == -1) {
		fail_part(d, "command: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* the child: the payload on stdin, nothing else of ours, its own process group */
		if (dup2(p[0], 0) == -1)
			_exit(127);
		fsutil_close_from(3);
		setpgid(0, 0);
		setenv("PGFLEET_DELIVERY", idbuf, 1);
		setenv("PGFLEET_TOPIC", d->topic, 1);
		signal(SIGPIPE, SIG_DFL);
		execv(n->c.argv[0], n->c.argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[0]);
	/* a notification is a few hundred bytes: the pipe holds it whole */
	size_t off = 0;
	while (off < d->len) {
		ssize_t w = write(p[1], d->body + off, d->len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the command did not read it: its exit status says how it went */
		off += (size_t)w;
	}
	close(p[1]);
	d->pid = pid;
	struct timeval tv = {n->c.command_timeout_ms / 1000,
	    (n->c.command_timeout_ms % 1000) * 1000};
	if ((d->timer = evtimer_new(n->base, cmd_timeout, d)) == NULL || evtimer_add(d->timer, &tv) == -1)
		fatalx("notify: timer");
	return 0;
}

int
notify_child(struct notify *n, pid_t pid, int status)
{
	if (n == NULL)
		return 0;
	for (struct delivery *d = n->list; d != NULL; d = d->next) {
		if (d->pid != pid)
			continue;
		d->pid = 0;
		evtimer_del(d->timer);
		if (WIFSIGNALED(status))
			fail_part(d, "command: killed by signal %d", WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			fail_part(d, "command: exited with code %d", WEXITSTATUS(status));
		part_done(d);
		return 1;
	}
	return 0;
}

/* ---- claims -------------------------------------------------------------- */

static void
delivery_start(struct notify *n, struct db_result *r, int row)
{
	struct delivery *d = calloc(1, sizeof(*d));
	if (d == NULL || (d->body = strdup(db_value(r, row, 2))) == NULL)
		fatalx("notify: out of memory");
	d->n = n;
	d->id = strtoll(db_value(r, row, 0), NULL, 10);
	snprintf(d->topic, sizeof(d->topic), "%s", db_value(r, row, 1));
	d->len = strlen(d->body);
	d->attempts = atoi(db_value(r, row, 3));
	d->next = n->list;
	n->list = d;
	n->inflight++;
	/* one part per channel, counted before either starts: one may end at once */
	d->parts = (n->uri != NULL) + (n->c.argv != NULL) + 1;
	if (n->uri != NULL && http_start(d) == -1)
		d->parts--;
	if (n->c.argv != NULL && cmd_start(d) == -1)
		d->parts--;
	part_done(d);
}

int
notify_release(struct notify *n, const char *name, char *err, size_t errlen)
{
	const char *p[2] = {name, n->owner};
	struct db_result *r;
	if (db_exec(n->db, &r, "SELECT pgfleet.outbox_release($1, $2)", 2, p, err, errlen) == -1)
		return -1;
	int k = atoi(db_value(r, 0, 0));
	db_result_free(r);
	return k;
}

int
notify_kick(struct notify *n, char *err, size_t errlen)
{
	if (n == NULL || n->inflight >= NOTIFY_MAX_INFLIGHT)
		return 0;
	char limit[16], lease[16];
	snprintf(limit, sizeof(limit), "%d", NOTIFY_MAX_INFLIGHT - n->inflight);
	snprintf(lease, sizeof(lease), "%d", NOTIFY_LEASE_S);
	const char *p[4] = {n->owner, n->topics, limit, lease};
	struct db_result *r;
	if (db_exec(n->db, &r, SQL_CLAIM, 4, p, err, errlen) == -1)
		return -1;
	int rows = db_ntuples(r);
	for (int i = 0; i < rows; i++)
		delivery_start(n, r, i);
	db_result_free(r);
	return rows;
}
