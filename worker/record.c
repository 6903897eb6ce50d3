/*
 * record: queue + flush. Each flush is one transaction of constant statements
 * fed with arrays: INSERT … SELECT FROM unnest(…) for the status rows (only
 * those of events still running under our lease in the row's attempt), one
 * UPDATE for the advances, one SELECT of finish_event() (or requeue_event(),
 * a hand-back) for the ends. Arrays travel as text parameters in
 * PostgreSQL's array syntax.
 */
#include "worker/record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
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
	struct db *db;
	const char *owner;
	struct record_hooks hooks;
	void *arg;
	struct op *ops;
	int n, cap;
};

/*
 * Rows are written only for events still running under our lease in the row's attempt;
 * those event rows are share-locked until the commit, so that the lease cannot move on
 * between this check and the end queued after it. A final row whose (event, task, attempt)
 * has one already is skipped by the status_log_one_final trigger (0011), told to by
 * SQL_SKIP_DUPLICATES. Answers one row per (event, attempt) whose rows were dropped
 * ('lost') and one with the number of rows stored ('stored').
 */
static const char SQL_INSERT[] =
    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[],"
    "  $5::int[], $6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[],"
    "  $12::text[], $13::boolean[]) WITH ORDINALITY AS v(event_id, schedule_id, computer_id,"
    "  task_seq, attempt, status_code, result, module, message, output, output_size, outcome,"
    "  replayed, ord)),"
    " held AS (SELECT e.event_id, e.attempt FROM pgfleet.event e"
    "  WHERE e.event_id IN (SELECT v.event_id FROM v) AND e.state = 'running'"
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
    " AND e.state = 'running'"
    " RETURNING e.event_id, e.attempt";

/* One notification per flush, never per row: the schedules this flush touched. */
static const char SQL_PROGRESS[] = "SELECT pg_notify('pgfleet_progress', $1)";

/* Ends in schedule, then event order: every transaction takes schedule rows in
 * the same order, so two workers' batches cannot deadlock (0002_scheduler.sql). */

/* finish_event of 0011: false also when the event has moved on to another attempt; the
 * hand-backs of 0012 (requeue_event) go in the same order. */
static const char SQL_FINISH[] =
    "SELECT v.id, CASE WHEN v.st IN ('requeue', 'retry')"
    " THEN pgfleet.requeue_event(v.id, $4, v.att, v.st = 'retry')"
    " ELSE pgfleet.finish_event(v.id, $4, v.st, v.code, v.att) END"
    " FROM unnest($1::bigint[], $2::text[], $3::int[], $5::bigint[], $6::int[])"
    " AS v(id, st, code, sid, att)"
    " ORDER BY v.sid, v.id";

struct record *
record_new(struct db *db, const char *owner, const struct record_hooks *hooks, void *arg)
{
	struct record *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->db = db;
	r->owner = owner;
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

/* *nrows: status rows queued, *nstored: of them stored; lost: the ones dropped. */
static int
flush_status(struct record *r, int *nrows, long long *nstored, struct lost *lost, char *err,
    size_t errlen)
{
	struct pgarray a[NARR];
	memset(a, 0, sizeof(a));
	int n = 0;
	*nstored = 0;
	for (int i = 0; i < r->n; i++) {
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
	int rc = 0;
	struct db_result *res = NULL;
	if (n > 0) {
		const char *params[NARR + 1];
		for (int k = 0; k < NARR; k++)
			if ((params[k] = pgarray_end(&a[k])) == NULL)
				rc = -1;
		params[NARR] = r->owner;
		if (rc == -1)
			snprintf(err, errlen, "out of memory");
		else if ((rc = db_exec(r->db, NULL, SQL_SKIP_DUPLICATES, 0, NULL, err, errlen)) == 0)
			rc = db_exec(r->db, &res, SQL_INSERT, NARR + 1, params, err, errlen);
	}
	for (int k = 0; rc == 0 && res != NULL && k < db_ntuples(res); k++) {
		long long count = strtoll(db_value(res, k, 3), NULL, 10);
		if (strcmp(db_value(res, k, 0), "stored") == 0)
			*nstored = count;
		else
			lost_add(lost, strtoll(db_value(res, k, 1), NULL, 10),
			    (int)strtol(db_value(res, k, 2), NULL, 10), count);
	}
	db_result_free(res);
	for (int k = 0; k < NARR; k++)
		free(a[k].p);
	*nrows = n;
	return rc;
}

static int
flush_advance(struct record *r, struct lost *lost, char *err, size_t errlen)
{
	struct pgarray ids = {0}, seqs = {0}, atts = {0};
	int n = 0, rc = 0;
	struct db_result *res = NULL;
	for (int i = 0; i < r->n; i++) {
		if (r->ops[i].kind != OP_ADVANCE)
			continue;
		pgarray_int(&ids, r->ops[i].event_id);
		pgarray_int(&seqs, r->ops[i].task_seq);
		pgarray_int(&atts, r->ops[i].attempt);
		n++;
	}
	if (n > 0) {
		const char *params[] = {pgarray_end(&ids), pgarray_end(&seqs), r->owner, pgarray_end(&atts)};
		if (params[0] == NULL || params[1] == NULL || params[3] == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		} else {
			rc = db_exec(r->db, &res, SQL_ADVANCE, 4, params, err, errlen);
		}
	}
	/* an advance that matched no event running under our lease in its attempt is lost */
	for (int i = 0; rc == 0 && res != NULL && i < r->n; i++) {
		struct op *o = &r->ops[i];
		if (o->kind != OP_ADVANCE)
			continue;
		o->applied = 0;
		for (int k = 0; k < db_ntuples(res) && !o->applied; k++)
			o->applied = strtoll(db_value(res, k, 0), NULL, 10) == o->event_id &&
			    atoi(db_value(res, k, 1)) == o->attempt;
		if (!o->applied)
			lost_add(lost, o->event_id, o->attempt, 0);
	}
	db_result_free(res);
	free(ids.p);
	free(seqs.p);
	free(atts.p);
	return rc;
}

static int
flush_finish(struct record *r, struct db_result **res, char *err, size_t errlen)
{
	struct pgarray ids = {0}, states = {0}, codes = {0}, sids = {0}, atts = {0};
	int n = 0, rc = 0;
	*res = NULL;
	for (int i = 0; i < r->n; i++) {
		if (r->ops[i].kind != OP_FINISH)
			continue;
		pgarray_int(&ids, r->ops[i].event_id);
		pgarray_text(&states, r->ops[i].state);
		pgarray_int(&codes, r->ops[i].status_code);
		pgarray_int(&sids, r->ops[i].schedule_id);
		pgarray_int(&atts, r->ops[i].attempt);
		n++;
	}
	if (n > 0) {
		const char *params[] = {pgarray_end(&ids), pgarray_end(&states), pgarray_end(&codes), r->owner,
		    pgarray_end(&sids), pgarray_end(&atts)};
		if (params[0] == NULL || params[1] == NULL || params[2] == NULL || params[4] == NULL ||
		    params[5] == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		} else {
			rc = db_exec(r->db, res, SQL_FINISH, 6, params, err, errlen);
		}
	}
	free(ids.p);
	free(states.p);
	free(codes.p);
	free(sids.p);
	free(atts.p);
	return rc;
}

/* "100000001,100000002": the distinct schedules of the queued operations. */
static int
flush_notify(struct record *r, char *err, size_t errlen)
{
	char payload[7000];
	size_t len = 0;
	payload[0] = '\0';
	int64_t seen[64];
	int nseen = 0;
	for (int i = 0; i < r->n && nseen < 64; i++) {
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
		return 0;
	const char *params[] = {payload};
	return db_exec(r->db, NULL, SQL_PROGRESS, 1, params, err, errlen);
}

int
record_flush(struct record *r, char *err, size_t errlen)
{
	if (r->n == 0)
		return 0;
	struct db_result *fin = NULL;
	struct lost lost = {0};
	int nrows = 0;
	long long nstored = 0;
	/* advances and ends only ever follow the rows they belong to, so applying
	 * all rows, then all advances, then all ends keeps each event's order */
	long long t0 = clock_mono_ms();
	if (db_begin(r->db, err, errlen) == -1)
		return -1;
	if (flush_status(r, &nrows, &nstored, &lost, err, errlen) == -1 ||
	    flush_advance(r, &lost, err, errlen) == -1 ||
	    flush_finish(r, &fin, err, errlen) == -1 ||
	    flush_notify(r, err, errlen) == -1 || db_commit(r->db, err, errlen) == -1) {
		db_result_free(fin);
		free(lost.v);
		db_rollback(r->db, NULL, 0);
		return -1;
	}
	metrics_observe(MH_DB_FLUSH, (double)(clock_mono_ms() - t0) / 1000.0);
	log_debug("record: %d status rows and %d other changes written", nrows, r->n - nrows);
	long long ndropped = 0;
	for (int i = 0; i < lost.n; i++) {
		ndropped += lost.v[i].rows;
		log_warnx("event %" PRId64 ": attempt %d no longer holds the lease: %lld status rows"
		    " not written", lost.v[i].event_id, lost.v[i].attempt, lost.v[i].rows);
	}
	if (lost.oom)
		log_warnx("record: out of memory; some events whose lease was lost are not named");
	/* a final row whose (event, task, attempt) had one already: a write retried after
	 * a commit whose answer was lost, or a replay of what was recorded */
	if (nrows - ndropped - nstored > 0)
		log_detail("record: %lld final status rows already recorded, not written again",
		    nrows - ndropped - nstored);
	/* the advances written, for the owner once the queue is settled */
	struct op *adv = NULL;
	int nadv = 0;
	for (int i = 0; i < r->n; i++)
		nadv += r->ops[i].kind == OP_ADVANCE && r->ops[i].applied;
	if (nadv > 0 && (adv = calloc((size_t)nadv, sizeof(*adv))) == NULL)
		fatalx("out of memory");
	nadv = 0;
	/* the ends are durable: tell the owner, in queue order */
	for (int i = 0; i < r->n; i++) {
		struct op *o = &r->ops[i];
		if (o->kind == OP_ADVANCE && o->applied)
			adv[nadv++] = *o;
		if (o->kind == OP_FINISH && fin != NULL) {
			/* the rows come back in lock order: find ours by event id */
			int applied = 0;
			for (int k = 0; k < db_ntuples(fin); k++)
				if (strtoll(db_value(fin, k, 0), NULL, 10) == o->event_id)
					applied = strcmp(db_value(fin, k, 1), "t") == 0;
			int back = strcmp(o->state, "requeue") == 0 || strcmp(o->state, "retry") == 0;
			if (!applied)
				log_warnx("event %" PRId64 ": lease no longer ours; %s not recorded",
				    o->event_id, back ? "hand-back" : "end");
			if (back && r->hooks.requeued != NULL)
				r->hooks.requeued(o->event_id, o->attempt, applied, r->arg);
			else if (!back && r->hooks.finished != NULL)
				r->hooks.finished(o->event_id, o->attempt, o->status_code,
				    strcmp(o->state, "done") != 0, applied, r->arg);
		}
		op_clear(o);
	}
	db_result_free(fin);
	r->n = 0;
	/* after the queue is settled: sessions whose lease moved on stop, the others go on
	 * (and may queue more) */
	for (int i = 0; r->hooks.lost != NULL && i < lost.n; i++)
		r->hooks.lost(lost.v[i].event_id, lost.v[i].attempt, r->arg);
	free(lost.v);
	for (int i = 0; r->hooks.advanced != NULL && i < nadv; i++)
		r->hooks.advanced(adv[i].event_id, adv[i].attempt, adv[i].task_seq, r->arg);
	free(adv);
	return 0;
}
