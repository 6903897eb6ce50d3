/*
 * Exercise common/db against the real PostgreSQL of the integration tests (PG*
 * variables): results, errors with SQLSTATE, transactions, reconnect after the
 * backend is killed (re-run outside a transaction, not inside), LISTEN/NOTIFY also
 * across a reconnect; statements prepared at their first use (db_prepare_statements):
 * by name afterwards, a prepare's error, a plan the schema changed under, a new
 * session after a reconnect. Prints "ok - ..." per check; exits 1 at the first failure.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/log.h"

static char err[2048];

#define CHECK(cond, what)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "FAIL: %s (line %d): %s [err: %s]\n", what, __LINE__, \
			    #cond, err);                                               \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

static void
ok(const char *what)
{
	printf("ok - %s\n", what);
}

/* Static text: a prepared statement is known by its address. */
static const char SQL_PLUS[] = "SELECT $1::int + 1";
static const char SQL_OURS[] = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgfleet_%'";
static const char SQL_TYPO[] = "SELEC 1";
static const char SQL_STAR[] = "SELECT * FROM dbcheck_plan";
static const char SQL_STAR2[] = "SELECT * FROM dbcheck_plan2";

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *
one(struct db *db, const char *sql)
{
	struct db_result *r;
	CHECK(db_exec(db, &r, sql, 0, NULL, err, sizeof(err)) == 0, sql);
	char *v = strdup(db_value(r, 0, 0));
	db_result_free(r);
	return v;
}

/* Kill victim's backend from killer's connection. */
static void
kill_backend(struct db *killer, struct db *victim)
{
	char *pid = one(victim, "SELECT pg_backend_pid()");
	const char *p[1] = {pid};
	struct db_result *r;
	CHECK(db_exec(killer, &r, "SELECT pg_terminate_backend($1::int, 5000)", 1, p, err,
	    sizeof(err)) == 0, "terminate");
	CHECK(strcmp(db_value(r, 0, 0), "t") == 0, "terminate returned true");
	db_result_free(r);
	free(pid);
}

struct got {
	int n;
	char channel[64];
	char payload[256];
};

static void
on_notify(const char *channel, const char *payload, void *arg)
{
	struct got *g = arg;
	g->n++;
	snprintf(g->channel, sizeof(g->channel), "%s", channel);
	snprintf(g->payload, sizeof(g->payload), "%s", payload);
}

static void
wait_notify(struct db *db, struct got *g)
{
	for (int i = 0; i < 50 && g->n == 0; i++) {
		struct pollfd pfd = {.fd = db_socket(db), .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0)
			CHECK(db_consume_notifies(db, on_notify, g, err, sizeof(err)) >= 0, "consume");
	}
}

int
main(void)
{
	struct db_result *r;
	log_init(LL_WARNING, NULL);

	struct db *a = db_open("", err, sizeof(err));
	CHECK(a != NULL, "open with the PG* variables");
	struct db *b = db_open("", err, sizeof(err));
	CHECK(b != NULL, "second connection");
	char *app = one(a, "SELECT current_setting('application_name')");
	CHECK(strcmp(app, "pgfleet-test-dbcheck") == 0, "application_name is the program name");
	free(app);
	ok("db_open sets application_name");

	const char *p2[2] = {"41", NULL};
	CHECK(db_exec(a, &r, "SELECT $1::int + 1 AS answer, $2::text IS NULL, NULL::text AS n", 2,
	    p2, err, sizeof(err)) == 0, "params");
	CHECK(db_ntuples(r) == 1 && db_nfields(r) == 3, "shape");
	CHECK(strcmp(db_value(r, 0, 0), "42") == 0, "value");
	CHECK(strcmp(db_value(r, 0, 1), "t") == 0, "NULL parameter");
	CHECK(strcmp(db_value(r, 0, 2), "") == 0 && db_isnull(r, 0, 2) && !db_isnull(r, 0, 0),
	    "NULL field");
	CHECK(strcmp(db_fname(r, 0), "answer") == 0 && db_fnumber(r, "n") == 2 &&
	    db_fnumber(r, "nope") == -1, "field names");
	CHECK(strcmp(db_value(r, 5, 0), "") == 0 && db_isnull(r, 0, 9), "out of range");
	db_result_free(r);
	CHECK(strcmp(db_sqlstate(a), "00000") == 0, "sqlstate after success");
	ok("db_exec binds parameters, NULLs and reads fields");

	CHECK(db_exec(a, NULL, "CREATE TABLE dbcheck (x int PRIMARY KEY)", 0, NULL, err,
	    sizeof(err)) == 0, "create");
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (1)", 0, NULL, err, sizeof(err)) == 0,
	    "insert");
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (1)", 0, NULL, err, sizeof(err)) == -1,
	    "duplicate refused");
	CHECK(strcmp(err, "duplicate key value violates unique constraint \"dbcheck_pkey\": "
			  "Key (x)=(1) already exists. (SQLSTATE 23505)") == 0, "error text");
	CHECK(strcmp(db_sqlstate(a), "23505") == 0, "sqlstate kept");
	ok("db_exec error carries the server message, detail and SQLSTATE");

	CHECK(db_exec(a, NULL, "SELECT 1; SELECT 2", 0, NULL, err, sizeof(err)) == -1,
	    "two statements refused by PQexecParams");
	CHECK(strcmp(db_sqlstate(a), "42601") == 0, "syntax error state");
	CHECK(db_exec_script(a, "SELECT 1;\nSELECT 2;\n\nSELECT nosuch;\n", err, sizeof(err)) == -1,
	    "script error");
	CHECK(strcmp(err, "column \"nosuch\" does not exist (SQLSTATE 42703) at line 4") == 0,
	    "script error names the line");
	ok("db_exec is one statement; db_exec_script reports the failing line");

	CHECK(db_exec(a, &r, "UPDATE dbcheck SET x = x", 0, NULL, err, sizeof(err)) == 0, "update");
	CHECK(db_cmd_tuples(r) == 1, "cmd tuples");
	db_result_free(r);
	ok("db_cmd_tuples counts touched rows");

	CHECK(!db_in_transaction(a), "idle");
	CHECK(db_begin(a, err, sizeof(err)) == 0 && db_in_transaction(a), "begin");
	CHECK(db_begin(a, err, sizeof(err)) == -1, "nested begin refused");
	CHECK(strcmp(err, "database: BEGIN: a transaction is already open") == 0, "nested text");
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (1)", 0, NULL, err, sizeof(err)) == -1,
	    "fails inside");
	CHECK(db_in_transaction(a), "failed transaction still open");
	CHECK(db_commit(a, err, sizeof(err)) == -1, "commit of a failed transaction");
	CHECK(strcmp(err, "database: COMMIT: the transaction failed earlier and was rolled back") == 0,
	    "commit text");
	CHECK(!db_in_transaction(a), "closed after failed commit");
	CHECK(db_commit(a, err, sizeof(err)) == -1 &&
	    strcmp(err, "database: COMMIT: no transaction is open") == 0, "commit without begin");
	CHECK(db_rollback(a, err, sizeof(err)) == 0, "rollback without a transaction is fine");
	CHECK(db_begin(a, err, sizeof(err)) == 0, "begin");
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (2)", 0, NULL, err, sizeof(err)) == 0,
	    "insert 2");
	CHECK(db_rollback(a, err, sizeof(err)) == 0, "rollback");
	char *cnt = one(a, "SELECT count(*) FROM dbcheck");
	CHECK(strcmp(cnt, "1") == 0, "rolled back row gone");
	free(cnt);
	ok("db_begin/db_commit/db_rollback and db_in_transaction");

	db_set_retry(a, 5, 50, 400);
	char *pid0 = one(a, "SELECT pg_backend_pid()");
	kill_backend(b, a);
	CHECK(db_exec(a, &r, "SELECT pg_backend_pid()", 0, NULL, err, sizeof(err)) == 0,
	    "statement after the backend was killed runs on a new connection");
	CHECK(strcmp(db_value(r, 0, 0), pid0) != 0, "new backend");
	CHECK(db_reconnects(a) == 1, "one reconnect counted");
	CHECK(strcmp(db_sqlstate(a), "00000") == 0, "state ok after reconnect");
	db_result_free(r);
	free(pid0);
	ok("db_exec reconnects and re-runs a statement outside a transaction");

	CHECK(db_begin(a, err, sizeof(err)) == 0, "begin");
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (3)", 0, NULL, err, sizeof(err)) == 0,
	    "insert 3");
	kill_backend(b, a);
	CHECK(db_exec(a, NULL, "INSERT INTO dbcheck VALUES (4)", 0, NULL, err, sizeof(err)) == -1,
	    "statement inside a lost transaction fails");
	CHECK(strcmp(db_sqlstate(a), "08006") == 0, "connection failure state");
	CHECK(starts(err, "database: connection lost inside a transaction, statement not re-run: "),
	    "lost-in-transaction text");
	CHECK(!db_in_transaction(a), "no transaction after the loss");
	CHECK(db_reconnects(a) == 2, "reconnected for the caller");
	CHECK(db_rollback(a, err, sizeof(err)) == 0, "rollback after loss is fine");
	cnt = one(a, "SELECT string_agg(x::text, ',' ORDER BY x) FROM dbcheck");
	CHECK(strcmp(cnt, "1") == 0, "neither 3 nor 4 was written");
	free(cnt);
	ok("a statement is not re-run inside a transaction after a lost connection");

	CHECK(db_listen(a, "Bad-Name", err, sizeof(err)) == -1, "bad channel");
	CHECK(strcmp(err, "channel name \"Bad-Name\" may hold only a-z, 0-9 and _ (not first a digit)")
	    == 0, "bad channel text");
	CHECK(db_listen(a, "pgfleet_dbcheck", err, sizeof(err)) == 0, "listen");
	CHECK(db_notify(b, "pgfleet_dbcheck", "hello", err, sizeof(err)) == 0, "notify");
	struct got g = {0};
	wait_notify(a, &g);
	CHECK(g.n == 1 && strcmp(g.channel, "pgfleet_dbcheck") == 0 &&
	    strcmp(g.payload, "hello") == 0, "notification received");
	ok("db_listen, db_notify, db_socket and db_consume_notifies");

	kill_backend(b, a);
	char *ping = one(a, "SELECT 'ping'");
	free(ping);
	CHECK(db_reconnects(a) == 3, "reconnected");
	CHECK(db_notify(b, "pgfleet_dbcheck", "again", err, sizeof(err)) == 0, "notify again");
	memset(&g, 0, sizeof(g));
	wait_notify(a, &g);
	CHECK(g.n == 1 && strcmp(g.payload, "again") == 0, "notification after reconnect");
	ok("LISTEN is re-issued after a reconnect");

	kill_backend(b, a);
	struct pollfd pfd = {.fd = db_socket(a), .events = POLLIN};
	CHECK(poll(&pfd, 1, 5000) == 1, "killed connection readable");
	int n = db_consume_notifies(a, on_notify, &g, err, sizeof(err));
	if (n == 0) /* the FATAL message arrived first; the EOF comes next */
		n = db_consume_notifies(a, on_notify, &g, err, sizeof(err));
	CHECK(n == -1, "loss seen while listening");
	CHECK(starts(err, "database: connection lost while listening, re-opened: "),
	    "listening loss text");
	CHECK(db_reconnects(a) == 4, "reconnected while listening");
	CHECK(db_notify(b, "pgfleet_dbcheck", "third", err, sizeof(err)) == 0, "notify third");
	memset(&g, 0, sizeof(g));
	wait_notify(a, &g);
	CHECK(g.n == 1 && strcmp(g.payload, "third") == 0, "notification on the new socket");
	ok("db_consume_notifies notices a lost connection and re-opens it");

	struct db *c = db_open("", err, sizeof(err));
	CHECK(c != NULL && db_prepare_statements(c, 8) == 0, "a connection that prepares");
	const char *p1[1] = {"41"};
	for (int i = 0; i < 3; i++) {
		CHECK(db_exec(c, &r, SQL_PLUS, 1, p1, err, sizeof(err)) == 0, "prepared, by name");
		CHECK(strcmp(db_value(r, 0, 0), "42") == 0, "prepared value");
		db_result_free(r);
	}
	cnt = one(c, SQL_OURS);
	CHECK(strcmp(cnt, "2") == 0, "two statements prepared, once each");
	free(cnt);
	ok("db_prepare_statements: prepared at the first use, by name afterwards");

	for (int i = 0; i < 2; i++) {
		CHECK(db_exec(c, NULL, SQL_TYPO, 0, NULL, err, sizeof(err)) == -1, "typo refused");
		CHECK(strcmp(db_sqlstate(c), "42601") == 0 && strstr(err, "syntax") != NULL,
		    "the prepare's error is the statement's");
	}
	ok("a statement whose prepare fails gets the server's error, then goes unnamed");

	CHECK(db_exec(c, NULL, "CREATE TABLE dbcheck_plan (a int)", 0, NULL, err, sizeof(err)) == 0 &&
	    db_exec(c, NULL, "CREATE TABLE dbcheck_plan2 (a int)", 0, NULL, err, sizeof(err)) == 0,
	    "plan tables");
	CHECK(db_exec(c, &r, SQL_STAR, 0, NULL, err, sizeof(err)) == 0 && db_nfields(r) == 1, "one column");
	db_result_free(r);
	CHECK(db_exec(c, &r, SQL_STAR2, 0, NULL, err, sizeof(err)) == 0 && db_nfields(r) == 1, "one column");
	db_result_free(r);
	CHECK(db_exec(b, NULL, "ALTER TABLE dbcheck_plan ADD COLUMN b int", 0, NULL, err, sizeof(err)) == 0 &&
	    db_exec(b, NULL, "ALTER TABLE dbcheck_plan2 ADD COLUMN b int", 0, NULL, err, sizeof(err)) == 0,
	    "columns added from another session");
	CHECK(db_exec(c, &r, SQL_STAR, 0, NULL, err, sizeof(err)) == 0 && db_nfields(r) == 2,
	    "outside a transaction: run again unnamed at once, both columns");
	db_result_free(r);
	CHECK(db_begin(c, err, sizeof(err)) == 0, "begin");
	CHECK(db_exec(c, NULL, SQL_STAR2, 0, NULL, err, sizeof(err)) == -1 &&
	    strcmp(db_sqlstate(c), "0A000") == 0, "inside a transaction: the error, not re-run");
	CHECK(db_rollback(c, err, sizeof(err)) == 0, "rollback");
	CHECK(db_exec(c, &r, SQL_STAR2, 0, NULL, err, sizeof(err)) == 0 && db_nfields(r) == 2,
	    "then unnamed");
	db_result_free(r);
	ok("a prepared plan the schema changed under: re-run unnamed outside a transaction");

	db_set_retry(c, 5, 50, 400);
	kill_backend(b, c);
	CHECK(db_exec(c, &r, SQL_PLUS, 1, p1, err, sizeof(err)) == 0 &&
	    strcmp(db_value(r, 0, 0), "42") == 0, "after a reconnect");
	db_result_free(r);
	cnt = one(c, SQL_OURS);
	CHECK(strcmp(cnt, "2") == 0, "prepared again on the new session");
	free(cnt);
	ok("after a reconnect the statements are prepared again on the new session");
	db_close(c);

	db_close(a);
	db_close(b);
	return 0;
}
