/*
 * page_jobs: the jobs, one job by version (its tasks with their scripts, tokens
 * highlighted, its rollout settings, its schedules), and what changed between two
 * versions. Scripts show only when the role may read them (pgfleet_report_scripts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/diff.h"
#include "web/html.h"
#include "web/web.h"

static const char SQL_JOBS[] =
    "SELECT j.job_id, j.name, j.description, j.version, " WEB_TS("j.updated_at") " AS updated_at,"
    " s.schedule_id AS last_schedule, s.state AS last_state, " WEB_TS("s.due_at") " AS last_due"
    " FROM pgfleet.job_list j"
    " LEFT JOIN LATERAL (SELECT x.schedule_id, x.state, x.due_at FROM pgfleet.schedule_list x"
    "  WHERE x.job_id = j.job_id ORDER BY x.schedule_id DESC LIMIT 1) s ON true"
    " WHERE ($1::text IS NULL OR strpos(j.name, $1) > 0) AND ($2::text IS NULL OR j.name > $2)"
    " ORDER BY j.name LIMIT $3";

static const char SQL_JOB[] =
    "SELECT job_id, name, description, version, rollout_max_concurrent, rollout_max_failures,"
    " rollout_max_failures_pct, " WEB_TS("created_at") " AS created_at,"
    " " WEB_TS("updated_at") " AS updated_at, array_to_string(versions, ',') AS versions,"
    " array_to_string(rollout_waves, ', ') AS waves, rollout_pause::text AS pause,"
    " offline_wait::text AS offline_wait, offline_wake, allow_defer"
    " FROM pgfleet.job_detail WHERE job_id = $1";

#define TASK_COLS "version, seq, name, type, interpreter, run_as, timeout_ms," \
	" success_codes::text AS success_codes, on_code::text AS on_code, on_failure, os_required," \
	" boot_env, script_bytes"

/* $2 the version, or NULL for the job's current one. */
static const char SQL_TASKS_SCRIPT[] =
    "SELECT " TASK_COLS ", left(script, 262144) AS script FROM pgfleet.task_list"
    " WHERE job_id = $1 AND version = coalesce($2::int,"
    "  (SELECT version FROM pgfleet.job_list WHERE job_id = $1))"
    " ORDER BY seq LIMIT 1000";
static const char SQL_TASKS_NOSCRIPT[] =
    "SELECT " TASK_COLS ", NULL::text AS script FROM pgfleet.task_list"
    " WHERE job_id = $1 AND version = coalesce($2::int,"
    "  (SELECT version FROM pgfleet.job_list WHERE job_id = $1))"
    " ORDER BY seq LIMIT 1000";

static const char SQL_JOB_SCHEDULES[] =
    "SELECT schedule_id, job_id, job, job_version, state, " WEB_TS("due_at") " AS due_at,"
    " " WEB_TS("finished_at") " AS finished_at, total, pending, running, done, failed, cancelled"
    " FROM pgfleet.schedule_list WHERE job_id = $1 ORDER BY schedule_id DESC LIMIT 20";

static const char SQL_DIFF_SCRIPT[] =
    "SELECT " TASK_COLS ", left(script, 1048576) AS script FROM pgfleet.task_list"
    " WHERE job_id = $1 AND version IN ($2::int, $3::int) ORDER BY seq, version LIMIT 2000";
static const char SQL_DIFF_NOSCRIPT[] =
    "SELECT " TASK_COLS ", NULL::text AS script FROM pgfleet.task_list"
    " WHERE job_id = $1 AND version IN ($2::int, $3::int) ORDER BY seq, version LIMIT 2000";

/* The settings of a task compared between versions, with their labels. */
static const char *const settings[][2] = {
    {"name", "name"}, {"type", "type"}, {"interpreter", "interpreter"}, {"run_as", "run as"},
    {"timeout_ms", "timeout (ms)"}, {"success_codes", "success codes"}, {"on_code", "on code"},
    {"on_failure", "on failure"}, {"os_required", "OS required"}, {"boot_env", "boot env"},
};

static void
render_jobs(struct web_req *r)
{
	const struct db_result *j = r->res[0];
	int n = db_ntuples(j);
	if (r->fmt != WEB_HTML) {
		web_export(r, j, -1, "jobs");
		return;
	}
	struct evbuffer *b = web_page_begin(r, "Jobs");
	html_put(b, "<h1>Jobs</h1>\n<form class=\"filter\" method=\"get\" action=\"/jobs\">"
		    "<label>Name contains<input name=\"q\" value=\"%s\"></label><button>Filter</button>"
		    "</form>\n", web_arg(r, "q"));
	if (n == 0)
		html_put(b, "<p class=\"muted\">No job matches.</p>\n");
	else
		html_put(b, "<table><thead><tr><th>Job</th><th>Description</th><th class=\"num\">Version</th>"
			    "<th>Changed</th><th>Last schedule</th></tr></thead><tbody>\n");
	for (int i = 0; i < n && i < WEB_PAGE; i++) {
		html_put(b, "<tr><td><a href=\"/job/%s\">%s</a></td><td>%s</td><td class=\"num\">%s</td>",
		    web_val(j, i, "job_id"), web_val(j, i, "name"), web_val(j, i, "description"),
		    web_val(j, i, "version"));
		web_cell_time(b, web_val(j, i, "updated_at"));
		html_put(b, "<td>");
		if (!web_null(j, i, "last_schedule")) {
			html_put(b, "<a href=\"/schedule/%s\">%s</a> ", web_val(j, i, "last_schedule"),
			    web_val(j, i, "last_schedule"));
			web_state(b, web_val(j, i, "last_state"));
			html_put(b, " <span class=\"muted\">due %s</span>", web_val(j, i, "last_due"));
		} else
			html_put(b, "<span class=\"muted\">never scheduled</span>");
		html_put(b, "</td></tr>\n");
	}
	if (n > 0)
		html_put(b, "</tbody></table>\n");
	web_pager(b, r, "after", n > WEB_PAGE ? web_val(j, WEB_PAGE - 1, "name") : NULL,
	    "\xE2\x86\x90 first", "next \xE2\x86\x92", "/jobs");
	web_page_end(r, b);
}

void
page_jobs(struct web_req *r)
{
	char *limit = r->scratch[0];
	const char *after;
	snprintf(limit, sizeof(r->scratch[0]), "%d", r->fmt == WEB_HTML ? WEB_PAGE + 1 : 100000);
	if (web_after(r, &after) == -1)
		return;
	struct web_query q[1] = {{SQL_JOBS, 3, {web_arg(r, "q"), after, limit}}};
	web_fetch(r, 1, q, render_jobs);
}

static void
task_settings(struct evbuffer *b, const struct db_result *t, int i)
{
	html_put(b, "<dl class=\"kv\">");
	for (size_t k = 0; k < sizeof(settings) / sizeof(settings[0]); k++)
		if (!web_null(t, i, settings[k][0]))
			html_put(b, "<dt>%s</dt><dd>%s</dd>", settings[k][1], web_val(t, i, settings[k][0]));
	html_put(b, "<dt>script</dt><dd>%s bytes</dd></dl>\n", web_val(t, i, "script_bytes"));
}

static void
scripts_hidden(struct evbuffer *b, struct web_req *r)
{
	html_put(b, "<p class=\"note\">Scripts are not shown: the role %s may not read them. Run "
		    "pgfleet-web with <code>--role pgfleet_report_scripts</code> (docs/web.md).</p>\n",
	    r->w->role);
}

/* "1,2,3": numbers from the database, each a link; diffs between neighbours */
static void
job_versions(struct evbuffer *b, struct web_req *r, const char *v, long long shown)
{
	long long prev = 0;
	while (*v != '\0') {
		char *end;
		long long x = strtoll(v, &end, 10);
		if (end == v)
			break;
		if (prev > 0)
			html_put(b, " <a class=\"muted\" href=\"/job/%D/diff?a=%D&amp;b=%D\">(diff)</a> ",
			    r->id, prev, x);
		if (x == shown)
			html_put(b, "<b>v%D</b>", x);
		else
			html_put(b, "<a href=\"/job/%D?v=%D\">v%D</a>", r->id, x, x);
		prev = x;
		v = *end == ',' ? end + 1 : end;
	}
}

/*
 * What the job's batch set besides max_concurrent and max_failures (docs/yaml.md): its
 * waves and their pause, how long an event waits for a computer connected nowhere and
 * whether it is woken, how often a closing window may defer the rest of an event.
 */
static void
job_settings(struct evbuffer *b, const struct db_result *j)
{
	if (!web_null(j, 0, "waves"))
		html_put(b, "<dt>Waves</dt><dd>%s <span class=\"muted\">pause %s</span></dd>",
		    web_val(j, 0, "waves"), web_null(j, 0, "pause") ? "none" : web_val(j, 0, "pause"));
	html_put(b, "<dt>Offline</dt><dd>wait %s%R</dd><dt>Window closes</dt><dd>%R%s%R</dd>",
	    web_null(j, 0, "offline_wait") ? "the scheduler's events.offline_expire" :
	    web_val(j, 0, "offline_wait"),
	    strcmp(web_val(j, 0, "offline_wake"), "t") == 0 ? "; wake-on-LAN through an agent on "
	    "the computer's subnet" : "", web_ll(j, 0, "allow_defer") > 0 ? "deferred up to " : "",
	    web_ll(j, 0, "allow_defer") > 0 ? web_val(j, 0, "allow_defer") : "",
	    web_ll(j, 0, "allow_defer") > 0 ? " times (allow_defer)" : "fails with -31 (allow_defer 0)");
}

/* The job's name, description, versions and rollout settings; with actions, "Run now". */
static void
job_head(struct evbuffer *b, struct web_req *r, const struct db_result *j, long long shown)
{
	html_put(b, "<h1>%s</h1>\n<p>%s</p>\n<dl class=\"kv\"><dt>Current version</dt><dd>%s</dd>",
	    web_val(j, 0, "name"), web_val(j, 0, "description"), web_val(j, 0, "version"));
	html_put(b, "<dt>Versions</dt><dd>");
	job_versions(b, r, web_val(j, 0, "versions"), shown);
	html_put(b, "</dd><dt>Rollout</dt><dd>max_concurrent %s, max_failures %s%s</dd>",
	    web_null(j, 0, "rollout_max_concurrent") ? "none" : web_val(j, 0, "rollout_max_concurrent"),
	    !web_null(j, 0, "rollout_max_failures") ? web_val(j, 0, "rollout_max_failures") :
	    !web_null(j, 0, "rollout_max_failures_pct") ? web_val(j, 0, "rollout_max_failures_pct") : "none",
	    web_null(j, 0, "rollout_max_failures_pct") ? "" : "%");
	job_settings(b, j);
	html_put(b, "<dt>Created</dt><dd>%s</dd><dt>Changed</dt><dd>%s</dd></dl>\n",
	    web_val(j, 0, "created_at"), web_val(j, 0, "updated_at"));

	if (r->w->apool != NULL) {
		char path[64];
		snprintf(path, sizeof(path), "/job/%lld/run", r->id);
		html_put(b, "<div class=\"actions\"><p>Run version %s now, with the rollout settings "
			    "above, on computers named, groups and labels (as <code>pgfleet run --on</code>):"
			    "</p>", web_val(j, 0, "version"));
		web_action_form(b, r, path, "Run now", 1);
		html_put(b, "</div>\n");
	}
}

/* The tasks of the version shown, each with its settings and, when the role may read it, its script. */
static void
job_tasks(struct evbuffer *b, struct web_req *r, const struct db_result *t, long long shown)
{
	html_put(b, "<h2>Tasks of version %D</h2>\n", shown);
	if (!r->w->scripts)
		scripts_hidden(b, r);
	if (db_ntuples(t) == 0)
		html_put(b, "<p class=\"muted\">This version has no task.</p>\n");
	for (int i = 0; i < db_ntuples(t); i++) {
		html_put(b, "<section class=\"task\"><h3>Task %s%s%s</h3>\n", web_val(t, i, "seq"),
		    web_null(t, i, "name") ? "" : ": ", web_val(t, i, "name"));
		task_settings(b, t, i);
		if (!web_null(t, i, "script")) {
			const char *sc = web_val(t, i, "script");
			html_put(b, "<pre class=\"script\">");
			html_script(b, sc, strlen(sc));
			html_put(b, "</pre>\n");
			if (web_ll(t, i, "script_bytes") > (long long)strlen(sc))
				html_put(b, "<p class=\"muted\">Script cut at 256 KiB.</p>\n");
		}
		html_put(b, "</section>\n");
	}
}

/* The job's last schedules, with links to all of them and to its history. */
static void
job_schedules(struct evbuffer *b, const struct db_result *j, const struct db_result *s)
{
	html_put(b, "<h2>Schedules</h2>\n");
	if (db_ntuples(s) == 0) {
		html_put(b, "<p class=\"muted\">Never scheduled.</p>\n");
		return;
	}
	html_put(b, "<table><thead><tr><th>Schedule</th><th class=\"num\">Version</th><th>State</th>"
		    "<th>Progress</th><th>Due</th><th>Finished</th></tr></thead><tbody>\n");
	for (int i = 0; i < db_ntuples(s); i++) {
		html_put(b, "<tr data-schedule=\"%s\"><td><a href=\"/schedule/%s\">%s</a></td>"
			    "<td class=\"num\">%s</td><td>", web_val(s, i, "schedule_id"),
		    web_val(s, i, "schedule_id"), web_val(s, i, "schedule_id"),
		    web_val(s, i, "job_version"));
		web_state(b, web_val(s, i, "state"));
		html_put(b, "</td><td>");
		web_progress(b, s, i);
		html_put(b, "</td>");
		web_cell_time(b, web_val(s, i, "due_at"));
		web_cell_time(b, web_val(s, i, "finished_at"));
		html_put(b, "</tr>\n");
	}
	html_put(b, "</tbody></table>\n<p><a href=\"/schedules?job=%u\">All its schedules</a> \xC2\xB7 "
		    "<a href=\"/history?job=%u\">its history</a></p>\n",
	    web_val(j, 0, "name"), web_val(j, 0, "name"));
}

static void
render_job(struct web_req *r)
{
	const struct db_result *j = r->res[0], *t = r->res[1], *s = r->res[2];
	if (db_ntuples(j) == 0) {
		web_error(r, 404, "no such job");
		return;
	}
	long long shown = db_ntuples(t) > 0 ? web_ll(t, 0, "version") : r->id2;
	struct evbuffer *b = web_page_begin(r, web_val(j, 0, "name"));
	job_head(b, r, j, shown);
	job_tasks(b, r, t, shown);
	job_schedules(b, j, s);
	web_page_end(r, b);
}

void
page_job(struct web_req *r)
{
	long long version;
	char *id = r->scratch[0], *vs = r->scratch[1];
	if (web_arg_ll(r, "v", 1, 2147483647, 0, &version) == -1)
		return;
	r->id2 = version;
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	snprintf(vs, sizeof(r->scratch[1]), "%lld", version);
	struct web_query q[3] = {
	    {SQL_JOB, 1, {id}},
	    {r->w->scripts ? SQL_TASKS_SCRIPT : SQL_TASKS_NOSCRIPT, 2, {id, version > 0 ? vs : NULL}},
	    {SQL_JOB_SCHEDULES, 1, {id}},
	};
	web_fetch(r, 3, q, render_job);
}

/* The row of task seq in version v, or -1. */
static int
find_task(const struct db_result *t, long long v, const char *seq)
{
	for (int i = 0; i < db_ntuples(t); i++)
		if (web_ll(t, i, "version") == v && strcmp(web_val(t, i, "seq"), seq) == 0)
			return i;
	return -1;
}

static void
diff_task(struct evbuffer *b, struct web_req *r, const struct db_result *t, int ia, int ib,
    long long vb)
{
	const char *seq = web_val(t, ia >= 0 ? ia : ib, "seq");
	html_put(b, "<section class=\"task\"><h3>Task %s</h3>\n", seq);
	if (ia < 0 || ib < 0) {
		html_put(b, "<p>%s in v%D.</p>\n", ia < 0 ? "Added" : "Removed", vb);
		task_settings(b, t, ia < 0 ? ib : ia);
		html_put(b, "</section>\n");
		return;
	}
	int changed = 0;
	for (size_t k = 0; k < sizeof(settings) / sizeof(settings[0]); k++) {
		const char *c = settings[k][0];
		if (web_null(t, ia, c) == web_null(t, ib, c) && strcmp(web_val(t, ia, c), web_val(t, ib, c)) == 0)
			continue;
		if (!changed++)
			html_put(b, "<table><thead><tr><th>Setting</th><th>Before</th><th>After</th></tr></thead>"
				    "<tbody>\n");
		html_put(b, "<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>\n",
		    settings[k][1], web_null(t, ia, c) ? "(none)" : web_val(t, ia, c),
		    web_null(t, ib, c) ? "(none)" : web_val(t, ib, c));
	}
	if (changed)
		html_put(b, "</tbody></table>\n");
	if (r->w->scripts) {
		struct diff *d = diff_lines(web_val(t, ia, "script"), web_val(t, ib, "script"));
		if (d == NULL)
			html_put(b, "<p class=\"error\">out of memory comparing the scripts</p>\n");
		else {
			html_put(b, "<p class=\"muted\">Script: %d lines added, %d removed%R.</p>\n", d->added,
			    d->removed, d->whole ? " (too long to compare line by line)" : "");
			diff_html(b, d, 3);
			diff_free(d);
		}
	} else if (strcmp(web_val(t, ia, "script_bytes"), web_val(t, ib, "script_bytes")) != 0)
		html_put(b, "<p>Script: %s bytes, then %s bytes.</p>\n", web_val(t, ia, "script_bytes"),
		    web_val(t, ib, "script_bytes"));
	else if (!changed)
		html_put(b, "<p class=\"muted\">Settings unchanged.</p>\n");
	html_put(b, "</section>\n");
}

static void
render_job_diff(struct web_req *r)
{
	const struct db_result *j = r->res[0], *t = r->res[1];
	long long va = r->id2 >> 32, vb = r->id2 & 0xffffffffLL;
	char title[320];
	if (db_ntuples(j) == 0) {
		web_error(r, 404, "no such job");
		return;
	}
	snprintf(title, sizeof(title), "%s: v%lld to v%lld", web_val(j, 0, "name"), va, vb);
	struct evbuffer *b = web_page_begin(r, title);
	html_put(b, "<h1><a href=\"/job/%D\">%s</a>: version %D to %D</h1>\n", r->id, web_val(j, 0, "name"),
	    va, vb);
	if (!r->w->scripts)
		scripts_hidden(b, r);
	int na = 0, nb = 0;
	for (int i = 0; i < db_ntuples(t); i++) {
		if (web_ll(t, i, "version") == va)
			na++;
		else
			nb++;
	}
	if (na == 0 || nb == 0)
		html_put(b, "<p class=\"error\">Version %D has no task.</p>\n", na == 0 ? va : vb);
	/* every seq of either version, in order (rows come sorted by seq, then version) */
	const char *last = NULL;
	for (int i = 0; i < db_ntuples(t); i++) {
		const char *seq = web_val(t, i, "seq");
		if (last != NULL && strcmp(last, seq) == 0)
			continue;
		last = seq;
		diff_task(b, r, t, find_task(t, va, seq), find_task(t, vb, seq), vb);
	}
	web_page_end(r, b);
}

void
page_job_diff(struct web_req *r)
{
	long long a, bv;
	char *id = r->scratch[0], *as = r->scratch[1], *bs = r->scratch[2];
	if (web_arg_ll(r, "a", 1, 2147483647, 1, &a) == -1 ||
	    web_arg_ll(r, "b", 1, 2147483647, 2, &bv) == -1)
		return;
	if (a == bv) {
		web_error(r, 400, "a and b: two different versions");
		return;
	}
	r->id2 = (a << 32) | bv;
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	snprintf(as, sizeof(r->scratch[1]), "%lld", a);
	snprintf(bs, sizeof(r->scratch[2]), "%lld", bv);
	struct web_query q[2] = {
	    {SQL_JOB, 1, {id}},
	    {r->w->scripts ? SQL_DIFF_SCRIPT : SQL_DIFF_NOSCRIPT, 3, {id, as, bs}},
	};
	web_fetch(r, 2, q, render_job_diff);
}
