/*
 * page_history: charts from job_daily (runs per day, success rate, p50/p95 duration), for
 * the fleet or one job, drawn on the server as SVG; and the failures report.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "web/html.h"
#include "web/svg.h"
#include "web/web.h"

enum { MAX_DAYS = 366, CHART_W = 900, CHART_H = 260 };

static const char SQL_DAILY[] =
    "SELECT job_id, job, day::text AS day, runs, successes, failures, cancelled, p50_ms, p95_ms,"
    " max_ms, success_pct"
    " FROM pgfleet.job_daily WHERE day >= $1::date AND day <= $2::date"
    " AND ($3::text IS NULL OR job = $3)"
    " ORDER BY job, day LIMIT 20000";

static const char SQL_FAILURES[] =
    "SELECT event_id, " WEB_TS("finished_at") " AS finished_at, job_id, job, schedule_id,"
    " computer_id, computer, attempt, task_seq, status_code, status_name, meaning, module, message,"
    " output_size, output_tail, " WEB_KEY " AS finished_key"
    " FROM pgfleet.failures"
    " WHERE finished_at >= $1::timestamptz AND ($2::text IS NULL OR job = $2)"
    " AND ($3::text IS NULL OR computer = $3)"
    " AND ($4::timestamptz IS NULL OR (finished_at, event_id) < ($4, $5::bigint))"
    " ORDER BY finished_at DESC, event_id DESC LIMIT $6";

struct days {
	int n;
	char iso[MAX_DAYS][11];  /* YYYY-MM-DD */
	char label[MAX_DAYS][6]; /* MM-DD */
	const char *labels[MAX_DAYS];
};

/* The n days up to the one holding now, UTC. */
static void
days_up_to(time_t now, int n, struct days *d)
{
	d->n = n;
	for (int i = 0; i < n; i++) {
		time_t t = now - (time_t)(n - 1 - i) * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(d->iso[i], sizeof(d->iso[i]), "%Y-%m-%d", &tm);
		strftime(d->label[i], sizeof(d->label[i]), "%m-%d", &tm);
		d->labels[i] = d->label[i];
	}
}

static int
day_index(const struct days *d, const char *day)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->iso[i], day) == 0)
			return i;
	return -1;
}

static double
num(const struct db_result *res, int i, const char *col)
{
	return web_null(res, i, col) ? NAN : atof(web_val(res, i, col));
}

struct sums {
	double ok[MAX_DAYS], failed[MAX_DAYS], cancelled[MAX_DAYS], pct[MAX_DAYS], p50[MAX_DAYS],
	    p95[MAX_DAYS];
};

static void
charts(struct evbuffer *b, const struct days *d, struct sums *s, int durations, const char *what)
{
	char title[400];
	struct svg_series runs[3] = {
	    {"ok", "c-ok", s->ok}, {"failed", "c-failed", s->failed},
	    {"cancelled", "c-cancelled", s->cancelled},
	};
	snprintf(title, sizeof(title), "Runs per day: %s", what);
	struct svg_chart c = {title, SVG_BARS, SVG_COUNT, d->n, d->labels, 3, runs, CHART_W, CHART_H};
	svg_chart(b, &c);
	struct svg_series pct[1] = {{"success %", "c-pct", s->pct}};
	snprintf(title, sizeof(title), "Success rate: %s", what);
	struct svg_chart p = {title, SVG_LINE, SVG_PCT, d->n, d->labels, 1, pct, CHART_W, CHART_H};
	svg_chart(b, &p);
	if (!durations)
		return;
	struct svg_series dur[2] = {{"p50", "c-p50", s->p50}, {"p95", "c-p95", s->p95}};
	snprintf(title, sizeof(title), "Duration per day: %s", what);
	struct svg_chart t = {title, SVG_LINE, SVG_MS, d->n, d->labels, 2, dur, CHART_W, CHART_H};
	svg_chart(b, &t);
}

/* The rows (job, day) added up per day of d; a day without runs has no rate or duration (NAN). */
static void
sum_days(const struct db_result *res, const struct days *d, struct sums *s)
{
	for (int i = 0; i < d->n; i++)
		s->pct[i] = s->p50[i] = s->p95[i] = NAN;
	for (int i = 0; i < db_ntuples(res); i++) {
		int k = day_index(d, web_val(res, i, "day"));
		if (k < 0)
			continue;
		s->ok[k] += num(res, i, "successes");
		s->failed[k] += num(res, i, "failures");
		s->cancelled[k] += num(res, i, "cancelled");
		s->p50[k] = num(res, i, "p50_ms");
		s->p95[k] = num(res, i, "p95_ms");
	}
	for (int k = 0; k < d->n; k++)
		if (s->ok[k] + s->failed[k] > 0)
			s->pct[k] = round(1000.0 * s->ok[k] / (s->ok[k] + s->failed[k])) / 10.0;
}

/* The fleet's page: one row per job (the rows come ordered by job, then day). */
static void
per_job(struct evbuffer *b, const struct db_result *res)
{
	html_put(b, "<h2>Per job</h2>\n<table><thead><tr><th>Job</th><th class=\"num\">Runs</th>"
		    "<th class=\"num\">Failed</th><th class=\"num\">Cancelled</th>"
		    "<th class=\"num\">Success</th><th class=\"num\">Worst day p95</th></tr></thead><tbody>\n");
	int n = db_ntuples(res);
	for (int i = 0; i < n;) {
		const char *name = web_val(res, i, "job");
		double runs = 0, ok = 0, failed = 0, cancelled = 0, p95 = -1;
		int j = i;
		for (; j < n && strcmp(web_val(res, j, "job"), name) == 0; j++) {
			runs += num(res, j, "runs");
			ok += num(res, j, "successes");
			failed += num(res, j, "failures");
			cancelled += num(res, j, "cancelled");
			if (!isnan(num(res, j, "p95_ms")) && num(res, j, "p95_ms") > p95)
				p95 = num(res, j, "p95_ms");
		}
		char pct[16] = "-", dur[32];
		if (ok + failed > 0)
			snprintf(pct, sizeof(pct), "%.1f%%", 100.0 * ok / (ok + failed));
		html_duration(p95 < 0 ? -1 : (long long)p95, dur, sizeof(dur));
		html_put(b, "<tr><td><a href=\"/history?job=%u\">%s</a></td><td class=\"num\">%D</td>"
			    "<td class=\"num\">%D</td><td class=\"num\">%D</td><td class=\"num\">%s</td>"
			    "<td class=\"num\">%s</td></tr>\n", name, name, (long long)runs,
		    (long long)failed, (long long)cancelled, pct, dur);
		i = j;
	}
	html_put(b, "</tbody></table>\n");
}

static void
render_history(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	const char *job = web_arg(r, "job");
	struct days *d = calloc(1, sizeof(*d));
	struct sums *s = calloc(1, sizeof(*s));

	if (r->fmt != WEB_HTML) {
		free(d);
		free(s);
		web_export(r, res, -1, "history");
		return;
	}
	if (d == NULL || s == NULL) {
		free(d);
		free(s);
		web_error(r, 500, "out of memory");
		return;
	}
	days_up_to((time_t)(r->id2 >> 16), (int)(r->id2 & 0xffff), d);
	sum_days(res, d, s);

	struct evbuffer *b = web_page_begin(r, "History");
	html_put(b, "<h1>History</h1>\n<form class=\"filter\" method=\"get\" action=\"/history\">"
		    "<label>Job<input name=\"job\" value=\"%s\"></label><label>Days<input name=\"days\" "
		    "size=\"4\" value=\"%d\"></label><button>Show</button></form>\n",
	    job, d->n);
	html_put(b, "<p class=\"muted\">From job_daily: events by the UTC day they finished, %s to %s. "
		    "The rows as <a href=\"", d->iso[0], d->iso[d->n - 1]);
	web_href_fmt(b, r, "/history", ".csv");
	html_put(b, "\">CSV</a> or <a href=\"");
	web_href_fmt(b, r, "/history", ".json");
	html_put(b, "\">JSON</a>.</p>\n");
	/* one job: its durations too; the fleet: counts only (percentiles do not add up) */
	charts(b, d, s, job != NULL, job != NULL ? job : "all jobs");

	if (job == NULL) {
		per_job(b, res);
	} else {
		html_put(b, "<p><a href=\"/failures?job=%u\">Its failures</a> \xC2\xB7 <a href=\"/schedules?job=%u\">"
			    "its schedules</a></p>\n", job, job);
	}
	free(d);
	free(s);
	web_page_end(r, b);
}

void
page_history(struct web_req *r)
{
	long long ndays;
	char err[256], *from = r->scratch[0], *to = r->scratch[1];
	time_t now;
	if (web_arg_ll(r, "days", 1, MAX_DAYS, 30, &ndays) == -1)
		return;
	if (args_now(&now, err, sizeof(err)) == -1) {
		web_error(r, 500, err);
		return;
	}
	struct tm tm;
	time_t first = now - (time_t)(ndays - 1) * 86400;
	gmtime_r(&first, &tm);
	strftime(from, sizeof(r->scratch[0]), "%Y-%m-%d", &tm);
	gmtime_r(&now, &tm);
	strftime(to, sizeof(r->scratch[1]), "%Y-%m-%d", &tm);
	r->id2 = ((long long)now << 16) | ndays;
	struct web_query q[1] = {{SQL_DAILY, 3, {from, to, web_arg(r, "job")}}};
	web_fetch(r, 1, q, render_history);
}

static void
render_failures(struct web_req *r)
{
	const struct db_result *f = r->res[0];
	int n = db_ntuples(f);
	if (r->fmt != WEB_HTML) {
		web_export(r, f, db_nfields(f) - 1, "failures"); /* not finished_key */
		return;
	}
	struct evbuffer *b = web_page_begin(r, "Failures");
	html_put(b, "<h1>Failures</h1>\n<form class=\"filter\" method=\"get\" action=\"/failures\">"
		    "<label>Since<input name=\"since\" value=\"%s\" placeholder=\"7d\"></label>"
		    "<label>Job<input name=\"job\" value=\"%s\"></label>"
		    "<label>Computer<input name=\"computer\" value=\"%s\"></label><button>Filter</button>"
		    "</form>\n",
	    web_arg(r, "since") ? web_arg(r, "since") : "7d", web_arg(r, "job"), web_arg(r, "computer"));
	if (n == 0)
		html_put(b, "<p class=\"muted\">No failure.</p>\n");
	else
		html_put(b, "<table class=\"failures\"><thead><tr><th>Finished</th><th>Job</th><th>Computer</th>"
			    "<th>Event</th><th>Code</th><th>What happened</th><th>Output (last lines)</th>"
			    "</tr></thead><tbody>\n");
	for (int i = 0; i < n && i < WEB_PAGE; i++) {
		html_put(b, "<tr>");
		web_cell_time(b, web_val(f, i, "finished_at"));
		html_put(b, "<td><a href=\"/job/%s\">%s</a></td><td><a href=\"/computer/%s\">%s</a></td>"
			    "<td><a href=\"/event/%s\">%s</a></td><td>%s %s</td><td>%s",
		    web_val(f, i, "job_id"), web_val(f, i, "job"), web_val(f, i, "computer_id"),
		    web_val(f, i, "computer"), web_val(f, i, "event_id"), web_val(f, i, "event_id"),
		    web_val(f, i, "status_code"), web_val(f, i, "status_name"), web_val(f, i, "meaning"));
		if (!web_null(f, i, "task_seq"))
			html_put(b, " <span class=\"muted\">(task %s)</span>", web_val(f, i, "task_seq"));
		if (!web_null(f, i, "message"))
			html_put(b, "<br>%s: %s", web_val(f, i, "module"), web_val(f, i, "message"));
		html_put(b, "</td><td>");
		if (!web_null(f, i, "output_tail")) {
			const char *o = web_val(f, i, "output_tail");
			html_put(b, "<pre class=\"output\">");
			html_output(b, o, strlen(o), 2048, 10);
			html_put(b, "</pre>");
		}
		html_put(b, "</td></tr>\n");
	}
	if (n > 0)
		html_put(b, "</tbody></table>\n");
	web_pager(b, r, "before", n > WEB_PAGE ? web_val(f, WEB_PAGE - 1, "finished_key") : NULL,
	    "\xE2\x86\x90 newest", "older \xE2\x86\x92", "/failures");
	web_page_end(r, b);
}

void
page_failures(struct web_req *r)
{
	char *since = r->scratch[0], *ts = r->scratch[1], *eid = r->scratch[2], *limit = r->scratch[3];
	const char *before = web_arg(r, "before");
	if (web_since(r, "since", "7d", since, sizeof(r->scratch[0])) == -1)
		return;
	if (web_keyset(r, ts, sizeof(r->scratch[1]), eid, sizeof(r->scratch[2])) == -1)
		return;
	snprintf(limit, sizeof(r->scratch[3]), "%d", r->fmt == WEB_HTML ? WEB_PAGE + 1 : 10000);
	struct web_query q[1] = {{SQL_FAILURES, 6, {since, web_arg(r, "job"), web_arg(r, "computer"),
	    before != NULL ? ts : NULL, before != NULL ? eid : NULL, limit}}};
	web_fetch(r, 1, q, render_failures);
}
