/*
 * record: queue + flush. Each flush is one unit of common/dbq.c: its
 * statements go out pipelined in one implicit transaction (committed at its
 * Sync, rolled back whole when one fails), constant statements fed with arrays: INSERT … SELECT FROM unnest(…) for the status rows (only
 * those of events still running under our lease in the row's attempt), one
 * UPDATE for the advances, one call of finish_events() for the ends and
 * hand-backs. Arrays travel as text parameters in PostgreSQL's array syntax.
 */
#include "worker/record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/dbq.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pgarray.h"

enum op_kind { OP_STATUS, OP_ADVANCE, OP_FINISH };

struct op {
	enum op_kind kind;
	int64_t event_id;
	int64_t schedule_id;
	int64_t computer_id;
	int task_seq; /* also next_task_seq of OP_ADVANCE */
	int attempt;
	int status_code;
	char *result, *outcome, *module, *message, *output; /* output: already made text-safe */
	long long output_size;
	int replayed;
	int applied;           /* OP_ADVANCE: written by the last flush */
	char state[12];
};

struct record {
	struct dbq *db;
	const char *owner;
	struct record_hooks hooks;
	void *arg;
	struct op *ops;
	int n, cap;
	long long bytes;       /* text held by the queued operations */
	int out;               /* operations in the transaction out (the first ones), 0: none */
	long long sent_ms;     /* when it went */
	long long done_ms;     /* when the last one came back */
	long long failed_ms;   /* when the last one failed (0: it did not) */
	long long dropped, dropped_logged;
	int max_queued;
	long long max_bytes;
	/* the statements of the transaction out: which result is which, -1 when not sent */
	int r_insert, r_advance, r_finish;
	int status_rows;       /* status rows in it */
};

/*
 * Rows are written only for events still running under our lease in the row's attempt;
 * those event rows are share-locked until the commit, so that the lease cannot move on
 * between this check and the end queued after it. A final row whose (event, task, attempt)
 * has one already is skipped by the status_log_one_final trigger (0011), told to by
 * SQL_SKIP_DUPLICATES. Answers one row per (event, attempt) whose rows were dropped
 * ('lost') and one with the number of rows stored ('stored'). The event rows are found by
 * "event_id = ANY ($1)", not by a join with v, which statistics from before a fan-out had
 * planned as a loop of every running event over the batch (60 ms for 100 rows at 3,000);
 * and "state IS NOT DISTINCT FROM 'running'" (state is never NULL), which no partial index
 * of running events matches: "state = 'running'" had the prepared statement's generic plan
 * read every running event through one and test each against $1 (1,000 and more per flush
 * in a fan-out), where the primary key finds the batch's ids. SQL_ADVANCE alike.
 */
static const char SQL_INSERT[] =
    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[],"
    "  $5::int[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[],"
    "  $12::text[], $13::boolean[]) WITH ORDINALITY AS v(event_id, schedule_id, computer_id,"
    "  task_seq, attempt, status_code, result, module, message, output, output_size, outcome,"
    "  replayed, ord)),"
    " held AS (SELECT e.event_id, e.attempt FROM pgfleet.event e"
    "  WHERE e.event_id = ANY ($1::bigint[]) AND e.state IS NOT DISTINCT FROM 'running'"
    "  AND e.lease_owner = $14 ORDER BY e.event_id FOR SHARE OF e),"
    " ins AS (INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq,"
    "  attempt, status_code, result, module, message, output, output_size, outcome, replayed)"
    "  SELECT v.event_id, v.schedule_id, v.computer_id, v.task_seq, v.attempt, v.status_code,"
    "  v.result, v.module, v.message, v.output, v.output_size, v.outcome, v.replayed"
    "  FROM v JOIN held h ON h.event_id = v.event_id AND h.attempt = v.attempt ORDER BY v.ord"
    "  RETURNING 1)"
    " SELECT 'lost', v.event_id, v.attempt, count(*) FROM v"
    " WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.event_id = v.event_id AND h.attempt = v.attempt)"
    " GROUP BY v.event_id, v.attempt"
    " UNION ALL SELECT 'stored', NULL, NULL, count(*) FROM ins";

const char *
record_insert_sql(void)
{
	return SQL_INSERT;
}

/* For this transaction only: a second final row is skipped, not an error. */
static const char SQL_SKIP_DUPLICATES[] =
    "SELECT set_config('pgfleet.duplicate_final', 'skip', true)";

/* An event may advance twice in one flush: an UPDATE joined to two source rows
 * would apply just one of them, so the highest wins explicitly. */
static const char SQL_ADVANCE[] =
    "UPDATE pgfleet.event e SET next_task_seq = v.seq"
    " FROM (SELECT id, att, max(seq) AS seq"
    " FROM unnest($1::bigint[], $2::int[], $4::int[]) AS u(id, seq, att) GROUP BY id, att) AS v"
    " WHERE e.event_id = v.id AND e.attempt = v.att AND e.lease_owner = $3"
    " AND e.state IS NOT DISTINCT FROM 'running'"
    " RETURNING e.event_id, e.attempt";

/* One notification per flush, never per row: the schedules this flush touched. */
static const char SQL_PROGRESS[] = "SELECT pg_notify('pgfleet_progress', $1)";

/* The ends ('done', 'failed', 'cancelled') and hand-backs ('requeue', 'retry': the
 * next attempt) of the flush in one call (0029_set_finish.sql): each schedule row is
 * updated once per flush, and the function takes events, then schedules, in id order,
 * so that two workers' batches cannot deadlock. One row per end, in the order given:
 * applied is false when the event is not running under our lease in that attempt. */
static const char SQL_FINISH[] =
    "SELECT event_id, applied FROM pgfleet.finish_events($1::bigint[], $2::text[], $3::int[],"
    " $4::int[], $5)";

struct record *
record_new(struct dbq *db, const char *owner, const struct record_hooks *hooks, void *arg)
{
	struct record *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->db = db;
	r->owner = owner;
	r->max_queued = RECORD_MAX_QUEUED;
	r->max_bytes = RECORD_MAX_BYTES;
	if (hooks != NULL)
		r->hooks = *hooks;
	r->arg = arg;
	return r;
}

static void
op_clear(struct op *o)
{
	free(o->result);
	free(o->outcome);
	free(o->module);
	free(o->message);
	free(o->output);
}

void
record_free(struct record *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->n; i++)
		op_clear(&r->ops[i]);
	free(r->ops);
	free(r);
}

int
record_pending(const struct record *r)
{
	return r->n;
}

int
record_advances_waiting(const struct record *r)
{
	int k = 0;
	for (int i = r->out; i < r->n; i++)
		k += r->ops[i].kind == OP_ADVANCE;
	return k;
}

int
record_busy(const struct record *r)
{
	return r->out > 0;
}

void
record_set_limits(struct record *r, int max_queued, long long max_bytes)
{
	r->max_queued = max_queued;
	r->max_bytes = max_bytes;
}

long long
record_dropped(const struct record *r)
{
	return r->dropped;
}

static long long
len_of(const char *s)
{
	return s != NULL ? (long long)strlen(s) : 0;
}

static long long
op_bytes(const struct op *o)
{
	return len_of(o->result) + len_of(o->outcome) + len_of(o->module) + len_of(o->message) +
	    len_of(o->output);
}

static struct op *
op_push(struct record *r)
{
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 64;
		struct op *ops = realloc(r->ops, (size_t)cap * sizeof(*ops));
		if (ops == NULL)
			return NULL;
		r->ops = ops;
		r->cap = cap;
	}
	struct op *o = &r->ops[r->n++];
	memset(o, 0, sizeof(*o));
	return o;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid or NUL. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned min;
	unsigned cp;
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *
record_text(const char *s, size_t len)
{
	/* worst case every byte becomes the 3-byte replacement character */
	char *out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(u + i, len - i);
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

static char *
dup_text(const char *s)
{
	return s == NULL ? NULL : record_text(s, strlen(s));
}

int
record_status(struct record *r, const struct record_row *row)
{
	/* progress (no outcome) gives way when the queue is full; results never do */
	if (row->outcome == NULL && (r->n >= r->max_queued || r->bytes +
	    (long long)row->output_len > r->max_bytes)) {
		r->dropped++;
		return 1;
	}
	struct op *o = op_push(r);
	if (o == NULL)
		return -1;
	o->kind = OP_STATUS;
	o->event_id = row->event_id;
	o->schedule_id = row->schedule_id;
	o->computer_id = row->computer_id;
	o->task_seq = row->task_seq;
	o->attempt = row->attempt;
	o->status_code = row->status_code;
	o->result = dup_text(row->result);
	o->outcome = dup_text(row->outcome);
	o->module = dup_text(row->module);
	o->message = dup_text(row->message);
	o->output = row->output != NULL ? record_text(row->output, row->output_len) : NULL;
	o->output_size = record_output_size(row);
	o->replayed = row->replayed != 0;
	r->bytes += op_bytes(o);
	/* idle: nothing out, and none sent or back for a while (a busy record's rows wait
	 * for the tick, and go together) */
	long long now = clock_mono_ms();
	if (r->hooks.idle != NULL && r->out == 0 && r->failed_ms == 0 &&
	    now - r->sent_ms >= RECORD_IDLE_MS && now - r->done_ms >= RECORD_IDLE_MS)
		r->hooks.idle(r->arg);
	return 0;
}

long long
record_output_size(const struct record_row *row)
{
	long long n = row->output_size >= 0 ? row->output_size
	    : row->output != NULL ? (long long)row->output_len : 0;
	return n > INT32_MAX ? INT32_MAX : n;
}

long long
record_parse_output_size(const char *value, size_t body_len)
{
	if (value == NULL || *value < '0' || *value > '9' || strlen(value) > 19)
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || (unsigned long long)n < body_len)
		return -1;
	return n;
}

int
record_advance(struct record *r, int64_t event_id, int64_t schedule_id, int attempt,
    int next_task_seq)
{
	struct op *o = op_push(r);
	if (o == NULL)
		return -1;
	o->kind = OP_ADVANCE;
	o->event_id = event_id;
	o->schedule_id = schedule_id;
	o->attempt = attempt;
	o->task_seq = next_task_seq;
	return 0;
}

int
record_finish(struct record *r, int64_t event_id, int64_t schedule_id, int attempt,
    const char *state, int status_code)
{
	struct op *o = op_push(r);
	if (o == NULL)
		return -1;
	o->kind = OP_FINISH;
	o->event_id = event_id;
	o->schedule_id = schedule_id;
	o->attempt = attempt;
	o->status_code = status_code;
	snprintf(o->state, sizeof(o->state), "%s", state);
	return 0;
}

int
record_requeue(struct record *r, int64_t event_id, int64_t schedule_id, int attempt, int bump)
{
	return record_finish(r, event_id, schedule_id, attempt, bump ? "retry" : "requeue", 0);
}

/* (event, attempt) pairs whose writes were dropped: the lease was no longer ours. */
struct lost {
	struct lost_pair {
		int64_t event_id;
		int attempt;
		long long rows; /* status rows dropped */
	} *v;
	int n, cap;
	int oom;
};

static void
lost_add(struct lost *l, int64_t event_id, int attempt, long long rows)
{
	for (int i = 0; i < l->n; i++) {
		if (l->v[i].event_id == event_id && l->v[i].attempt == attempt) {
			l->v[i].rows += rows;
			return;
		}
	}
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct lost_pair *v = realloc(l->v, (size_t)cap * sizeof(*v));
		if (v == NULL) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct lost_pair){event_id, attempt, rows};
}

#define NARR 13

/* Statement k of the unit is the next one added. */
static void
add(struct dbq_unit *u, int *next, int *which, const char *sql, int n, const char *const *p)
{
	if (dbq_add(u, sql, n, p) == -1)
		fatalx("out of memory");
	if (which != NULL)
		*which = *next;
	(*next)++;
}

/* The status rows of the first r->out operations. */
static void
add_status(struct record *r, struct dbq_unit *u, int *next)
{
	struct pgarray a[NARR];
	memset(a, 0, sizeof(a));
	int n = 0;
	for (int i = 0; i < r->out; i++) {
		struct op *o = &r->ops[i];
		if (o->kind != OP_STATUS)
			continue;
		pgarray_int(&a[0], o->event_id);
		pgarray_int(&a[1], o->schedule_id);
		pgarray_int(&a[2], o->computer_id);
		pgarray_int(&a[3], o->task_seq);
		pgarray_int(&a[4], o->attempt);
		pgarray_int(&a[5], o->status_code);
		pgarray_text(&a[6], o->result);
		pgarray_text(&a[7], o->module);
		pgarray_text(&a[8], o->message);
		pgarray_text(&a[9], o->output);
		pgarray_int(&a[10], o->output_size);
		pgarray_text(&a[11], o->outcome);
		pgarray_bool(&a[12], o->replayed);
		n++;
	}
	r->status_rows = n;
	if (n > 0) {
		const char *params[NARR + 1];
		for (int k = 0; k < NARR; k++)
			if ((params[k] = pgarray_end(&a[k])) == NULL)
				fatalx("out of memory");
		params[NARR] = r->owner;
		add(u, next, NULL, SQL_SKIP_DUPLICATES, 0, NULL);
		add(u, next, &r->r_insert, SQL_INSERT, NARR + 1, params);
	}
	for (int k = 0; k < NARR; k++)
		free(a[k].p);
}

static void
add_advance(struct record *r, struct dbq_unit *u, int *next)
{
	struct pgarray ids = {0}, seqs = {0}, atts = {0};
	int n = 0;
	for (int i = 0; i < r->out; i++) {
		if (r->ops[i].kind != OP_ADVANCE)
			continue;
		pgarray_int(&ids, r->ops[i].event_id);
		pgarray_int(&seqs, r->ops[i].task_seq);
		pgarray_int(&atts, r->ops[i].attempt);
		n++;
	}
	if (n > 0) {
		const char *params[] = {pgarray_end(&ids), pgarray_end(&seqs), r->owner, pgarray_end(&atts)};
		if (params[0] == NULL || params[1] == NULL || params[3] == NULL)
			fatalx("out of memory");
		add(u, next, &r->r_advance, SQL_ADVANCE, 4, params);
	}
	free(ids.p);
	free(seqs.p);
	free(atts.p);
}

static void
add_finish(struct record *r, struct dbq_unit *u, int *next)
{
	struct pgarray ids = {0}, states = {0}, codes = {0}, atts = {0};
	int n = 0;
	for (int i = 0; i < r->out; i++) {
		if (r->ops[i].kind != OP_FINISH)
			continue;
		pgarray_int(&ids, r->ops[i].event_id);
		pgarray_text(&states, r->ops[i].state);
		pgarray_int(&codes, r->ops[i].status_code);
		pgarray_int(&atts, r->ops[i].attempt);
		n++;
	}
	if (n > 0) {
		const char *params[] = {pgarray_end(&ids), pgarray_end(&states), pgarray_end(&codes),
		    pgarray_end(&atts), r->owner};
		if (params[0] == NULL || params[1] == NULL || params[2] == NULL || params[3] == NULL)
			fatalx("out of memory");
		add(u, next, &r->r_finish, SQL_FINISH, 5, params);
	}
	free(ids.p);
	free(states.p);
	free(codes.p);
	free(atts.p);
}

/* "100000001,100000002": the distinct schedules of the operations out. */
static void
add_notify(struct record *r, struct dbq_unit *u, int *next)
{
	char payload[7000];
	size_t len = 0;
	payload[0] = '\0';
	int64_t seen[64];
	int nseen = 0;
	for (int i = 0; i < r->out && nseen < 64; i++) {
		int64_t sid = r->ops[i].schedule_id;
		int dup = sid == 0;
		for (int k = 0; k < nseen && !dup; k++)
			dup = seen[k] == sid;
		if (dup)
			continue;
		seen[nseen++] = sid;
		len += (size_t)snprintf(payload + len, sizeof(payload) - len, "%s%" PRId64,
		    len > 0 ? "," : "", sid);
	}
	if (nseen == 0)
		return;
	const char *params[] = {payload};
	add(u, next, NULL, SQL_PROGRESS, 1, params);
}

/* The INSERT's answer: rows stored, and the (event, attempt) pairs whose rows were dropped. */
static long long
status_answer(const struct db_result *res, struct lost *lost)
{
	long long stored = 0;
	for (int k = 0; k < db_ntuples(res); k++) {
		long long count = strtoll(db_value(res, k, 3), NULL, 10);
		if (strcmp(db_value(res, k, 0), "stored") == 0)
			stored = count;
		else
			lost_add(lost, strtoll(db_value(res, k, 1), NULL, 10),
			    (int)strtol(db_value(res, k, 2), NULL, 10), count);
	}
	return stored;
}

/* The UPDATE's answer: an advance that matched no event running under our lease in its
 * attempt is lost. */
static void
advance_answer(struct op *ops, int n, const struct db_result *res, struct lost *lost)
{
	for (int i = 0; i < n; i++) {
		struct op *o = &ops[i];
		if (o->kind != OP_ADVANCE)
			continue;
		o->applied = 0;
		for (int k = 0; k < db_ntuples(res) && !o->applied; k++)
			o->applied = strtoll(db_value(res, k, 0), NULL, 10) == o->event_id &&
			    atoi(db_value(res, k, 1)) == o->attempt;
		if (!o->applied)
			lost_add(lost, o->event_id, o->attempt, 0);
	}
}

static void
log_outcome(const struct lost *lost, int nrows, long long nstored, int nops)
{
	log_debug("record: %d status rows and %d other changes written", nrows, nops - nrows);
	long long ndropped = 0;
	for (int i = 0; i < lost->n; i++) {
		ndropped += lost->v[i].rows;
		log_event(LL_WARNING, lost->v[i].event_id, "attempt %d no longer holds the lease: "
		    "%lld status rows not written", lost->v[i].attempt, lost->v[i].rows);
	}
	if (lost->oom)
		log_warnx("record: out of memory; some events whose lease was lost are not named");
	/* a final row whose (event, task, attempt) had one already: a write retried after
	 * a commit whose answer was lost, or a replay of what was recorded */
	if (nrows - ndropped - nstored > 0)
		log_detail("record: %lld final status rows already recorded, not written again",
		    nrows - ndropped - nstored);
}

/* Row k of finish_events' answer is the k-th end given, which names the same event. */
static int
finish_applied(const struct db_result *fin, int k, int64_t event_id)
{
	if (k >= db_ntuples(fin) || strtoll(db_value(fin, k, 0), NULL, 10) != event_id) {
		log_event(LL_WARNING, event_id,
		    "finish_events answered out of order; taken as not recorded");
		return 0;
	}
	return strcmp(db_value(fin, k, 1), "t") == 0;
}

/* The owner hears of the ends (in queue order), then of the lost, then of the advances. */
static void
tell_owner(struct record *r, struct op *ops, int n, const struct db_result *fin,
    const struct lost *lost)
{
	int row = 0;
	for (int i = 0; i < n; i++) {
		struct op *o = &ops[i];
		if (o->kind != OP_FINISH || fin == NULL)
			continue;
		int applied = finish_applied(fin, row++, o->event_id);
		int back = strcmp(o->state, "requeue") == 0 || strcmp(o->state, "retry") == 0;
		if (!applied)
			log_event(LL_WARNING, o->event_id, "lease no longer ours; %s not recorded",
			    back ? "hand-back" : "end");
		if (back && r->hooks.requeued != NULL)
			r->hooks.requeued(o->event_id, o->attempt, applied, r->arg);
		else if (!back && r->hooks.finished != NULL)
			r->hooks.finished(o->event_id, o->attempt, o->status_code,
			    strcmp(o->state, "done") != 0, applied, r->arg);
	}
	/* sessions whose lease moved on stop, the others go on (and may queue more) */
	for (int i = 0; r->hooks.lost != NULL && i < lost->n; i++)
		r->hooks.lost(lost->v[i].event_id, lost->v[i].attempt, r->arg);
	for (int i = 0; r->hooks.advanced != NULL && i < n; i++)
		if (ops[i].kind == OP_ADVANCE && ops[i].applied)
			r->hooks.advanced(ops[i].event_id, ops[i].attempt, ops[i].task_seq, r->arg);
}

static void
flushed(const struct dbq_reply *rep, void *arg)
{
	struct record *r = arg;
	int n = r->out;
	r->out = 0;
	r->done_ms = clock_mono_ms();
	if (!rep->ok) {
		/* rolled back (or its outcome unknown, the connection lost): all kept queued */
		r->failed_ms = clock_mono_ms();
		log_warnx("database: %s; %d changes kept for the next try%s", rep->err, r->n,
		    rep->lost ? " (written again once the connection is back)" : "");
		return;
	}
	r->failed_ms = 0;
	metrics_observe(MH_DB_FLUSH, (double)(clock_mono_ms() - r->sent_ms) / 1000.0);
	struct lost lost = {0};
	long long nstored = r->r_insert >= 0 ? status_answer(rep->results[r->r_insert], &lost) : 0;
	if (r->r_advance >= 0)
		advance_answer(r->ops, n, rep->results[r->r_advance], &lost);
	log_outcome(&lost, r->status_rows, nstored, n);
	/* the queue first: the hooks may queue more */
	struct op *done = malloc((size_t)(n > 0 ? n : 1) * sizeof(*done));
	if (done == NULL)
		fatalx("out of memory");
	memcpy(done, r->ops, (size_t)n * sizeof(*done));
	memmove(r->ops, r->ops + n, (size_t)(r->n - n) * sizeof(*r->ops));
	r->n -= n;
	for (int i = 0; i < n; i++)
		r->bytes -= op_bytes(&done[i]);
	tell_owner(r, done, n, r->r_finish >= 0 ? rep->results[r->r_finish] : NULL, &lost);
	for (int i = 0; i < n; i++)
		op_clear(&done[i]);
	free(done);
	free(lost.v);
	if (r->dropped > r->dropped_logged) {
		log_warnx("record: %lld progress rows dropped: more than %d changes or %lld MiB were "
		    "waiting to be written", r->dropped - r->dropped_logged, r->max_queued,
		    r->max_bytes / (1024 * 1024));
		r->dropped_logged = r->dropped;
	}
}

int
record_flush(struct record *r, long long now_ms, long long retry_ms)
{
	if (r->n == 0 || r->out > 0 || (r->failed_ms != 0 && now_ms - r->failed_ms < retry_ms))
		return 0;
	/* advances and ends only ever follow the rows they belong to, so applying
	 * all rows, then all advances, then all ends keeps each event's order */
	struct dbq_unit *u = dbq_unit_new(flushed, r, 0);
	if (u == NULL)
		fatalx("out of memory");
	r->out = r->n;
	r->sent_ms = now_ms;
	r->r_insert = r->r_advance = r->r_finish = -1;
	int next = 0;
	add_status(r, u, &next);
	add_advance(r, u, &next);
	add_finish(r, u, &next);
	add_notify(r, u, &next);
	dbq_submit(r->db, u);
	return 1;
}
