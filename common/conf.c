/*
 * conf: the YAML config loader of both daemons, built like pgbouncer's: one
 * table of keys per file kind says each key's type, default and whether a
 * SIGHUP reload may change it. common/yamltree.c reads the file into a tree
 * (its one policy: aliases, anchors and tags refused, depth and size bounded),
 * then the tree is walked against the table; every error is collected with
 * file:line:column.
 */
#include "common/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/units.h"
#include "common/util.h"
#include "common/yamltree.h"

#define MAX_NODES	100000	/* YAML nodes in one file */
#define MAX_ENTRIES	1000	/* entries of one list or map value */
#define MAX_PATH_LEN	128	/* a key path such as "tokens.sql_timeout" */

enum ctype {
	T_STR,		/* any string without control characters */
	T_PATH,		/* an absolute path */
	T_FILE,		/* an absolute path to an existing regular file */
	T_KEYFILE,	/* T_FILE that group and others cannot read */
	T_INT,		/* int in [min, max] */
	T_INT64,	/* long long in [min, max] */
	T_BOOL,		/* int, true or false */
	T_LOGFORMAT,	/* int, enum log_format: iso or axengine */
	T_DURATION,	/* long long ms in [min, max] */
	T_SIZE,		/* unsigned long long bytes in [min, max] */
	T_PORTS,	/* struct conf_port_range */
	T_LISTEN,	/* struct conf_listen */
	T_USER,		/* a user name */
	T_USERS,	/* struct conf_strlist of user names */
	T_STRLIST,	/* struct conf_strlist of non-empty strings */
	T_SERVERS,	/* struct conf_strlist of host:port, port 1..65535 */
	T_TABLES,	/* struct conf_token_tables */
	T_RCODES	/* struct conf_return_codes */
};

#define F_REQUIRED	0x1	/* no default: the file must set it */
#define F_RESTART	0x2	/* a SIGHUP reload keeps the running value */
#define F_EMPTY_OK	0x4	/* a string key that may be "" */
#define F_SECRET	0x8	/* wiped before free */

struct conf_key {
	const char *path;	/* "transfer.port_range": a dot per map level */
	enum ctype type;
	size_t off;		/* of the field in struct conf_scheduler/agent */
	const char *def;	/* default in the file's own syntax; NULL: none */
	unsigned flags;
	long long min, max;	/* T_INT, T_INT64, T_DURATION (ms), T_SIZE (bytes) */
};

#define S(f) offsetof(struct conf_scheduler, f)
#define A(f) offsetof(struct conf_agent, f)
#define MS_S	1000LL
#define MS_D	86400000LL
#define GIB	(1LL << 30)

static const struct conf_key scheduler_keys[] = {
	{"database", T_STR, S(database), "", F_RESTART | F_EMPTY_OK | F_SECRET, 0, 0},
	{"name", T_STR, S(name), NULL, F_RESTART, 0, 0},
	{"workers", T_INT, S(workers), "4", F_RESTART, 1, 256},
	{"sessions_per_worker", T_INT, S(sessions_per_worker), "512", F_RESTART, 1, 65536},
	{"poll_interval", T_DURATION, S(poll_interval_ms), "1s", 0, 10, 3600 * MS_S},
	{"claim_batch", T_INT, S(claim_batch), "100", 0, 1, 10000},
	{"lease", T_DURATION, S(lease_ms), "60s", 0, MS_S, MS_D},
	{"heartbeat", T_DURATION, S(heartbeat_ms), NULL, 0, 100, MS_D},
	{"max_attempts", T_INT, S(max_attempts), "3", 0, 1, 100},
	{"spool", T_PATH, S(spool), "/var/spool/pgfleet", F_RESTART, 0, 0},
	{"transfer.port_range", T_PORTS, S(transfer_ports), "20000-20999", F_RESTART, 0, 0},
	{"transfer.advertise", T_STR, S(transfer_advertise), "127.0.0.1", F_RESTART, 0, 0},
	{"transfer.key_ttl", T_DURATION, S(transfer_key_ttl_ms), "30s", 0, MS_S, 3600 * MS_S},
	{"transfer.request_timeout", T_DURATION, S(transfer_request_timeout_ms), "10s", 0, 1, 3600 * MS_S},
	{"transfer.idle_timeout", T_DURATION, S(transfer_idle_timeout_ms), "60s", 0, 1, MS_D},
	{"transfer.max_pending", T_INT, S(transfer_max_pending), "64", 0, 1, 65536},
	{"agents.listen", T_LISTEN, S(agents_listen), "0.0.0.0:4020", F_RESTART, 0, 0},
	{"agents.port_file", T_PATH, S(agents_port_file), NULL, F_RESTART, 0, 0},
	{"agents.hello_timeout", T_DURATION, S(agents_hello_timeout_ms), "10s", 0, 10, 3600 * MS_S},
	{"agents.idle_timeout", T_DURATION, S(agents_idle_timeout_ms), "120s", 0, 100, MS_D},
	{"agents.presence_interval", T_DURATION, S(agents_presence_interval_ms), "10s", 0, 10,
	    3600 * MS_S},
	{"agents.max_connections", T_INT, S(agents_max_connections), "16384", F_RESTART, 1, 1000000},
	{"events.offline_expire", T_DURATION, S(offline_expire_ms), "24h", 0, 0, 3650 * MS_D},
	{"timeouts.idle", T_DURATION, S(timeout_idle_ms), "60s", 0, 1, MS_D},
	{"timeouts.message", T_DURATION, S(timeout_message_ms), "30s", 0, 1, 3600 * MS_S},
	{"tls.ca", T_FILE, S(tls_ca), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"tls.cert", T_FILE, S(tls_cert), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"tls.key", T_KEYFILE, S(tls_key), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"tokens.tables", T_TABLES, S(token_tables), NULL, 0, 0, 0},
	{"tokens.sql", T_BOOL, S(tokens_sql), "false", 0, 0, 0},
	{"tokens.sql_timeout", T_DURATION, S(tokens_sql_timeout_ms), "2s", 0, 1, 3600 * MS_S},
	{"return_codes", T_RCODES, S(return_codes), NULL, 0, 0, 0},
	{"retention", T_DURATION, S(retention_ms), "180d", 0, MS_D, 36500 * MS_D},
	{"drain_grace", T_DURATION, S(drain_grace_ms), "30s", 0, 0, MS_D},
	{"restart_limit.count", T_INT, S(restart_limit_count), "5", 0, 1, 1000},
	{"restart_limit.window", T_DURATION, S(restart_limit_window_ms), "1m", 0, MS_S, MS_D},
	{"log.level", T_INT, S(log_level), "5", 0, 1, 7},
	{"log.file", T_PATH, S(log_file), NULL, 0, 0, 0},
	{"log.format", T_LOGFORMAT, S(log_format), "iso", 0, 0, 0},
	{"log.syslog", T_BOOL, S(log_syslog), "false", 0, 0, 0},
	{"metrics.listen", T_LISTEN, S(metrics_listen), NULL, F_RESTART, 0, 0},
	{"enrol.listen", T_LISTEN, S(enrol_listen), NULL, F_RESTART, 0, 0},
	{"enrol.ca_cert", T_FILE, S(enrol_ca_cert), NULL, F_RESTART, 0, 0},
	{"enrol.ca_key", T_KEYFILE, S(enrol_ca_key), NULL, F_RESTART, 0, 0},
	{"enrol.lifetime", T_DURATION, S(enrol_lifetime_ms), "90d", F_RESTART, 60 * MS_S, 3650 * MS_D},
	{"enrol.port_file", T_PATH, S(enrol_port_file), NULL, F_RESTART, 0, 0},
	{"notify.webhook.url", T_STR, S(notify_webhook_url), NULL, F_RESTART, 0, 0},
	{"notify.webhook.secret_file", T_KEYFILE, S(notify_webhook_secret_file), NULL, F_RESTART, 0, 0},
	{"notify.webhook.ca", T_FILE, S(notify_webhook_ca), NULL, F_RESTART, 0, 0},
	{"notify.webhook.timeout", T_DURATION, S(notify_webhook_timeout_ms), "10s", F_RESTART, 100,
	    3600 * MS_S},
	{"notify.command", T_STRLIST, S(notify_command), NULL, F_RESTART, 0, 0},
	{"notify.command_timeout", T_DURATION, S(notify_command_timeout_ms), "30s", F_RESTART, 100,
	    3600 * MS_S},
	{"notify.on", T_STRLIST, S(notify_on), NULL, F_RESTART, 0, 0},
	{"notify.retry.backoff", T_DURATION, S(notify_retry_backoff_ms), "5s", F_RESTART, 100, MS_D},
	{"notify.retry.max_backoff", T_DURATION, S(notify_retry_max_ms), "10m", F_RESTART, 100, MS_D},
};

static const struct conf_key agent_keys[] = {
	{"computer", T_STR, A(computer), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"computer_id", T_INT64, A(computer_id), NULL, F_RESTART, 1, LLONG_MAX},
	{"servers", T_SERVERS, A(servers), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"reconnect.backoff", T_DURATION, A(reconnect_backoff_ms), "1s", 0, 10, 3600 * MS_S},
	{"reconnect.max_backoff", T_DURATION, A(reconnect_max_backoff_ms), "60s", 0, 10, MS_D},
	{"keepalive.interval", T_DURATION, A(keepalive_interval_ms), "30s", 0, 100, 3600 * MS_S},
	{"keepalive.timeout", T_DURATION, A(keepalive_timeout_ms), "90s", 0, 200, MS_D},
	{"connect_timeout", T_DURATION, A(connect_timeout_ms), "10s", 0, 100, 3600 * MS_S},
	{"temp_dir", T_PATH, A(temp_dir), "/var/lib/pgfleet-agent/temp", F_RESTART, 0, 0},
	{"journal", T_PATH, A(journal), "/var/lib/pgfleet-agent/journal", F_RESTART, 0, 0},
	{"journal_keep", T_INT64, A(journal_keep), "10000", 0, 10, 100000000},
	{"boot_env", T_STR, A(boot_env), "Production", 0, 0, 0},
	{"os", T_STR, A(os), "Linux", 0, 0, 0},
	{"run_as.allow", T_USERS, A(run_as_allow), NULL, 0, 0, 0},
	{"run_as.default", T_USER, A(run_as_default), "root", 0, 0, 0},
	{"run_as.allow_root", T_BOOL, A(run_as_allow_root), "false", 0, 0, 0},
	{"copy.allow", T_STRLIST, A(copy_allow), NULL, 0, 0, 0},
	{"max_output", T_SIZE, A(max_output), "64KiB", 0, 0, GIB},
	{"max_script", T_SIZE, A(max_script), "16MiB", 0, 1, GIB},
	{"timeout", T_DURATION, A(timeout_ms), "1h", 0, MS_S, 30 * MS_D},
	{"kill_grace", T_DURATION, A(kill_grace_ms), "10s", 0, 0, 3600 * MS_S},
	{"message_timeout", T_DURATION, A(message_timeout_ms), "30s", 0, 1, 3600 * MS_S},
	{"tls.ca", T_FILE, A(tls_ca), NULL, F_REQUIRED | F_RESTART, 0, 0},
	/* files checked by finish_agent: with enroll.server they may not exist yet */
	{"tls.cert", T_PATH, A(tls_cert), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"tls.key", T_PATH, A(tls_key), NULL, F_REQUIRED | F_RESTART, 0, 0},
	{"tls.allow_schedulers", T_STRLIST, A(tls_allow_schedulers), NULL, 0, 0, 0},
	{"log.level", T_INT, A(log_level), "5", 0, 1, 7},
	{"log.file", T_PATH, A(log_file), NULL, 0, 0, 0},
	{"log.format", T_LOGFORMAT, A(log_format), "iso", 0, 0, 0},
	{"log.syslog", T_BOOL, A(log_syslog), "false", 0, 0, 0},
	{"enroll.server", T_STR, A(enroll_server), NULL, F_RESTART, 0, 0},
	{"enroll.token", T_STR, A(enroll_token), NULL, F_RESTART | F_SECRET, 0, 0},
	{"enroll.ca", T_FILE, A(enroll_ca), NULL, F_RESTART, 0, 0},
	{"enroll.renew_before", T_DURATION, A(enroll_renew_before_ms), "30d", 0, 10 * MS_S, 3650 * MS_D},
	{"enroll.poll", T_DURATION, A(enroll_poll_ms), "30s", 0, 100, MS_D},
	{"facts.interval", T_DURATION, A(facts_interval_ms), "1h", 0, 0, 30 * MS_D},
	{"wake.port", T_INT, A(wake_port), "9", 0, 0, 65535},
};

/* Keys of earlier versions: refused with what replaced them, not as unknown. */
struct conf_removed {
	const char *kind, *path, *why;
};

static const struct conf_removed removed_keys[] = {
	{"agent", "listen", "the agent listens on no port any more: name its schedulers in "
	    "servers: [host:port, ...]"},
	{"agent", "port_file", "the agent listens on no port any more (servers: names where it "
	    "connects)"},
	{"agent", "tls.allow_clients", "renamed tls.allow_schedulers: the agent connects to its "
	    "schedulers now"},
	{"scheduler", "agent_port", "agents connect to the scheduler now: agents.listen"},
	{"scheduler", "timeouts.connect", "agents connect to the scheduler now (agents.hello_timeout)"},
	{"scheduler", "timeouts.handshake", "agents connect to the scheduler now (agents.hello_timeout)"},
	{"scheduler", "retry", "agents connect to the scheduler now and reconnect by themselves "
	    "(reconnect: in agent.yaml)"},
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- errors ---- */

void
conf_errors_add(struct conf_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (e->n >= CONF_MAX_ERRORS) {
		e->truncated = 1;
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		char **v = realloc(e->msg, cap * sizeof(*v));
		if (v == NULL)
			fatal("conf: realloc");
		e->msg = v;
		e->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1)
		fatal("conf: vasprintf");
	va_end(ap);
	e->msg[e->n++] = m;
}

void
conf_errors_print(const struct conf_errors *e, FILE *f)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%s\n", e->msg[i]);
	if (e->truncated)
		fprintf(f, "too many errors; only the first %d are shown\n", CONF_MAX_ERRORS);
}

void
conf_errors_free(struct conf_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	memset(e, 0, sizeof(*e));
}

/* ---- small helpers ---- */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		fatal("conf: strdup");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("conf: array too large");
	p = realloc(p, n * size);
	if (p == NULL)
		fatal("conf: realloc");
	return p;
}

static void
str_free(char *s, int secret)
{
	if (s != NULL && secret)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void
strlist_free(struct conf_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
strlist_add(struct conf_strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

static int
strlist_has(const struct conf_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static int
strlist_eq(const struct conf_strlist *a, const struct conf_strlist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static void
tables_free(struct conf_token_tables *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].table);
		strlist_free(&t->v[i].columns);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* [a-z_][a-z0-9_]*, as PostgreSQL folds an unquoted identifier, 63 bytes at most. */
static int
is_identifier(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

/* The name rule of useradd: [a-z_][a-z0-9_-]*[$]?, 32 bytes at most. */
static int
is_user_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '$' && i == n - 1)
			continue;
		if (!(islower(c) || isdigit(c) || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void
format_size(unsigned long long b, char *buf, size_t size)
{
	if (b != 0 && b % (1ULL << 30) == 0)
		snprintf(buf, size, "%lluGiB", b >> 30);
	else if (b != 0 && b % (1ULL << 20) == 0)
		snprintf(buf, size, "%lluMiB", b >> 20);
	else if (b != 0 && b % (1ULL << 10) == 0)
		snprintf(buf, size, "%lluKiB", b >> 10);
	else
		snprintf(buf, size, "%llu", b);
}

/* host:port, [v6]:port; port 0..65535. */
static int
parse_listen(const char *s, struct conf_listen *out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	const char *host = s, *hend;
	long long port;
	char perr[128];

	if (colon == NULL || colon == s)
		goto bad;
	hend = colon;
	if (s[0] == '[') {
		if (colon[-1] != ']' || colon - s < 3)
			goto bad;
		host = s + 1;
		hend = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
		goto bad;	/* a bare IPv6 address needs its [] */
	}
	if (units_int(colon + 1, 0, 65535, &port, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "port of \"%s\": %s", s, perr);
		return -1;
	}
	free(out->host);
	out->host = strndup(host, (size_t)(hend - host));
	if (out->host == NULL)
		fatal("conf: strndup");
	out->port = (int)port;
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not host:port (examples: 0.0.0.0:4020, [::]:4020)", s);
	return -1;
}

int
conf_parse_server(const char *s, struct conf_listen *out, char *err, size_t errlen)
{
	if (parse_listen(s, out, err, errlen) == -1)
		return -1;
	if (out->port == 0 || out->host[0] == '\0') {
		snprintf(err, errlen, "\"%s\" needs a host and a port 1..65535 (example: sched-a:4020)", s);
		return -1;
	}
	return 0;
}

static int
check_file(const struct conf_key *k, const char *s, char *err, size_t errlen)
{
	struct stat st;

	if (stat(s, &st) == -1) {
		snprintf(err, errlen, "cannot stat %s: %s", s, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", s);
		return -1;
	}
	if (k->type == T_KEYFILE && (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s is readable by others (mode %04o); chmod 600 it",
		    s, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* A string, path, file or user name into its field. */
static int
scalar_str(const struct conf_key *k, const char *s, void *field, char *err, size_t errlen)
{
	if (s[0] == '\0' && !(k->flags & F_EMPTY_OK)) {
		snprintf(err, errlen, "value is empty");
		return -1;
	}
	if (util_has_ctl(s)) {
		snprintf(err, errlen, "value contains a control character");
		return -1;
	}
	if (k->type == T_USER && !is_user_name(s)) {
		snprintf(err, errlen, "\"%s\" is not a valid user name", s);
		return -1;
	}
	if (k->type != T_STR && k->type != T_USER && s[0] != '/') {
		snprintf(err, errlen, "\"%s\" is not an absolute path", s);
		return -1;
	}
	if ((k->type == T_FILE || k->type == T_KEYFILE) && check_file(k, s, err, errlen) == -1)
		return -1;
	str_free(*(char **)field, k->flags & F_SECRET);
	*(char **)field = xstrdup(s);
	return 0;
}

/* One scalar value (from the file or a default) into its field. */
static int
scalar_parse(const struct conf_key *k, const char *s, void *field, char *err, size_t errlen)
{
	long long ll;
	unsigned long long ull;
	char a[32], b[32];

	switch (k->type) {
	case T_STR:
	case T_PATH:
	case T_FILE:
	case T_KEYFILE:
	case T_USER:
		return scalar_str(k, s, field, err, errlen);
	case T_INT:
	case T_INT64:
		if (units_int(s, k->min, k->max, &ll, err, errlen) == -1)
			return -1;
		if (k->type == T_INT)
			*(int *)field = (int)ll;
		else
			*(long long *)field = ll;
		return 0;
	case T_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
			*(int *)field = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
			*(int *)field = 0;
		else {
			snprintf(err, errlen, "\"%s\" is not a boolean (use true or false)", s);
			return -1;
		}
		return 0;
	case T_LOGFORMAT: {
		enum log_format f;
		if (log_format_parse(s, &f) == -1) {
			snprintf(err, errlen, "\"%s\" is not a log format (use iso or axengine)", s);
			return -1;
		}
		*(int *)field = (int)f;
		return 0;
	}
	case T_DURATION:
		if (units_duration_ms(s, &ll, err, errlen) == -1)
			return -1;
		if (ll < k->min || ll > k->max) {
			units_format_duration(k->min, a, sizeof(a));
			units_format_duration(k->max, b, sizeof(b));
			snprintf(err, errlen, "duration \"%s\" is out of range %s..%s", s, a, b);
			return -1;
		}
		*(long long *)field = ll;
		return 0;
	case T_SIZE:
		if (units_size(s, &ull, err, errlen) == -1)
			return -1;
		if (ull < (unsigned long long)k->min || ull > (unsigned long long)k->max) {
			format_size((unsigned long long)k->min, a, sizeof(a));
			format_size((unsigned long long)k->max, b, sizeof(b));
			snprintf(err, errlen, "size \"%s\" is out of range %s..%s", s, a, b);
			return -1;
		}
		*(unsigned long long *)field = ull;
		return 0;
	case T_PORTS: {
		struct conf_port_range *r = field;
		return units_port_range(s, &r->lo, &r->hi, err, errlen);
	}
	case T_LISTEN:
		return parse_listen(s, field, err, errlen);
	default:
		snprintf(err, errlen, "internal error: key type %d has no scalar form", (int)k->type);
		return -1;
	}
}

static int
is_scalar_type(enum ctype t)
{
	return t != T_USERS && t != T_STRLIST && t != T_SERVERS && t != T_TABLES && t != T_RCODES;
}

static const char *
type_name(enum ctype t)
{
	switch (t) {
	case T_STR: return "a string";
	case T_PATH: case T_FILE: case T_KEYFILE: return "an absolute path";
	case T_INT: case T_INT64: return "an integer";
	case T_BOOL: return "true or false";
	case T_LOGFORMAT: return "iso or axengine";
	case T_DURATION: return "a duration";
	case T_SIZE: return "a size";
	case T_PORTS: return "a port or port range";
	case T_LISTEN: return "host:port";
	case T_USER: return "a user name";
	case T_USERS: return "a list of user names";
	case T_STRLIST: return "a list of names";
	case T_SERVERS: return "a list of host:port";
	case T_TABLES: return "a map of table: [columns]";
	case T_RCODES: return "a map of exit code: success|failure";
	}
	return "a value";
}

static void
field_free(const struct conf_key *k, void *field)
{
	switch (k->type) {
	case T_STR: case T_PATH: case T_FILE: case T_KEYFILE: case T_USER:
		str_free(*(char **)field, k->flags & F_SECRET);
		*(char **)field = NULL;
		break;
	case T_LISTEN:
		free(((struct conf_listen *)field)->host);
		((struct conf_listen *)field)->host = NULL;
		break;
	case T_USERS: case T_STRLIST: case T_SERVERS:
		strlist_free(field);
		break;
	case T_TABLES:
		tables_free(field);
		break;
	case T_RCODES:
		free(((struct conf_return_codes *)field)->v);
		((struct conf_return_codes *)field)->v = NULL;
		((struct conf_return_codes *)field)->n = 0;
		break;
	default:
		break;
	}
}

static size_t
field_size(enum ctype t)
{
	switch (t) {
	case T_STR: case T_PATH: case T_FILE: case T_KEYFILE: case T_USER: return sizeof(char *);
	case T_INT: case T_BOOL: case T_LOGFORMAT: return sizeof(int);
	case T_INT64: case T_DURATION: return sizeof(long long);
	case T_SIZE: return sizeof(unsigned long long);
	case T_PORTS: return sizeof(struct conf_port_range);
	case T_LISTEN: return sizeof(struct conf_listen);
	case T_USERS: case T_STRLIST: case T_SERVERS: return sizeof(struct conf_strlist);
	case T_TABLES: return sizeof(struct conf_token_tables);
	case T_RCODES: return sizeof(struct conf_return_codes);
	}
	return 0;
}

static int
nullstr_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
field_eq(enum ctype t, const void *a, const void *b)
{
	switch (t) {
	case T_STR: case T_PATH: case T_FILE: case T_KEYFILE: case T_USER:
		return nullstr_eq(*(char *const *)a, *(char *const *)b);
	case T_LISTEN: {
		const struct conf_listen *x = a, *y = b;
		return x->port == y->port && nullstr_eq(x->host, y->host);
	}
	case T_USERS: case T_STRLIST: case T_SERVERS:
		return strlist_eq(a, b);
	case T_TABLES: {
		const struct conf_token_tables *x = a, *y = b;
		if (x->n != y->n)
			return 0;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i].table, y->v[i].table) != 0 ||
			    !strlist_eq(&x->v[i].columns, &y->v[i].columns))
				return 0;
		return 1;
	}
	case T_RCODES: {
		const struct conf_return_codes *x = a, *y = b;
		if (x->n != y->n)
			return 0;
		for (size_t i = 0; i < x->n; i++)
			if (x->v[i].code != y->v[i].code || x->v[i].success != y->v[i].success)
				return 0;
		return 1;
	}
	default:
		return memcmp(a, b, field_size(t)) == 0;
	}
}

/* ---- the loader: a YAML tree (common/yamltree.h) walked against a key table ---- */

struct mark {
	int line, col;		/* 0: not seen */
	int null;
};

struct loader {
	const char *file;
	const char *kind;		/* "scheduler" or "agent", for messages */
	const struct conf_key *keys;
	size_t nkeys;
	char *base;			/* the struct being filled */
	struct mark *set;		/* per key: where the file sets it */
	struct conf_errors *errs;
	struct yt_errors found;		/* errors, sorted by position when done */
	struct mark root;
	struct {
		char path[MAX_PATH_LEN];
		struct mark at;
	} sections[16];
	size_t nsections;
};

static void lerr(struct loader *l, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
lerr(struct loader *l, int line, int col, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct yt_pos pos = {line, col};

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line != 0 && path != NULL)
		yt_errors_add(&l->found, pos, "%s: %s", path, msg);
	else
		yt_errors_add(&l->found, pos, "%s", msg);
}

/* Errors (kept or not) found so far. */
static size_t
failed(const struct loader *l)
{
	return yt_errors_count(&l->found);
}

/* Hand the errors to the caller in file order, and free the loader. Returns their number. */
static size_t
loader_done(struct loader *l)
{
	size_t n = failed(l);

	yt_errors_sort(&l->found);
	for (size_t i = 0; i < l->found.n; i++) {
		char *m = yt_error_text(&l->found, i);
		conf_errors_add(l->errs, "%s", m);
		free(m);
	}
	if (l->found.dropped > 0)
		l->errs->truncated = 1;
	yt_errors_free(&l->found);
	free(l->set);
	l->set = NULL;
	return n;
}

static const char *
node_kind_name(const struct yt_node *n)
{
	switch (n->type) {
	case YT_MAP: return "a map";
	case YT_SEQ: return "a list";
	default: return "a scalar";
	}
}

/* ---- the walk: tree against the table ---- */

static int
key_index(const struct loader *l, const char *path)
{
	for (size_t i = 0; i < l->nkeys; i++)
		if (strcmp(l->keys[i].path, path) == 0)
			return (int)i;
	return -1;
}

/* A section is a map of keys: "tls" for "tls.key". */
static int
is_section(const struct loader *l, const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < l->nkeys; i++)
		if (strncmp(l->keys[i].path, path, n) == 0 && l->keys[i].path[n] == '.')
			return 1;
	return 0;
}

static struct mark *
section_mark(struct loader *l, const char *path)
{
	for (size_t i = 0; i < l->nsections; i++)
		if (strcmp(l->sections[i].path, path) == 0)
			return &l->sections[i].at;
	return NULL;
}

/* Where to point at for a key: its value, else its section, else the top. */
static struct mark
key_mark(struct loader *l, const char *path)
{
	int i = key_index(l, path);
	char sect[MAX_PATH_LEN];

	if (i >= 0 && l->set[i].line != 0)
		return l->set[i];
	snprintf(sect, sizeof(sect), "%s", path);
	for (char *dot; (dot = strrchr(sect, '.')) != NULL;) {
		*dot = '\0';
		struct mark *m = section_mark(l, sect);
		if (m != NULL)
			return *m;
	}
	return l->root;
}

static int
key_given(const struct loader *l, const char *path)
{
	int i = key_index(l, path);
	return i >= 0 && l->set[i].line != 0 && !l->set[i].null;
}

static void
type_error(struct loader *l, const struct yt_node *n, const char *path, const char *want)
{
	lerr(l, n->pos.line, n->pos.col, path, "expected %s, found %s", want, node_kind_name(n));
}

/* A list of scalars; user names or any non-empty strings. */
static void
set_list(struct loader *l, const struct conf_key *k, const struct yt_node *v, const char *path,
    struct conf_strlist *out)
{
	if (v->type != YT_SEQ) {
		type_error(l, v, path, type_name(k->type));
		return;
	}
	size_t max = k->type == T_SERVERS ? CONF_MAX_SERVERS : MAX_ENTRIES;
	if (v->n > max) {
		lerr(l, v->pos.line, v->pos.col, path, "more than %zu entries", max);
		return;
	}
	if (k->type == T_SERVERS && v->n == 0) {
		lerr(l, v->pos.line, v->pos.col, path, "at least one scheduler is needed (host:port)");
		return;
	}
	struct conf_listen hp = {0};
	char err[256];
	for (const struct yt_node *it = v->first; it != NULL; it = it->next) {
		if (it->type == YT_BAD)
			continue;
		if (it->type != YT_SCALAR) {
			type_error(l, it, path, k->type == T_USERS ? "a user name" : "a name");
			continue;
		}
		if (it->s[0] == '\0' || util_has_ctl(it->s))
			lerr(l, it->pos.line, it->pos.col, path, "entry is empty or has a control character");
		else if (k->type == T_USERS && !is_user_name(it->s))
			lerr(l, it->pos.line, it->pos.col, path, "\"%s\" is not a valid user name", it->s);
		else if (k->type == T_SERVERS && conf_parse_server(it->s, &hp, err, sizeof(err)) == -1)
			lerr(l, it->pos.line, it->pos.col, path, "%s", err);
		else if (strlist_has(out, it->s))
			lerr(l, it->pos.line, it->pos.col, path, "\"%s\" is listed twice", it->s);
		else
			strlist_add(out, it->s);
	}
	free(hp.host);
}

static void
set_tables(struct loader *l, const struct yt_node *v, const char *path, struct conf_token_tables *out)
{
	if (v->type != YT_MAP) {
		type_error(l, v, path, type_name(T_TABLES));
		return;
	}
	if (v->n / 2 > MAX_ENTRIES) {
		lerr(l, v->pos.line, v->pos.col, path, "more than %d entries", MAX_ENTRIES);
		return;
	}
	for (const struct yt_node *kn = v->first; kn != NULL && kn->next != NULL; kn = kn->next->next) {
		const struct yt_node *vn = kn->next;
		char sub[MAX_PATH_LEN];
		int dup = 0;

		if (kn->type == YT_BAD || vn->type == YT_BAD)
			continue;
		if (kn->type != YT_SCALAR) {
			type_error(l, kn, path, "a table name");
			continue;
		}
		if (!is_identifier(kn->s)) {
			lerr(l, kn->pos.line, kn->pos.col, path, "\"%s\" is not a valid table name "
			    "(use [a-z_][a-z0-9_]*, at most 63 characters)", kn->s);
			continue;
		}
		for (size_t j = 0; j < out->n; j++)
			dup |= strcmp(out->v[j].table, kn->s) == 0;
		if (dup) {
			lerr(l, kn->pos.line, kn->pos.col, path, "duplicate table \"%s\"", kn->s);
			continue;
		}
		if (snprintf(sub, sizeof(sub), "%s.%s", path, kn->s) >= (int)sizeof(sub))
			sub[sizeof(sub) - 1] = '\0';	/* only a message's key path */
		if (vn->type != YT_SEQ) {
			type_error(l, vn, sub, "a list of columns");
			continue;
		}
		if (vn->n > MAX_ENTRIES) {
			lerr(l, vn->pos.line, vn->pos.col, sub, "more than %d entries", MAX_ENTRIES);
			continue;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		struct conf_token_table *t = &out->v[out->n++];
		t->table = xstrdup(kn->s);
		t->columns.v = NULL;
		t->columns.n = 0;
		for (const struct yt_node *c = vn->first; c != NULL; c = c->next) {
			if (c->type == YT_BAD)
				continue;
			if (c->type != YT_SCALAR)
				type_error(l, c, sub, "a column name");
			else if (!is_identifier(c->s))
				lerr(l, c->pos.line, c->pos.col, sub, "\"%s\" is not a valid column name "
				    "(use [a-z_][a-z0-9_]*, at most 63 characters)", c->s);
			else if (strlist_has(&t->columns, c->s))
				lerr(l, c->pos.line, c->pos.col, sub, "\"%s\" is listed twice", c->s);
			else
				strlist_add(&t->columns, c->s);
		}
	}
}

static void
set_rcodes(struct loader *l, const struct yt_node *v, const char *path, struct conf_return_codes *out)
{
	char err[256];

	if (v->type != YT_MAP) {
		type_error(l, v, path, type_name(T_RCODES));
		return;
	}
	if (v->n / 2 > MAX_ENTRIES) {
		lerr(l, v->pos.line, v->pos.col, path, "more than %d entries", MAX_ENTRIES);
		return;
	}
	for (const struct yt_node *kn = v->first; kn != NULL && kn->next != NULL; kn = kn->next->next) {
		const struct yt_node *vn = kn->next;
		char sub[MAX_PATH_LEN];
		long long code;
		int success, dup = 0;

		if (kn->type == YT_BAD || vn->type == YT_BAD)
			continue;
		if (kn->type != YT_SCALAR) {
			type_error(l, kn, path, "an exit code");
			continue;
		}
		if (units_int(kn->s, INT32_MIN, INT32_MAX, &code, err, sizeof(err)) == -1) {
			lerr(l, kn->pos.line, kn->pos.col, path, "%s", err);
			continue;
		}
		if (snprintf(sub, sizeof(sub), "%s.%s", path, kn->s) >= (int)sizeof(sub))
			sub[sizeof(sub) - 1] = '\0';	/* only a message's key path */
		if (vn->type != YT_SCALAR) {
			type_error(l, vn, sub, "success or failure");
			continue;
		}
		if (strcmp(vn->s, "success") == 0)
			success = 1;
		else if (strcmp(vn->s, "failure") == 0)
			success = 0;
		else {
			lerr(l, vn->pos.line, vn->pos.col, sub,
			    "\"%s\" is not an action (use success or failure)", vn->s);
			continue;
		}
		for (size_t j = 0; j < out->n; j++)
			dup |= out->v[j].code == code;
		if (dup) {
			lerr(l, kn->pos.line, kn->pos.col, path, "duplicate code %lld", code);
			continue;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n].code = code;
		out->v[out->n].success = success;
		out->n++;
	}
}

static void
set_key(struct loader *l, int idx, const struct yt_node *v, const char *path)
{
	const struct conf_key *k = &l->keys[idx];
	void *field = l->base + k->off;
	char err[512];

	if (l->set[idx].line != 0) {
		lerr(l, v->pos.line, v->pos.col, path, "duplicate key (first set at %d:%d)",
		    l->set[idx].line, l->set[idx].col);
		return;
	}
	l->set[idx].line = v->pos.line;
	l->set[idx].col = v->pos.col;
	l->set[idx].null = v->type == YT_SCALAR && v->null;
	if (l->set[idx].null)
		return;	/* "key:" with no value: the default */
	if (is_scalar_type(k->type)) {
		if (v->type != YT_SCALAR)
			type_error(l, v, path, type_name(k->type));
		else if (scalar_parse(k, v->s, field, err, sizeof(err)) == -1)
			lerr(l, v->pos.line, v->pos.col, path, "%s", err);
		return;
	}
	switch (k->type) {
	case T_USERS:
	case T_STRLIST:
	case T_SERVERS:
		set_list(l, k, v, path, field);
		break;
	case T_TABLES:
		set_tables(l, v, path, field);
		break;
	case T_RCODES:
		set_rcodes(l, v, path, field);
		break;
	default:
		break;
	}
}

static const char *
removed_why(const char *kind, const char *path)
{
	for (size_t i = 0; i < sizeof(removed_keys) / sizeof(removed_keys[0]); i++)
		if (strcmp(removed_keys[i].kind, kind) == 0 && strcmp(removed_keys[i].path, path) == 0)
			return removed_keys[i].why;
	return NULL;
}

static void
walk_map(struct loader *l, const struct yt_node *map, const char *prefix)
{
	for (const struct yt_node *kn = map->first; kn != NULL && kn->next != NULL;
	    kn = kn->next->next) {
		const struct yt_node *vn = kn->next;
		char path[MAX_PATH_LEN];
		int idx, w;

		if (kn->type == YT_BAD)
			continue;	/* reported while parsing */
		if (kn->type != YT_SCALAR) {
			lerr(l, kn->pos.line, kn->pos.col, prefix[0] ? prefix : NULL,
			    "a key must be a scalar, found %s", node_kind_name(kn));
			continue;
		}
		w = snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", kn->s);
		if (w < 0 || (size_t)w >= sizeof(path) || strchr(kn->s, '.') != NULL ||
		    kn->s[0] == '\0') {
			lerr(l, kn->pos.line, kn->pos.col, NULL, "unknown key \"%.*s%s\" in %s config",
			    60, path, w >= 60 ? "..." : "", l->kind);
			continue;
		}
		if (vn->type == YT_BAD) {
			/* reported while parsing; a required key is not "missing" */
			if ((idx = key_index(l, path)) >= 0 && l->set[idx].line == 0) {
				l->set[idx].line = vn->pos.line;
				l->set[idx].col = vn->pos.col;
			}
			continue;
		}
		if ((idx = key_index(l, path)) >= 0) {
			set_key(l, idx, vn, path);
			continue;
		}
		if (!is_section(l, path)) {
			const char *why = removed_why(l->kind, path);
			if (why != NULL)
				lerr(l, kn->pos.line, kn->pos.col, path, "no longer a key: %s", why);
			else
				lerr(l, kn->pos.line, kn->pos.col, NULL, "unknown key \"%s\" in %s config",
				    path, l->kind);
			continue;
		}
		struct mark *seen = section_mark(l, path);
		if (seen != NULL) {
			lerr(l, vn->pos.line, vn->pos.col, path, "duplicate key (first set at %d:%d)",
			    seen->line, seen->col);
			continue;
		}
		if (l->nsections < sizeof(l->sections) / sizeof(l->sections[0])) {
			snprintf(l->sections[l->nsections].path, MAX_PATH_LEN, "%s", path);
			l->sections[l->nsections].at.line = vn->pos.line;
			l->sections[l->nsections].at.col = vn->pos.col;
			l->nsections++;
		}
		if (vn->type == YT_SCALAR && vn->null)
			continue;	/* "tls:" alone: an empty section */
		if (vn->type != YT_MAP) {
			type_error(l, vn, path, "a map");
			continue;
		}
		walk_map(l, vn, path);
	}
}

static void
check_required(struct loader *l)
{
	for (size_t i = 0; i < l->nkeys; i++) {
		if (!(l->keys[i].flags & F_REQUIRED))
			continue;
		if (l->set[i].line == 0) {
			struct mark m = key_mark(l, l->keys[i].path);
			lerr(l, m.line, m.col, l->keys[i].path, "required key is missing");
		} else if (l->set[i].null)
			lerr(l, l->set[i].line, l->set[i].col, l->keys[i].path,
			    "required key has no value");
	}
}

/* notify: a URL the sender can post to, known topics, a command that is an absolute path. */
static void
finish_notify(struct loader *l, struct conf_scheduler *c)
{
	static const char *const topics[] = {CONF_NOTIFY_TOPICS};
	struct mark m;
	const char *u = c->notify_webhook_url;
	if (u != NULL) {
		const char *host = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
		if (host == NULL || *host == '\0' || *host == '/' || strpbrk(u, " \t") != NULL) {
			m = key_mark(l, "notify.webhook.url");
			lerr(l, m.line, m.col, "notify.webhook.url", "\"%.80s\" is not an http:// or https:// URL",
			    u);
		}
	}
	for (size_t i = 0; i < c->notify_on.n; i++) {
		size_t k = 0;
		while (k < sizeof(topics) / sizeof(topics[0]) && strcmp(topics[k], c->notify_on.v[i]) != 0)
			k++;
		if (k == sizeof(topics) / sizeof(topics[0])) {
			m = key_mark(l, "notify.on");
			lerr(l, m.line, m.col, "notify.on", "\"%.60s\" is not a topic (schedule.done, "
			    "schedule.failed, schedule.halted, schedule.cancelled, event.failed)",
			    c->notify_on.v[i]);
		}
	}
	if (c->notify_command.n > 0 && c->notify_command.v[0][0] != '/') {
		m = key_mark(l, "notify.command");
		lerr(l, m.line, m.col, "notify.command", "\"%.80s\" is not an absolute path",
		    c->notify_command.v[0]);
	}
	if (c->notify_retry_backoff_ms > c->notify_retry_max_ms) {
		m = key_mark(l, "notify.retry.backoff");
		lerr(l, m.line, m.col, "notify.retry.backoff", "longer than notify.retry.max_backoff");
	}
}

static void
finish_scheduler(struct loader *l, struct conf_scheduler *c)
{
	char a[32], b[32];
	struct mark m;

	if (c->name == NULL) {
		char host[256];
		if (gethostname(host, sizeof(host)) == -1) {
			m = key_mark(l, "name");
			lerr(l, m.line, m.col, "name", "not set, and the host name is unknown: %s",
			    strerror(errno));
		} else {
			host[sizeof(host) - 1] = '\0';
			c->name = xstrdup(host);
		}
	}
	if (!key_given(l, "heartbeat"))
		c->heartbeat_ms = c->lease_ms / 3;
	else if (c->heartbeat_ms >= c->lease_ms) {
		units_format_duration(c->heartbeat_ms, a, sizeof(a));
		units_format_duration(c->lease_ms, b, sizeof(b));
		m = key_mark(l, "heartbeat");
		lerr(l, m.line, m.col, "heartbeat", "%s must be shorter than lease (%s)", a, b);
	}
	if (c->agents_listen.host == NULL || c->agents_listen.host[0] == '\0') {
		m = key_mark(l, "agents.listen");
		lerr(l, m.line, m.col, "agents.listen", "needs an address (0.0.0.0:4020 for every one)");
	}
	if (c->enrol_listen.host != NULL && c->enrol_ca_key == NULL) {
		m = key_mark(l, "enrol.listen");
		lerr(l, m.line, m.col, "enrol.ca_key", "is required with enrol.listen (the key that signs "
		    "the agents' certificates)");
	}
	if (c->enrol_ca_cert == NULL && c->tls_ca != NULL)
		c->enrol_ca_cert = xstrdup(c->tls_ca);
	finish_notify(l, c);
}

/* tls.cert and tls.key must exist, unless enroll.server will make them. */
static void
finish_agent_enroll(struct loader *l, struct conf_agent *c)
{
	static const struct conf_key cert = {"tls.cert", T_FILE, 0, NULL, 0, 0, 0};
	static const struct conf_key key = {"tls.key", T_KEYFILE, 0, NULL, 0, 0, 0};
	char err[512];
	struct mark m;
	if (c->enroll_server != NULL) {
		struct conf_listen hp = {0};
		if (conf_parse_server(c->enroll_server, &hp, err, sizeof(err)) == -1) {
			m = key_mark(l, "enroll.server");
			lerr(l, m.line, m.col, "enroll.server", "%s", err);
		}
		free(hp.host);
		if (c->enroll_ca == NULL && c->tls_ca != NULL)
			c->enroll_ca = xstrdup(c->tls_ca);
	}
	const struct conf_key *ks[] = {&cert, &key};
	char *vals[] = {c->tls_cert, c->tls_key};
	for (int i = 0; i < 2; i++) {
		if (vals[i] == NULL)
			continue;
		if (c->enroll_server != NULL && access(vals[i], F_OK) == -1 && errno == ENOENT)
			continue;
		if (check_file(ks[i], vals[i], err, sizeof(err)) == -1) {
			m = key_mark(l, ks[i]->path);
			lerr(l, m.line, m.col, ks[i]->path, "%s", err);
		}
	}
}

static void
finish_agent(struct loader *l, struct conf_agent *c)
{
	char a[32], b[32];
	struct mark m;

	if (c->reconnect_backoff_ms > c->reconnect_max_backoff_ms) {
		units_format_duration(c->reconnect_backoff_ms, a, sizeof(a));
		units_format_duration(c->reconnect_max_backoff_ms, b, sizeof(b));
		m = key_mark(l, key_given(l, "reconnect.backoff") ? "reconnect.backoff" :
		    "reconnect.max_backoff");
		lerr(l, m.line, m.col, "reconnect.backoff", "%s is longer than reconnect.max_backoff (%s)",
		    a, b);
	}
	if (c->keepalive_timeout_ms <= c->keepalive_interval_ms) {
		units_format_duration(c->keepalive_timeout_ms, a, sizeof(a));
		units_format_duration(c->keepalive_interval_ms, b, sizeof(b));
		m = key_mark(l, key_given(l, "keepalive.timeout") ? "keepalive.timeout" :
		    "keepalive.interval");
		lerr(l, m.line, m.col, "keepalive.timeout", "%s must be longer than keepalive.interval (%s)",
		    a, b);
	}
	finish_agent_enroll(l, c);
	for (size_t i = 0; i < c->copy_allow.n; i++)
		if (c->copy_allow.v[i][0] != '/' || strstr(c->copy_allow.v[i], "..") != NULL) {
			m = key_mark(l, "copy.allow");
			lerr(l, m.line, m.col, "copy.allow", "\"%.80s\" is not an absolute folder (no ..)",
			    c->copy_allow.v[i]);
		}
}

static void
conf_struct_free(const struct conf_key *keys, size_t nkeys, char *base, char **path)
{
	for (size_t i = 0; i < nkeys; i++)
		field_free(&keys[i], base + keys[i].off);
	free(*path);
	free(base);
}

/*
 * The common part of both loaders: base is a zeroed struct of the kind.
 * Returns 0 when the whole file was walked (errors in it are counted by
 * failed()), -1 when it could not be read or parsed.
 */
static int
conf_load(const char *path, const char *kind, const struct conf_key *keys, size_t nkeys,
    char *base, struct conf_errors *errs, struct loader *l)
{
	static const struct yt_limits limits = {CONF_MAX_FILE, MAX_NODES};
	struct arena *arena = NULL;
	struct yt_doc doc;
	char err[512];

	memset(l, 0, sizeof(*l));
	l->file = path;
	l->kind = kind;
	l->keys = keys;
	l->nkeys = nkeys;
	l->base = base;
	l->errs = errs;
	l->found.file = xstrdup(path);
	l->found.max = CONF_MAX_ERRORS;
	l->root.line = l->root.col = 1;
	l->set = calloc(nkeys, sizeof(*l->set));
	if (l->set == NULL)
		fatal("conf: calloc");
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].def != NULL &&
		    scalar_parse(&keys[i], keys[i].def, base + keys[i].off, err, sizeof(err)) == -1)
			lerr(l, 0, 0, keys[i].path, "internal error: bad default: %s", err);

	int rc = yt_load(&arena, path, &limits, &doc, &l->found);
	const struct yt_node *root = doc.root;
	if (rc == 0 && root != NULL && !(root->type == YT_SCALAR && root->null)) {
		l->root.line = root->pos.line;
		l->root.col = root->pos.col;
		if (root->type == YT_MAP)
			walk_map(l, root, "");
		else {
			if (root->type != YT_BAD)
				lerr(l, root->pos.line, root->pos.col, NULL, "the %s config must be a map "
				    "of keys, found %s", kind, node_kind_name(root));
			rc = -1;
		}
	}
	arena_free(arena);
	return rc;
}

int
conf_load_scheduler(const char *path, struct conf_scheduler **out, struct conf_errors *errs)
{
	struct conf_scheduler *c = calloc(1, sizeof(*c));
	struct loader l;

	if (c == NULL)
		fatal("conf: calloc");
	*out = NULL;
	c->path = xstrdup(path);
	if (conf_load(path, "scheduler", scheduler_keys, NKEYS(scheduler_keys), (char *)c, errs,
	    &l) == 0) {
		check_required(&l);
		/* cross-checks only between values that are themselves valid */
		if (!failed(&l))
			finish_scheduler(&l, c);
	}
	if (loader_done(&l) > 0) {
		conf_free_scheduler(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
conf_load_agent(const char *path, struct conf_agent **out, struct conf_errors *errs)
{
	struct conf_agent *c = calloc(1, sizeof(*c));
	struct loader l;

	if (c == NULL)
		fatal("conf: calloc");
	*out = NULL;
	c->path = xstrdup(path);
	if (conf_load(path, "agent", agent_keys, NKEYS(agent_keys), (char *)c, errs, &l) == 0) {
		check_required(&l);
		if (!failed(&l))
			finish_agent(&l, c);
		else
			finish_agent_enroll(&l, c); /* the tls files: every error of the file is said */
	}
	if (loader_done(&l) > 0) {
		conf_free_agent(c);
		return -1;
	}
	*out = c;
	return 0;
}

void
conf_free_scheduler(struct conf_scheduler *c)
{
	if (c != NULL)
		conf_struct_free(scheduler_keys, NKEYS(scheduler_keys), (char *)c, &c->path);
}

void
conf_free_agent(struct conf_agent *c)
{
	if (c != NULL)
		conf_struct_free(agent_keys, NKEYS(agent_keys), (char *)c, &c->path);
}

static int
conf_reload(const struct conf_key *keys, size_t nkeys, char *running, char *fresh,
    const char *file, struct conf_errors *warns)
{
	int kept = 0;

	for (size_t i = 0; i < nkeys; i++) {
		const struct conf_key *k = &keys[i];
		void *a = running + k->off, *b = fresh + k->off;
		unsigned char tmp[64];
		size_t size = field_size(k->type);

		if (!(k->flags & F_RESTART) || field_eq(k->type, a, b) || size > sizeof(tmp))
			continue;
		memcpy(tmp, a, size);
		memcpy(a, b, size);
		memcpy(b, tmp, size);
		conf_errors_add(warns, "%s: %s changed; it needs a restart, keeping the running value",
		    file, k->path);
		kept++;
	}
	return kept;
}

int
conf_reload_scheduler(struct conf_scheduler *running, struct conf_scheduler *fresh,
    struct conf_errors *warns)
{
	return conf_reload(scheduler_keys, NKEYS(scheduler_keys), (char *)running, (char *)fresh,
	    fresh->path, warns);
}

int
conf_changed_scheduler(const struct conf_scheduler *a, const struct conf_scheduler *b)
{
	int n = 0;
	for (size_t i = 0; i < NKEYS(scheduler_keys); i++) {
		const struct conf_key *k = &scheduler_keys[i];
		if (!(k->flags & F_RESTART) &&
		    !field_eq(k->type, (const char *)a + k->off, (const char *)b + k->off))
			n++;
	}
	return n;
}

int
conf_reload_agent(struct conf_agent *running, struct conf_agent *fresh, struct conf_errors *warns)
{
	return conf_reload(agent_keys, NKEYS(agent_keys), (char *)running, (char *)fresh,
	    fresh->path, warns);
}

int
conf_agent_user_allowed(const struct conf_agent *c, const char *user)
{
	if (user == NULL || user[0] == '\0')
		return 0;
	if (c->run_as_default != NULL && strcmp(user, c->run_as_default) == 0)
		return 1;
	if (strcmp(user, "root") == 0 && c->run_as_allow_root)
		return 1;
	return strlist_has(&c->run_as_allow, user);
}
