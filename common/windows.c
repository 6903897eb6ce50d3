/*
 * windows: the spans of a window are its cron's occurrences in its zone, each open for
 * its duration. One zone load per window and fill; spans already known are skipped by
 * the primary key, so two schedulers filling at once write each span once.
 */
#include "common/windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/db.h"
#include "common/pgarray.h"
#include "common/tzdb.h"

static const char SQL_DUE[] =
    "SELECT w.window_id, w.cron, extract(epoch FROM w.duration)::bigint, w.timezone,"
    " extract(epoch FROM max(s.opens_at))::bigint"
    " FROM pgfleet.maintenance_window w LEFT JOIN pgfleet.window_span s USING (window_id)"
    " WHERE $1::bigint IS NULL OR w.window_id = $1::bigint"
    " GROUP BY w.window_id"
    " HAVING max(s.opens_at) IS NULL OR max(s.opens_at) < to_timestamp($2::bigint)"
    " ORDER BY w.window_id";

static const char SQL_INSERT[] =
    "INSERT INTO pgfleet.window_span (window_id, opens_at, closes_at)"
    " SELECT $1::bigint, to_timestamp(o), to_timestamp(o) + $3::bigint * interval '1 second'"
    " FROM unnest($2::bigint[]) o ON CONFLICT DO NOTHING";


int
windows_spans(struct db *db, const char *cron_text, const char *tz, time_t after, time_t to,
    time_t **out, int *n, char *err, size_t errlen)
{
	struct cron c;
	struct cron_zone z;
	*out = NULL;
	*n = 0;
	if (cron_parse(cron_text, &c, err, errlen) == -1)
		return -1;
	if (tz != NULL && tzdb_zone(db, tz, after - 2 * 86400, to + 1, &z, err, errlen) == -1)
		return -1;
	time_t *v = NULL;
	int cap = 0;
	for (time_t t = after; *n < WINDOWS_MAX_SPANS;) {
		t = tz != NULL ? cron_next_tz(&c, &z, t) : cron_next(&c, t);
		if (t == (time_t)-1 || t > to)
			break;
		if (*n == cap) {
			cap = cap > 0 ? 2 * cap : 64;
			time_t *nv = realloc(v, (size_t)cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				*n = 0;
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			v = nv;
		}
		v[(*n)++] = t;
	}
	*out = v;
	return 0;
}

/* One window's occurrences after `after` up to `to`, inserted. Spans added, or -1. */
static int
fill_one(struct db *db, const char *id, const char *cron_text, long long duration, const char *tz,
    time_t after, time_t to, char *err, size_t errlen)
{
	struct pgarray a = {0};
	time_t *v;
	int n;
	if (windows_spans(db, cron_text, tz, after, to, &v, &n, err, errlen) == -1)
		return -1;
	if (n == 0) {
		free(v);
		return 0;
	}
	for (int i = 0; i < n; i++)
		pgarray_int(&a, (long long)v[i]);
	free(v);
	char sdur[24];
	snprintf(sdur, sizeof(sdur), "%lld", duration);
	const char *p[] = {id, pgarray_end(&a), sdur};
	struct db_result *r;
	int rc = -1;
	if (p[1] == NULL)
		snprintf(err, errlen, "out of memory");
	else if (db_exec(db, &r, SQL_INSERT, 3, p, err, errlen) == 0) {
		rc = (int)db_cmd_tuples(r);
		db_result_free(r);
	}
	free(a.p);
	return rc;
}

int
windows_fill(struct db *db, const char *window_id, time_t now, char *err, size_t errlen)
{
	char srefill[24];
	struct db_result *r;
	snprintf(srefill, sizeof(srefill), "%lld", (long long)now + WINDOWS_REFILL_S);
	const char *p[] = {window_id, srefill};
	if (db_exec(db, &r, SQL_DUE, 2, p, err, errlen) == -1)
		return -1;
	int added = 0;
	for (int i = 0; i < db_ntuples(r); i++) {
		long long duration = strtoll(db_value(r, i, 2), NULL, 10);
		/* from the last span known, or from as far back as a span still open now began */
		time_t after = (time_t)(now - duration);
		if (!db_isnull(r, i, 4) && strtoll(db_value(r, i, 4), NULL, 10) > (long long)after)
			after = (time_t)strtoll(db_value(r, i, 4), NULL, 10);
		char why[256];
		int n = fill_one(db, db_value(r, i, 0), db_value(r, i, 1), duration,
		    db_isnull(r, i, 3) ? NULL : db_value(r, i, 3), after,
		    (time_t)(now + WINDOWS_AHEAD_S), why, sizeof(why));
		if (n == -1) {
			snprintf(err, errlen, "window %s: %s", db_value(r, i, 0), why);
			db_result_free(r);
			return -1;
		}
		added += n;
	}
	db_result_free(r);
	return added;
}
