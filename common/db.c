/*
 * db: libpq behind a small interface. Every statement is PQexecParams (or, for a
 * daemon's connection, db_prepare_statements: prepared at its first use, then
 * PQexecPrepared); the
 * SQLSTATE of the last one is kept; a lost connection is re-opened with
 * exponential backoff, and a statement is sent again only when no transaction
 * was open (inside one, the caller must start the transaction over).
 */
#include "common/db.h"

#include <errno.h>
#include <stdarg.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/db_pg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stmtcache.h"

#define SQLSTATE_OK "00000"
#define SQLSTATE_LOST "08006" /* connection_failure */
#define DB_DOWN_RETRY_MS 1000

struct db {
	PGconn *conn;
	char sqlstate[6];
	int attempts;
	int base_ms;
	int max_ms;
	unsigned reconnects;
	/* every attempt of the last reconnect failed: until down_until (clock_mono_ms) a
	 * statement fails at once, then one attempt is made per statement, without pauses,
	 * so that the owner's loop (its health answers, its watchdog) goes on in an outage */
	int down;
	long long down_until;
	char **channels; /* LISTENed, re-issued after a reconnect */
	int nchannels;
	PGresult *held;  /* db_receive: the result of a statement not yet over */
	char *held_err;  /* db_receive: its first error */
	/* notifications libpq read during a statement, taken out of its queue at once so
	 * that the owner hears of them (note_hook): the socket will not tell again */
	struct db_note *notes, **notes_tail;
	void (*note_hook)(void *arg);
	void *note_arg;
	struct stmtcache *stmts; /* db_prepare_statements: db_exec's statements, prepared */
};

struct db_note {
	struct db_note *next;
	PGnotify *nt;
};

struct db_result {
	PGresult *pg;
};

static const char *appname;

/* snprintf for messages that may be cut to fit: truncation is wanted here. */
static void __attribute__((format(printf, 3, 4)))
put(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

void
db_application_name(const char *name)
{
	appname = name;
}

static void
set_state(struct db *db, const char *state)
{
	put(db->sqlstate, sizeof(db->sqlstate), "%s", state != NULL && *state ? state : "XX000");
}

/* Copy s into dst on one line: runs of newlines and tabs become one space, no trailing blank. */
void
db_pg_flatten(char *dst, size_t size, const char *s)
{
	size_t n = 0;
	int blank = 0;
	if (size == 0)
		return;
	for (; s != NULL && *s && n + 1 < size; s++) {
		if (*s == '\n' || *s == '\t' || *s == '\r') {
			blank = 1;
			continue;
		}
		if (blank && n > 0 && n + 2 < size && dst[n - 1] != ' ')
			dst[n++] = ' ';
		blank = 0;
		dst[n++] = *s;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

void
db_pg_notice(void *arg, const char *message)
{
	char line[1024];
	(void)arg;
	db_pg_flatten(line, sizeof(line), message);
	log_debug("database: %s", line);
}

int
db_conninfo_has_password(const char *conninfo)
{
	char *msg = NULL;
	int found = 0;

	if (conninfo == NULL || conninfo[0] == '\0')
		return 0;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	if (opts == NULL) {
		/* not a connection string: a bare database name, which holds no password */
		PQfreemem(msg);
		return 0;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			found = 1;
	PQconninfoFree(opts);
	return found;
}

void
db_pg_params(const struct db_target *t, const char *keys[7], const char *vals[7])
{
	int n = 0;
	if (t->host != NULL)
		keys[n] = "host", vals[n++] = t->host;
	if (t->port != NULL)
		keys[n] = "port", vals[n++] = t->port;
	if (t->user != NULL)
		keys[n] = "user", vals[n++] = t->user;
	keys[n] = "dbname", vals[n++] = t->conninfo != NULL ? t->conninfo : "";
	keys[n] = "fallback_application_name";
	vals[n++] = appname != NULL ? appname : program_invocation_short_name;
	keys[n] = NULL, vals[n] = NULL;
}

/*
 * A new connection to t, made (async 0) or started (async 1); NULL with the reason in err.
 * db_open, db_open_target and db_open_start all come here.
 */
static struct db *
open_target(const struct db_target *t, int async, char *err, size_t errlen)
{
	const char *keys[7], *vals[7];
	db_pg_params(t, keys, vals);
	struct db *db = calloc(1, sizeof(*db));
	if (db == NULL) {
		put(err, errlen, "database: out of memory");
		return NULL;
	}
	db->conn = async ? PQconnectStartParams(keys, vals, 1) : PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD ||
	    (!async && PQstatus(db->conn) != CONNECTION_OK)) {
		char msg[1024];
		db_pg_flatten(msg, sizeof(msg), db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory");
		/* the server's words (3D000); libpq gives no SQLSTATE for a refused connection */
		int missing = db->conn != NULL && strstr(msg, "database \"") != NULL &&
		    strstr(msg, "\" does not exist") != NULL;
		put(err, errlen, "database: %s%s", msg, missing ? " (create it with createdb, then run "
								  "pgfleet migrate)" : "");
		PQfinish(db->conn);
		free(db);
		return NULL;
	}
	PQsetNoticeProcessor(db->conn, db_pg_notice, NULL);
	/* an asynchronous connection never re-opens by itself: its caller's loop does */
	db->attempts = async ? 0 : DB_RETRY_ATTEMPTS;
	db->base_ms = DB_RETRY_BASE_MS;
	db->max_ms = DB_RETRY_MAX_MS;
	set_state(db, SQLSTATE_OK);
	return db;
}

struct db *
db_open_target(const struct db_target *t, char *err, size_t errlen)
{
	return open_target(t, 0, err, errlen);
}

struct db *
db_open(const char *conninfo, char *err, size_t errlen)
{
	struct db_target t = {.conninfo = conninfo};
	return open_target(&t, 0, err, errlen);
}

/* Move the notifications libpq holds to db->notes; 1 when there were any. */
static int
take_notifies(struct db *db)
{
	int got = 0;
	PGnotify *nt;
	if (db->notes_tail == NULL)
		db->notes_tail = &db->notes;
	while ((nt = PQnotifies(db->conn)) != NULL) {
		struct db_note *n = malloc(sizeof(*n));
		if (n == NULL) {
			log_warnx("database: out of memory: notification on %s not kept", nt->relname);
			PQfreemem(nt);
			continue;
		}
		n->nt = nt;
		n->next = NULL;
		*db->notes_tail = n;
		db->notes_tail = &n->next;
		got = 1;
	}
	return got;
}

/* After a statement: notifications that came with it are kept and the owner told. */
static void
notes_after_statement(struct db *db)
{
	if (take_notifies(db) && db->note_hook != NULL)
		db->note_hook(db->note_arg);
}

static void
notes_free(struct db *db)
{
	while (db->notes != NULL) {
		struct db_note *n = db->notes;
		db->notes = n->next;
		PQfreemem(n->nt);
		free(n);
	}
	db->notes_tail = &db->notes;
}

void
db_set_notify_hook(struct db *db, void (*hook)(void *arg), void *arg)
{
	db->note_hook = hook;
	db->note_arg = arg;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	notes_free(db);
	PQfinish(db->conn);
	PQclear(db->held);
	free(db->held_err);
	for (int i = 0; i < db->nchannels; i++)
		free(db->channels[i]);
	free(db->channels);
	stmtcache_free(db->stmts);
	free(db);
}

int
db_prepare_statements(struct db *db, int max)
{
	if (db->stmts != NULL)
		return 0;
	db->stmts = stmtcache_new(max);
	return db->stmts != NULL ? 0 : -1;
}

void
db_set_retry(struct db *db, int attempts, int base_ms, int max_ms)
{
	db->attempts = attempts < 0 ? 0 : attempts;
	db->base_ms = base_ms < 1 ? 1 : base_ms;
	db->max_ms = max_ms < db->base_ms ? db->base_ms : max_ms;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* "LISTEN <quoted name>" on the raw connection; 0 or -1 with the reason in err. */
static int
listen_raw(struct db *db, const char *channel, char *err, size_t errlen)
{
	char *ident = PQescapeIdentifier(db->conn, channel, strlen(channel));
	if (ident == NULL) {
		char msg[512];
		db_pg_flatten(msg, sizeof(msg), PQerrorMessage(db->conn));
		put(err, errlen, "database: LISTEN %s: %s", channel, msg);
		return -1;
	}
	size_t len = strlen(ident) + sizeof("LISTEN ");
	char *sql = malloc(len);
	if (sql == NULL) {
		PQfreemem(ident);
		put(err, errlen, "database: out of memory");
		return -1;
	}
	snprintf(sql, len, "LISTEN %s", ident);
	PQfreemem(ident);
	PGresult *res = PQexecParams(db->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	free(sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];
		db_pg_flatten(msg, sizeof(msg), PQerrorMessage(db->conn));
		put(err, errlen, "database: LISTEN %s: %s", channel, msg);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * Re-open the connection: first at once, then after pauses doubling from base_ms
 * up to max_ms, at most db->attempts tries; LISTENs are re-issued. After a reconnect
 * that failed, one try without pauses, and none until DB_DOWN_RETRY_MS have passed.
 */
static int
reconnect(struct db *db, char *err, size_t errlen)
{
	int pause = db->base_ms, attempts = db->attempts;
	char msg[512] = "reconnecting is disabled";
	if (db->down && attempts > 0) {
		long long wait = db->down_until - clock_mono_ms();
		if (wait > 0) {
			set_state(db, SQLSTATE_LOST);
			put(err, errlen, "database: connection lost; the next try in %lld ms", wait);
			return -1;
		}
		attempts = 1;
	}
	for (int i = 0; i < attempts; i++) {
		if (i > 0) {
			sleep_ms(pause);
			pause = pause > db->max_ms / 2 ? db->max_ms : pause * 2;
		}
		PQreset(db->conn);
		if (PQstatus(db->conn) != CONNECTION_OK) {
			db_pg_flatten(msg, sizeof(msg), PQerrorMessage(db->conn));
			log_debug("database: reconnect attempt %d of %d: %s", i + 1, db->attempts, msg);
			continue;
		}
		int ok = 1;
		for (int c = 0; c < db->nchannels && ok; c++)
			if (listen_raw(db, db->channels[c], msg, sizeof(msg)) == -1)
				ok = 0;
		if (!ok)
			continue;
		db->reconnects++;
		db->down = 0;
		stmtcache_reset(db->stmts); /* a new session has none of them */
		log_warnx("database: connection re-opened (attempt %d)", i + 1);
		/* a new socket (often the same number: a watch on the old one sees nothing of
		 * it), and notifications sent while the connection was down are lost */
		if (db->note_hook != NULL)
			db->note_hook(db->note_arg);
		return 0;
	}
	set_state(db, SQLSTATE_LOST);
	if (attempts > 0) {
		db->down = 1;
		db->down_until = clock_mono_ms() + DB_DOWN_RETRY_MS;
	}
	put(err, errlen, "database: connection lost, not re-opened after %d attempt%s: %s",
	    attempts, attempts == 1 ? "" : "s", msg);
	return -1;
}

void
db_pg_error(PGconn *conn, const PGresult *res, char *msg, size_t size, char state[6])
{
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char p[1024], d[1024];

	if (PQstatus(conn) == CONNECTION_BAD)
		st = SQLSTATE_LOST;
	put(state, 6, "%s", st != NULL && *st ? st : "XX000"); /* no SQLSTATE from the server */
	if (primary == NULL) {
		const char *m = res != NULL ? PQresultErrorMessage(res) : "";
		db_pg_flatten(p, sizeof(p), *m ? m : PQerrorMessage(conn));
		if (strncmp(p, "ERROR:  ", 8) == 0 || strncmp(p, "FATAL:  ", 8) == 0)
			memmove(p, p + 8, strlen(p + 8) + 1);
		if (!*p)
			put(p, sizeof(p), "unexpected result %s",
			    PQresStatus(res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR));
	} else
		db_pg_flatten(p, sizeof(p), primary);
	if (detail != NULL) {
		db_pg_flatten(d, sizeof(d), detail);
		put(msg, size, "%s: %s (SQLSTATE %s)", p, d, state);
	} else
		put(msg, size, "%s (SQLSTATE %s)", p, state);
}

/* The same, keeping the SQLSTATE. */
static void
result_error(struct db *db, const PGresult *res, char *msg, size_t size)
{
	db_pg_error(db->conn, res, msg, size, db->sqlstate);
}

static int
result_ok(const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return 1;
	default:
		return 0;
	}
}

static int
wrap(struct db_result **out, PGresult *res, char *err, size_t errlen)
{
	if (out == NULL) {
		PQclear(res);
		return 0;
	}
	*out = malloc(sizeof(**out));
	if (*out == NULL) {
		PQclear(res);
		put(err, errlen, "database: out of memory");
		return -1;
	}
	(*out)->pg = res;
	return 0;
}

struct db_result *
db_pg_result(PGresult *res)
{
	struct db_result *r = malloc(sizeof(*r));
	if (r == NULL) {
		PQclear(res);
		return NULL;
	}
	r->pg = res;
	return r;
}

static int
sqlstate_is(const PGresult *res, const char *state)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return s != NULL && strcmp(s, state) == 0;
}

/* One statement, by name when db->stmts holds it (prepared at its first use). */
static PGresult *
exec_one(struct db *db, const char *sql, int nparams, const char *const *params)
{
	const char *name;
	switch (stmtcache_use(db->stmts, sql, &name)) {
	case STMT_PREPARE: {
		PGresult *p = PQprepare(db->conn, name, sql, nparams, NULL);
		if (!result_ok(p)) {
			stmtcache_failed(db->stmts, sql);
			return p; /* its error is the statement's */
		}
		PQclear(p);
		stmtcache_prepared(db->stmts, sql);
	}
		/* FALLTHROUGH */
	case STMT_PREPARED: {
		PGresult *res = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
		/* the name is gone, or its plan no longer fits the schema (a migration ran
		 * under us): unnamed from now on, and once more now unless a transaction
		 * is open (the error ended it; the caller starts it over) */
		if (!result_ok(res) && (sqlstate_is(res, "26000") || sqlstate_is(res, "0A000")) &&
		    PQstatus(db->conn) == CONNECTION_OK) {
			stmtcache_failed(db->stmts, sql);
			if (PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
				PQclear(res);
				res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
			}
		}
		return res;
	}
	default:
		return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	}
}

int
db_exec(struct db *db, struct db_result **out, const char *sql, int nparams,
    const char *const *params, char *err, size_t errlen)
{
	if (out != NULL)
		*out = NULL;
	/* Lost earlier (and not re-opened then): no transaction survives that. */
	if (PQstatus(db->conn) != CONNECTION_OK && reconnect(db, err, errlen) == -1)
		return -1;
	int in_tx = db_in_transaction(db);
	for (int sent = 0;; sent++) {
		PGresult *res = exec_one(db, sql, nparams, params);
		notes_after_statement(db);
		char msg[2048];
		if (result_ok(res)) {
			set_state(db, SQLSTATE_OK);
			return wrap(out, res, err, errlen);
		}
		result_error(db, res, msg, sizeof(msg));
		PQclear(res);
		if (PQstatus(db->conn) != CONNECTION_BAD || sent > 0 || db->attempts == 0) {
			put(err, errlen, "%s", msg);
			return -1;
		}
		if (in_tx) {
			char rerr[512];
			if (reconnect(db, rerr, sizeof(rerr)) == -1)
				log_warnx("%s", rerr);
			set_state(db, SQLSTATE_LOST);
			put(err, errlen,
			    "database: connection lost inside a transaction, statement not re-run: %s", msg);
			return -1;
		}
		log_warnx("database: connection lost, re-opening: %s", msg);
		if (reconnect(db, err, errlen) == -1)
			return -1;
	}
}

/* Line (1-based) of the character position pos (1-based, in characters) of sql. */
static int
line_of(const char *sql, long pos)
{
	int line = 1;
	long chars = 0;
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
		if ((*p & 0xC0) != 0x80 && ++chars >= pos)
			break;
		if (*p == '\n')
			line++;
	}
	return line;
}

int
db_exec_script(struct db *db, const char *sql, char *err, size_t errlen)
{
	if (PQstatus(db->conn) != CONNECTION_OK && reconnect(db, err, errlen) == -1)
		return -1;
	PGresult *res = PQexec(db->conn, sql);
	notes_after_statement(db);
	if (result_ok(res)) {
		PQclear(res);
		set_state(db, SQLSTATE_OK);
		return 0;
	}
	char msg[2048];
	result_error(db, res, msg, sizeof(msg));
	const char *pos = res != NULL ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	if (pos != NULL)
		put(err, errlen, "%s at line %d", msg, line_of(sql, atol(pos)));
	else
		put(err, errlen, "%s", msg);
	PQclear(res);
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		char rerr[512];
		if (reconnect(db, rerr, sizeof(rerr)) == -1)
			log_warnx("%s", rerr);
		set_state(db, SQLSTATE_LOST);
	}
	return -1;
}

const char *
db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

int
db_err_split(const char *err, char *state)
{
	static const char tail[] = " (SQLSTATE xxxxx)";
	size_t len = strlen(err), n = sizeof(tail) - 1;
	if (state != NULL)
		state[0] = '\0';
	if (len >= n && strncmp(err + len - n, tail, 11) == 0 && err[len - 1] == ')') {
		if (state != NULL)
			put(state, 6, "%.5s", err + len - 6);
		len -= n;
	}
	return len > 4096 ? 4096 : (int)len;
}

int
db_api_refused(const char *sqlstate)
{
	static const char *const refusals[] = {"22023", "42704", "42710", "42501", "55000", "P0002"};
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(sqlstate, refusals[i]) == 0)
			return 1;
	return 0;
}

int
db_in_transaction(const struct db *db)
{
	switch (PQtransactionStatus(db->conn)) {
	case PQTRANS_ACTIVE:
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
		return 1;
	default:
		return 0;
	}
}

int
db_begin(struct db *db, char *err, size_t errlen)
{
	if (db_in_transaction(db)) {
		put(err, errlen, "database: BEGIN: a transaction is already open");
		return -1;
	}
	return db_exec(db, NULL, "BEGIN", 0, NULL, err, errlen);
}

int
db_commit(struct db *db, char *err, size_t errlen)
{
	struct db_result *res;
	if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
		char rerr[256];
		(void)db_exec(db, NULL, "ROLLBACK", 0, NULL, rerr, sizeof(rerr));
		set_state(db, "25P02");
		put(err, errlen, "database: COMMIT: the transaction failed earlier and was rolled back");
		return -1;
	}
	if (!db_in_transaction(db)) {
		put(err, errlen, "database: COMMIT: no transaction is open");
		return -1;
	}
	if (db_exec(db, &res, "COMMIT", 0, NULL, err, errlen) == -1) {
		if (strcmp(db->sqlstate, SQLSTATE_LOST) == 0) {
			char msg[1024];
			put(msg, sizeof(msg), "%s", err);
			put(err, errlen, "database: COMMIT: outcome unknown: %s", msg);
		}
		return -1;
	}
	/* A deferred constraint can still turn COMMIT into ROLLBACK without an error result. */
	int rolled_back = strcmp(PQcmdStatus(res->pg), "ROLLBACK") == 0;
	db_result_free(res);
	if (rolled_back) {
		put(err, errlen, "database: COMMIT: the server rolled the transaction back");
		return -1;
	}
	return 0;
}

int
db_rollback(struct db *db, char *err, size_t errlen)
{
	if (!db_in_transaction(db)) {
		set_state(db, SQLSTATE_OK);
		return 0;
	}
	if (db_exec(db, NULL, "ROLLBACK", 0, NULL, err, errlen) == -1)
		/* With the connection went the transaction. */
		return strcmp(db->sqlstate, SQLSTATE_LOST) == 0 ? 0 : -1;
	return 0;
}

int
db_check_channel(const char *channel, char *err, size_t errlen)
{
	size_t n = channel != NULL ? strlen(channel) : 0;
	if (n == 0 || n > 63) {
		put(err, errlen, "channel name \"%s\" must have 1 to 63 characters",
		    channel != NULL ? channel : "");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = channel[i];
		if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9'))) {
			put(err, errlen,
			    "channel name \"%s\" may hold only a-z, 0-9 and _ (not first a digit)", channel);
			return -1;
		}
	}
	return 0;
}

int
db_listen(struct db *db, const char *channel, char *err, size_t errlen)
{
	if (db_check_channel(channel, err, errlen) == -1)
		return -1;
	for (int i = 0; i < db->nchannels; i++)
		if (strcmp(db->channels[i], channel) == 0)
			return 0;
	char **ch = realloc(db->channels, sizeof(*ch) * (size_t)(db->nchannels + 1));
	if (ch == NULL) {
		put(err, errlen, "database: out of memory");
		return -1;
	}
	db->channels = ch;
	if ((ch[db->nchannels] = strdup(channel)) == NULL) {
		put(err, errlen, "database: out of memory");
		return -1;
	}
	/* Remembered first: a reconnect inside db_exec re-issues it. */
	db->nchannels++;
	/* Validated above, so the quoted name is no data injection. */
	char sql[80];
	snprintf(sql, sizeof(sql), "LISTEN \"%s\"", channel);
	if (db_exec(db, NULL, sql, 0, NULL, err, errlen) == -1) {
		free(ch[--db->nchannels]);
		return -1;
	}
	return 0;
}

int
db_notify(struct db *db, const char *channel, const char *payload, char *err, size_t errlen)
{
	const char *params[2] = {channel, payload != NULL ? payload : ""};
	if (db_check_channel(channel, err, errlen) == -1)
		return -1;
	return db_exec(db, NULL, "SELECT pg_notify($1, $2)", 2, params, err, errlen);
}

int
db_socket(const struct db *db)
{
	return PQsocket(db->conn);
}

unsigned
db_reconnects(const struct db *db)
{
	return db->reconnects;
}

int
db_consume_notifies(struct db *db,
    void (*cb)(const char *channel, const char *payload, void *arg), void *arg,
    char *err, size_t errlen)
{
	if (PQstatus(db->conn) != CONNECTION_OK || !PQconsumeInput(db->conn)) {
		char msg[1024];
		db_pg_flatten(msg, sizeof(msg), PQerrorMessage(db->conn));
		set_state(db, SQLSTATE_LOST);
		if (reconnect(db, err, errlen) == -1)
			return -1;
		put(err, errlen, "database: connection lost while listening, re-opened: %s", msg);
		return -1;
	}
	(void)take_notifies(db);
	int n = 0;
	while (db->notes != NULL) {
		struct db_note *note = db->notes;
		db->notes = note->next;
		if (db->notes == NULL)
			db->notes_tail = &db->notes;
		cb(note->nt->relname, note->nt->extra, arg);
		PQfreemem(note->nt);
		free(note);
		n++;
	}
	return n;
}

int
db_ntuples(const struct db_result *res)
{
	return res != NULL ? PQntuples(res->pg) : 0;
}

int
db_nfields(const struct db_result *res)
{
	return res != NULL ? PQnfields(res->pg) : 0;
}

static int
in_range(const struct db_result *res, int row, int col)
{
	return res != NULL && row >= 0 && row < PQntuples(res->pg) && col >= 0 &&
	    col < PQnfields(res->pg);
}

const char *
db_value(const struct db_result *res, int row, int col)
{
	if (!in_range(res, row, col) || PQgetisnull(res->pg, row, col))
		return "";
	return PQgetvalue(res->pg, row, col);
}

int
db_isnull(const struct db_result *res, int row, int col)
{
	return !in_range(res, row, col) || PQgetisnull(res->pg, row, col);
}

const char *
db_fname(const struct db_result *res, int col)
{
	const char *n = res != NULL ? PQfname(res->pg, col) : NULL;
	return n != NULL ? n : "";
}

int
db_fnumber(const struct db_result *res, const char *name)
{
	if (res == NULL)
		return -1;
	/* Exact match: PQfnumber would fold unquoted upper case. */
	for (int i = 0; i < PQnfields(res->pg); i++)
		if (strcmp(PQfname(res->pg, i), name) == 0)
			return i;
	return -1;
}

char
db_fkind(const struct db_result *res, int col)
{
	if (res == NULL || col < 0 || col >= PQnfields(res->pg))
		return 't';
	switch (PQftype(res->pg, col)) {
	case 20: /* int8 */
	case 21: /* int2 */
	case 23: /* int4 */
	case 26: /* oid */
	case 700: /* float4 */
	case 701: /* float8 */
	case 1700: /* numeric */
		return 'n';
	case 16: /* bool */
		return 'b';
	default:
		return 't';
	}
}

long long
db_cmd_tuples(const struct db_result *res)
{
	const char *s = res != NULL ? PQcmdTuples(res->pg) : "";
	return *s ? atoll(s) : 0;
}

void
db_result_free(struct db_result *res)
{
	if (res == NULL)
		return;
	PQclear(res->pg);
	free(res);
}

/* Asynchronous use ------------------------------------------------------------ */

struct db *
db_open_start(const struct db_target *t, char *err, size_t errlen)
{
	return open_target(t, 1, err, errlen);
}

static int
conn_error(struct db *db, const char *what, char *err, size_t errlen)
{
	char msg[1024];
	db_pg_flatten(msg, sizeof(msg), PQerrorMessage(db->conn));
	if (PQstatus(db->conn) == CONNECTION_BAD)
		set_state(db, SQLSTATE_LOST);
	put(err, errlen, "database: %s%s", what, *msg ? msg : "connection failed");
	return -1;
}

int
db_open_poll(struct db *db, char *err, size_t errlen)
{
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		return DB_WANT_READ;
	case PGRES_POLLING_WRITING:
		return DB_WANT_WRITE;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(db->conn, 1) == -1)
			return conn_error(db, "", err, errlen);
		return 0;
	default:
		return conn_error(db, "", err, errlen);
	}
}

int
db_flush(struct db *db, char *err, size_t errlen)
{
	int rc = PQflush(db->conn);
	if (rc == -1)
		return conn_error(db, "send: ", err, errlen);
	return rc == 1 ? DB_WANT_WRITE : 0;
}

int
db_send(struct db *db, const char *sql, int nparams, const char *const *params, char *err,
    size_t errlen)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		return conn_error(db, "send: ", err, errlen);
	if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return conn_error(db, "send: ", err, errlen);
	return db_flush(db, err, errlen);
}

/* Forget a statement's partial result (db_receive keeps it across calls). */
static void
held_clear(struct db *db)
{
	PQclear(db->held);
	db->held = NULL;
	free(db->held_err);
	db->held_err = NULL;
}

int
db_receive(struct db *db, struct db_result **out, char *err, size_t errlen)
{
	PGresult *res;

	if (out != NULL)
		*out = NULL;
	if (!PQconsumeInput(db->conn)) {
		held_clear(db);
		return conn_error(db, "receive: ", err, errlen);
	}
	/* one statement: its result, then NULL; the first error wins over a success */
	for (;;) {
		if (PQisBusy(db->conn))
			return DB_WANT_READ;
		if ((res = PQgetResult(db->conn)) == NULL)
			break;
		if (!result_ok(res)) {
			char msg[2048];
			result_error(db, res, msg, sizeof(msg));
			if (db->held_err == NULL && (db->held_err = strdup(msg)) == NULL) {
				PQclear(res);
				held_clear(db);
				put(err, errlen, "database: out of memory");
				return -1;
			}
			PQclear(res);
		} else if (db->held == NULL)
			db->held = res;
		else
			PQclear(res);
	}
	if (db->held_err != NULL || db->held == NULL) {
		if (db->held_err != NULL)
			put(err, errlen, "%s", db->held_err);
		else if (PQstatus(db->conn) != CONNECTION_OK)
			(void)conn_error(db, "receive: ", err, errlen);
		else
			put(err, errlen, "database: receive: no statement was sent");
		held_clear(db);
		return -1;
	}
	res = db->held;
	db->held = NULL;
	set_state(db, SQLSTATE_OK);
	return wrap(out, res, err, errlen);
}

int
db_connected(const struct db *db)
{
	return db != NULL && PQstatus(db->conn) == CONNECTION_OK;
}
