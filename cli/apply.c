/*
 * apply: a validated job batch as the JSON of pgfleet.submit (docs/sql-api.md), sent in
 * one transaction: the function compares, writes only what differs, checks the caller's
 * duty and scopes, and reports each change, which is printed as it comes. A dry run takes
 * the same path in a READ ONLY transaction. What is computed here: when each new schedule
 * first runs (cron is parsed here, not in SQL) and the hashes of a job and of its plan.
 */
#include "cli/apply.h"

#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/batch.h"
#include "cli/batch_canon.h"
#include "cli/batch_export.h"
#include "common/db.h"

/* Attributes with a column of their own; the rest go to computer.attrs. */
static const char *const attr_cols[] = {"serial", "asset_tag", "domain", "domain_ou", "dept",
    "contact", "email"};
#define NATTR_COLS (sizeof(attr_cols) / sizeof(attr_cols[0]))

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

/* ,"key":"RFC 3339 time" */
static void
json_time(FILE *fp, const char *key, time_t t)
{
	char buf[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(fp, ",\"%s\":\"%s\"", key, buf);
}

static void
json_group(FILE *fp, const struct batch_group *g)
{
	fputs("{\"name\":", fp);
	args_json_str(fp, g->name);
	if (g->description != NULL)
		json_key_str(fp, "description", g->description);
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
	fprintf(fp, ",\"enabled\":%s}", c->enabled ? "true" : "false");
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

/* ,"targets":...,"schedule":...,"rollout":... of a job with targets; now as json_job's. */
static void
json_plan(FILE *fp, const struct batch_job *j, time_t now)
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

	const struct batch_schedule *s = &j->schedule;
	time_t due;
	fputs(",\"schedule\":{\"due\":", fp);
	if (apply_first_due(j, now, &due) == -1) {
		fputs("null", fp);
	} else if (apply_due_now(j)) {
		fputs("\"now\"", fp);
	} else {
		char buf[64];
		struct tm tm;
		gmtime_r(&due, &tm);
		strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
		fputs(buf, fp);
	}
	if (s->has_cron)
		json_key_str(fp, "cron", s->cron.text);
	if (!s->at_now)
		json_time(fp, "at", s->at);
	if (s->every_ms > 0)
		fprintf(fp, ",\"every\":\"%lld milliseconds\"", s->every_ms);
	if (s->has_until)
		json_time(fp, "until", s->until);
	fputc('}', fp);

	const struct batch_rollout *ro = &j->rollout;
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
	fputc('}', fp);
}

/*
 * One job. now is the database's clock: a new schedule's first run (due) is computed
 * here, "now" when it is due at the submit itself, null when none starts before until.
 */
static int
json_job(FILE *fp, const struct batch_job *j, time_t now, char *err, size_t errlen)
{
	char hash[65], plan[65];
	char *source = NULL;
	size_t source_len = 0;
	if (batch_job_hash(j, hash) == -1 || batch_job_plan_hash(j, plan) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	FILE *sp = open_memstream(&source, &source_len);
	if (sp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (batch_job_export(j, sp) == -1) {
		fclose(sp);
		free(source);
		snprintf(err, errlen, "job %s: exporting it as YAML failed", j->name);
		return -1;
	}
	if (fclose(sp) != 0) {
		free(source);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fputs("{\"name\":", fp);
	args_json_str(fp, j->name);
	json_key_str(fp, "description", j->description);
	json_key_str(fp, "source", source);
	json_key_str(fp, "source_hash", hash);
	json_key_str(fp, "plan_hash", plan);
	free(source);
	fputs(",\"tasks\":[", fp);
	for (size_t i = 0; i < j->ntasks; i++) {
		if (i > 0)
			fputc(',', fp);
		json_task(fp, &j->tasks[i]);
	}
	fputc(']', fp);
	if (j->has_targets)
		json_plan(fp, j, now);
	fputc('}', fp);
	return 0;
}

/* The batch as pgfleet.submit's argument (the caller frees), NULL with err set. */
static char *
batch_json(const struct batch *b, const struct apply_opts *o, time_t now, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	if (fp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int rc = 0;
	fputs("{\"groups\":[", fp);
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
		rc = json_job(fp, &b->jobs[i], now, err, errlen);
	}
	fputs("]}", fp);
	int bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rc == -1) {
		if (rc == 0)
			snprintf(err, errlen, "out of memory");
		free(buf);
		return NULL;
	}
	return buf;
}

/* Target computers the file names but does not declare must be in the database. */
static int
check_refs(struct db *db, const struct batch *b, struct yt_errors *errs, char *err,
    size_t errlen)
{
	int missing = 0;
	for (size_t i = 0; i < b->nrefs; i++) {
		struct db_result *r;
		const char *p[1] = {b->refs[i].name};
		if (db_exec(db, &r, "SELECT 1 FROM pgfleet.computer_list WHERE name = $1", 1, p, err,
			errlen) == -1)
			return -1;
		if (db_ntuples(r) == 0) {
			yt_errors_add(errs, b->refs[i].pos,
			    "job %s: computer \"%s\" is neither declared in this file nor in the database",
			    b->jobs[b->refs[i].job].name, b->refs[i].name);
			missing++;
		}
		db_result_free(r);
	}
	return missing;
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

int
apply_batch(struct db *db, const struct batch *b, const struct apply_opts *o,
    struct apply_stats *st, struct yt_errors *errs, FILE *out, char *err, size_t errlen)
{
	char msg[512];
	int missing;
	struct db_result *r;

	memset(st, 0, sizeof(*st));
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (o->dry_run && db_exec(db, NULL, "SET TRANSACTION READ ONLY", 0, NULL, err, errlen) == -1)
		goto fail;
	/* schedules start from the database's clock, the one the claim compares due_at with */
	if (db_exec(db, &r, "SELECT floor(extract(epoch FROM now()))::bigint", 0, NULL, err, errlen) == -1)
		goto fail;
	time_t now = (time_t)strtoll(db_value(r, 0, 0), NULL, 10);
	db_result_free(r);
	if (!o->inventory_only && (missing = check_refs(db, b, errs, err, errlen)) != 0) {
		if (missing == -1)
			goto fail;
		yt_errors_sort(errs);
		(void)db_rollback(db, msg, sizeof(msg));
		return 1;
	}
	char *json = batch_json(b, o, now, err, errlen);
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
