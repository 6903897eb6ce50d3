/*
 * page_computers: the inventory (groups, labels, last seen with stale ones marked, the
 * last result), and one computer: its facts, its last result per job, what is pending
 * or running on it, and its history, newest first.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "web/html.h"
#include "web/web.h"

/* $4: milliseconds without news after which a computer is stale. The page's computers
 * first, then their groups read once for all of them (a dynamic group's rule is evaluated
 * once per read of group_member_list, not once per computer). */
static const char SQL_COMPUTERS[] =
    "WITH page AS ("
    " SELECT c.computer_id, c.name, c.host, c.os, c.dept, c.labels, c.enabled, c.last_seen,"
    "  c.running_event"
    " FROM pgfleet.computer_list c"
    " WHERE ($1::text IS NULL OR strpos(c.name, $1) > 0)"
    " AND ($2::text IS NULL OR c.computer_id IN (SELECT g.computer_id FROM pgfleet.group_member_list g"
    "  WHERE g.group_name = $2))"
    " AND ($3::boolean IS NOT TRUE OR c.last_seen IS NULL"
    "  OR c.last_seen < now() - $4::bigint * interval '1 ms')"
    " AND ($5::text IS NULL OR c.name > $5)"
    " ORDER BY c.name LIMIT $6),"
    " gm AS (SELECT g.computer_id, string_agg(g.group_name, ', ' ORDER BY g.group_name) AS groups"
    " FROM pgfleet.group_member_list g WHERE g.computer_id IN (SELECT p.computer_id FROM page p)"
    " GROUP BY g.computer_id)"
    " SELECT c.computer_id, c.name, c.host, c.os, c.dept, c.labels::text AS labels, c.enabled,"
    " " WEB_TS("c.last_seen") " AS last_seen, c.running_event,"
    " (c.last_seen IS NULL OR c.last_seen < now() - $4::bigint * interval '1 ms') AS stale,"
    " gm.groups,"
    " l.job AS last_job, l.state AS last_state, l.status_name AS last_status,"
    " l.event_id AS last_event, " WEB_TS("l.finished_at") " AS last_finished"
    " FROM page c"
    " LEFT JOIN gm ON gm.computer_id = c.computer_id"
    " LEFT JOIN LATERAL (SELECT h.job, h.state, h.status_name, h.event_id, h.finished_at"
    "  FROM pgfleet.job_history h WHERE h.computer_id = c.computer_id"
    "  AND h.finished_at IS NOT NULL ORDER BY h.finished_at DESC, h.event_id DESC LIMIT 1) l ON true"
    " ORDER BY c.name";

static const char SQL_GROUPS[] =
    "SELECT DISTINCT group_name FROM pgfleet.group_member_list ORDER BY group_name LIMIT 500";

static const char SQL_COMPUTER[] =
    "SELECT c.computer_id, c.name, c.host, c.port, c.os, c.boot_env, c.ip, c.mac, c.serial,"
    " c.asset_tag, c.domain, c.domain_ou, c.dept, c.contact, c.email, c.labels::text AS labels,"
    " c.attrs::text AS attrs, c.attrs = '{}'::jsonb AS no_attrs, c.enabled,"
    " " WEB_TS("c.last_seen") " AS last_seen, c.running_event,"
    " (c.last_seen IS NULL OR c.last_seen < now() - $2::bigint * interval '1 ms') AS stale,"
    " " WEB_TS("c.created_at") " AS created_at, " WEB_TS("c.updated_at") " AS updated_at,"
    " (SELECT string_agg(g.group_name, ', ' ORDER BY g.group_name) FROM pgfleet.group_member_list g"
    "  WHERE g.computer_id = c.computer_id) AS groups"
    " FROM pgfleet.computer_detail c WHERE c.computer_id = $1";

static const char SQL_LAST[] =
    "SELECT job_id, job, event_id, schedule_id, " WEB_TS("finished_at") " AS finished_at,"
    " duration_ms, state, status_code, status_name"
    " FROM pgfleet.computer_last_result WHERE computer_id = $1 ORDER BY job LIMIT 500";

/* A computer's events, as both of its event tables show them. */
#define EVENT_COLS "event_id, job_id, job, schedule_id, state, status_code, status_name," \
	" " WEB_TS("due_at") " AS due_at, " WEB_TS("started_at") " AS started_at," \
	" " WEB_TS("finished_at") " AS finished_at, duration_ms, attempt"

static const char SQL_OPEN_EVENTS[] =
    "SELECT " EVENT_COLS
    " FROM pgfleet.job_history WHERE computer_id = $1 AND state IN ('pending', 'running')"
    " ORDER BY due_at, event_id LIMIT 50";

/* Newest first, paged by (finished_at, event_id): $2 the last row's finished_key. */
static const char SQL_HISTORY[] =
    "SELECT " EVENT_COLS ", " WEB_KEY " AS finished_key"
    " FROM pgfleet.job_history WHERE computer_id = $1 AND finished_at IS NOT NULL"
    " AND ($2::timestamptz IS NULL OR (finished_at, event_id) < ($2, $3::bigint))"
    " ORDER BY finished_at DESC, event_id DESC LIMIT $4";

static void
render_computers(struct web_req *r)
{
	const struct db_result *c = r->res[0], *groups = r->res[1];
	int n = db_ntuples(c);

	if (r->fmt != WEB_HTML) {
		web_export(r, c, -1, "computers");
		return;
	}
	struct evbuffer *b = web_page_begin(r, "Computers");
	html_put(b, "<h1>Computers</h1>\n<form class=\"filter\" method=\"get\" action=\"/computers\">"
		    "<label>Name contains<input name=\"q\" value=\"%s\"></label>"
		    "<label>Group<select name=\"group\"><option value=\"\">any</option>", web_arg(r, "q"));
	for (int i = 0; i < db_ntuples(groups); i++) {
		const char *g = db_value(groups, i, 0), *want = web_arg(r, "group");
		html_put(b, "<option%R>%s</option>", want != NULL && strcmp(want, g) == 0 ? " selected" : "", g);
	}
	html_put(b, "</select></label><label>Only stale<select name=\"stale\"><option value=\"\">no"
		    "</option><option value=\"1\"%R>yes</option></select></label><button>Filter</button>"
		    "</form>\n", web_arg(r, "stale") ? " selected" : "");
	html_put(b, "<p class=\"muted\">Stale: not seen for %s (or never).</p>\n", r->scratch[7]);
	if (n == 0)
		html_put(b, "<p class=\"muted\">No computer matches.</p>\n");
	else
		html_put(b, "<table class=\"computers\"><thead><tr><th>Name</th><th>Host</th><th>OS</th>"
			    "<th>Groups</th><th>Labels</th><th>Last seen</th><th>Last result</th><th>Now</th>"
			    "</tr></thead><tbody>\n");
	for (int i = 0; i < n && i < WEB_PAGE; i++) {
		int stale = strcmp(web_val(c, i, "stale"), "t") == 0;
		html_put(b, "<tr%R><td><a href=\"/computer/%s\">%s</a>%R</td><td>%s</td><td>%s</td>"
			    "<td>%s</td><td><code>%s</code></td><td class=\"time\">%s%R</td><td>",
		    stale ? " class=\"stale\"" : "", web_val(c, i, "computer_id"), web_val(c, i, "name"),
		    strcmp(web_val(c, i, "enabled"), "t") == 0 ? "" : " <span class=\"muted\">(disabled)</span>",
		    web_val(c, i, "host"), web_val(c, i, "os"), web_val(c, i, "groups"),
		    web_val(c, i, "labels"), web_null(c, i, "last_seen") ? "never" : web_val(c, i, "last_seen"),
		    stale ? " <span class=\"stale-mark\">stale</span>" : "");
		if (!web_null(c, i, "last_event")) {
			html_put(b, "<a href=\"/event/%s\">%s</a> ", web_val(c, i, "last_event"),
			    web_val(c, i, "last_job"));
			web_state(b, web_val(c, i, "last_state"));
			html_put(b, " <span class=\"muted\">%s</span>", web_val(c, i, "last_finished"));
		} else
			html_put(b, "<span class=\"muted\">none</span>");
		html_put(b, "</td><td>");
		if (!web_null(c, i, "running_event"))
			html_put(b, "<a href=\"/event/%s\">running</a>", web_val(c, i, "running_event"));
		html_put(b, "</td></tr>\n");
	}
	if (n > 0)
		html_put(b, "</tbody></table>\n");
	web_pager(b, r, "after", n > WEB_PAGE ? web_val(c, WEB_PAGE - 1, "name") : NULL,
	    "\xE2\x86\x90 first", "next \xE2\x86\x92", "/computers");
	web_page_end(r, b);
}

void
page_computers(struct web_req *r)
{
	char *stale_ms = r->scratch[0], *limit = r->scratch[1];
	snprintf(stale_ms, sizeof(r->scratch[0]), "%lld", r->w->conf.stale_ms);
	snprintf(limit, sizeof(r->scratch[1]), "%d", r->fmt == WEB_HTML ? WEB_PAGE + 1 : 100000);
	html_duration(r->w->conf.stale_ms, r->scratch[7], sizeof(r->scratch[7]));
	const char *after;
	if (web_after(r, &after) == -1)
		return;
	struct web_query q[2] = {
	    {SQL_COMPUTERS, 6, {web_arg(r, "q"), web_arg(r, "group"), web_arg(r, "stale") ? "true" : NULL,
		stale_ms, after, limit}},
	    {SQL_GROUPS, 0, {NULL}},
	};
	web_fetch(r, 2, q, render_computers);
}

static void
kv(struct evbuffer *b, const struct db_result *c, const char *label, const char *col)
{
	if (!web_null(c, 0, col) && *web_val(c, 0, col) != '\0')
		html_put(b, "<dt>%s</dt><dd>%s</dd>", label, web_val(c, 0, col));
}

static void
event_rows(struct evbuffer *b, const struct db_result *h, int max)
{
	html_put(b, "<table class=\"events\"><thead><tr><th>Event</th><th>Job</th><th>Schedule</th>"
		    "<th>State</th><th class=\"num\">Code</th><th>Name</th><th>Started</th><th>Finished</th>"
		    "<th class=\"num\">Duration</th></tr></thead><tbody>\n");
	for (int i = 0; i < db_ntuples(h) && i < max; i++) {
		html_put(b, "<tr><td><a href=\"/event/%s\">%s</a></td><td><a href=\"/job/%s\">%s</a></td>"
			    "<td><a href=\"/schedule/%s\">%s</a></td><td>",
		    web_val(h, i, "event_id"), web_val(h, i, "event_id"), web_val(h, i, "job_id"),
		    web_val(h, i, "job"), web_val(h, i, "schedule_id"), web_val(h, i, "schedule_id"));
		web_state(b, web_val(h, i, "state"));
		html_put(b, "</td><td class=\"num\">%s</td><td>%s</td>", web_val(h, i, "status_code"),
		    web_val(h, i, "status_name"));
		web_cell_time(b, web_val(h, i, "started_at"));
		web_cell_time(b, web_val(h, i, "finished_at"));
		web_cell_ms(b, h, i, "duration_ms");
		html_put(b, "</tr>\n");
	}
	html_put(b, "</tbody></table>\n");
}

static void
render_computer(struct web_req *r)
{
	const struct db_result *c = r->res[0], *last = r->res[1], *open = r->res[2], *h = r->res[3];
	char title[300];

	if (db_ntuples(c) == 0) {
		web_error(r, 404, "no such computer");
		return;
	}
	if (r->fmt != WEB_HTML) {
		snprintf(title, sizeof(title), "computer-%lld-history", r->id);
		web_export(r, h, db_nfields(h) - 1, title); /* not finished_key */
		return;
	}
	snprintf(title, sizeof(title), "%s", web_val(c, 0, "name"));
	struct evbuffer *b = web_page_begin(r, title);
	int stale = strcmp(web_val(c, 0, "stale"), "t") == 0;
	html_put(b, "<h1>%s%R</h1>\n<dl class=\"kv\">", web_val(c, 0, "name"),
	    stale ? " <span class=\"stale-mark\">stale</span>" : "");
	html_put(b, "<dt>Id</dt><dd>%s</dd><dt>Last seen</dt><dd>%s</dd>", web_val(c, 0, "computer_id"),
	    web_null(c, 0, "last_seen") ? "never" : web_val(c, 0, "last_seen"));
	kv(b, c, "Host", "host");
	kv(b, c, "Port", "port");
	kv(b, c, "OS", "os");
	kv(b, c, "Boot env", "boot_env");
	kv(b, c, "Groups", "groups");
	html_put(b, "<dt>Labels</dt><dd><code>%s</code></dd><dt>Enabled</dt><dd>%s</dd>",
	    web_val(c, 0, "labels"), strcmp(web_val(c, 0, "enabled"), "t") == 0 ? "yes" : "no");
	kv(b, c, "IP", "ip");
	kv(b, c, "MAC", "mac");
	kv(b, c, "Serial", "serial");
	kv(b, c, "Asset tag", "asset_tag");
	kv(b, c, "Domain", "domain");
	kv(b, c, "Domain OU", "domain_ou");
	kv(b, c, "Department", "dept");
	kv(b, c, "Contact", "contact");
	kv(b, c, "Email", "email");
	if (strcmp(web_val(c, 0, "no_attrs"), "t") != 0)
		html_put(b, "<dt>Facts</dt><dd><code>%s</code></dd>", web_val(c, 0, "attrs"));
	html_put(b, "<dt>Registered</dt><dd>%s, changed %s</dd></dl>\n", web_val(c, 0, "created_at"),
	    web_val(c, 0, "updated_at"));

	html_put(b, "<h2>Last result per job</h2>\n");
	if (db_ntuples(last) == 0)
		html_put(b, "<p class=\"muted\">Nothing has run here.</p>\n");
	else {
		html_put(b, "<table><thead><tr><th>Job</th><th>State</th><th class=\"num\">Code</th>"
			    "<th>Name</th><th>Finished</th><th class=\"num\">Duration</th><th>Event</th>"
			    "</tr></thead><tbody>\n");
		for (int i = 0; i < db_ntuples(last); i++) {
			html_put(b, "<tr><td><a href=\"/job/%s\">%s</a></td><td>", web_val(last, i, "job_id"),
			    web_val(last, i, "job"));
			web_state(b, web_val(last, i, "state"));
			html_put(b, "</td><td class=\"num\">%s</td><td>%s</td>", web_val(last, i, "status_code"),
			    web_val(last, i, "status_name"));
			web_cell_time(b, web_val(last, i, "finished_at"));
			web_cell_ms(b, last, i, "duration_ms");
			html_put(b, "<td><a href=\"/event/%s\">%s</a></td></tr>\n", web_val(last, i, "event_id"),
			    web_val(last, i, "event_id"));
		}
		html_put(b, "</tbody></table>\n");
	}
	if (db_ntuples(open) > 0) {
		html_put(b, "<h2>Pending and running</h2>\n");
		event_rows(b, open, 50);
	}
	html_put(b, "<h2>History</h2>\n");
	if (db_ntuples(h) == 0)
		html_put(b, "<p class=\"muted\">No finished event.</p>\n");
	else
		event_rows(b, h, WEB_PAGE);
	char base[64];
	snprintf(base, sizeof(base), "/computer/%lld", r->id);
	web_pager(b, r, "before", db_ntuples(h) > WEB_PAGE ? web_val(h, WEB_PAGE - 1, "finished_key") : NULL,
	    "\xE2\x86\x90 newest", "older \xE2\x86\x92", base);
	web_page_end(r, b);
}

void
page_computer(struct web_req *r)
{
	char *id = r->scratch[0], *stale = r->scratch[1], *ts = r->scratch[2], *eid = r->scratch[3],
	     *limit = r->scratch[4];
	const char *before = web_arg(r, "before");

	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	snprintf(stale, sizeof(r->scratch[1]), "%lld", r->w->conf.stale_ms);
	snprintf(limit, sizeof(r->scratch[4]), "%d", r->fmt == WEB_HTML ? WEB_PAGE + 1 : 100000);
	if (web_keyset(r, ts, sizeof(r->scratch[2]), eid, sizeof(r->scratch[3])) == -1)
		return;
	struct web_query q[4] = {
	    {SQL_COMPUTER, 2, {id, stale}},
	    {SQL_LAST, 1, {id}},
	    {SQL_OPEN_EVENTS, 1, {id}},
	    {SQL_HISTORY, 4, {id, before != NULL ? ts : NULL, before != NULL ? eid : NULL, limit}},
	};
	web_fetch(r, 4, q, render_computer);
}
