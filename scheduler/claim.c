/*
 * claim: the parent's side of the database. Each function is one short
 * transaction (or one statement) so that the claim path never waits on
 * history and two schedulers only ever meet on row locks.
 */
#include "scheduler/claim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cron.h"
#include "common/db.h"
#include "common/log.h"
#include "common/tzdb.h"
#include "common/windows.h"
#include "common/wol.h"

/* Only computers whose agent is connected to us (0012_presence.sql); $4, when not NULL,
 * the computers connected here as this process knows them (0033: a hint that spares the
 * function its search of the due events; it checks presence itself). */
static const char SQL_CLAIM[] =
    "SELECT event_id, schedule_id, computer_id, next_task_seq, attempt, status_code, lost, retry"
    " FROM pgfleet.claim_events($1::int, $2, $3::bigint * interval '1 millisecond', true,"
    " NULL, $4::bigint[])";

/* $1 NULL: events.offline_expire is 0, only schedules with an offline wait expire. */
static const char SQL_EXPIRE[] =
    "SELECT pgfleet.expire_offline($1::bigint * interval '1 millisecond',"
    " $2::bigint * interval '1 millisecond', $3::int,"
    " to_timestamp($4::bigint / 1000.0))";

/* Only the events our running workers hold: one whose worker is gone must
 * lose its lease, not keep it forever. A row a worker's flush holds is passed
 * over (renewed at the next heartbeat, a third of the lease later): waiting for
 * it, with thousands of rows taken in no set order, deadlocked with a flush that
 * share-locks its events for the status rows and then locks them for the end. */
static const char SQL_HEARTBEAT[] =
    "UPDATE pgfleet.event SET lease_until = now() + $2::bigint * interval '1 millisecond'"
    " WHERE event_id IN (SELECT e.event_id FROM pgfleet.event e"
    " WHERE e.lease_owner = $1 AND e.state = 'running' AND e.event_id = ANY ($3::bigint[])"
    " FOR NO KEY UPDATE SKIP LOCKED)";

/* The lease ends now, so that reclaim_leases takes the event back as for a
 * dead scheduler: another attempt, or LEASE_LOST after max_attempts. */
static const char SQL_ABANDON[] =
    "UPDATE pgfleet.event SET lease_until = now() - interval '1 millisecond'"
    " WHERE lease_owner = $1 AND state = 'running' AND event_id = ANY ($2::bigint[])";

static const char SQL_RELEASE[] = "SELECT pgfleet.release_event($1::bigint, $2)";

static const char SQL_RECLAIM[] =
    "SELECT event_id, state, attempt FROM pgfleet.reclaim_leases($1::int)";

static const char SQL_RECUR_DUE[] =
    "SELECT s.schedule_id, extract(epoch FROM s.due_at)::bigint,"
    " extract(epoch FROM s.repeat_every)::bigint, s.repeat_cron,"
    " extract(epoch FROM s.repeat_until)::bigint, extract(epoch FROM now())::bigint,"
    " s.timezone"
    " FROM pgfleet.schedule s"
    " WHERE (s.repeat_every IS NOT NULL OR s.repeat_cron IS NOT NULL)"
    " AND s.due_at <= now() AND s.state <> 'cancelled'"
    " AND (s.repeat_until IS NULL OR s.due_at < s.repeat_until)"
    " AND NOT EXISTS (SELECT 1 FROM pgfleet.schedule c WHERE c.parent_schedule_id = s.schedule_id)"
    " ORDER BY s.due_at LIMIT 100";

static const char SQL_RECUR_INSERT[] =
    "INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every,"
    " repeat_cron, repeat_until, parent_schedule_id, max_concurrent, max_failures,"
    " max_failures_pct, created_by, client_user, timezone, splay, rollout_waves, rollout_pause,"
    " offline_wait, offline_wake)"
    " SELECT s.job_id, j.version, s.targets, to_timestamp($2::bigint), s.repeat_every,"
    " s.repeat_cron, s.repeat_until, s.schedule_id, s.max_concurrent, s.max_failures,"
    " s.max_failures_pct, s.created_by, s.client_user, s.timezone, s.splay, s.rollout_waves,"
    " s.rollout_pause, s.offline_wait, s.offline_wake"
    " FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id"
    " WHERE s.schedule_id = $1::bigint"
    " AND (s.repeat_until IS NULL OR to_timestamp($2::bigint) <= s.repeat_until)"
    " ON CONFLICT (parent_schedule_id) DO NOTHING RETURNING schedule_id";

static const char SQL_EXPAND[] = "SELECT pgfleet.expand_schedule($1::bigint)";

static const char SQL_MAINTAIN[] =
    "SELECT partitions_created, partitions_dropped + status_rows_deleted + events_deleted"
    " + schedules_deleted, job_days_rolled_up, detail"
    " FROM pgfleet.maintain($1::bigint * interval '1 millisecond', $2::int)";

/* Our running events of cancelled schedules: from the schedules first, those cancelled
 * with events still running (index schedule_cancelled_running, 0029), a handful at most;
 * from the events' side the poll read every event this scheduler runs, each tick. */
static const char SQL_CANCELLED[] =
    "SELECT e.event_id FROM (SELECT s.schedule_id FROM pgfleet.schedule s"
    " WHERE s.state = 'cancelled' AND s.running > 0 OFFSET 0) c"
    " CROSS JOIN LATERAL (SELECT e.event_id FROM pgfleet.event e"
    " WHERE e.schedule_id = c.schedule_id AND e.state = 'running' AND e.lease_owner = $1) e"
    " ORDER BY e.event_id LIMIT $2::int";

static char *ids_array(const int64_t *ids, int n);

int
claim_events(struct db *db, const char *owner, int limit, long long lease_ms,
    const int64_t *cids, int ncids, struct ipc_event *out, int *n, char *err, size_t errlen)
{
	char slimit[16], slease[24];
	snprintf(slimit, sizeof(slimit), "%d", limit);
	snprintf(slease, sizeof(slease), "%lld", lease_ms);
	char *scids = NULL;
	if (ncids >= 0 && (scids = ids_array(cids, ncids)) == NULL) {
		snprintf(err, errlen, "claim: out of memory for %d computer ids", ncids);
		return -1;
	}
	const char *params[] = {slimit, owner, slease, scids};
	struct db_result *res;
	*n = 0;
	int rc = db_exec(db, &res, SQL_CLAIM, 4, params, err, errlen);
	free(scids);
	if (rc == -1)
		return -1;
	int rows = db_ntuples(res);
	for (int i = 0; i < rows && i < limit; i++) {
		struct ipc_event *ev = &out[i];
		ev->event_id = strtoll(db_value(res, i, 0), NULL, 10);
		ev->schedule_id = strtoll(db_value(res, i, 1), NULL, 10);
		ev->computer_id = strtoll(db_value(res, i, 2), NULL, 10);
		ev->next_task_seq = (int32_t)strtol(db_value(res, i, 3), NULL, 10);
		ev->attempt = (int32_t)strtol(db_value(res, i, 4), NULL, 10);
		ev->lost = (int32_t)strtol(db_value(res, i, 6), NULL, 10);
		ev->retry = (int32_t)strtol(db_value(res, i, 7), NULL, 10);
		ev->link_id = 0;
		log_info("Processing scheduled event: EVENT_ID=%" PRId64 "; NEXT_TASK_SEQ=%d;"
			 " STATUS_CODE=%s; COMPUTER_ID=%" PRId64,
		    ev->event_id, ev->next_task_seq, db_value(res, i, 5), ev->computer_id);
		(*n)++;
	}
	db_result_free(res);
	return 0;
}

/* A PostgreSQL array literal of ids, "{1,2,3}"; NULL out of memory. */
static char *
ids_array(const int64_t *ids, int n)
{
	size_t len = 3 + (size_t)n * 21;
	char *buf = malloc(len), *p = buf;
	if (buf == NULL)
		return NULL;
	*p++ = '{';
	for (int i = 0; i < n; i++)
		p += snprintf(p, len - (size_t)(p - buf), "%s%" PRId64, i > 0 ? "," : "", ids[i]);
	*p++ = '}';
	*p = '\0';
	return buf;
}

/* Run an UPDATE over a list of our events; returns rows changed or -1. */
static int
claim_update_ids(struct db *db, const char *sql, const char *owner, const char *extra,
    const int64_t *ids, int n, char *err, size_t errlen)
{
	char *arr = ids_array(ids, n);
	if (arr == NULL) {
		snprintf(err, errlen, "out of memory for %d event ids", n);
		return -1;
	}
	const char *params[] = {owner, extra != NULL ? extra : arr, arr};
	struct db_result *res;
	int rc = db_exec(db, &res, sql, extra != NULL ? 3 : 2, params, err, errlen);
	free(arr);
	if (rc == -1)
		return -1;
	int changed = (int)db_cmd_tuples(res);
	db_result_free(res);
	return changed;
}

int
claim_heartbeat(struct db *db, const char *owner, long long lease_ms, const int64_t *ids, int n,
    char *err, size_t errlen)
{
	char slease[24];
	if (n == 0)
		return 0;
	snprintf(slease, sizeof(slease), "%lld", lease_ms);
	return claim_update_ids(db, SQL_HEARTBEAT, owner, slease, ids, n, err, errlen);
}

int
claim_abandon(struct db *db, const char *owner, const int64_t *ids, int n, char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	return claim_update_ids(db, SQL_ABANDON, owner, NULL, ids, n, err, errlen);
}

int
claim_release(struct db *db, const char *owner, int64_t event_id, char *err, size_t errlen)
{
	char sid[24];
	snprintf(sid, sizeof(sid), "%" PRId64, event_id);
	const char *params[] = {sid, owner};
	return db_exec(db, NULL, SQL_RELEASE, 2, params, err, errlen);
}

int
claim_reclaim(struct db *db, int max_attempts, char *err, size_t errlen)
{
	char smax[16];
	snprintf(smax, sizeof(smax), "%d", max_attempts);
	const char *params[] = {smax};
	struct db_result *res;
	if (db_exec(db, &res, SQL_RECLAIM, 1, params, err, errlen) == -1)
		return -1;
	int n = db_ntuples(res);
	for (int i = 0; i < n; i++)
		log_event_s(LL_NOTICE, db_value(res, i, 0), "lease expired, now %s (attempt %s)",
		    db_value(res, i, 1), db_value(res, i, 2));
	db_result_free(res);
	return n;
}

/* The first occurrence after now: interval steps from due, or the cron rule, in the
 * schedule's time zone (tz, NULL: UTC) with PostgreSQL's offsets. */
static long long
recur_next(struct db *db, long long due, long long every, const char *cron_text, const char *tz,
    long long now, char *err, size_t errlen)
{
	if (every > 0) {
		long long k = (now - due) / every + 1;
		return due + k * every;
	}
	struct cron c;
	if (cron_parse(cron_text, &c, err, errlen) == -1)
		return -1;
	time_t after = (time_t)(now > due ? now : due), t;
	if (tz != NULL) {
		int rc = tzdb_cron_next(db, &c, tz, after, &t, err, errlen);
		if (rc == 1)
			snprintf(err, errlen, "no occurrence within ten years");
		return rc == 0 ? (long long)t : -1;
	}
	t = cron_next(&c, after);
	if (t == (time_t)-1)
		snprintf(err, errlen, "no occurrence within ten years");
	return t == (time_t)-1 ? -1 : (long long)t;
}

static int
recur_one(struct db *db, const char *sid, long long next, char *err, size_t errlen)
{
	char snext[24];
	snprintf(snext, sizeof(snext), "%lld", next);
	const char *params[] = {sid, snext};
	struct db_result *res;
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (db_exec(db, &res, SQL_RECUR_INSERT, 2, params, err, errlen) == -1)
		goto fail;
	int created = db_ntuples(res) == 1;
	if (created) {
		const char *p2[] = {db_value(res, 0, 0)};
		int rc = db_exec(db, NULL, SQL_EXPAND, 1, p2, err, errlen);
		if (rc == 0)
			log_info("schedule %s: next occurrence is schedule %s", sid, p2[0]);
		db_result_free(res);
		if (rc == -1)
			goto fail;
	} else {
		db_result_free(res);
	}
	if (db_commit(db, err, errlen) == -1)
		goto fail;
	return created;
fail:
	db_rollback(db, NULL, 0);
	return -1;
}

int
claim_recur(struct db *db, char *err, size_t errlen)
{
	struct db_result *res;
	if (db_exec(db, &res, SQL_RECUR_DUE, 0, NULL, err, errlen) == -1)
		return -1;
	int created = 0;
	for (int i = 0; i < db_ntuples(res); i++) {
		const char *sid = db_value(res, i, 0);
		long long due = strtoll(db_value(res, i, 1), NULL, 10);
		long long every = db_isnull(res, i, 2) ? 0 : strtoll(db_value(res, i, 2), NULL, 10);
		long long until = db_isnull(res, i, 4) ? 0 : strtoll(db_value(res, i, 4), NULL, 10);
		long long now = strtoll(db_value(res, i, 5), NULL, 10);
		char why[256];
		long long next = recur_next(db, due, every, db_value(res, i, 3),
		    db_isnull(res, i, 6) ? NULL : db_value(res, i, 6), now, why, sizeof(why));
		if (next == -1) {
			log_warnx("schedule %s: cannot compute next occurrence: %s", sid, why);
			continue;
		}
		if (until != 0 && next > until)
			continue;
		int r = recur_one(db, sid, next, why, sizeof(why));
		if (r == -1) {
			log_warnx("schedule %s: next occurrence: %s", sid, why);
			continue;
		}
		created += r;
	}
	db_result_free(res);
	return created;
}

int
claim_cancelled(struct db *db, const char *owner, int64_t *ids, int max, char *err, size_t errlen)
{
	char smax[16];
	snprintf(smax, sizeof(smax), "%d", max);
	const char *params[] = {owner, smax};
	struct db_result *res;
	if (db_exec(db, &res, SQL_CANCELLED, 2, params, err, errlen) == -1)
		return -1;
	int n = db_ntuples(res);
	for (int i = 0; i < n && i < max; i++)
		ids[i] = strtoll(db_value(res, i, 0), NULL, 10);
	db_result_free(res);
	return n < max ? n : max;
}

int
claim_expire_offline(struct db *db, long long expire_ms, long long stale_ms, long long since_ms,
    int limit, char *err, size_t errlen)
{
	char sexp[24], sstale[24], slimit[16], ssince[24];
	snprintf(ssince, sizeof(ssince), "%lld", since_ms);
	snprintf(sexp, sizeof(sexp), "%lld", expire_ms);
	snprintf(sstale, sizeof(sstale), "%lld", stale_ms);
	snprintf(slimit, sizeof(slimit), "%d", limit);
	const char *params[] = {expire_ms > 0 ? sexp : NULL, sstale, slimit, ssince};
	struct db_result *res;
	if (db_exec(db, &res, SQL_EXPIRE, 4, params, err, errlen) == -1)
		return -1;
	int n = atoi(db_value(res, 0, 0));
	db_result_free(res);
	if (n > 0)
		log_notice("%d pending events expired: their computers were connected nowhere "
		    "within their schedule's offline wait (else events.offline_expire, %lld ms) of their "
		    "due time", n, expire_ms);
	return n;
}

static const char SQL_WAKE[] =
    "SELECT event_id, computer, mac, broadcast, relay, relay_id FROM pgfleet.wake_offline($1, $2::int,"
    " $3::bigint * interval '1 millisecond', $4::bigint * interval '1 millisecond')";

/* One row of SQL_WAKE into w: 0, or -1 when a value does not fit or is not what it says. */
static int
wake_row(const struct db_result *res, int i, struct ipc_wake *w)
{
	unsigned char mac[WOL_MAC_LEN];
	uint32_t bc;
	char why[128];
	memset(w, 0, sizeof(*w));
	w->event_id = strtoll(db_value(res, i, 0), NULL, 10);
	w->relay_id = strtoll(db_value(res, i, 5), NULL, 10);
	if (snprintf(w->target, sizeof(w->target), "%s", db_value(res, i, 1)) >= (int)sizeof(w->target) ||
	    snprintf(w->mac, sizeof(w->mac), "%s", db_value(res, i, 2)) >= (int)sizeof(w->mac) ||
	    snprintf(w->broadcast, sizeof(w->broadcast), "%s", db_value(res, i, 3)) >= (int)sizeof(w->broadcast) ||
	    wol_parse_mac(w->mac, mac, why, sizeof(why)) == -1 ||
	    wol_parse_ipv4(w->broadcast, &bc, why, sizeof(why)) == -1)
		return -1;
	return 0;
}

int
claim_wake_offline(struct db *db, const char *owner, long long resend_ms, long long stale_ms,
    struct ipc_wake *out, int max, char *err, size_t errlen)
{
	char smax[16], sresend[24], sstale[24];
	snprintf(smax, sizeof(smax), "%d", max);
	snprintf(sresend, sizeof(sresend), "%lld", resend_ms);
	snprintf(sstale, sizeof(sstale), "%lld", stale_ms);
	const char *params[] = {owner, smax, sresend, sstale};
	struct db_result *res;
	if (db_exec(db, &res, SQL_WAKE, 4, params, err, errlen) == -1)
		return -1;
	int n = 0;
	for (int i = 0; i < db_ntuples(res) && n < max; i++) {
		if (wake_row(res, i, &out[n]) == -1) {
			log_event_s(LL_WARNING, db_value(res, i, 0), "wake-on-LAN: the database gave a MAC "
			    "or broadcast address that is none (%s, %s): not sent", db_value(res, i, 2),
			    db_value(res, i, 3));
			continue;
		}
		log_event(LL_INFO, (long long)out[n].event_id,
		    "computer %s is connected nowhere: wake-on-LAN for %s through %s (%s)",
		    out[n].target, out[n].mac, db_value(res, i, 4), out[n].broadcast);
		n++;
	}
	db_result_free(res);
	return n;
}

static const char SQL_WINDOWS_PRUNE[] =
    "DELETE FROM pgfleet.window_span WHERE closes_at < now() - interval '1 day'";

int
claim_outbox_prune(struct db *db, long long retention_ms, char *err, size_t errlen)
{
	char sret[24];
	snprintf(sret, sizeof(sret), "%lld", retention_ms);
	const char *p[] = {sret};
	return db_exec(db, NULL, "SELECT pgfleet.outbox_prune($1::bigint * interval '1 millisecond')",
	    1, p, err, errlen);
}

int
claim_windows(struct db *db, char *err, size_t errlen)
{
	int n = windows_fill(db, NULL, time(NULL), err, errlen);
	if (n == -1 || db_exec(db, NULL, SQL_WINDOWS_PRUNE, 0, NULL, err, errlen) == -1)
		return -1;
	if (n > 0)
		log_info("maintenance windows: %d spans computed ahead", n);
	return n;
}

int
claim_maintain(struct db *db, long long retention_ms, int batch, char *err, size_t errlen)
{
	char sret[24], sbatch[16];
	snprintf(sret, sizeof(sret), "%lld", retention_ms);
	snprintf(sbatch, sizeof(sbatch), "%d", batch);
	const char *params[] = {sret, sbatch};
	struct db_result *res;
	if (db_exec(db, &res, SQL_MAINTAIN, 2, params, err, errlen) == -1)
		return -1;
	int created = atoi(db_value(res, 0, 0));
	long long removed = strtoll(db_value(res, 0, 1), NULL, 10);
	long long rolled = strtoll(db_value(res, 0, 2), NULL, 10);
	if (created > 0 || removed > 0)
		log_notice("janitor: %d partitions created, %lld rows or partitions removed (%s)",
		    created, removed, db_value(res, 0, 3));
	if (rolled > 0)
		log_info("janitor: %lld job days rolled up into job_daily_rollup", rolled);
	db_result_free(res);
	return removed > 0 || rolled > 0;
}
