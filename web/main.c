/*
 * pgfleet-web: options, the start-up checks (the database is migrated, the role cannot
 * write; with --action-role, that role may call the SQL API's run, cancel, retry), then one
 * libevent loop serving the console: pages over the report views, the live progress
 * streams, and, only with --action-role, the actions. SIGTERM and SIGINT end the loop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "common/db.h"
#include "common/evloop.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/sdnotify.h"
#include "common/units.h"
#include "common/version.h"
#include "web/live.h"
#include "web/web.h"

#define DEFAULT_LISTEN "127.0.0.1:8420"
#define MAX_ALLOW_HOST 16

/* Each connection's first statement: the role, read-only transactions, UTC, a timeout. */
static const char SQL_SETUP_ROLE[] =
    "SELECT set_config('role', $1, false), set_config('statement_timeout', $2, false),"
    " set_config('default_transaction_read_only', 'on', false),"
    " set_config('TimeZone', 'UTC', false), set_config('jit', 'off', false)";
static const char SQL_SETUP[] =
    "SELECT set_config('statement_timeout', $2, false),"
    " set_config('default_transaction_read_only', 'on', false),"
    " set_config('TimeZone', 'UTC', false), set_config('jit', 'off', false),"
    " $1::text IS NULL";

/* The actions' connection: their role, a timeout, UTC; writes (through the SQL API). */
static const char SQL_SETUP_ACTIONS[] =
    "SELECT set_config('role', $1, false), set_config('statement_timeout', $2, false),"
    " set_config('TimeZone', 'UTC', false)";
/* The action role may call the SQL API functions of the actions. */
static const char SQL_CHECK_ACTIONS[] =
    "SELECT current_user,"
    " has_function_privilege('pgfleet.cancel(bigint)', 'EXECUTE')"
    " AND has_function_privilege('pgfleet.retry(bigint, boolean)', 'EXECUTE')"
    " AND has_function_privilege('pgfleet.run(text, jsonb, timestamptz, jsonb)', 'EXECUTE')";

/* What the role may change in schema pgfleet; whether 0014 is there; the scripts. */
static const char SQL_CHECK[] =
    "SELECT current_user AS role,"
    " (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS super,"
    " to_regnamespace('pgfleet') IS NOT NULL AS schema,"
    " to_regclass('pgfleet.schedule_list') IS NOT NULL AS migrated,"
    " CASE WHEN to_regnamespace('pgfleet') IS NOT NULL"
    "  THEN has_schema_privilege('pgfleet', 'CREATE') END AS can_create,"
    " (SELECT string_agg(w, ', ') FROM (SELECT c.oid::regclass::text || ' (' || p || ')' AS w"
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p"
    "  WHERE n.nspname = 'pgfleet' AND c.relkind IN ('r', 'p', 'v', 'f')"
    "  AND has_table_privilege(c.oid, p) ORDER BY 1 LIMIT 4) x) AS writes,"
    " CASE WHEN to_regclass('pgfleet.task_list') IS NOT NULL"
    "  THEN has_column_privilege('pgfleet.task_list', 'script', 'SELECT') END AS scripts";

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pgfleet-web [-h HOST] [-p PORT] [-U USER] [-d DBNAME] [-l HOST:PORT] [options]\n"
	    "A web console over pgfleet's report views (docs/web.md); read-only unless\n"
	    "--action-role is given.\n\n"
	    "Connection options (as psql's; the PG* variables and ~/.pgpass fill the rest):\n"
	    "  -h, --host=HOST           database server host or socket directory\n"
	    "  -p, --port=PORT           database server port\n"
	    "  -U, --username=USER       database user name (a member of --role)\n"
	    "  -d, --dbname=DBNAME       database name, or a connection string or URI (default:\n"
	    "                            $PGFLEET_DATABASE, then PGDATABASE); never a password:\n"
	    "                            use PGPASSWORD, ~/.pgpass or a service file\n"
	    "Serving:\n"
	    "  -l, --listen HOST:PORT    where to serve (default " DEFAULT_LISTEN "; [::1]:PORT for\n"
	    "                            IPv6; port 0 takes a free one)\n"
	    "      --port-file FILE      write the port served on to FILE\n"
	    "      --role ROLE           SET ROLE after connecting (default pgfleet_report;\n"
	    "                            pgfleet_report_scripts also shows job scripts; \"\" keeps\n"
	    "                            the login role)\n"
	    "      --allow-write         start even when the role can change the database (it still\n"
	    "                            only reads); without it such a role is refused\n"
	    "      --action-role ROLE    offer cancel, retry failed and run now, done as ROLE\n"
	    "                            (pgfleet_operator; the login role a member of it); off by\n"
	    "                            default\n"
	    "      --allow-host NAME     answer requests for Host NAME too (behind a reverse proxy);\n"
	    "                            localhost, 127.0.0.1, [::1] and the listen host always\n"
	    "      --tls-cert FILE --tls-key FILE --tls-ca FILE\n"
	    "                            serve HTTPS (TLS 1.3) and require a client certificate signed\n"
	    "                            by the CA of --tls-ca whose name is one of --tls-allow\n"
	    "      --tls-allow NAME      a client certificate's name (CN or DNS name) let in; repeatable\n"
	    "      --stale DURATION      computers not seen for this long are stale (default 24h)\n"
	    "      --refresh DURATION    live pages count open schedules again this often, NOTIFY or\n"
	    "                            not (default 5s)\n"
	    "      --statement-timeout DURATION   per statement (default 5s)\n"
	    "      --connections N       database connections for pages (default 4, 1..32)\n"
	    "      --max-live N          live progress streams at once (default 64)\n"
	    "Other options:\n"
	    "  -v, --verbose             more log output on stderr (repeat for more)\n"
	    "  -V, --version             print the version and exit\n"
	    "  -?, --help                this help\n\n"
	    "Exit codes: 0 stopped by SIGTERM or SIGINT, 1 could not run (database, schema, role),\n"
	    "2 usage error or a role that can write.\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	sdnotify("STOPPING=1");
	event_base_loopexit(arg, NULL);
}

/* systemd's watchdog (WatchdogSec=), pinged from the loop: a loop that stops turning is restarted. */
static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sdnotify("WATCHDOG=1");
}

/* "host:port", "[v6]:port" or ":port"; 0, or -1. */
static int
parse_listen(char *s, const char **host, int *port)
{
	char *colon = strrchr(s, ':');
	long long p;
	char err[128];
	if (colon == NULL || units_int(colon + 1, 0, 65535, &p, err, sizeof(err)) == -1)
		return -1;
	*colon = '\0';
	if (s[0] == '[') {
		size_t n = strlen(s);
		if (n < 3 || s[n - 1] != ']')
			return -1;
		s[n - 1] = '\0';
		s++;
	}
	*host = *s != '\0' ? s : "127.0.0.1";
	*port = (int)p;
	return 0;
}

/* --help: a value no short option has, so that '?' with optopt 0 is an unknown option */
enum { OPT_HELP = 1000 };

/* As pgfleet says it: the option that needs a value, or the unknown one (arg as given). */
static void
bad_option(const char *arg)
{
	if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		fprintf(stderr, "pgfleet-web: option %s needs a value\n", arg);
	else if (optopt != 0 && strchr("hpUdl", optopt) != NULL)
		fprintf(stderr, "pgfleet-web: option -%c needs a value\n", optopt);
	else if (optopt != 0)
		fprintf(stderr, "pgfleet-web: unknown option -%c\n", optopt);
	else
		fprintf(stderr, "pgfleet-web: unknown option %s\n", arg);
	fprintf(stderr, "pgfleet-web: pgfleet-web --help lists the options\n");
}

static int
duration_opt(const char *name, const char *v, long long min, long long *out)
{
	char err[256];
	if (units_duration_ms(v, out, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-web: %s: %s\n", name, err);
		return -1;
	}
	if (*out < min) {
		fprintf(stderr, "pgfleet-web: %s: \"%s\" is too short (at least %lldms)\n", name, v, min);
		return -1;
	}
	return 0;
}

/* Connect once, as the pages will, and look at the role and the schema. 0, 1, or 2 (usage). */
static int
check_database(struct web *w, const char *timeout)
{
	char err[1024];
	struct db_result *res = NULL;
	const char *p[2] = {w->conf.role, timeout};
	struct db *db = db_open_target(&w->conf.target, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet-web: %s\n", err);
		return 1;
	}
	/* as the CLI and the scheduler: a missing or older schema is said with its fix */
	char msg[512];
	int st = schema_check(db, msg, sizeof(msg));
	if (st == SCHEMA_NEWER)
		log_warnx("pgfleet-web: %s", msg);
	else if (st != SCHEMA_OK) {
		fprintf(stderr, "pgfleet-web: %s%s\n", st == -1 ? "database: " : "", msg);
		db_close(db);
		return 1;
	}
	if (db_exec(db, NULL, w->conf.role[0] ? SQL_SETUP_ROLE : SQL_SETUP, 2, p, err, sizeof(err)) == -1 ||
	    db_exec(db, &res, SQL_CHECK, 0, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-web: %s%s\n", err, w->conf.role[0] && strstr(err, "role") ?
		    " (the login role must be a member of --role)" : "");
		db_close(db);
		return 1;
	}
	int rc = 0;
	snprintf(w->role, sizeof(w->role), "%s", db_value(res, 0, 0));
	if (strcmp(web_val(res, 0, "schema"), "t") != 0 || strcmp(web_val(res, 0, "migrated"), "t") != 0) {
		fprintf(stderr, "pgfleet-web: the database lacks pgfleet.schedule_list (or the role may "
				"not see it): run pgfleet migrate, which adds it in 0014_web\n");
		rc = 1;
	} else if (strcmp(web_val(res, 0, "super"), "t") == 0 ||
	    strcmp(web_val(res, 0, "can_create"), "t") == 0 || !web_null(res, 0, "writes")) {
		char what[600];
		snprintf(what, sizeof(what), "%s%s%s",
		    strcmp(web_val(res, 0, "super"), "t") == 0 ? "it is a superuser; " : "",
		    strcmp(web_val(res, 0, "can_create"), "t") == 0 ? "CREATE on schema pgfleet; " : "",
		    web_null(res, 0, "writes") ? "" : web_val(res, 0, "writes"));
		if (w->conf.allow_write)
			log_warnx("pgfleet-web: role %s can change the database (%s); serving anyway "
				  "(--allow-write), read-only transactions only", w->role, what);
		else {
			fprintf(stderr, "pgfleet-web: role %s can change the database (%s): give the console a "
					"read-only role (--role pgfleet_report, the default, needs the login role "
					"to be a member of it), or start it with --allow-write\n", w->role, what);
			rc = 2;
		}
	}
	w->scripts = strcmp(web_val(res, 0, "scripts"), "t") == 0;
	db_result_free(res);
	db_close(db);
	return rc;
}

/* With --action-role: connect as the actions will, and see that the role may do them. 0 or 1. */
static int
check_actions(struct web *w, const char *timeout)
{
	char err[1024];
	struct db_result *res = NULL;
	const char *p[2] = {w->conf.action_role, timeout};
	struct db *db = db_open_target(&w->conf.target, err, sizeof(err));
	if (db == NULL) {
		fprintf(stderr, "pgfleet-web: %s\n", err);
		return 1;
	}
	if (db_exec(db, NULL, SQL_SETUP_ACTIONS, 2, p, err, sizeof(err)) == -1 ||
	    db_exec(db, &res, SQL_CHECK_ACTIONS, 0, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-web: --action-role: %s%s\n", err, strstr(err, "role") != NULL ?
		    " (the login role must be a member of --action-role)" : "");
		db_close(db);
		return 1;
	}
	int ok = strcmp(db_value(res, 0, 1), "t") == 0;
	if (!ok)
		fprintf(stderr, "pgfleet-web: --action-role: role %s may not call pgfleet.cancel, retry "
				"and run: use pgfleet_operator, which may\n", db_value(res, 0, 0));
	db_result_free(res);
	db_close(db);
	return ok ? 0 : 1;
}

static int
write_port_file(const char *path, int port)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	int ok = fprintf(f, "%d\n", port) > 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) == -1)
		return -1;
	return 0;
}

static const struct option longopts[] = {
    {"host", required_argument, NULL, 'h'}, {"port", required_argument, NULL, 'p'},
    {"username", required_argument, NULL, 'U'}, {"dbname", required_argument, NULL, 'd'},
    {"listen", required_argument, NULL, 'l'}, {"verbose", no_argument, NULL, 'v'},
    {"port-file", required_argument, NULL, 'P'}, {"role", required_argument, NULL, 'R'},
    {"allow-write", no_argument, NULL, 'W'}, {"action-role", required_argument, NULL, 'O'}, {"allow-host", required_argument, NULL, 'H'},
    {"stale", required_argument, NULL, 'S'}, {"refresh", required_argument, NULL, 'F'},
    {"statement-timeout", required_argument, NULL, 'T'},
    {"connections", required_argument, NULL, 'C'}, {"max-live", required_argument, NULL, 'M'},
    {"tls-cert", required_argument, NULL, 'c'}, {"tls-key", required_argument, NULL, 'k'},
    {"tls-ca", required_argument, NULL, 'a'}, {"tls-allow", required_argument, NULL, 'A'},
    {"version", no_argument, NULL, 'V'}, {"help", no_argument, NULL, OPT_HELP}, {NULL, 0, NULL, 0},
};

/* The values of the repeatable --allow-host and --tls-allow (argv's strings). */
static const char *allow_host[MAX_ALLOW_HOST], *tls_allow[MAX_ALLOW_HOST];

/* What main frees after the loop. */
struct loop_events {
	struct event *sigterm, *sigint, *watchdog;
};

static void
web_defaults(struct web *w)
{
	w->conf.target.conninfo = getenv("PGFLEET_DATABASE") != NULL ? getenv("PGFLEET_DATABASE") : "";
	w->conf.role = "pgfleet_report";
	w->conf.stale_ms = 24LL * 3600 * 1000;
	w->conf.refresh_ms = 5000;
	w->conf.statement_timeout_ms = 5000;
	w->conf.pool_size = 4;
	w->conf.max_live = 64;
	w->conf.allow_host = allow_host;
	w->conf.tls_allow = tls_allow;
}

/* --allow-host (c 'H') or --tls-allow (c 'A'): one more name. 0, or -1 when there are too many. */
static int
name_opt(struct web *w, int c, const char *v)
{
	if ((c == 'H' ? w->conf.nallow_host : w->conf.ntls_allow) == MAX_ALLOW_HOST) {
		fprintf(stderr, "pgfleet-web: at most %d %s\n", MAX_ALLOW_HOST,
		    c == 'H' ? "--allow-host" : "--tls-allow");
		return -1;
	}
	if (c == 'H')
		allow_host[w->conf.nallow_host++] = v;
	else
		tls_allow[w->conf.ntls_allow++] = v;
	return 0;
}

/* --connections (c 'C') or --max-live (c 'M'). 0, or -1 after saying why. */
static int
count_opt(struct web *w, int c, const char *v)
{
	char err[512];
	long long n;
	if (units_int(v, 1, c == 'C' ? 32 : 10000, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-web: %s: %s\n", c == 'C' ? "--connections" : "--max-live", err);
		return -1;
	}
	*(c == 'C' ? &w->conf.pool_size : &w->conf.max_live) = (int)n;
	return 0;
}

/* An option that sets a value (--listen into listen_buf). 0, -1 after saying why, 1 when c is none. */
static int
value_opt(struct web *w, int c, const char *v, char *listen_buf, size_t listen_len)
{
	switch (c) {
	case 'h': w->conf.target.host = v; break;
	case 'p': w->conf.target.port = v; break;
	case 'U': w->conf.target.user = v; break;
	case 'd': w->conf.target.conninfo = v; break;
	case 'l': snprintf(listen_buf, listen_len, "%s", v); break;
	case 'P': w->conf.port_file = v; break;
	case 'R': w->conf.role = v; break;
	case 'W': w->conf.allow_write = 1; break;
	case 'O': w->conf.action_role = v; break;
	case 'c': w->conf.tls_cert = v; break;
	case 'k': w->conf.tls_key = v; break;
	case 'a': w->conf.tls_ca = v; break;
	case 'H':
	case 'A': return name_opt(w, c, v);
	case 'S': return duration_opt("--stale", v, 1000, &w->conf.stale_ms);
	case 'F': return duration_opt("--refresh", v, 100, &w->conf.refresh_ms);
	case 'T': return duration_opt("--statement-timeout", v, 10, &w->conf.statement_timeout_ms);
	case 'C':
	case 'M': return count_opt(w, c, v);
	default: return 1;
	}
	return 0;
}

/* The command line into w. -1 to go on, else the exit code (0 after --help or --version). */
static int
parse_options(int argc, char **argv, struct web *w, char *listen_buf, size_t listen_len, int *level)
{
	int c, rc;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h:p:U:d:l:vV?", longopts, NULL)) != -1) {
		switch (c) {
		case 'v': (*level)++; break;
		case 'V': version_print(stdout, "pgfleet-web"); return 0;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case '?':
			/* -? itself (glibc leaves optopt 0 for it, as for an unknown long option) */
			if (optopt == 0 && strcmp(argv[optind - 1], "-?") == 0) {
				usage(stdout);
				return 0;
			}
			bad_option(argv[optind - 1]);
			return 2;
		default:
			if ((rc = value_opt(w, c, optarg, listen_buf, listen_len)) == 1)
				bad_option(argv[optind - 1]);
			if (rc != 0)
				return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pgfleet-web: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The options taken together: the listen address, HTTPS's four, no password in argv. 0, or 2. */
static int
check_options(struct web *w, char *listen_buf)
{
	if (parse_listen(listen_buf, &w->conf.listen_host, &w->conf.listen_port) == -1) {
		fprintf(stderr, "pgfleet-web: --listen: \"%s\" is not HOST:PORT\n", listen_buf);
		return 2;
	}
	int ntls = (w->conf.tls_cert != NULL) + (w->conf.tls_key != NULL) + (w->conf.tls_ca != NULL);
	if ((ntls != 0 && ntls != 3) || (ntls == 3) != (w->conf.ntls_allow > 0)) {
		fprintf(stderr, "pgfleet-web: HTTPS needs --tls-cert, --tls-key, --tls-ca and at least one "
				"--tls-allow, all together\n");
		return 2;
	}
	/* argv is readable by every user of the machine */
	if (db_conninfo_has_password(w->conf.target.conninfo)) {
		fprintf(stderr, "pgfleet-web: -d: the connection string holds a password, which every user "
				"of this machine can read in the process list; give it in PGPASSWORD, ~/.pgpass "
				"or a service file instead\n");
		return 2;
	}
	return 0;
}

/* The loop, the pools, the server and the signal events. 0, or 1 when the server cannot start. */
static int
serve_start(struct web *w, const char *timeout, struct loop_events *ev)
{
	char err[512];
	signal(SIGPIPE, SIG_IGN);
	if ((w->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	const char *setup[2] = {w->conf.role[0] ? w->conf.role : NULL, timeout};
	w->pool = dbpool_new(w->base, &w->conf.target, w->conf.pool_size,
	    w->conf.role[0] ? SQL_SETUP_ROLE : SQL_SETUP, 2, setup);
	if (w->pool == NULL || (w->live = live_new(w)) == NULL)
		fatalx("pgfleet-web: out of memory");
	if (w->conf.action_role != NULL) {
		/* one connection: an operator's click at a time is plenty */
		const char *asetup[2] = {w->conf.action_role, timeout};
		if ((w->apool = dbpool_new(w->base, &w->conf.target, 1, SQL_SETUP_ACTIONS, 2, asetup)) == NULL)
			fatalx("pgfleet-web: out of memory");
		dbpool_once(w->apool);
		if (csrf_key_new(w->csrf_key) == -1)
			fatalx("pgfleet-web: no random bytes for the CSRF key");
	}
	if (web_http_start(w, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet-web: %s\n", err);
		return 1;
	}
	ev->sigterm = evsignal_new(w->base, SIGTERM, on_signal, w->base);
	ev->sigint = evsignal_new(w->base, SIGINT, on_signal, w->base);
	if (ev->sigterm == NULL || ev->sigint == NULL || event_add(ev->sigterm, NULL) == -1 ||
	    event_add(ev->sigint, NULL) == -1)
		fatalx("pgfleet-web: signal events");
	return 0;
}

/* Serving: the port file, the log line, systemd's READY and its watchdog timer. */
static void
serve_announce(struct web *w, struct loop_events *ev)
{
	if (w->conf.port_file != NULL && write_port_file(w->conf.port_file, w->conf.listen_port) == -1)
		fatal("pgfleet-web: port file %s", w->conf.port_file);
	char url[320];
	int v6 = strchr(w->conf.listen_host, ':') != NULL;
	snprintf(url, sizeof(url), "%s://%s%s%s:%d/", w->tls != NULL ? "https" : "http", v6 ? "[" : "",
	    w->conf.listen_host, v6 ? "]" : "", w->conf.listen_port);
	log_notice("pgfleet-web: serving %s as database role %s%s%s%s", url, w->role,
	    w->scripts ? " (scripts shown)" : "", w->apool != NULL ? "; actions as " : "",
	    w->apool != NULL ? w->conf.action_role : "");
	sdnotify("READY=1\nSTATUS=serving %s\nMAINPID=%ld", url, (long)getpid());
	long long wd_ms = sdnotify_watchdog_ms();
	if (wd_ms > 0) {
		struct timeval half = {.tv_sec = wd_ms / 2000, .tv_usec = (wd_ms / 2 % 1000) * 1000};
		ev->watchdog = event_new(w->base, -1, EV_PERSIST, on_watchdog, NULL);
		if (ev->watchdog == NULL || event_add(ev->watchdog, &half) == -1)
			fatalx("pgfleet-web: watchdog timer");
	}
}

static void
serve_end(struct web *w, struct loop_events *ev)
{
	live_free(w->live);
	evhttp_free(w->http);
	dbpool_free(w->pool);
	dbpool_free(w->apool);
	OPENSSL_cleanse(w->csrf_key, sizeof(w->csrf_key));
	evloop_event_free(ev->watchdog);
	event_free(ev->sigterm);
	event_free(ev->sigint);
	event_base_free(w->base);
	SSL_CTX_free(w->tls);
	if (w->conf.port_file != NULL)
		(void)unlink(w->conf.port_file);
}

int
main(int argc, char **argv)
{
	static struct web w;
	char listen_buf[300] = DEFAULT_LISTEN, timeout[32];
	int level = LL_NOTICE;
	struct loop_events ev = {NULL, NULL, NULL};

	web_defaults(&w);
	int rc = parse_options(argc, argv, &w, listen_buf, sizeof(listen_buf), &level);
	if (rc != -1)
		return rc;
	if (check_options(&w, listen_buf) != 0)
		return 2;
	sdnotify_init();
	log_init(level, NULL);
	log_procinit("web");
	db_application_name("pgfleet-web");
	snprintf(timeout, sizeof(timeout), "%lld", w.conf.statement_timeout_ms);
	rc = check_database(&w, timeout);
	if (rc == 0 && w.conf.action_role != NULL)
		rc = check_actions(&w, timeout);
	if (rc != 0)
		return rc;
	if (serve_start(&w, timeout, &ev) != 0)
		return 1;
	serve_announce(&w, &ev);

	event_base_dispatch(w.base);

	serve_end(&w, &ev);
	return 0;
}
