/*
 * pgfleet notifications [--since DURATION|DATE] [--state pending|sent|failed] [--topic TOPIC]
 * [--limit N] [--format table|csv|json]: the outbox (view pgfleet.outbox_list, migration
 * 0023), newest first, with each notification's delivery state.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "cli/reportfmt.h"
#include "common/conf.h"
#include "common/db.h"

enum { NOTIFICATIONS_DEFAULT_LIMIT = 100 };

#define UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * $1 start (UTC) or NULL, $2 state or NULL, $3 topic or NULL, $4 limit or NULL. A row not
 * sent whose last attempt failed is "failed" (the sender tries it again at next_at, never
 * giving up); one not sent and not failed (not tried yet, or being sent) is "pending".
 */
static const char SQL_NOTIFICATIONS[] =
    "SELECT o.id, o.topic, o.schedule_id, o.event_id, o.job, s.state, " UTC("o.created_at")
    " AS created_at, o.attempts, CASE WHEN o.sent_at IS NULL THEN " UTC("o.next_at") " END AS next_at, "
    UTC("o.sent_at") " AS sent_at, o.last_error"
    " FROM pgfleet.outbox_list o CROSS JOIN LATERAL (SELECT CASE WHEN o.sent_at IS NOT NULL"
    "  THEN 'sent' WHEN o.last_error IS NOT NULL THEN 'failed' ELSE 'pending' END AS state) s"
    " WHERE ($1::timestamptz IS NULL OR o.created_at >= $1::timestamptz)"
    " AND ($2::text IS NULL OR s.state = $2) AND ($3::text IS NULL OR o.topic = $3)"
    " ORDER BY o.id DESC LIMIT $4::bigint";

static const struct reportfmt_col notif_cols[] = {
	{"id", REPORTFMT_NUMBER}, {"topic", REPORTFMT_TEXT}, {"schedule_id", REPORTFMT_NUMBER},
	{"event_id", REPORTFMT_NUMBER}, {"job", REPORTFMT_TEXT}, {"state", REPORTFMT_TEXT},
	{"created_at", REPORTFMT_TEXT}, {"attempts", REPORTFMT_NUMBER}, {"next_at", REPORTFMT_TEXT},
	{"sent_at", REPORTFMT_TEXT}, {"last_error", REPORTFMT_TEXT},
};
#define NCOLS ((int)(sizeof(notif_cols) / sizeof(notif_cols[0])))

struct notif_args {
	const char *since, *state, *topic;
	long long limit;
	enum reportfmt_format fmt;
};

#define O(f) offsetof(struct notif_args, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--since", O(since), "DURATION|DATE", "only those written in the period: 12h, 7d,\n"
	    "or from a UTC date (2026-12-01) or time\n(2026-12-01T02:00:00Z); default: all kept"),
	OPTS_ROW_STR("--state", O(state), "STATE", "pending (not sent yet), sent, or failed (its\n"
	    "last attempt failed; tried again at next_at)"),
	OPTS_ROW_STR("--topic", O(topic), "TOPIC", "schedule.done, schedule.failed, schedule.halted,\n"
	    "schedule.cancelled or event.failed"),
	OPTS_ROW_INT("--limit", O(limit), "N", 0, LLONG_MAX, "at most N rows (default 100, 0: all)"),
	CMDUTIL_FORMAT_OPTS(O(fmt), CMDUTIL_FORMAT_HELP, 0),
};
#undef O

static const struct opts_cmd notif_cmd = {.cmd = "notifications", OPTS_TABLE(specs),
    .extra = "%s: unknown argument",
    .about = "usage: pgfleet notifications [--since DURATION|DATE] [--state pending|sent|failed]\n"
		   "                             [--topic TOPIC] [--limit N] [--format table|csv|json]\n\n"
		   "The notifications of the outbox, newest first (view pgfleet.outbox_list): what\n"
		   "the schedulers with a notify: section have sent to their webhook or command, what\n"
		   "waits, and why a delivery failed. Read-scoped roles see their jobs' only.\n\n",
    .epilog = "\nColumns: id topic schedule_id event_id job state created_at attempts next_at "
		   "sent_at last_error\n"
		   "Times are UTC; next_at (the next try) is empty once sent. A failed one is tried\n"
		   "again until it is sent; the janitor removes rows older than retention.\n"};

/* --state and --topic: one of the known words, else 0 after the message. */
static int
notif_check(const struct notif_args *na)
{
	static const char *const states[] = {"pending", "sent", "failed"};
	static const char *const topics[] = {CONF_NOTIFY_TOPICS};
	int ok = na->state == NULL;
	for (size_t i = 0; !ok && i < sizeof(states) / sizeof(states[0]); i++)
		ok = strcmp(na->state, states[i]) == 0;
	if (!ok) {
		fprintf(stderr, "pgfleet notifications: --state: \"%s\" is unknown (use pending, sent "
				"or failed)\n", na->state);
		return 0;
	}
	ok = na->topic == NULL;
	for (size_t i = 0; !ok && i < sizeof(topics) / sizeof(topics[0]); i++)
		ok = strcmp(na->topic, topics[i]) == 0;
	if (!ok)
		fprintf(stderr, "pgfleet notifications: --topic: \"%s\" is unknown (use schedule.done, "
				"schedule.failed, schedule.halted, schedule.cancelled or event.failed)\n",
		    na->topic);
	return ok;
}

/* The rows of r in the chosen format; an exit code. */
static int
notif_print(const struct db_result *r, enum reportfmt_format fmt, long long limit)
{
	char err[1024];
	int nrows = db_ntuples(r);
	const char **cells = calloc((size_t)nrows * NCOLS + 1, sizeof(*cells));
	if (cells == NULL) {
		fprintf(stderr, "pgfleet notifications: out of memory\n");
		return CLI_ERROR;
	}
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < NCOLS; c++)
			cells[(size_t)i * NCOLS + c] = db_isnull(r, i, c) ? NULL : db_value(r, i, c);
	int rc = reportfmt_write(stdout, fmt, notif_cols, NCOLS, cells, nrows, err, sizeof(err));
	free(cells);
	if (rc == -1) {
		fprintf(stderr, "pgfleet notifications: %s\n", err);
		return CLI_ERROR;
	}
	if (fmt == REPORTFMT_TABLE && limit > 0 && nrows == limit)
		fprintf(stderr, "pgfleet notifications: the newest %lld rows only (--limit 0 shows all)\n",
		    limit);
	return CLI_OK;
}

int
cmd_notifications(int argc, char **argv)
{
	struct notif_args na = {NULL, NULL, NULL, NOTIFICATIONS_DEFAULT_LIMIT, REPORTFMT_TABLE};
	char err[2048], ts[32], lim[32];
	int rc = opts_parse(&notif_cmd, argc, argv, &na, NULL);
	if (rc != 0)
		return opts_exit(rc);
	if (!notif_check(&na))
		return CLI_USAGE;
	if (na.since != NULL && cmdutil_since(na.since, ts, sizeof(ts), err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet notifications: %s\n", err);
		return CLI_USAGE;
	}
	snprintf(lim, sizeof(lim), "%lld", na.limit);
	struct db *db = cmdutil_open("notifications");
	if (db == NULL)
		return CLI_ERROR;
	struct db_result *r = NULL;
	const char *p[4] = {na.since != NULL ? ts : NULL, na.state, na.topic, na.limit > 0 ? lim : NULL};
	if (db_exec(db, &r, SQL_NOTIFICATIONS, 4, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet notifications: %s\n", err);
		rc = CLI_ERROR;
	} else {
		rc = notif_print(r, na.fmt, na.limit);
	}
	db_result_free(r);
	db_close(db);
	return rc;
}
