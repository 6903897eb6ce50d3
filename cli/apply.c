/*
 * apply: a validated job batch as the JSON of pgfleet.submit (docs/sql-api.md), sent in
 * one transaction: the function compares, writes only what differs, checks the caller's
 * duty and scopes, and reports each change, which is printed as it comes. A dry run takes
 * the same path in a READ ONLY transaction. What is computed here: when each new schedule
 * first runs (cron is parsed here, not in SQL, and read in its time zone with PostgreSQL's
 * offsets), the instants of wall-clock times given in a zone, the spans of maintenance
 * windows (common/windows.c), and the hashes of a job and of its plan. What is checked here
 * before (names that do not exist, zones PostgreSQL does not know, chains that loop) is
 * checked to say so at its line; the function checks it all again.
 */
#include "cli/apply.h"

#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/batch.h"
#include "cli/batch_canon.h"
#include "cli/batch_export.h"
#include "common/db.h"
#include "common/tzdb.h"
#include "common/util.h"
#include "common/windows.h"

/* Attributes with a column of their own; the rest go to computer.attrs. */
static const char *const attr_cols[] = {"serial", "asset_tag", "domain", "domain_ou", "dept",
    "contact", "email"};
#define NATTR_COLS (sizeof(attr_cols) / sizeof(attr_cols[0]))

/* What building the JSON needs: the connection (zones, spans), the clock, where errors go. */
struct ctx {
	struct db *db;
	time_t now; /* the database's clock, or PGFLEET_NOW */
	char *err;
	size_t errlen;
};

static void
json_names(FILE *fp, char *const *v, size_t n)
{
	fputc('[', fp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', fp);
		args_json_str(fp, v[i]);
	}
	fputc(']', fp);
}

static void
json_kvs(FILE *fp, const struct batch_kv *v, size_t n, int skip_cols)
{
	int first = 1;
	fputc('{', fp);
	for (size_t i = 0; i < n; i++) {
		int col = 0;
		for (size_t k = 0; skip_cols && k < NATTR_COLS; k++)
			col |= strcmp(v[i].key, attr_cols[k]) == 0;
		if (col)
			continue;
		if (!first)
			fputc(',', fp);
		first = 0;
		args_json_str(fp, v[i].key);
		fputc(':', fp);
		args_json_str(fp, v[i].value);
	}
	fputc('}', fp);
}

/* "key":value for a string that may be absent (null), after a comma unless first. */
static void
json_key_str(FILE *fp, const char *key, const char *v)
{
	fprintf(fp, ",\"%s\":", key);
	if (v == NULL)
		fputs("null", fp);
	else
		args_json_str(fp, v);
}

/* "RFC 3339 time" */
static void
json_instant(FILE *fp, time_t t)
{
	char buf[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	fputs(buf, fp);
}

/* ,"key":"RFC 3339 time" */
static void
json_time(FILE *fp, const char *key, time_t t)
{
	fprintf(fp, ",\"%s\":", key);
	json_instant(fp, t);
}

/* ,"key":"N milliseconds" (an interval PostgreSQL reads) */
static void
json_ms(FILE *fp, const char *key, long long ms)
{
	fprintf(fp, ",\"%s\":\"%lld milliseconds\"", key, ms);
}

/* A window with the spans it opens at from now on (common/windows.c). */
static int
json_window(FILE *fp, const struct batch_window *w, const struct ctx *c)
{
	time_t *spans;
	int n;
	time_t after = c->now - (time_t)(w->duration_ms / 1000);
	if (windows_spans(c->db, w->cron.text, w->timezone, after, c->now + (time_t)WINDOWS_AHEAD_S,
		&spans, &n, c->err, c->errlen) == -1)
		return -1;
	fputs("{\"name\":", fp);
	args_json_str(fp, w->name);
	fprintf(fp, ",\"blackout\":%s", w->blackout ? "true" : "false");
	json_key_str(fp, "cron", w->cron.text);
	json_ms(fp, "duration", w->duration_ms);
	json_key_str(fp, "timezone", w->timezone);
	json_key_str(fp, "description", w->description);
	fputs(",\"spans\":[", fp);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', fp);
		json_instant(fp, spans[i]);
	}
	fputs("]}", fp);
	free(spans);
	return 0;
}

static void
json_group(FILE *fp, const struct batch_group *g)
{
	fputs("{\"name\":", fp);
	args_json_str(fp, g->name);
	if (g->description != NULL)
		json_key_str(fp, "description", g->description);
	if (g->has_windows) {
		fputs(",\"windows\":", fp);
		json_names(fp, g->windows, g->nwindows);
	}
	fputc('}', fp);
}

static void
json_computer(FILE *fp, const struct batch_computer *c)
{
	fputs("{\"name\":", fp);
	args_json_str(fp, c->name);
	json_key_str(fp, "host", c->host != NULL ? c->host : c->name);
	if (c->port > 0)
		fprintf(fp, ",\"port\":%d", c->port);
	json_key_str(fp, "os", c->os);
	json_key_str(fp, "boot_env", c->boot_env);
	json_key_str(fp, "ip", c->ip);
	json_key_str(fp, "mac", c->mac);
	for (size_t k = 0; k < NATTR_COLS; k++)
		json_key_str(fp, attr_cols[k], batch_attr(c, attr_cols[k]));
	fputs(",\"labels\":", fp);
	json_kvs(fp, c->labels, c->nlabels, 0);
	fputs(",\"attrs\":", fp);
	json_kvs(fp, c->attrs, c->nattrs, 1);
	fputs(",\"groups\":", fp);
	json_names(fp, c->groups, c->ngroups);
	/* the file is the truth for the computers it declares: their windows too */
	fputs(",\"windows\":", fp);
	json_names(fp, c->windows, c->nwindows);
	fprintf(fp, ",\"enabled\":%s}", c->enabled ? "true" : "false");
}

/* ,"retries":{...} of a task that retries */
static void
json_retries(FILE *fp, const struct batch_retries *r)
{
	if (r->count <= 0)
		return;
	fprintf(fp, ",\"retries\":{\"count\":%d,\"backoff_ms\":%lld,\"max_ms\":%lld", r->count,
	    r->backoff_ms, r->max_ms);
	if (r->on_codes != NULL) {
		fputs(",\"on_codes\":[", fp);
		for (size_t k = 0; k < r->non_codes; k++)
			fprintf(fp, "%s%d", k ? "," : "", r->on_codes[k]);
		fputc(']', fp);
	}
	fputc('}', fp);
}

static void
json_task(FILE *fp, const struct batch_task *t)
{
	fputs("{\"name\":", fp);
	if (t->name != NULL)
		args_json_str(fp, t->name);
	else
		fputs("null", fp);
	json_key_str(fp, "script", t->script);
	json_key_str(fp, "interpreter", t->interpreter != NULL ? t->interpreter : "/bin/sh");
	json_key_str(fp, "run_as", t->run_as);
	if (t->timeout_ms > 0)
		fprintf(fp, ",\"timeout_ms\":%lld", t->timeout_ms);
	fputs(",\"success_codes\":[", fp);
	for (size_t k = 0; k < t->nsuccess_codes; k++)
		fprintf(fp, "%s%d", k ? "," : "", t->success_codes[k]);
	fputs(t->nsuccess_codes == 0 ? "0]" : "]", fp);
	fputs(",\"on_code\":{", fp);
	for (size_t k = 0; k < t->non_code; k++)
		fprintf(fp, "%s\"%d\":\"%s\"", k ? "," : "", t->on_code[k].code,
		    batch_action_name(t->on_code[k].action));
	fputc('}', fp);
	json_key_str(fp, "on_failure", t->on_failure == BATCH_CONTINUE ? "continue" : "stop");
	json_key_str(fp, "os_required", t->os_required);
	json_key_str(fp, "boot_env", t->boot_env);
	if (t->copy) {
		json_key_str(fp, "type", "copy_file");
		json_key_str(fp, "copy_dest", t->copy_dest);
		fprintf(fp, ",\"copy_mode\":%d", t->copy_mode);
		if (t->copy_owner != NULL)
			json_key_str(fp, "copy_owner", t->copy_owner);
	}
	if (t->copy_bytes != NULL) {
		/* bytes that are no text: base64 (a JSON string holds no NUL), script null */
		char *b64 = util_base64(t->copy_bytes, t->copy_len);
		json_key_str(fp, "copy_content", b64);
		free(b64);
	}
	json_retries(fp, &t->retries);
	fputc('}', fp);
}

int
apply_first_due(const struct batch_job *j, time_t now, time_t *due)
{
	const struct batch_schedule *s = &j->schedule;
	time_t t = s->at_now ? now : s->at;
	if (s->every_ms > 0 && t < now) {
		long long step = s->every_ms / 1000 > 0 ? s->every_ms / 1000 : 1;
		t += (time_t)(((long long)(now - t) + step - 1) / step * step);
	} else if (s->has_cron) {
		/* at or after a window start still to come, else strictly after now: a cron
		 * schedule never runs at the moment it is submitted */
		if ((t = cron_next(&s->cron, t > now ? t - 1 : now)) == (time_t)-1)
			return -1;
	}
	if (s->has_until && t >= s->until)
		return -1;
	*due = t;
	return 0;
}

int
apply_due_now(const struct batch_job *j)
{
	return j->schedule.at_now && !j->schedule.has_cron;
}

/*
 * The job's schedule with its wall-clock times resolved into instants (*s, a copy sharing
 * j's strings), and its first due time: 0, 1 when no run starts before until (*due unset),
 * -1 on a database error.
 */
static int
resolve_schedule(const struct ctx *c, const struct batch_job *j, struct batch_job *r, time_t *due)
{
	struct batch_schedule *s = &r->schedule;
	*r = *j;
	if (s->at_local && !s->at_now && tzdb_local(c->db, s->at_zone, s->at, &s->at, c->err,
		c->errlen) == -1)
		return -1;
	if (s->has_until && s->until_local && tzdb_local(c->db, s->until_zone, s->until, &s->until,
		c->err, c->errlen) == -1)
		return -1;
	s->at_local = s->until_local = 0;
	if (!s->has_cron || s->timezone == NULL)
		return apply_first_due(r, c->now, due) == -1 ? 1 : 0;
	/* cron in a zone: as apply_first_due, the zone's wall clock read with its offsets */
	time_t t = s->at_now ? c->now : s->at;
	int rc = tzdb_cron_next(c->db, &s->cron, s->timezone, t > c->now ? t - 1 : c->now, due, c->err,
	    c->errlen);
	if (rc != 0)
		return rc;
	return s->has_until && *due >= s->until ? 1 : 0;
}

/* ,"schedule":{...}: due ("now", a time, or null when none starts before until) and the rest */
static int
json_schedule(FILE *fp, const struct batch_job *j0, const struct ctx *c)
{
	struct batch_job rj;
	time_t due;
	int rs = resolve_schedule(c, j0, &rj, &due);
	if (rs == -1)
		return -1;
	const struct batch_schedule *s = &rj.schedule;
	fputs(",\"schedule\":{\"due\":", fp);
	if (rs == 1)
		fputs("null", fp);
	else if (apply_due_now(&rj))
		fputs("\"now\"", fp);
	else
		json_instant(fp, due);
	if (s->has_cron)
		json_key_str(fp, "cron", s->cron.text);
	if (!s->at_now)
		json_time(fp, "at", s->at);
	if (s->every_ms > 0)
		json_ms(fp, "every", s->every_ms);
	if (s->has_until)
		json_time(fp, "until", s->until);
	if (s->timezone != NULL)
		json_key_str(fp, "timezone", s->timezone);
	if (s->splay_ms > 0)
		json_ms(fp, "splay", s->splay_ms);
	fputc('}', fp);
	return 0;
}

/* ,"rollout":{...} */
static void
json_rollout(FILE *fp, const struct batch_rollout *ro)
{
	fputs(",\"rollout\":{\"max_concurrent\":", fp);
	if (ro->max_concurrent > 0)
		fprintf(fp, "%d", ro->max_concurrent);
	else
		fputs("null", fp);
	fputs(",\"max_failures\":", fp);
	if (ro->max_failures < 0)
		fputs("null", fp);
	else
		fprintf(fp, ro->max_failures_pct ? "\"%d%%\"" : "%d", ro->max_failures);
	if (ro->nwaves > 0) {
		fputs(",\"waves\":[", fp);
		for (int i = 0; i < ro->nwaves; i++)
			fprintf(fp, "%s\"%d%s\"", i > 0 ? "," : "", ro->waves[i], ro->waves_pct[i] ? "%" : "");
		fputc(']', fp);
		json_ms(fp, "pause", ro->pause_ms > 0 ? ro->pause_ms : 0);
	}
	fputc('}', fp);
}

/* ,"targets":...,"schedule":...,"rollout":... of a job with targets */
static int
json_plan(FILE *fp, const struct batch_job *j, const struct ctx *c)
{
	const struct batch_targets *t = &j->targets;
	fputs(",\"targets\":{\"computers\":", fp);
	json_names(fp, t->computers, t->ncomputers);
	fputs(",\"groups\":", fp);
	json_names(fp, t->groups, t->ngroups);
	fputs(",\"labels\":", fp);
	json_kvs(fp, t->labels, t->nlabels, 0);
	if (t->nfacts > 0) {
		fputs(",\"facts\":", fp);
		json_kvs(fp, t->facts, t->nfacts, 0);
	}
	fputc('}', fp);
	/* a chained job runs after another: a schedule of its own only when it asks */
	if ((j->nafter == 0 || j->has_schedule) && json_schedule(fp, j, c) == -1)
		return -1;
	json_rollout(fp, &j->rollout);
	return 0;
}

/* ,"windows":[...],"allow_defer":N,"after":[...],"offline_wait":...,"offline_wake":true */
static void
json_job_extras(FILE *fp, const struct batch_job *j)
{
	static const char *const on[] = {"success", "failure", "any"};
	fputs(",\"windows\":", fp);
	json_names(fp, j->windows, j->nwindows);
	fprintf(fp, ",\"allow_defer\":%d", j->allow_defer);
	fputs(",\"after\":[", fp);
	for (size_t i = 0; i < j->nafter; i++) {
		fputs(i > 0 ? ",{\"job\":" : "{\"job\":", fp);
		args_json_str(fp, j->after[i].job);
		fprintf(fp, ",\"on\":\"%s\",\"scope\":\"%s\"}", on[j->after[i].on],
		    j->after[i].per_computer ? "computer" : "schedule");
	}
	fputc(']', fp);
	if (j->offline_wait_ms > 0)
		json_ms(fp, "offline_wait", j->offline_wait_ms);
	if (j->offline_wake)
		fputs(",\"offline_wake\":true", fp);
}

/*
 * One job: all of it, or (tasks_only, `pgfleet run --script`) its name, description,
 * source and tasks. A new schedule's first run (due) is computed here.
 */
static int
json_job(FILE *fp, const struct batch_job *j, int tasks_only, const struct ctx *c)
{
	char hash[65], plan[65];
	char *source = NULL;
	size_t source_len = 0;
	if (batch_job_hash(j, hash) == -1 || batch_job_plan_hash(j, plan) == -1) {
		snprintf(c->err, c->errlen, "out of memory");
		return -1;
	}
	FILE *sp = open_memstream(&source, &source_len);
	if (sp == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		return -1;
	}
	if (batch_job_export(j, sp) == -1) {
		fclose(sp);
		free(source);
		snprintf(c->err, c->errlen, "job %s: exporting it as YAML failed", j->name);
		return -1;
	}
	if (fclose(sp) != 0) {
		free(source);
		snprintf(c->err, c->errlen, "out of memory");
		return -1;
	}
	fputs("{\"name\":", fp);
	args_json_str(fp, j->name);
	json_key_str(fp, "description", j->description);
	json_key_str(fp, "source", source);
	json_key_str(fp, "source_hash", hash);
	free(source);
	fputs(",\"tasks\":[", fp);
	for (size_t i = 0; i < j->ntasks; i++) {
		if (i > 0)
			fputc(',', fp);
		json_task(fp, &j->tasks[i]);
	}
	fputc(']', fp);
	if (tasks_only) {
		fputs(",\"tasks_only\":true}", fp);
		return 0;
	}
	json_key_str(fp, "plan_hash", plan);
	json_job_extras(fp, j);
	if (j->has_targets && json_plan(fp, j, c) == -1)
		return -1;
	fputc('}', fp);
	return 0;
}

/* A memstream's text (*buf, the caller frees: open_memstream sets it at fclose), NULL
 * after an error (err set unless rc said). */
static char *
stream_close(FILE *fp, char **buf, int rc, const struct ctx *c)
{
	int bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rc == -1) {
		if (rc == 0)
			snprintf(c->err, c->errlen, "out of memory");
		free(*buf);
		return NULL;
	}
	return *buf;
}

/* The batch as pgfleet.submit's argument (the caller frees), NULL with err set. */
static char *
batch_json(const struct batch *b, const struct apply_opts *o, const struct ctx *c)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	if (fp == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		return NULL;
	}
	int rc = 0;
	fputs("{\"windows\":[", fp);
	for (size_t i = 0; i < b->nwindows && rc == 0; i++) {
		if (i > 0)
			fputc(',', fp);
		rc = json_window(fp, &b->windows[i], c);
	}
	fputs("],\"groups\":[", fp);
	for (size_t i = 0; i < b->ngroups; i++) {
		if (i > 0)
			fputc(',', fp);
		json_group(fp, &b->groups[i]);
	}
	fputs("],\"computers\":[", fp);
	for (size_t i = 0; i < b->ncomputers; i++) {
		if (i > 0)
			fputc(',', fp);
		json_computer(fp, &b->computers[i]);
	}
	fputs("],\"jobs\":[", fp);
	for (size_t i = 0; !o->inventory_only && i < b->njobs && rc == 0; i++) {
		if (i > 0)
			fputc(',', fp);
		rc = json_job(fp, &b->jobs[i], 0, c);
	}
	fputs("]}", fp);
	return stream_close(fp, &buf, rc, c);
}

/* ---- checks said at their line ---------------------------------------------- */

/* Does the view hold a row of that name? 1, 0, or -1 with err. */
static int
named(const struct ctx *c, const char *sql, const char *name)
{
	struct db_result *r;
	const char *p[1] = {name};
	if (db_exec(c->db, &r, sql, 1, p, c->err, c->errlen) == -1)
		return -1;
	int n = db_ntuples(r) > 0;
	db_result_free(r);
	return n;
}

/*
 * The target computers (unless inventory_only) and the windows the file names but does
 * not declare must be in the database. Returns how many are not, or -1.
 */
static int
check_refs(const struct ctx *c, const struct batch *b, int inventory_only, struct yt_errors *errs)
{
	int missing = 0;
	size_t nc = inventory_only ? 0 : b->nrefs;
	for (size_t i = 0; i < nc + b->nwrefs; i++) {
		int win = i >= nc;
		const char *name = win ? b->wrefs[i - nc].name : b->refs[i].name;
		int k = named(c, win ? "SELECT 1 FROM pgfleet.window_list WHERE name = $1"
				     : "SELECT 1 FROM pgfleet.computer_list WHERE name = $1", name);
		if (k == -1)
			return -1;
		if (k == 1)
			continue;
		if (win)
			yt_errors_add(errs, b->wrefs[i - nc].pos,
			    "window \"%s\" is neither declared in this file nor in the database", name);
		else
			yt_errors_add(errs, b->refs[i].pos,
			    "job %s: computer \"%s\" is neither declared in this file nor in the database",
			    b->jobs[b->refs[i].job].name, name);
		missing++;
	}
	return missing;
}

/* One zone name: known to PostgreSQL? 0, 1 (an error added), -1. */
static int
check_zone(const struct ctx *c, const char *what, const char *zone, struct yt_pos pos,
    struct yt_errors *errs)
{
	if (zone == NULL)
		return 0;
	int known = tzdb_known(c->db, zone, c->err, c->errlen);
	if (known == -1)
		return -1;
	if (!known)
		yt_errors_add(errs, pos, "%s: time zone \"%s\" is not one PostgreSQL knows "
		    "(pg_timezone_names; examples: Europe/Berlin, America/New_York, UTC)", what, zone);
	return !known;
}

/* The time zones schedules and windows name must be PostgreSQL's. Returns how many are not, or -1. */
static int
check_zones(const struct ctx *c, const struct batch *b, struct yt_errors *errs)
{
	int bad = 0;
	char what[300];
	for (size_t i = 0; i < b->njobs; i++) {
		const struct batch_schedule *s = &b->jobs[i].schedule;
		snprintf(what, sizeof(what), "job %s", b->jobs[i].name);
		int r[3] = {check_zone(c, what, s->timezone, s->tz_pos, errs),
		    s->at_zone != s->timezone && !s->at_now ? check_zone(c, what, s->at_zone, s->at_pos, errs) : 0,
		    s->until_zone != s->timezone && s->has_until
			? check_zone(c, what, s->until_zone, s->until_pos, errs) : 0};
		for (int k = 0; k < 3; k++) {
			if (r[k] == -1)
				return -1;
			bad += r[k];
		}
	}
	for (size_t i = 0; i < b->nwindows; i++) {
		snprintf(what, sizeof(what), "window %s", b->windows[i].name);
		int r = check_zone(c, what, b->windows[i].timezone, b->windows[i].tz_pos, errs);
		if (r == -1)
			return -1;
		bad += r;
	}
	return bad;
}

/* The file's job of that name, or NULL. */
static const struct batch_job *
file_job(const struct batch *b, const char *name)
{
	for (size_t m = 0; m < b->njobs; m++)
		if (b->jobs[m].name != NULL && strcmp(b->jobs[m].name, name) == 0)
			return &b->jobs[m];
	return NULL;
}

/* Jobs after: names must be this file's or the database's. */
static int
check_after_refs(const struct ctx *c, const struct batch *b, struct yt_errors *errs)
{
	int missing = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		for (size_t k = 0; k < b->jobs[i].nafter; k++) {
			const struct batch_after *af = &b->jobs[i].after[k];
			if (file_job(b, af->job) != NULL)
				continue;
			int n = named(c, "SELECT 1 FROM pgfleet.job_list WHERE name = $1", af->job);
			if (n == -1)
				return -1;
			if (n == 0) {
				yt_errors_add(errs, af->pos, "job %s: runs after job \"%s\", which is neither "
				    "in this file nor in the database", b->jobs[i].name, af->job);
				missing++;
			}
		}
	}
	return missing;
}

/* The chains as they would be: the file's jobs' after:, the database's for the others. */
struct chains {
	const struct batch *b;
	struct db_result *db; /* job, after_job of the database's jobs */
};

/* The jobs `name` runs after: into v (at most max), their count. */
static int
chains_after(const struct chains *ch, const char *name, const char **v, int max)
{
	int n = 0;
	const struct batch_job *j = file_job(ch->b, name);
	if (j != NULL) {
		for (size_t k = 0; k < j->nafter && n < max; k++)
			v[n++] = j->after[k].job;
		return n;
	}
	for (int i = 0; i < db_ntuples(ch->db) && n < max; i++)
		if (strcmp(db_value(ch->db, i, 0), name) == 0)
			v[n++] = db_value(ch->db, i, 1);
	return n;
}

#define CHAIN_MAX 64    /* steps followed from a job, and jobs after one job */
#define CHAIN_SEEN 4096 /* jobs one search visits */

/* One search: the jobs visited (each once: a way through one is a way through it). */
struct reach {
	const struct chains *ch;
	const char *start;
	const char *seen[CHAIN_SEEN];
	int nseen;
};

/* Is there a way from `from` back to the start within depth steps? Its jobs go to path. */
static int
chains_reach(struct reach *rs, const char *from, const char **path, int depth)
{
	if (strcmp(from, rs->start) == 0)
		return 1;
	if (depth == 0 || rs->nseen == CHAIN_SEEN)
		return 0;
	for (int i = 0; i < rs->nseen; i++)
		if (strcmp(rs->seen[i], from) == 0)
			return 0;
	rs->seen[rs->nseen++] = from;
	const char *next[CHAIN_MAX];
	int n = chains_after(rs->ch, from, next, CHAIN_MAX);
	for (int i = 0; i < n; i++) {
		path[0] = next[i];
		if (chains_reach(rs, next[i], path + 1, depth - 1))
			return 1;
	}
	return 0;
}

/* A job of the file that would run after itself is refused at its after:. 0, 1, -1. */
static int
check_after_cycles(const struct ctx *c, const struct batch *b, struct yt_errors *errs)
{
	struct chains ch = {b, NULL};
	int bad = 0;
	if (db_exec(c->db, &ch.db, "SELECT job, after_job FROM pgfleet.job_after_list", 0, NULL, c->err,
		c->errlen) == -1)
		return -1;
	for (size_t i = 0; i < b->njobs; i++) {
		const struct batch_job *j = &b->jobs[i];
		for (size_t k = 0; k < j->nafter; k++) {
			const char *path[CHAIN_MAX + 1];
			struct reach *rs = calloc(1, sizeof(*rs));
			if (rs == NULL) {
				snprintf(c->err, c->errlen, "out of memory");
				db_result_free(ch.db);
				return -1;
			}
			rs->ch = &ch;
			rs->start = j->name;
			path[0] = j->after[k].job;
			int loops = chains_reach(rs, path[0], path + 1, CHAIN_MAX - 1);
			free(rs);
			if (!loops)
				continue;
			char line[1024];
			size_t len = (size_t)snprintf(line, sizeof(line), "%s", j->name);
			for (int s = 0; len < sizeof(line); s++) {
				len += (size_t)snprintf(line + len, sizeof(line) - len, " after %s", path[s]);
				if (strcmp(path[s], j->name) == 0)
					break;
			}
			yt_errors_add(errs, j->after[k].pos, "job %s: runs after itself: %s", j->name, line);
			bad = 1;
			break;
		}
	}
	db_result_free(ch.db);
	return bad;
}

/* Every check said at its line: how many failed, or -1. */
static int
check_batch(const struct ctx *c, const struct batch *b, const struct apply_opts *o,
    struct yt_errors *errs)
{
	int n[5] = {0};
	if ((n[0] = check_refs(c, b, o->inventory_only, errs)) == -1 || (n[2] = check_zones(c, b, errs)) == -1 ||
	    (!o->inventory_only && (n[3] = check_after_refs(c, b, errs)) == -1))
		return -1;
	/* a loop only once every name is known */
	if (!o->inventory_only && n[3] == 0 && (n[4] = check_after_cycles(c, b, errs)) == -1)
		return -1;
	return n[0] + n[1] + n[2] + n[3] + n[4];
}

/* Count a change pgfleet.submit reported. */
static void
count(struct apply_stats *st, const char *kind, const char *change, const char *events)
{
	int added = strcmp(change, "added") == 0, updated = strcmp(change, "updated") == 0;
	if (strcmp(kind, "group") == 0) {
		st->groups_added += added;
		st->groups_changed += updated;
	} else if (strcmp(kind, "computer") == 0) {
		st->computers_added += added;
		st->computers_changed += updated;
	} else if (strcmp(kind, "job") == 0) {
		st->jobs_added += added;
		st->jobs_changed += updated;
	} else if (strcmp(change, "superseded") == 0) {
		st->schedules_superseded++;
	} else if (strcmp(change, "created") == 0) {
		st->schedules_created++;
		st->events += atoll(events);
	}
}

/* The clock new schedules start from: the database's (the one the claim compares due_at
 * with), or PGFLEET_NOW (tests, "what if I submit at ..."). */
static int
clock_now(struct db *db, time_t *now, char *err, size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r, "SELECT floor(extract(epoch FROM now()))::bigint", 0, NULL, err, errlen) == -1)
		return -1;
	*now = (time_t)strtoll(db_value(r, 0, 0), NULL, 10);
	db_result_free(r);
	return getenv("PGFLEET_NOW") != NULL ? args_now(now, err, errlen) : 0;
}

int
apply_batch(struct db *db, const struct batch *b, const struct apply_opts *o,
    struct apply_stats *st, struct yt_errors *errs, FILE *out, char *err, size_t errlen)
{
	char msg[512];
	int missing;
	struct db_result *r;
	struct ctx c = {.db = db, .err = err, .errlen = errlen};

	memset(st, 0, sizeof(*st));
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (o->dry_run && db_exec(db, NULL, "SET TRANSACTION READ ONLY", 0, NULL, err, errlen) == -1)
		goto fail;
	if (clock_now(db, &c.now, err, errlen) == -1)
		goto fail;
	if ((missing = check_batch(&c, b, o, errs)) != 0) {
		if (missing == -1)
			goto fail;
		yt_errors_sort(errs);
		(void)db_rollback(db, msg, sizeof(msg));
		return 1;
	}
	char *json = batch_json(b, o, &c);
	if (json == NULL)
		goto fail;
	const char *p[2] = {json, o->dry_run ? "true" : "false"};
	int rc = db_exec(db, &r, "SELECT kind, change, line, events FROM pgfleet.submit($1::jsonb, $2::boolean)",
	    2, p, err, errlen);
	free(json);
	if (rc == -1) {
		snprintf(st->sqlstate, sizeof(st->sqlstate), "%s", db_sqlstate(db));
		goto fail;
	}
	for (int i = 0; i < db_ntuples(r); i++) {
		fprintf(out, "%s\n", db_value(r, i, 2));
		count(st, db_value(r, i, 0), db_value(r, i, 1), db_value(r, i, 3));
	}
	db_result_free(r);
	if (o->dry_run)
		return db_rollback(db, err, errlen);
	return db_commit(db, err, errlen);
fail:
	(void)db_rollback(db, msg, sizeof(msg));
	return -1;
}

int
apply_job_tasks(struct db *db, const struct batch_job *j, char *err, size_t errlen)
{
	struct ctx c = {.db = db, .err = err, .errlen = errlen};
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	if (fp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fputs("{\"jobs\":[", fp);
	int rc = json_job(fp, j, 1, &c);
	fputs("]}", fp);
	char *json = stream_close(fp, &buf, rc, &c);
	if (json == NULL)
		return -1;
	const char *p[1] = {json};
	struct db_result *r;
	rc = db_exec(db, &r, "SELECT count(*) FROM pgfleet.submit($1::jsonb, false)", 1, p, err, errlen);
	free(json);
	if (rc == 0)
		db_result_free(r);
	return rc;
}
