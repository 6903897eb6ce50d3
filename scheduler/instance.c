/*
 * instance: the scheduler_instance statements, constants with $n parameters.
 */
#include "scheduler/instance.h"

#include <stdio.h>
#include <unistd.h>

#include "common/db.h"
#include "common/version.h"

static const char SQL_BEAT[] =
    "INSERT INTO pgfleet.scheduler_instance AS i (owner, name, host, pid, version, heartbeat,"
    " workers, workers_alive, inflight, last_claim_at, metrics)"
    " VALUES ($1, $2, $3, $4::int, $5, make_interval(secs => $6::bigint / 1000.0), $7::int,"
    "  $8::int, $9::int, CASE WHEN $10::bigint > 0 THEN to_timestamp($10::bigint / 1000.0) END,"
    "  $11)"
    " ON CONFLICT (owner) DO UPDATE SET last_seen = now(), heartbeat = excluded.heartbeat,"
    "  workers = excluded.workers, workers_alive = excluded.workers_alive,"
    "  inflight = excluded.inflight, last_claim_at = excluded.last_claim_at,"
    "  metrics = excluded.metrics, stopped_at = NULL";

/* Stopped, or silent for three heartbeats: not running any more. */
static const char SQL_PRUNE[] =
    "DELETE FROM pgfleet.scheduler_instance WHERE name = $1 AND owner <> $2"
    " AND (stopped_at IS NOT NULL OR last_seen < now() - 3 * heartbeat)";

static const char SQL_STOP[] =
    "UPDATE pgfleet.scheduler_instance SET stopped_at = now(), last_seen = now(),"
    " workers_alive = 0, inflight = 0 WHERE owner = $1";

int
instance_beat(struct db *db, const struct instance_beat *b, char *err, size_t errlen)
{
	char host[256] = "", pid[24], hb[24], w[16], wa[16], inf[16], lc[24];
	if (gethostname(host, sizeof(host) - 1) == -1)
		snprintf(host, sizeof(host), "unknown");
	snprintf(pid, sizeof(pid), "%ld", b->pid);
	snprintf(hb, sizeof(hb), "%lld", b->heartbeat_ms > 0 ? b->heartbeat_ms : 1000);
	snprintf(w, sizeof(w), "%d", b->workers);
	snprintf(wa, sizeof(wa), "%d", b->workers_alive);
	snprintf(inf, sizeof(inf), "%d", b->inflight);
	snprintf(lc, sizeof(lc), "%lld", b->last_claim_ms);
	const char *p[] = {b->owner, b->name, host, pid, version_string(), hb, w, wa, inf, lc,
	    b->metrics};
	return db_exec(db, NULL, SQL_BEAT, 11, p, err, errlen);
}

int
instance_start(struct db *db, const struct instance_beat *b, char *err, size_t errlen)
{
	const char *p[] = {b->name, b->owner};
	if (db_exec(db, NULL, SQL_PRUNE, 2, p, err, errlen) == -1)
		return -1;
	return instance_beat(db, b, err, errlen);
}

int
instance_stop(struct db *db, const char *owner, char *err, size_t errlen)
{
	const char *p[] = {owner};
	return db_exec(db, NULL, SQL_STOP, 1, p, err, errlen);
}
