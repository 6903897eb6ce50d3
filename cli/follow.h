/*
 * follow: wait for a schedule's events to end, showing progress: LISTEN
 * pgfleet_progress and pgfleet_wakeup, refresh on a notification naming the schedule
 * (or every FOLLOW_FALLBACK_MS in case one is missed), poll() on the db socket between.
 * Nothing is allocated for the caller.
 */
#ifndef PGFLEET_FOLLOW_H
#define PGFLEET_FOLLOW_H

#include <stdio.h>

#include "cli/progress.h"

struct db;

#define FOLLOW_FALLBACK_MS 2000

/* Count the schedule's events by state. 0, or -1 with the reason in err. */
int follow_counts(struct db *db, const char *schedule_id, struct progress_counts *c, char *err,
    size_t errlen);

/*
 * Follow schedule_id until no event is pending or running. tty: a bar redrawn with \r
 * on out (cli_live); otherwise one line per change. Returns CLI_OK when every event is
 * done, CLI_FAILED when any failed or was cancelled, CLI_ERROR after a database error
 * ("pgfleet CMD: ..." on stderr).
 */
int follow_schedule(struct db *db, const char *cmd, const char *schedule_id, FILE *out, int tty);

/* Print the events that did not end done (computer, state, code and its name). */
int follow_print_failures(struct db *db, const char *cmd, const char *schedule_id, FILE *out);

#endif
