/*
 * follow: the wait loop of `run --wait` and `status --watch`. No busy polling: it
 * sleeps in poll() on the database socket, woken by NOTIFY pgfleet_progress (the
 * workers send one per write batch with the schedule ids as payload) or
 * pgfleet_wakeup, with a slow timer as the fallback.
 */
#include "cli/follow.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/util.h"

int
follow_counts(struct db *db, const char *schedule_id, struct progress_counts *c, char *err,
    size_t errlen)
{
	struct db_result *r;
	const char *p[1] = {schedule_id};
	if (db_exec(db, &r,
		"SELECT count(*), count(*) FILTER (WHERE state = 'done'),"
		" count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'running'),"
		" count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'cancelled'),"
		" (SELECT state = 'halted' FROM pgfleet.schedule_list WHERE schedule_id = $1)"
		" FROM pgfleet.event_list WHERE schedule_id = $1",
		1, p, err, errlen) == -1)
		return -1;
	c->total = atoll(db_value(r, 0, 0));
	c->done = atoll(db_value(r, 0, 1));
	c->failed = atoll(db_value(r, 0, 2));
	c->running = atoll(db_value(r, 0, 3));
	c->pending = atoll(db_value(r, 0, 4));
	c->cancelled = atoll(db_value(r, 0, 5));
	c->halted = strcmp(db_value(r, 0, 6), "t") == 0;
	db_result_free(r);
	return 0;
}

struct wake {
	const char *id;
	int refresh;
};

static void
on_notify(const char *channel, const char *payload, void *arg)
{
	struct wake *w = arg;
	if (strcmp(channel, "pgfleet_wakeup") == 0 || progress_payload_names(payload, w->id))
		w->refresh = 1;
}

int
follow_schedule(struct db *db, const char *cmd, const char *schedule_id, FILE *out, int tty)
{
	char err[1024], line[512], last[512] = "";
	struct progress_counts c;
	struct progress_rate rate = {0};
	struct wake w = {schedule_id, 1};

	/* LISTEN before the first count: a change after it is never missed. */
	if (db_listen(db, "pgfleet_progress", err, sizeof(err)) == -1 ||
	    db_listen(db, "pgfleet_wakeup", err, sizeof(err)) == -1)
		goto fail;
	double next = 0;
	for (;;) {
		double t = (clock_mono_ms() / 1000.0);
		if (w.refresh || t >= next) {
			if (follow_counts(db, schedule_id, &c, err, sizeof(err)) == -1)
				goto fail;
			progress_rate_sample(&rate, t, &c);
			w.refresh = 0;
			next = t + FOLLOW_FALLBACK_MS / 1000.0;
			if (tty) {
				progress_bar(&c, &rate, 30, line, sizeof(line));
				/* red once an event failed, unless NO_COLOR */
				int red = c.failed + c.cancelled > 0 && cli_color(out);
				fprintf(out, "\r%s%s%s\033[K", red ? "\033[31m" : "", line, red ? "\033[0m" : "");
				fflush(out);
			} else {
				progress_line(&c, line, sizeof(line));
				if (strcmp(line, last) != 0) {
					fprintf(out, "schedule %s: %s\n", schedule_id, line);
					fflush(out);
					snprintf(last, sizeof(last), "%s", line);
				}
			}
			/* a halted rollout waits for an operator: no use waiting here */
			if (progress_finished(&c) || (c.halted && c.running == 0))
				break;
		}
		int ms = (int)((next - (clock_mono_ms() / 1000.0)) * 1000) + 1;
		struct pollfd pfd = {db_socket(db), POLLIN, 0};
		if (pfd.fd < 0) {
			/* the connection is being re-opened: the next count does it */
			w.refresh = 1;
			continue;
		}
		int n = poll(&pfd, 1, ms > 0 ? ms : 0);
		if (n == -1 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			goto fail;
		}
		if (n > 0 && db_consume_notifies(db, on_notify, &w, err, sizeof(err)) == -1)
			w.refresh = 1; /* reconnected: count again at once */
	}
	if (tty)
		fputc('\n', out);
	if (c.halted)
		fprintf(out, "schedule %s: rollout halted past max_failures: pgfleet resume %s or "
		    "pgfleet abort %s\n", schedule_id, schedule_id, schedule_id);
	return c.failed + c.cancelled > 0 || c.halted ? CLI_FAILED : CLI_OK;
fail:
	if (tty)
		fputc('\n', out);
	fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
	return CLI_ERROR;
}

int
follow_print_failures(struct db *db, const char *cmd, const char *schedule_id, FILE *out)
{
	char err[1024];
	struct db_result *r;
	const char *p[1] = {schedule_id};
	if (db_exec(db, &r,
		"SELECT event_id AS \"EVENT\", computer AS \"COMPUTER\", state AS \"STATE\","
		" coalesce(status_code::text, '-') AS \"CODE\", coalesce(status_name, '-') AS \"NAME\""
		" FROM pgfleet.event_list"
		" WHERE schedule_id = $1 AND state IN ('failed', 'cancelled') ORDER BY computer",
		1, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return -1;
	}
	if (db_ntuples(r) > 0)
		cmdutil_table(r, out);
	db_result_free(r);
	return 0;
}
