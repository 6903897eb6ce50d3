/*
 * session_db: the session's SQL. Every statement is a constant with $n
 * parameters sent through common/dbq.c; sets of events and jobs travel as
 * arrays. A load goes through three places: pending (gathered until the loop
 * turns), sent (in a batch's unit), waiting for its job definition; its
 * callback runs once, after which it is freed. Custom tokens run in a
 * read-only transaction with a statement timeout, then ROLLBACK and (for
 * %#*"SQL"%) pg_advisory_unlock_all() in a segment of their own, which runs
 * even when the token failed (docs/tokens.md).
 */
#include "worker/session_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/dbq.h"
#include "common/evloop.h"
#include "common/log.h"
#include "common/pgarray.h"
#include "common/util.h"

#define BATCH_MAX 1000          /* events in one load */
#define JOBS_UNUSED_KEPT 64     /* job definitions no session holds, kept */
#define JOBS_IDLE_MS 60000      /* and for how long */

/* The events handed over, each in the attempt we were handed (a claim's, or one that
 * replaced it): ours only while running under our lease in that attempt. NEXT_TASK_SEQ
 * is read here, not taken from the hand-over, which still says what the claim said
 * after a worker died. ord: the position in the batch. c: the token values of the
 * computer row, registered columns first, then the agent's facts (pgfleet.token_values,
 * 0018_facts.sql). The event rows are reached by "event_id = ANY ($1)" too: with
 * statistics from before a fan-out (a handful of running events where there are
 * thousands) the join alone was planned as a loop of every running event over the batch.
 * And "state IS NOT DISTINCT FROM 'running'" (state is never NULL), which no partial index
 * of running events matches, as in worker/record.c: with "state = 'running'" the generic
 * plan read every running event of every scheduler through event_one_running_per_computer
 * and tested each against $1 (10,000 for a batch of 100 in a fan-out: 5.7 ms; the primary
 * key, 0.5 ms; tests/integration/t_claim_plan.sh). */
static const char SQL_LOAD_EVENTS[] =
    "SELECT v.ord, s.job_id, s.job_version, j.name, coalesce(s.created_by, ''), c.name,"
    " c.host, c.os, c.ip, c.mac, c.serial, c.asset_tag, c.domain,"
    " c.domain_ou, c.dept, c.contact, c.email, e.next_task_seq,"
    " (extract(epoch FROM e.due_at) * 1000)::bigint,"
    " c.compname, c.nodename, c.model, c.dns_search, array_to_string(c.nic_macs, ','),"
    " array_to_string(c.nic_ips, ',')"
    " FROM unnest($1::bigint[], $3::int[]) WITH ORDINALITY AS v(event_id, attempt, ord)"
    " JOIN pgfleet.event e ON e.event_id = v.event_id AND e.attempt = v.attempt"
    " JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id"
    " JOIN pgfleet.job j ON j.job_id = s.job_id"
    " JOIN pgfleet.computer c0 ON c0.computer_id = e.computer_id"
    " CROSS JOIN LATERAL pgfleet.token_values(c0) c"
    " WHERE e.lease_owner = $2 AND e.state IS NOT DISTINCT FROM 'running'"
    " AND e.event_id = ANY ($1::bigint[])";

/* The tasks of several job versions, and their on_code maps. */
static const char SQL_LOAD_TASKS[] =
    "SELECT t.job_id, t.version, t.seq, t.script, t.interpreter, coalesce(t.run_as, ''),"
    " coalesce(t.timeout_ms, 0), array_to_string(t.success_codes, ','), t.on_failure,"
    " coalesce(t.os_required, ''), coalesce(t.boot_env, ''), t.type, t.copy_dest,"
    " coalesce(t.copy_mode, 0), t.retry_count, encode(t.copy_content, 'hex'), t.copy_owner"
    " FROM unnest($1::bigint[], $2::int[]) AS v(job_id, version)"
    " JOIN pgfleet.task t ON t.job_id = v.job_id AND t.version = v.version"
    " ORDER BY t.job_id, t.version, t.seq";

static const char SQL_LOAD_ON_CODE[] =
    "SELECT t.job_id, t.version, t.seq, m.key, m.value"
    " FROM unnest($1::bigint[], $2::int[]) AS v(job_id, version)"
    " JOIN pgfleet.task t ON t.job_id = v.job_id AND t.version = v.version,"
    " jsonb_each_text(t.on_code) m"
    " ORDER BY t.job_id, t.version, t.seq";

/* Custom tokens: a read-only transaction with a statement timeout. Table and
 * column names (allow-listed, [a-z_][a-z0-9_]*) go as parameters to
 * pgfleet.token_value(), which quotes them with %I: only constant SQL is sent.
 * A %#*"SQL"% token's query goes as a parameter to pgfleet.token_sql()
 * (migrations/0010_token_role.sql), run as the role pgfleet_token. */
static const char SQL_TOKEN_BEGIN[] = "BEGIN READ ONLY";
static const char SQL_TOKEN_SETTINGS[] =
    "SELECT set_config('search_path', 'pgfleet, public', true),"
    " set_config('statement_timeout', $1, true)";
static const char SQL_TOKEN_ROLE[] = "SET LOCAL ROLE pgfleet_token";
static const char SQL_TOKEN_TABLE[] = "SELECT pgfleet.token_value($1, $2, $3::bigint)";
static const char SQL_TOKEN_QUERY[] = "SELECT pgfleet.token_sql($1, $2::bigint)";
static const char SQL_TOKEN_END[] = "ROLLBACK";
/* a session-level advisory lock outlives the rollback: none may stay */
static const char SQL_TOKEN_UNLOCK[] = "SELECT pg_advisory_unlock_all()";

enum where { L_PENDING, L_SENT, L_WAITING };

struct session_load {
	struct session_load *next;
	enum where where;
	int64_t event_id;
	int attempt;
	session_loaded_fn *cb;  /* NULL: forgotten while its batch was out */
	void *arg;
	struct session_job job;
	int64_t job_id;
	int version;
};

/* The loads of one event-rows unit. */
struct batch {
	struct session_db *sdb;
	struct session_load **v;
	int n;
};

/* One job-definitions unit: the keys it loads. */
struct jobload {
	struct jobload *next;
	struct session_db *sdb;
	int64_t *ids;
	int *versions;
	int n;
};

struct session_db {
	struct event_base *base;
	struct dbq *main, *tokens;
	struct jobcache *jobs;
	const char *owner;
	struct event *send_ev;
	struct session_load *pending, *pending_tail;
	struct session_load *waiting;   /* for their job definition */
	struct jobload *jobloads;       /* in flight */
	long long event_units, job_units;
};

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

static void send_cb(evutil_socket_t fd, short what, void *arg);

struct session_db *
session_db_new(struct event_base *base, struct dbq *main, struct dbq *tokens, const char *owner)
{
	struct session_db *sdb = calloc(1, sizeof(*sdb));
	if (sdb == NULL)
		return NULL;
	sdb->base = base;
	sdb->main = main;
	sdb->tokens = tokens;
	sdb->owner = owner;
	sdb->jobs = jobcache_new(JOBS_UNUSED_KEPT, JOBS_IDLE_MS);
	sdb->send_ev = event_new(base, -1, 0, send_cb, sdb);
	if (sdb->jobs == NULL || sdb->send_ev == NULL) {
		session_db_free(sdb);
		return NULL;
	}
	return sdb;
}

void
session_job_clear(struct session_db *sdb, struct session_job *job)
{
	struct session_computer *c = &job->comp;
	char **f[] = {&c->name, &c->host, &c->os, &c->ip, &c->mac, &c->serial, &c->asset_tag,
	    &c->domain, &c->domain_ou, &c->dept, &c->contact, &c->email, &c->compname, &c->nodename,
	    &c->model, &c->dns_search, &c->nic_macs, &c->nic_ips};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(*f[i]);
	free(job->job_name);
	free(job->job_user);
	if (job->def != NULL)
		jobcache_release(sdb->jobs, job->def, clock_mono_ms());
	memset(job, 0, sizeof(*job));
}

static void
load_free(struct session_db *sdb, struct session_load *l)
{
	session_job_clear(sdb, &l->job);
	free(l);
}

const char *
session_db_load_sql(void)
{
	return SQL_LOAD_EVENTS;
}

void
session_db_free(struct session_db *sdb)
{
	if (sdb == NULL)
		return;
	struct session_load *l;
	while ((l = sdb->pending) != NULL) {
		sdb->pending = l->next;
		load_free(sdb, l);
	}
	while ((l = sdb->waiting) != NULL) {
		sdb->waiting = l->next;
		load_free(sdb, l);
	}
	/* batches and job loads in flight go with their dbq's units (freed with the dbq,
	 * which the worker frees before this) */
	evloop_event_free(sdb->send_ev);
	jobcache_free(sdb->jobs);
	free(sdb);
}

void
session_db_counts(const struct session_db *sdb, long long *event_units, long long *job_units)
{
	*event_units = sdb->event_units;
	*job_units = sdb->job_units;
}

struct session_load *
session_db_load(struct session_db *sdb, int64_t event_id, int attempt, session_loaded_fn *cb,
    void *arg)
{
	struct session_load *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->where = L_PENDING;
	l->event_id = event_id;
	l->attempt = attempt;
	l->cb = cb;
	l->arg = arg;
	if (sdb->pending_tail != NULL)
		sdb->pending_tail->next = l;
	else
		sdb->pending = l;
	sdb->pending_tail = l;
	/* every event handed over in this turn of the loop goes in one query */
	event_active(sdb->send_ev, EV_TIMEOUT, 0);
	return l;
}

/* Take l out of the list at *head; 1 when it was there. */
static int
unlink_load(struct session_load **head, struct session_load *l)
{
	for (struct session_load **p = head; *p != NULL; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			l->next = NULL;
			return 1;
		}
	}
	return 0;
}

void
session_db_forget(struct session_db *sdb, struct session_load *l)
{
	if (l == NULL)
		return;
	switch (l->where) {
	case L_PENDING:
		if (unlink_load(&sdb->pending, l)) {
			sdb->pending_tail = NULL;
			for (struct session_load *p = sdb->pending; p != NULL; p = p->next)
				sdb->pending_tail = p;
		}
		load_free(sdb, l);
		break;
	case L_SENT:
		l->cb = NULL; /* its batch frees it */
		break;
	case L_WAITING:
		unlink_load(&sdb->waiting, l);
		load_free(sdb, l);
		break;
	}
}

/* Its callback, then it is freed (it is in no list). */
static void
deliver(struct session_db *sdb, struct session_load *l, int rc, const char *err)
{
	if (l->cb != NULL)
		l->cb(l->arg, rc, &l->job, err);
	load_free(sdb, l);
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

/* A copied file's bytes (task.copy_content, hex: the result is text) as the task's script. */
static void
content_from_hex(const char *hex, struct job_task *t)
{
	size_t n = strlen(hex) / 2;
	free(t->script);
	if ((t->script = malloc(n + 1)) == NULL)
		fatalx("out of memory");
	if (util_unhex(hex, n, (unsigned char *)t->script) == -1)
		fatalx("task %d: copy_content is not hex", t->seq);
	t->script[n] = '\0';
	t->script_len = n;
}

static void
task_from_row(const struct db_result *r, int i, struct job_task *t)
{
	t->seq = atoi(db_value(r, i, 2));
	t->script = field(r, i, 3);
	t->interpreter = field(r, i, 4);
	t->run_as = field(r, i, 5);
	t->timeout_ms = strtoll(db_value(r, i, 6), NULL, 10);
	if (parse_codes(db_value(r, i, 7), &t->success, &t->nsuccess) == -1)
		fatalx("out of memory");
	t->on_failure_continue = strcmp(db_value(r, i, 8), "continue") == 0;
	t->os_required = field(r, i, 9);
	t->boot_env = field(r, i, 10);
	t->copy = strcmp(db_value(r, i, 11), "copy_file") == 0;
	t->copy_dest = field(r, i, 12);
	t->copy_mode = atoi(db_value(r, i, 13));
	t->retry_count = atoi(db_value(r, i, 14));
	t->script_len = t->script != NULL ? strlen(t->script) : 0;
	t->copy_owner = field(r, i, 16);
	if (!db_isnull(r, i, 15))
		content_from_hex(db_value(r, i, 15), t);
}

static int
row_is(const struct db_result *r, int i, int64_t job_id, int version)
{
	return strtoll(db_value(r, i, 0), NULL, 10) == job_id && atoi(db_value(r, i, 1)) == version;
}

/* The tasks of (job_id, version) from the rows of both statements (sorted by key). */
static struct job_task *
tasks_of(const struct db_result *tasks, const struct db_result *codes, int64_t job_id, int version,
    int *ntasks)
{
	int first = -1, n = 0;
	for (int i = 0; i < db_ntuples(tasks); i++) {
		if (!row_is(tasks, i, job_id, version))
			continue;
		if (first < 0)
			first = i;
		n++;
	}
	struct job_task *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));
	if (v == NULL)
		fatalx("out of memory");
	for (int k = 0; k < n; k++)
		task_from_row(tasks, first + k, &v[k]);
	for (int i = 0; i < db_ntuples(codes); i++) {
		if (!row_is(codes, i, job_id, version))
			continue;
		int seq = atoi(db_value(codes, i, 2));
		enum outcome o;
		if (outcome_parse(db_value(codes, i, 4), &o) == -1)
			continue;
		for (int k = 0; k < n; k++) {
			struct job_task *t = &v[k];
			if (t->seq != seq)
				continue;
			struct outcome_map *m = realloc(t->on_code, (t->non_code + 1) * sizeof(*m));
			if (m == NULL)
				fatalx("out of memory");
			t->on_code = m;
			t->on_code[t->non_code].code = atoi(db_value(codes, i, 3));
			t->on_code[t->non_code].action = o;
			t->non_code++;
		}
	}
	*ntasks = n;
	return v;
}

/* Loads waiting for (job_id, version), taken out of the waiting list in order. */
static struct session_load *
take_waiting(struct session_db *sdb, int64_t job_id, int version)
{
	struct session_load *out = NULL, **tail = &out;
	struct session_load **p = &sdb->waiting;
	while (*p != NULL) {
		struct session_load *l = *p;
		if (l->job_id == job_id && l->version == version) {
			*p = l->next;
			l->next = NULL;
			*tail = l;
			tail = &l->next;
		} else {
			p = &l->next;
		}
	}
	return out;
}

static void
jobload_free(struct jobload *jl)
{
	free(jl->ids);
	free(jl->versions);
	free(jl);
}

static void
jobs_done(const struct dbq_reply *r, void *arg)
{
	struct jobload *jl = arg;
	struct session_db *sdb = jl->sdb;
	for (struct jobload **p = &sdb->jobloads; *p != NULL; p = &(*p)->next) {
		if (*p == jl) {
			*p = jl->next;
			break;
		}
	}
	long long now = clock_mono_ms();
	for (int k = 0; k < jl->n; k++) {
		const struct jobdef *def = NULL;
		if (r->ok) {
			int nt;
			struct job_task *t = tasks_of(r->results[0], r->results[1], jl->ids[k],
			    jl->versions[k], &nt);
			if ((def = jobcache_put(sdb->jobs, jl->ids[k], jl->versions[k], t, nt, now)) == NULL)
				fatalx("out of memory");
		}
		struct session_load *l = take_waiting(sdb, jl->ids[k], jl->versions[k]);
		while (l != NULL) {
			struct session_load *next = l->next;
			if (def != NULL) {
				l->job.def = jobcache_get(sdb->jobs, jl->ids[k], jl->versions[k], now);
				l->job.tasks = def->tasks;
				l->job.ntasks = def->ntasks;
				deliver(sdb, l, 0, "");
			} else {
				deliver(sdb, l, -1, r->err);
			}
			l = next;
		}
		jobcache_release(sdb->jobs, def, now);
	}
	jobload_free(jl);
}

static int
jobload_has(const struct jobload *jl, int64_t job_id, int version)
{
	for (int k = 0; k < jl->n; k++)
		if (jl->ids[k] == job_id && jl->versions[k] == version)
			return 1;
	return 0;
}

/* Load the definitions the waiting loads need that no unit in flight brings. */
static void
load_missing_jobs(struct session_db *sdb)
{
	struct jobload *jl = calloc(1, sizeof(*jl));
	if (jl == NULL)
		fatalx("out of memory");
	jl->sdb = sdb;
	int cap = 0;
	for (struct session_load *l = sdb->waiting; l != NULL; l = l->next) {
		int known = jobload_has(jl, l->job_id, l->version);
		for (struct jobload *o = sdb->jobloads; o != NULL && !known; o = o->next)
			known = jobload_has(o, l->job_id, l->version);
		if (known)
			continue;
		if (jl->n == cap) {
			cap = cap > 0 ? cap * 2 : 4;
			jl->ids = realloc(jl->ids, (size_t)cap * sizeof(*jl->ids));
			jl->versions = realloc(jl->versions, (size_t)cap * sizeof(*jl->versions));
			if (jl->ids == NULL || jl->versions == NULL)
				fatalx("out of memory");
		}
		jl->ids[jl->n] = l->job_id;
		jl->versions[jl->n++] = l->version;
	}
	if (jl->n == 0) {
		jobload_free(jl);
		return;
	}
	struct pgarray ids = {0}, versions = {0};
	for (int k = 0; k < jl->n; k++) {
		pgarray_int(&ids, jl->ids[k]);
		pgarray_int(&versions, jl->versions[k]);
		log_debug("loading the tasks of job %" PRId64 " version %d", jl->ids[k], jl->versions[k]);
	}
	const char *p[] = {pgarray_end(&ids), pgarray_end(&versions)};
	struct dbq_unit *u = dbq_unit_new(jobs_done, jl, DBQ_RETRY);
	if (p[0] == NULL || p[1] == NULL || u == NULL || dbq_add(u, SQL_LOAD_TASKS, 2, p) == -1 ||
	    dbq_add(u, SQL_LOAD_ON_CODE, 2, p) == -1)
		fatalx("out of memory");
	free(ids.p);
	free(versions.p);
	jl->next = sdb->jobloads;
	sdb->jobloads = jl;
	sdb->job_units++;
	dbq_submit(sdb->main, u);
}

static void
job_from_row(const struct db_result *r, int i, struct session_load *l)
{
	struct session_computer *c = &l->job.comp;
	l->job_id = strtoll(db_value(r, i, 1), NULL, 10);
	l->version = atoi(db_value(r, i, 2));
	l->job.job_name = field(r, i, 3);
	l->job.job_user = field(r, i, 4);
	c->name = field(r, i, 5);
	c->host = field(r, i, 6);
	c->os = field(r, i, 7);
	c->ip = field(r, i, 8);
	c->mac = field(r, i, 9);
	c->serial = field(r, i, 10);
	c->asset_tag = field(r, i, 11);
	c->domain = field(r, i, 12);
	c->domain_ou = field(r, i, 13);
	c->dept = field(r, i, 14);
	c->contact = field(r, i, 15);
	c->email = field(r, i, 16);
	l->job.next_task_seq = atoi(db_value(r, i, 17));
	l->job.due_ms = strtoll(db_value(r, i, 18), NULL, 10);
	/* the token values from the agent's facts */
	c->compname = field(r, i, 19);
	c->nodename = field(r, i, 20);
	c->model = field(r, i, 21);
	c->dns_search = field(r, i, 22);
	c->nic_macs = field(r, i, 23);
	c->nic_ips = field(r, i, 24);
}

static void
events_done(const struct dbq_reply *r, void *arg)
{
	struct batch *b = arg;
	struct session_db *sdb = b->sdb;
	char *found = calloc((size_t)b->n, 1);
	if (found == NULL)
		fatalx("out of memory");
	for (int i = 0; r->ok && i < db_ntuples(r->results[0]); i++) {
		long long ord = strtoll(db_value(r->results[0], i, 0), NULL, 10);
		if (ord < 1 || ord > b->n || found[ord - 1])
			continue;
		found[ord - 1] = 1;
		job_from_row(r->results[0], i, b->v[ord - 1]);
	}
	long long now = clock_mono_ms();
	int missing = 0;
	for (int i = 0; i < b->n; i++) {
		struct session_load *l = b->v[i];
		char why[128];
		if (l->cb == NULL) {
			load_free(sdb, l);
		} else if (!r->ok) {
			deliver(sdb, l, -1, r->err);
		} else if (!found[i]) {
			snprintf(why, sizeof(why), "attempt %d not running under our lease any more",
			    l->attempt);
			deliver(sdb, l, 1, why);
		} else if ((l->job.def = jobcache_get(sdb->jobs, l->job_id, l->version, now)) != NULL) {
			l->job.tasks = l->job.def->tasks;
			l->job.ntasks = l->job.def->ntasks;
			deliver(sdb, l, 0, "");
		} else {
			l->where = L_WAITING;
			l->next = sdb->waiting;
			sdb->waiting = l;
			missing = 1;
		}
	}
	free(found);
	free(b->v);
	free(b);
	if (missing)
		load_missing_jobs(sdb);
}

/* The loop turned: one unit for the events handed over since the last. */
static void
send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_db *sdb = arg;
	(void)fd;
	(void)what;
	while (sdb->pending != NULL) {
		struct batch *b = calloc(1, sizeof(*b));
		if (b == NULL || (b->v = calloc(BATCH_MAX, sizeof(*b->v))) == NULL)
			fatalx("out of memory");
		b->sdb = sdb;
		struct pgarray ids = {0}, attempts = {0};
		while (sdb->pending != NULL && b->n < BATCH_MAX) {
			struct session_load *l = sdb->pending;
			sdb->pending = l->next;
			l->next = NULL;
			l->where = L_SENT;
			b->v[b->n++] = l;
			pgarray_int(&ids, l->event_id);
			pgarray_int(&attempts, l->attempt);
		}
		if (sdb->pending == NULL)
			sdb->pending_tail = NULL;
		const char *p[] = {pgarray_end(&ids), sdb->owner, pgarray_end(&attempts)};
		struct dbq_unit *u = dbq_unit_new(events_done, b, DBQ_RETRY);
		if (p[0] == NULL || p[2] == NULL || u == NULL || dbq_add(u, SQL_LOAD_EVENTS, 3, p) == -1)
			fatalx("out of memory");
		free(ids.p);
		free(attempts.p);
		sdb->event_units++;
		log_debug("loading %d events in one query", b->n);
		dbq_submit(sdb->main, u);
	}
}

/* ---- custom tokens ---- */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

int
session_lookups_collect(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	struct session_lookups *lk = arg;
	(void)err;
	(void)errlen;
	*value = NULL;
	if (lk->n == lk->cap) {
		int cap = lk->cap > 0 ? lk->cap * 2 : 4;
		struct session_lookup *v = realloc(lk->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			fatalx("out of memory");
		lk->v = v;
		lk->cap = cap;
	}
	struct session_lookup *l = &lk->v[lk->n++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->table = dup_or_null(table);
	l->column = dup_or_null(column);
	l->sql = dup_or_null(sql);
	return 0;
}

int
session_lookups_replay(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	struct session_lookups *lk = arg;
	(void)table;
	(void)column;
	(void)sql;
	*value = NULL;
	int i = lk->replayed++;
	if (i >= lk->n || lk->v[i].kind != kind) {
		snprintf(err, errlen, "custom tokens out of step with their lookups");
		return -1;
	}
	if (i == lk->failed) {
		snprintf(err, errlen, "%s", lk->err);
		return -1;
	}
	if (lk->failed >= 0 && i > lk->failed) {
		snprintf(err, errlen, "not looked up after an earlier token failed");
		return -1;
	}
	*value = dup_or_null(lk->v[i].value);
	return 0;
}

static void lookup_next(struct session_lookups *lk);

static void
lookup_done(const struct dbq_reply *r, void *arg)
{
	struct session_lookups *lk = arg;
	struct session_lookup *l = &lk->v[lk->next];
	int role = l->kind == RENDER_SQL;
	int token = role ? 3 : 2; /* BEGIN, settings, [role,] the token */
	lk->unit = NULL;
	if (r->expired) {
		lk->failed = lk->next;
		snprintf(lk->err, sizeof(lk->err), "custom tokens of this task took longer than "
		    "tokens.sql_timeout (%lld ms) in all", lk->timeout_ms);
	} else if (r->lost || (r->failed_at >= 0 && r->failed_at <= token)) {
		lk->failed = lk->next;
		snprintf(lk->err, sizeof(lk->err), "%s%s", r->err, role && r->failed_at == 2 ?
		    "; the scheduler's database user must be a member of pgfleet_token" : "");
	} else {
		if (r->failed_at > token)
			log_event_s(LL_WARNING, lk->event_id, "token lookup: %s", r->err);
		const struct db_result *v = r->results[token];
		if (db_ntuples(v) > 0 && db_nfields(v) > 0 && !db_isnull(v, 0, 0))
			l->value = xstrdup(db_value(v, 0, 0));
		lk->next++;
	}
	lookup_next(lk);
}

/* The next token in its own transaction, or the end. */
static void
lookup_next(struct session_lookups *lk)
{
	if (lk->failed >= 0 || lk->next >= lk->n) {
		lk->done(lk->arg);
		return;
	}
	struct session_lookup *l = &lk->v[lk->next];
	const char *timeout[] = {"0"}; /* the time left, set as the unit goes out */
	const char *tparams[] = {l->table, l->column,
	    l->kind == RENDER_FIRST_ROW ? NULL : lk->computer_id};
	const char *sparams[] = {l->sql, lk->computer_id};
	struct dbq_unit *u = dbq_unit_new(lookup_done, lk, 0);
	int rc = u != NULL ? 0 : -1;
	if (rc == 0)
		rc = dbq_add(u, SQL_TOKEN_BEGIN, 0, NULL);
	if (rc == 0)
		rc = dbq_add(u, SQL_TOKEN_SETTINGS, 1, timeout);
	if (rc == 0 && l->kind == RENDER_SQL)
		rc = dbq_add(u, SQL_TOKEN_ROLE, 0, NULL);
	if (rc == 0)
		rc = l->kind == RENDER_SQL ? dbq_add(u, SQL_TOKEN_QUERY, 2, sparams)
		    : dbq_add(u, SQL_TOKEN_TABLE, 3, tparams);
	if (rc == 0)
		rc = dbq_sync(u);
	if (rc == 0)
		rc = dbq_add(u, SQL_TOKEN_END, 0, NULL);
	if (rc == 0 && l->kind == RENDER_SQL)
		rc = dbq_add(u, SQL_TOKEN_UNLOCK, 0, NULL);
	if (rc == -1)
		fatalx("out of memory");
	dbq_unit_deadline(u, lk->deadline_ms, 1, 0);
	lk->unit = u;
	dbq_submit(lk->sdb->tokens, u);
}

void
session_lookups_start(struct session_db *sdb, struct session_lookups *lk, long long timeout_ms,
    void (*done)(void *arg), void *arg)
{
	lk->sdb = sdb;
	lk->next = 0;
	lk->replayed = 0;
	lk->failed = -1;
	lk->err[0] = '\0';
	lk->timeout_ms = timeout_ms;
	lk->deadline_ms = clock_mono_ms() + timeout_ms;
	lk->done = done;
	lk->arg = arg;
	lookup_next(lk);
}

void
session_lookups_clear(struct session_lookups *lk)
{
	if (lk->unit != NULL)
		dbq_cancel(lk->sdb->tokens, lk->unit);
	for (int i = 0; i < lk->n; i++) {
		free(lk->v[i].table);
		free(lk->v[i].column);
		free(lk->v[i].sql);
		free(lk->v[i].value);
	}
	free(lk->v);
	memset(lk, 0, sizeof(*lk));
}
