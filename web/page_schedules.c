/*
 * page_schedules: the schedules (open ones, then the newest, filtered and paged), one
 * schedule with its events (failed first), one event with its tasks and their output,
 * and a task's whole output as text.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "web/html.h"
#include "web/web.h"

#define SCHED_COLS "schedule_id, job_id, job, job_version, state, " \
	WEB_TS("due_at") " AS due_at, " WEB_TS("finished_at") " AS finished_at, " \
	"total, pending, running, done, failed, cancelled, created_by, " \
	"coalesce(repeat_cron, repeat_every::text) AS repeat, " \
	"array_to_string(rollout_waves, ', ') AS rollout, CASE WHEN rollout_waves IS NOT NULL " \
	"THEN wave + 1 END AS wave, CASE WHEN rollout_waves IS NOT NULL THEN waves END AS waves"

static const char SQL_OPEN[] =
    "SELECT " SCHED_COLS " FROM pgfleet.schedule_list"
    " WHERE state IN ('pending', 'running', 'halted') AND ($1::text IS NULL OR job = $1)"
    " ORDER BY due_at, schedule_id LIMIT 100";

static const char SQL_LIST[] =
    "SELECT " SCHED_COLS " FROM pgfleet.schedule_list"
    " WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR state = $2)"
    " AND ($3::timestamptz IS NULL OR due_at >= $3)"
    " AND ($4::bigint IS NULL OR schedule_id < $4)"
    " ORDER BY schedule_id DESC LIMIT $5";

static const char SQL_JOB_NAMES[] = "SELECT name FROM pgfleet.job_list ORDER BY name LIMIT 500";

static const char SQL_SCHEDULE[] =
    "SELECT " SCHED_COLS ", targets::text AS targets, max_concurrent, max_failures,"
    " max_failures_pct, " WEB_TS("created_at") " AS created_at, " WEB_TS("halted_at") " AS halted_at,"
    " rollout_pause::text AS pause, failures - halt_base AS counted_failures"
    " FROM pgfleet.schedule_list WHERE schedule_id = $1";

/* Failed first, then cancelled, running, pending, done; by computer. */
static const char SQL_EVENTS[] =
    "SELECT event_id, computer_id, computer, state, attempt, status_code, status_name, result,"
    " " WEB_TS("started_at") " AS started_at, " WEB_TS("finished_at") " AS finished_at,"
    " duration_ms, (SELECT e.wave + 1 FROM pgfleet.event_list e WHERE e.event_id = h.event_id) AS wave"
    " FROM pgfleet.job_history h WHERE schedule_id = $1"
    " ORDER BY CASE state WHEN 'failed' THEN 0 WHEN 'cancelled' THEN 1 WHEN 'running' THEN 2"
    "  WHEN 'pending' THEN 3 ELSE 4 END, computer, event_id"
    " LIMIT $2 OFFSET $3";

static const char SQL_EVENT[] =
    "SELECT event_id, job_id, job, job_version, schedule_id, computer_id, computer, state, attempt,"
    " " WEB_TS("due_at") " AS due_at, " WEB_TS("started_at") " AS started_at,"
    " " WEB_TS("finished_at") " AS finished_at, duration_ms, status_code, status_name, result"
    " FROM pgfleet.job_history WHERE event_id = $1";

static const char SQL_TASKS[] =
    "SELECT h.task_seq, h.task_name, h.attempt, " WEB_TS("h.delivered_at") " AS delivered_at,"
    " " WEB_TS("h.started_at") " AS started_at, " WEB_TS("h.finished_at") " AS finished_at,"
    " h.duration_ms, array_to_string(h.status_codes, ' ') AS codes, h.status_code,"
    " h.status_name, h.result, h.agent_result, h.module, h.message, h.output_size, h.replayed,"
    " left(o.output, 8192) AS output, o.output_bytes"
    " FROM pgfleet.task_history h"
    " LEFT JOIN pgfleet.task_output o ON o.status_id = h.status_id AND o.event_id = h.event_id"
    " WHERE h.event_id = $1"
    " ORDER BY h.attempt, h.task_seq, h.status_id LIMIT 1000";

static const char SQL_RUNNING[] =
    "SELECT next_task_seq, last_status_code, " WEB_TS("last_status_at") " AS last_status_at,"
    " lease_owner, lease_expired, age_s FROM pgfleet.running WHERE event_id = $1";

static const char SQL_OUTPUT[] =
    "SELECT left(output, 16777216) AS output, output_bytes, output_size FROM pgfleet.task_output"
    " WHERE event_id = $1 AND task_seq = $2 AND attempt = $3 ORDER BY status_id LIMIT 1";

enum {
	EVENTS_PAGE = 200,
	EXPORT_MAX = 100000,     /* rows in one CSV or JSON answer */
	OUTPUT_SHOWN = 4096,     /* bytes of a task's output on the event page */
	OUTPUT_LINES = 60
};

static const char *const states[] = {"pending", "running", "halted", "done", "failed", "cancelled"};

static void
sched_head(struct evbuffer *b, int finished)
{
	html_put(b, "<table class=\"schedules\"><thead><tr><th>Schedule</th><th>Job</th><th>State</th>"
		    "<th>Progress</th><th>Due</th>%R<th>By</th></tr></thead><tbody>\n",
	    finished ? "<th>Finished</th>" : "");
}

static void
sched_row(struct evbuffer *b, const struct db_result *res, int i, int finished)
{
	html_put(b, "<tr data-schedule=\"%s\"><td><a href=\"/schedule/%s\">%s</a></td>"
		    "<td><a href=\"/job/%s\">%s</a> <span class=\"muted\">v%s</span>",
	    web_val(res, i, "schedule_id"), web_val(res, i, "schedule_id"),
	    web_val(res, i, "schedule_id"), web_val(res, i, "job_id"), web_val(res, i, "job"),
	    web_val(res, i, "job_version"));
	if (!web_null(res, i, "repeat"))
		html_put(b, " <span class=\"muted\">every %s</span>", web_val(res, i, "repeat"));
	html_put(b, "</td><td>");
	web_state(b, web_val(res, i, "state"));
	html_put(b, "</td><td>");
	web_progress(b, res, i);
	html_put(b, "</td>");
	web_cell_time(b, web_val(res, i, "due_at"));
	if (finished)
		web_cell_time(b, web_val(res, i, "finished_at"));
	html_put(b, "<td>%s</td></tr>\n", web_val(res, i, "created_by"));
}

static void
render_schedules(struct web_req *r)
{
	const struct db_result *open = r->res[0], *list = r->res[1], *jobs = r->res[2];
	int n = db_ntuples(list), more = n > WEB_PAGE;

	if (r->fmt != WEB_HTML) {
		web_export(r, list, -1, "schedules");
		return;
	}
	struct evbuffer *b = web_page_begin(r, "Schedules");
	html_put(b, "<h1>Schedules</h1>\n<form class=\"filter\" method=\"get\" action=\"/schedules\">"
		    "<label>Job<input name=\"job\" list=\"jobs\" value=\"%s\"></label>"
		    "<label>State<select name=\"state\"><option value=\"\">any</option>",
	    web_arg(r, "job"));
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		const char *st = web_arg(r, "state");
		html_put(b, "<option%R>%s</option>", st != NULL && strcmp(st, states[i]) == 0 ?
		    " selected" : "", states[i]);
	}
	html_put(b, "</select></label><label>Due since<input name=\"since\" placeholder=\"7d or "
		    "2026-01-31\" value=\"%s\"></label><button>Filter</button></form>\n<datalist id=\"jobs\">",
	    web_arg(r, "since"));
	for (int i = 0; i < db_ntuples(jobs); i++)
		html_put(b, "<option value=\"%s\">", db_value(jobs, i, 0));
	html_put(b, "</datalist>\n");

	if (open != NULL && web_arg(r, "before") == NULL) {
		html_put(b, "<h2>Open</h2>\n");
		if (db_ntuples(open) == 0)
			html_put(b, "<p class=\"muted\">No schedule is pending, running or halted.</p>\n");
		else {
			sched_head(b, 0);
			for (int i = 0; i < db_ntuples(open); i++)
				sched_row(b, open, i, 0);
			html_put(b, "</tbody></table>\n");
		}
	}
	html_put(b, "<h2>%s</h2>\n", web_arg(r, "before") ? "Older" : "Newest");
	if (n == 0)
		html_put(b, "<p class=\"muted\">No schedule matches.</p>\n");
	else {
		sched_head(b, 1);
		for (int i = 0; i < n && i < WEB_PAGE; i++)
			sched_row(b, list, i, 1);
		html_put(b, "</tbody></table>\n");
	}
	web_pager(b, r, "before", more ? web_val(list, WEB_PAGE - 1, "schedule_id") : NULL,
	    "\xE2\x86\x90 newest", "older \xE2\x86\x92", "/schedules");
	web_page_end(r, b);
}

void
page_schedules(struct web_req *r)
{
	const char *state = web_arg(r, "state"), *since = web_arg(r, "since");
	long long before, limit = WEB_PAGE + 1;
	char *ts = r->scratch[0], *bs = r->scratch[1], *ls = r->scratch[2];

	if (state != NULL) {
		size_t i = 0;
		while (i < sizeof(states) / sizeof(states[0]) && strcmp(state, states[i]) != 0)
			i++;
		if (i == sizeof(states) / sizeof(states[0])) {
			web_error(r, 400, "state: one of pending, running, halted, done, failed, cancelled");
			return;
		}
	}
	if (web_arg_ll(r, "before", 1, LLONG_MAX, 0, &before) == -1)
		return;
	if (since != NULL && web_since(r, "since", NULL, ts, sizeof(r->scratch[0])) == -1)
		return;
	if (r->fmt != WEB_HTML)
		limit = EXPORT_MAX;
	snprintf(bs, sizeof(r->scratch[1]), "%lld", before);
	snprintf(ls, sizeof(r->scratch[2]), "%lld", limit);
	const char *job = web_arg(r, "job");
	struct web_query q[3] = {
	    {SQL_OPEN, 1, {job}},
	    {SQL_LIST, 5, {job, state, since != NULL ? ts : NULL, before > 0 ? bs : NULL, ls}},
	    {SQL_JOB_NAMES, 0, {NULL}},
	};
	web_fetch(r, 3, q, render_schedules);
}

/*
 * With actions: cancel an open schedule, resume or abort a halted rollout, retry one's
 * failed events (as they were loaded).
 */
static void
schedule_actions(struct evbuffer *b, struct web_req *r, const struct db_result *s)
{
	const char *state = web_val(s, 0, "state");
	long long failed = web_ll(s, 0, "failed");
	int open = strcmp(state, "pending") == 0 || strcmp(state, "running") == 0;
	int halted = strcmp(state, "halted") == 0;
	char path[64], label[64];
	if (r->w->apool == NULL || (!open && !halted && failed == 0))
		return;
	html_put(b, "<div class=\"actions\">");
	if (open) {
		snprintf(path, sizeof(path), "/schedule/%lld/cancel", r->id);
		web_action_form(b, r, path, "Cancel this schedule", 0);
	}
	if (halted) {
		snprintf(path, sizeof(path), "/schedule/%lld/resume", r->id);
		web_action_form(b, r, path, "Resume the rollout", 0);
		snprintf(path, sizeof(path), "/schedule/%lld/abort", r->id);
		web_action_form(b, r, path, "Abort the rollout", 0);
	}
	if (failed > 0) {
		snprintf(path, sizeof(path), "/schedule/%lld/retry", r->id);
		snprintf(label, sizeof(label), "Retry the %lld failed", failed);
		web_action_form(b, r, path, label, 0);
	}
	html_put(b, "</div>\n");
}

/*
 * The rollout's terms: max_concurrent and max_failures, and for a rollout in waves the
 * waves asked for, the open one, the pause, and when and why it halted.
 */
static void
schedule_rollout(struct evbuffer *b, const struct db_result *s)
{
	html_put(b, "<dt>Rollout</dt><dd>max_concurrent %s, max_failures %s%s",
	    web_null(s, 0, "max_concurrent") ? "none" : web_val(s, 0, "max_concurrent"),
	    web_null(s, 0, "max_failures") ? (web_null(s, 0, "max_failures_pct") ? "none" :
	    web_val(s, 0, "max_failures_pct")) : web_val(s, 0, "max_failures"),
	    web_null(s, 0, "max_failures_pct") ? "" : "%");
	if (web_null(s, 0, "rollout")) {
		html_put(b, "</dd>");
		return;
	}
	html_put(b, "</dd><dt>Waves</dt><dd data-schedule=\"%s\">wave <span data-field=\"wave\">%s"
		    "</span> of %s <span class=\"muted\">(asked: %s; pause %s; failures counted "
		    "toward max_failures: %s)</span></dd>",
	    web_val(s, 0, "schedule_id"), web_val(s, 0, "wave"), web_val(s, 0, "waves"),
	    web_val(s, 0, "rollout"), web_null(s, 0, "pause") ? "none" : web_val(s, 0, "pause"),
	    web_val(s, 0, "counted_failures"));
	if (strcmp(web_val(s, 0, "state"), "halted") == 0)
		html_put(b, "<dt>Halted</dt><dd class=\"error\">at %s: its failures crossed max_failures; "
			    "no event starts until it is resumed or aborted (pgfleet resume %s, "
			    "pgfleet abort %s)</dd>", web_val(s, 0, "halted_at"),
		    web_val(s, 0, "schedule_id"), web_val(s, 0, "schedule_id"));
}

/* The events table: failed first, with their wave when the rollout has waves. */
static void
schedule_events(struct evbuffer *b, const struct db_result *ev, int waves)
{
	html_put(b, "<table class=\"events\"><thead><tr><th>Event</th><th>Computer</th><th>State</th>"
		    "<th class=\"num\">Code</th><th>Name</th><th class=\"num\">Attempt</th>%R<th>Started</th>"
		    "<th>Finished</th><th class=\"num\">Duration</th></tr></thead><tbody>\n",
	    waves ? "<th class=\"num\">Wave</th>" : "");
	int n = db_ntuples(ev);
	for (int i = 0; i < n && i < EVENTS_PAGE; i++) {
		html_put(b, "<tr><td><a href=\"/event/%s\">%s</a></td><td><a href=\"/computer/%s\">%s</a></td><td>",
		    web_val(ev, i, "event_id"), web_val(ev, i, "event_id"), web_val(ev, i, "computer_id"),
		    web_val(ev, i, "computer"));
		web_state(b, web_val(ev, i, "state"));
		html_put(b, "</td><td class=\"num\">%s</td><td>%s</td><td class=\"num\">%s</td>",
		    web_val(ev, i, "status_code"), web_val(ev, i, "status_name"), web_val(ev, i, "attempt"));
		if (waves)
			html_put(b, "<td class=\"num\">%s</td>", web_val(ev, i, "wave"));
		web_cell_time(b, web_val(ev, i, "started_at"));
		web_cell_time(b, web_val(ev, i, "finished_at"));
		web_cell_ms(b, ev, i, "duration_ms");
		html_put(b, "</tr>\n");
	}
	html_put(b, "</tbody></table>\n");
}

static void
render_schedule(struct web_req *r)
{
	const struct db_result *s = r->res[0], *ev = r->res[1];
	long long page = r->id2;
	char title[64], d[32];

	if (db_ntuples(s) == 0) {
		web_error(r, 404, "no such schedule");
		return;
	}
	if (r->fmt != WEB_HTML) {
		char name[64];
		snprintf(name, sizeof(name), "schedule-%lld", r->id);
		web_export(r, ev, -1, name);
		return;
	}
	snprintf(title, sizeof(title), "Schedule %lld", r->id);
	struct evbuffer *b = web_page_begin(r, title);
	html_put(b, "<h1>Schedule %s <span class=\"muted\">of</span> <a href=\"/job/%s\">%s</a> "
		    "<span class=\"muted\">v%s</span></h1>\n",
	    web_val(s, 0, "schedule_id"), web_val(s, 0, "job_id"), web_val(s, 0, "job"),
	    web_val(s, 0, "job_version"));
	html_put(b, "<dl class=\"kv\" data-schedule=\"%s\"><dt>State</dt><dd>",
	    web_val(s, 0, "schedule_id"));
	web_state(b, web_val(s, 0, "state"));
	html_put(b, "</dd><dt>Progress</dt><dd>");
	web_progress(b, s, 0);
	html_put(b, "</dd><dt>Due</dt><dd>%s</dd><dt>Finished</dt><dd>%s</dd>"
		    "<dt>Targets</dt><dd><code>%s</code></dd>",
	    web_val(s, 0, "due_at"), web_null(s, 0, "finished_at") ? "-" : web_val(s, 0, "finished_at"),
	    web_val(s, 0, "targets"));
	if (!web_null(s, 0, "repeat"))
		html_put(b, "<dt>Repeats</dt><dd>%s</dd>", web_val(s, 0, "repeat"));
	schedule_rollout(b, s);
	html_put(b, "<dt>Created</dt><dd>%s%R%s</dd></dl>\n",
	    web_val(s, 0, "created_at"), web_null(s, 0, "created_by") ? "" : " by ",
	    web_val(s, 0, "created_by"));
	schedule_actions(b, r, s);
	html_put(b, "<p class=\"note\" data-stale hidden>Events have changed since this page was "
		    "loaded: <a href=\"\">reload</a>.</p>\n");
	html_put(b, "<h2>Events</h2>\n<p class=\"muted\">Failed first. The events as <a href=\"/schedule/%D.csv\">"
		    "CSV</a> or <a href=\"/schedule/%D.json\">JSON</a>.</p>\n", r->id, r->id);
	schedule_events(b, ev, !web_null(s, 0, "rollout"));
	int n = db_ntuples(ev);
	html_put(b, "<p class=\"pager\">");
	snprintf(d, sizeof(d), "%lld", page - 1);
	if (page > 1)
		web_link(b, r, "page", page > 2 ? d : NULL, "\xE2\x86\x90 previous");
	snprintf(d, sizeof(d), "%lld", page + 1);
	if (n > EVENTS_PAGE)
		web_link(b, r, "page", d, "next \xE2\x86\x92");
	html_put(b, "</p>\n");
	web_page_end(r, b);
}

void
page_schedule(struct web_req *r)
{
	long long page;
	char *id = r->scratch[0], *lim = r->scratch[1], *off = r->scratch[2];
	if (web_arg_ll(r, "page", 1, 100000, 1, &page) == -1)
		return;
	r->id2 = page;
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	if (r->fmt == WEB_HTML) {
		snprintf(lim, sizeof(r->scratch[1]), "%d", EVENTS_PAGE + 1);
		snprintf(off, sizeof(r->scratch[2]), "%lld", (page - 1) * EVENTS_PAGE);
	} else {
		snprintf(lim, sizeof(r->scratch[1]), "%d", EXPORT_MAX);
		snprintf(off, sizeof(r->scratch[2]), "0");
	}
	struct web_query q[2] = {
	    {SQL_SCHEDULE, 1, {id}},
	    {SQL_EVENTS, 3, {id, lim, off}},
	};
	web_fetch(r, 2, q, render_schedule);
}

static void
task_block(struct evbuffer *b, struct web_req *r, const struct db_result *t, int i)
{
	char d[32];
	html_put(b, "<section class=\"task\"><h2>Task %s%s%s <span class=\"muted\">attempt %s</span> ",
	    web_val(t, i, "task_seq"), web_null(t, i, "task_name") ? "" : ": ",
	    web_val(t, i, "task_name"), web_val(t, i, "attempt"));
	html_put(b, "<span class=\"state st-%s\">%s</span></h2>\n",
	    strcmp(web_val(t, i, "result"), "Success") == 0 ? "done" : "failed", web_val(t, i, "result"));
	html_duration(web_null(t, i, "duration_ms") ? -1 : web_ll(t, i, "duration_ms"), d, sizeof(d));
	html_put(b, "<dl class=\"kv\"><dt>Code</dt><dd>%s %s <span class=\"muted\">(codes %s; the agent "
		    "said %s)</span></dd><dt>Delivered</dt><dd>%s</dd><dt>Started</dt><dd>%s</dd>"
		    "<dt>Finished</dt><dd>%s</dd><dt>Duration</dt><dd>%s</dd>",
	    web_val(t, i, "status_code"), web_val(t, i, "status_name"), web_val(t, i, "codes"),
	    web_val(t, i, "agent_result"), web_val(t, i, "delivered_at"), web_val(t, i, "started_at"),
	    web_val(t, i, "finished_at"), d);
	if (!web_null(t, i, "module"))
		html_put(b, "<dt>Module</dt><dd>%s</dd>", web_val(t, i, "module"));
	if (!web_null(t, i, "message"))
		html_put(b, "<dt>Message</dt><dd>%s</dd>", web_val(t, i, "message"));
	if (strcmp(web_val(t, i, "replayed"), "t") == 0)
		html_put(b, "<dt>Replayed</dt><dd>the agent answered from its journal: the script did "
			    "not run again</dd>");
	html_put(b, "</dl>\n");
	if (web_null(t, i, "output")) {
		html_put(b, "<p class=\"muted\">No output.</p></section>\n");
		return;
	}
	const char *out = web_val(t, i, "output");
	html_put(b, "<pre class=\"output\">");
	int cut = html_output(b, out, strlen(out), OUTPUT_SHOWN, OUTPUT_LINES);
	html_put(b, "</pre>\n");
	long long bytes = web_ll(t, i, "output_bytes"), size = web_ll(t, i, "output_size");
	if (cut || bytes > (long long)strlen(out))
		html_put(b, "<p>Output cut here: <a href=\"/event/%D/output?task=%s&amp;attempt=%s\">the whole "
			    "output</a> (%D bytes).</p>\n", r->id, web_val(t, i, "task_seq"),
		    web_val(t, i, "attempt"), bytes);
	if (!web_null(t, i, "output_size") && size > bytes)
		html_put(b, "<p class=\"muted\">The script wrote %D bytes; the agent kept %D "
			    "(its max_output).</p>\n", size, bytes);
	html_put(b, "</section>\n");
}

static void
render_event(struct web_req *r)
{
	const struct db_result *e = r->res[0], *t = r->res[1], *run = r->res[2];
	char title[64], d[32];

	if (db_ntuples(e) == 0) {
		web_error(r, 404, "no such event");
		return;
	}
	snprintf(title, sizeof(title), "Event %lld", r->id);
	struct evbuffer *b = web_page_begin(r, title);
	html_put(b, "<h1>Event %s: <a href=\"/job/%s\">%s</a> on <a href=\"/computer/%s\">%s</a></h1>\n",
	    web_val(e, 0, "event_id"), web_val(e, 0, "job_id"), web_val(e, 0, "job"),
	    web_val(e, 0, "computer_id"), web_val(e, 0, "computer"));
	html_put(b, "<dl class=\"kv\"><dt>Schedule</dt><dd><a href=\"/schedule/%s\">%s</a></dd>"
		    "<dt>State</dt><dd>", web_val(e, 0, "schedule_id"), web_val(e, 0, "schedule_id"));
	web_state(b, web_val(e, 0, "state"));
	html_duration(web_null(e, 0, "duration_ms") ? -1 : web_ll(e, 0, "duration_ms"), d, sizeof(d));
	html_put(b, "</dd><dt>Code</dt><dd>%s %s</dd><dt>Attempt</dt><dd>%s</dd><dt>Due</dt><dd>%s</dd>"
		    "<dt>Started</dt><dd>%s</dd><dt>Finished</dt><dd>%s</dd><dt>Duration</dt><dd>%s</dd>",
	    web_null(e, 0, "status_code") ? "-" : web_val(e, 0, "status_code"),
	    web_val(e, 0, "status_name"), web_val(e, 0, "attempt"), web_val(e, 0, "due_at"),
	    web_null(e, 0, "started_at") ? "-" : web_val(e, 0, "started_at"),
	    web_null(e, 0, "finished_at") ? "-" : web_val(e, 0, "finished_at"), d);
	if (db_ntuples(run) > 0)
		html_put(b, "<dt>Now</dt><dd>task %s, last code %s at %s, lease of %s%s</dd>",
		    web_val(run, 0, "next_task_seq"), web_val(run, 0, "last_status_code"),
		    web_val(run, 0, "last_status_at"), web_val(run, 0, "lease_owner"),
		    strcmp(web_val(run, 0, "lease_expired"), "t") == 0 ? " (expired)" : "");
	html_put(b, "</dl>\n");
	if (db_ntuples(t) == 0)
		html_put(b, "<p class=\"muted\">No task has ended yet.</p>\n");
	for (int i = 0; i < db_ntuples(t); i++)
		task_block(b, r, t, i);
	web_page_end(r, b);
}

void
page_event(struct web_req *r)
{
	char *id = r->scratch[0];
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	struct web_query q[3] = {
	    {SQL_EVENT, 1, {id}},
	    {SQL_TASKS, 1, {id}},
	    {SQL_RUNNING, 1, {id}},
	};
	web_fetch(r, 3, q, render_event);
}

static void
render_output(struct web_req *r)
{
	const struct db_result *o = r->res[0];
	if (db_ntuples(o) == 0 || web_null(o, 0, "output")) {
		web_error(r, 404, "no output for this task");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	const char *out = web_val(o, 0, "output");
	evbuffer_add(b, out, strlen(out));
	web_send(r, 200, "text/plain; charset=utf-8", b);
}

void
page_output(struct web_req *r)
{
	long long task, attempt;
	char *id = r->scratch[0], *ts = r->scratch[1], *as = r->scratch[2];
	if (web_arg_ll(r, "task", 0, 999, 0, &task) == -1 ||
	    web_arg_ll(r, "attempt", 0, 1000000, 0, &attempt) == -1)
		return;
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	snprintf(ts, sizeof(r->scratch[1]), "%lld", task);
	snprintf(as, sizeof(r->scratch[2]), "%lld", attempt);
	struct web_query q[1] = {{SQL_OUTPUT, 3, {id, ts, as}}};
	web_fetch(r, 1, q, render_output);
}
