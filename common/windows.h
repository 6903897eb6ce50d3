/*
 * windows: when maintenance windows and blackouts (migrations/0022) are open: each
 * window's spans (opens_at, closes_at) computed ahead from its cron, duration and time
 * zone with common/cron.c and PostgreSQL's zone data (common/tzdb.c). `pgfleet submit`
 * and `pgfleet window add` compute them (windows_spans) for the SQL API to write; the
 * scheduler's janitor writes more to pgfleet.window_span as time goes (windows_fill), on
 * the caller's connection. windows_spans' times are the caller's to free.
 */
#ifndef PGFLEET_WINDOWS_H
#define PGFLEET_WINDOWS_H

#include <stddef.h>
#include <time.h>

struct db;

#define WINDOWS_AHEAD_S (35LL * 86400) /* spans are known this far ahead */
#define WINDOWS_REFILL_S (28LL * 86400) /* a window whose spans end sooner gets more */
#define WINDOWS_MAX_SPANS 5000 /* spans added to one window at a time */

/*
 * Spans of every window (window_id NULL) or of one, from where they end (or from
 * now - duration for a window without spans) to now + WINDOWS_AHEAD_S, for each window
 * whose spans end before now + WINDOWS_REFILL_S. Returns the spans added, or -1 with err.
 */
int windows_fill(struct db *db, const char *window_id, time_t now, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * The opening times of a window whose cron is read in tz (NULL: UTC) strictly after `after`
 * up to `to`, at most WINDOWS_MAX_SPANS: *out (malloc'd, the caller frees it, also when *n
 * is 0) and *n. 0, or -1 with err.
 */
int windows_spans(struct db *db, const char *cron_text, const char *tz, time_t after, time_t to,
    time_t **out, int *n, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
