/*
 * windows: when maintenance windows and blackouts (migrations/0022) are open: each
 * window's spans (opens_at, closes_at) computed ahead from its cron, duration and time
 * zone with common/cron.c and PostgreSQL's zone data (common/tzdb.c), written to
 * pgfleet.window_span, which the claim reads. Run by `pgfleet submit`, `pgfleet window
 * add` and the scheduler's janitor, on the caller's connection. Nothing to free.
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
/* A window whose cron, duration or zone changed: its spans deleted and filled anew. */
int windows_refill(struct db *db, const char *window_id, time_t now, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
