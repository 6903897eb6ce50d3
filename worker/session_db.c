/*
 * session_db: the session's SQL. Every statement is a constant with $n
 * parameters run through common/db.c; custom tokens run in a read-only
 * transaction with a statement timeout (docs/tokens.md).
 */
#include "worker/session_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/log.h"

/* Ours only in the attempt we were handed; NEXT_TASK_SEQ is read here, not taken from
 * the hand-over, which still says what the claim said after a worker died. */
static const char SQL_LOAD_EVENT[] =
    "SELECT s.job_id, s.job_version, j.name, coalesce(s.created_by, ''), c.name, c.host,"
    " c.os, c.ip, c.mac, c.serial, c.asset_tag, c.domain,"
    " c.domain_ou, c.dept, c.contact, c.email, e.next_task_seq,"
    " (extract(epoch FROM e.due_at) * 1000)::bigint"
    " FROM pgfleet.event e JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id"
    " JOIN pgfleet.job j ON j.job_id = s.job_id"
    " JOIN pgfleet.computer c ON c.computer_id = e.computer_id"
    " WHERE e.event_id = $1::bigint AND e.lease_owner = $2 AND e.state = 'running'"
    " AND e.attempt = $3::int";

static const char SQL_LOAD_TASKS[] =
    "SELECT seq, script, interpreter, coalesce(run_as, ''), coalesce(timeout_ms, 0),"
    " array_to_string(success_codes, ','), on_failure, coalesce(os_required, ''),"
    " coalesce(boot_env, ''), copy_dest, coalesce(copy_mode, 0)"
    " FROM pgfleet.task WHERE job_id = $1::bigint AND version = $2::int ORDER BY seq";

static const char SQL_LOAD_ON_CODE[] =
    "SELECT t.seq, m.key, m.value FROM pgfleet.task t, jsonb_each_text(t.on_code) m"
    " WHERE t.job_id = $1::bigint AND t.version = $2::int ORDER BY t.seq";

/* Custom tokens: a read-only transaction with a statement timeout. Table and
 * column names (allow-listed, [a-z_][a-z0-9_]*) go as parameters to
 * pgfleet.token_value(), which quotes them with %I: only constant SQL is sent.
 * A %#*"SQL"% token's query goes as a parameter to pgfleet.token_sql()
 * (migrations/0010_token_role.sql), run as the role pgfleet_token. */
static const char SQL_TOKEN_TABLE[] = "SELECT pgfleet.token_value($1, $2, $3::bigint)";
static const char SQL_TOKEN_QUERY[] = "SELECT pgfleet.token_sql($1, $2::bigint)";

static char *
xstrdup(const char *v)
{
	char *p = strdup(v != NULL ? v : "");
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

/* NULL for SQL NULL, else a copy. */
static char *
field(const struct db_result *r, int row, int col)
{
	return db_isnull(r, row, col) ? NULL : xstrdup(db_value(r, row, col));
}

static void
task_clear(struct session_task *t)
{
	free(t->script);
	free(t->interpreter);
	free(t->run_as);
	free(t->success);
	free(t->on_code);
	free(t->os_required);
	free(t->boot_env);
	free(t->copy_dest);
}

void
session_job_clear(struct session_job *job)
{
	struct session_computer *c = &job->comp;
	char **f[] = {&c->name, &c->host, &c->os, &c->ip, &c->mac, &c->serial, &c->asset_tag,
	    &c->domain, &c->domain_ou, &c->dept, &c->contact, &c->email};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(*f[i]);
	for (int i = 0; i < job->ntasks; i++)
		task_clear(&job->tasks[i]);
	free(job->tasks);
	free(job->job_name);
	free(job->job_user);
	memset(job, 0, sizeof(*job));
}

static int
parse_codes(const char *list, int **out, size_t *n)
{
	*n = 0;
	*out = NULL;
	if (list[0] == '\0')
		return 0;
	size_t cap = 1;
	for (const char *p = list; *p; p++)
		cap += *p == ',';
	*out = calloc(cap, sizeof(int));
	if (*out == NULL)
		return -1;
	for (const char *p = list; *p;) {
		char *end;
		(*out)[(*n)++] = (int)strtol(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p != '\0')
			break;
	}
	return 0;
}

static void
load_computer(const struct db_result *r, struct session_job *job)
{
	struct session_computer *c = &job->comp;
	job->job_name = field(r, 0, 2);
	job->job_user = field(r, 0, 3);
	c->name = field(r, 0, 4);
	c->host = field(r, 0, 5);
	c->os = field(r, 0, 6);
	c->ip = field(r, 0, 7);
	c->mac = field(r, 0, 8);
	c->serial = field(r, 0, 9);
	c->asset_tag = field(r, 0, 10);
	c->domain = field(r, 0, 11);
	c->domain_ou = field(r, 0, 12);
	c->dept = field(r, 0, 13);
	c->contact = field(r, 0, 14);
	c->email = field(r, 0, 15);
	job->next_task_seq = atoi(db_value(r, 0, 16));
	job->due_ms = strtoll(db_value(r, 0, 17), NULL, 10);
}

static int
load_tasks(struct db *db, const char *const p[2], struct session_job *job, char *err, size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r, SQL_LOAD_TASKS, 2, p, err, errlen) == -1)
		return -1;
	job->ntasks = db_ntuples(r);
	job->tasks = calloc((size_t)(job->ntasks > 0 ? job->ntasks : 1), sizeof(*job->tasks));
	if (job->tasks == NULL)
		fatalx("out of memory");
	for (int i = 0; i < job->ntasks; i++) {
		struct session_task *t = &job->tasks[i];
		t->seq = atoi(db_value(r, i, 0));
		t->script = field(r, i, 1);
		t->interpreter = field(r, i, 2);
		t->run_as = field(r, i, 3);
		t->timeout_ms = strtoll(db_value(r, i, 4), NULL, 10);
		if (parse_codes(db_value(r, i, 5), &t->success, &t->nsuccess) == -1)
			fatalx("out of memory");
		t->on_failure_continue = strcmp(db_value(r, i, 6), "continue") == 0;
		t->os_required = field(r, i, 7);
		t->boot_env = field(r, i, 8);
		t->copy_dest = field(r, i, 9);
		t->copy_mode = atoi(db_value(r, i, 10));
	}
	db_result_free(r);
	return 0;
}

static int
load_on_code(struct db *db, const char *const p[2], struct session_job *job, char *err,
    size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r, SQL_LOAD_ON_CODE, 2, p, err, errlen) == -1)
		return -1;
	for (int i = 0; i < db_ntuples(r); i++) {
		int seq = atoi(db_value(r, i, 0));
		for (int k = 0; k < job->ntasks; k++) {
			struct session_task *t = &job->tasks[k];
			enum outcome o;
			if (t->seq != seq || outcome_parse(db_value(r, i, 2), &o) == -1)
				continue;
			struct outcome_map *m = realloc(t->on_code, (t->non_code + 1) * sizeof(*m));
			if (m == NULL)
				fatalx("out of memory");
			t->on_code = m;
			t->on_code[t->non_code].code = atoi(db_value(r, i, 1));
			t->on_code[t->non_code].action = o;
			t->non_code++;
		}
	}
	db_result_free(r);
	return 0;
}

int
session_db_load(struct db *db, const char *owner, int64_t event_id, int attempt,
    struct session_job *job, char *err, size_t errlen)
{
	char eid[24], att[16], job_id[24], version[16];
	snprintf(eid, sizeof(eid), "%lld", (long long)event_id);
	snprintf(att, sizeof(att), "%d", attempt);
	const char *p1[] = {eid, owner, att};
	struct db_result *r;
	memset(job, 0, sizeof(*job));
	if (db_exec(db, &r, SQL_LOAD_EVENT, 3, p1, err, errlen) == -1)
		return -1;
	if (db_ntuples(r) != 1) {
		db_result_free(r);
		snprintf(err, errlen, "attempt %d not running under our lease any more", attempt);
		return 1;
	}
	snprintf(job_id, sizeof(job_id), "%s", db_value(r, 0, 0));
	snprintf(version, sizeof(version), "%s", db_value(r, 0, 1));
	load_computer(r, job);
	db_result_free(r);
	const char *const p2[2] = {job_id, version};
	if (load_tasks(db, p2, job, err, errlen) == -1 || load_on_code(db, p2, job, err, errlen) == -1)
		return -1;
	return 0;
}


/* The transaction of one lookup: read only, the time left, the token role for SQL. */
static int
token_begin(struct db *db, enum render_lookup kind, long long left, char *err, size_t errlen)
{
	char timeout[24];
	snprintf(timeout, sizeof(timeout), "%lld", left);
	const char *tp[] = {timeout};
	if (db_exec(db, NULL, "BEGIN READ ONLY", 0, NULL, err, errlen) == -1)
		return -1;
	int rc = db_exec(db, NULL, "SELECT set_config('search_path', 'pgfleet, public', true),"
			       " set_config('statement_timeout', $1, true)", 1, tp, err, errlen);
	if (rc == 0 && kind == RENDER_SQL &&
	    db_exec(db, NULL, "SET LOCAL ROLE pgfleet_token", 0, NULL, err, errlen) == -1) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; the scheduler's database user must be a member of "
		    "pgfleet_token");
		rc = -1;
	}
	return rc;
}

/*
 * The lookups run on the worker's loop (synchronous libpq): the custom
 * tokens of one task share tokens.sql_timeout in all, so a script of slow
 * tokens holds the loop no longer than that.
 */
int
session_db_token(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	struct session_db_lookup *lk = arg;
	const char *stmt = SQL_TOKEN_TABLE;
	int nparams = 3;
	const char *tparams[] = {table, column, kind == RENDER_FIRST_ROW ? NULL : lk->computer_id};
	const char *sparams[] = {sql, lk->computer_id};
	const char *const *params = tparams;
	if (kind == RENDER_SQL) {
		stmt = SQL_TOKEN_QUERY;
		nparams = 2;
		params = sparams;
	}
	long long left = lk->deadline_ms - clock_mono_ms();
	*value = NULL;
	if (left <= 0) {
		snprintf(err, errlen, "custom tokens of this task took longer than tokens.sql_timeout "
		    "(%lld ms) in all", lk->timeout_ms);
		return -1;
	}
	struct db_result *r = NULL;
	int rc = token_begin(lk->db, kind, left, err, errlen);
	if (rc == 0)
		rc = db_exec(lk->db, &r, stmt, nparams, params, err, errlen);
	if (rc == 0 && db_ntuples(r) > 0 && db_nfields(r) > 0 && !db_isnull(r, 0, 0))
		*value = xstrdup(db_value(r, 0, 0));
	db_result_free(r);
	char why[256];
	if (db_rollback(lk->db, why, sizeof(why)) == -1)
		log_warnx("event %s: token lookup: rollback: %s", lk->event_id, why);
	/* a session-level advisory lock outlives the rollback: none may stay */
	if (kind == RENDER_SQL &&
	    db_exec(lk->db, NULL, "SELECT pg_advisory_unlock_all()", 0, NULL, why, sizeof(why)) == -1)
		log_warnx("event %s: token lookup: advisory unlock: %s", lk->event_id, why);
	return rc;
}
