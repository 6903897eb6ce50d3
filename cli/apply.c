/*
 * apply: one transaction per batch, serialised by an advisory lock. Every object is
 * read first and compared; only what differs is written, so a file submitted twice
 * writes nothing. A dry run takes the same path in a READ ONLY transaction with the
 * writes skipped. See docs/cli.md ("submit") for the rules this implements.
 */
#include "cli/apply.h"

#include <errno.h>
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

/* pg_advisory_xact_lock key of `pgfleet submit`: "pgfsubmt" read as a big-endian bigint. */
#define APPLY_LOCK_KEY "8099006823464332660"

/* Attributes with a column of their own; the rest go to computer.attrs. */
static const char *const attr_cols[] = {"serial", "asset_tag", "domain", "domain_ou", "dept",
    "contact", "email"};
#define NATTR_COLS (sizeof(attr_cols) / sizeof(attr_cols[0]))

struct ap {
	struct db *db;
	const struct apply_opts *o;
	struct apply_stats *st;
	FILE *out;
	char *err;
	size_t errlen;
	const char *would; /* "" or "would be " */
	time_t now;        /* the database's clock, read once per batch */
};

static int
q(struct ap *a, struct db_result **r, const char *sql, int n, const char *const *p)
{
	return db_exec(a->db, r, sql, n, p, a->err, a->errlen);
}

/* A memstream for building JSON parameters. */
struct sb {
	char *buf;
	size_t size;
	FILE *fp;
};

static int
sb_open(struct sb *s, struct ap *a)
{
	s->buf = NULL;
	s->size = 0;
	if ((s->fp = open_memstream(&s->buf, &s->size)) == NULL) {
		snprintf(a->err, a->errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Close and return the text (the caller frees), NULL after an error. */
static char *
sb_close(struct sb *s, struct ap *a)
{
	int bad = ferror(s->fp);
	if (fclose(s->fp) != 0 || bad) {
		free(s->buf);
		snprintf(a->err, a->errlen, "out of memory");
		return NULL;
	}
	return s->buf;
}

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

/* ---- maintenance windows -------------------------------------------------- */

enum win_owner { WIN_COMPUTER, WIN_GROUP, WIN_JOB };

/* Per owner: are its windows exactly $2 (a JSON list of names)? then detach all, attach $2.
 * $1 names the owner: a computer's or a group's name, a job's id. */
static const struct {
	const char *same, *detach, *attach;
} win_sql[] = {
	[WIN_COMPUTER] = {
	    "SELECT (SELECT coalesce(jsonb_agg(w.name ORDER BY w.name), '[]') FROM pgfleet.window_attach a"
	    " JOIN pgfleet.maintenance_window w USING (window_id) JOIN pgfleet.computer c"
	    " ON c.computer_id = a.computer_id WHERE c.name = $1)"
	    " = (SELECT coalesce(jsonb_agg(x ORDER BY x), '[]') FROM jsonb_array_elements_text($2::jsonb) x)",
	    "DELETE FROM pgfleet.window_attach a USING pgfleet.computer c"
	    " WHERE a.computer_id = c.computer_id AND c.name = $1",
	    "INSERT INTO pgfleet.window_attach (window_id, computer_id) SELECT w.window_id, c.computer_id"
	    " FROM pgfleet.maintenance_window w, pgfleet.computer c WHERE c.name = $1"
	    " AND w.name IN (SELECT jsonb_array_elements_text($2::jsonb))"},
	[WIN_GROUP] = {
	    "SELECT (SELECT coalesce(jsonb_agg(w.name ORDER BY w.name), '[]') FROM pgfleet.window_attach a"
	    " JOIN pgfleet.maintenance_window w USING (window_id) JOIN pgfleet.computer_group g"
	    " ON g.group_id = a.group_id WHERE g.name = $1)"
	    " = (SELECT coalesce(jsonb_agg(x ORDER BY x), '[]') FROM jsonb_array_elements_text($2::jsonb) x)",
	    "DELETE FROM pgfleet.window_attach a USING pgfleet.computer_group g"
	    " WHERE a.group_id = g.group_id AND g.name = $1",
	    "INSERT INTO pgfleet.window_attach (window_id, group_id) SELECT w.window_id, g.group_id"
	    " FROM pgfleet.maintenance_window w, pgfleet.computer_group g WHERE g.name = $1"
	    " AND w.name IN (SELECT jsonb_array_elements_text($2::jsonb))"},
	[WIN_JOB] = {
	    "SELECT (SELECT coalesce(jsonb_agg(w.name ORDER BY w.name), '[]') FROM pgfleet.window_attach a"
	    " JOIN pgfleet.maintenance_window w USING (window_id) WHERE a.job_id = $1::bigint)"
	    " = (SELECT coalesce(jsonb_agg(x ORDER BY x), '[]') FROM jsonb_array_elements_text($2::jsonb) x)",
	    "DELETE FROM pgfleet.window_attach WHERE job_id = $1::bigint",
	    "INSERT INTO pgfleet.window_attach (window_id, job_id) SELECT w.window_id, $1::bigint"
	    " FROM pgfleet.maintenance_window w WHERE w.name IN (SELECT jsonb_array_elements_text($2::jsonb))"},
};

/* The windows of a computer, group or job become exactly names; what changed is said. */
static int
sync_windows(struct ap *a, enum win_owner kind, const char *what, const char *label,
    const char *owner, char *const *names, size_t n)
{
	struct sb s;
	struct db_result *r;
	if (sb_open(&s, a) == -1)
		return -1;
	json_names(s.fp, names, n);
	char *list = sb_close(&s, a);
	if (list == NULL)
		return -1;
	const char *p[2] = {owner, list};
	int rc = q(a, &r, win_sql[kind].same, 2, p);
	if (rc == 0) {
		int same = db_value(r, 0, 0)[0] == 't';
		db_result_free(r);
		if (!same) {
			fprintf(a->out, "%s %s: windows %sset to [", what, label, a->would);
			for (size_t i = 0; i < n; i++)
				fprintf(a->out, "%s%s", i > 0 ? ", " : "", names[i]);
			fprintf(a->out, "]\n");
			if (!a->o->dry_run && (q(a, NULL, win_sql[kind].detach, 1, p) == -1 ||
				q(a, NULL, win_sql[kind].attach, 2, p) == -1))
				rc = -1;
		}
	}
	free(list);
	return rc;
}

/* A window of the file: added or changed (its spans computed anew), else left alone. */
static int
apply_window(struct ap *a, const struct batch_window *w)
{
	struct db_result *r;
	char dur[32];
	snprintf(dur, sizeof(dur), "%lld", w->duration_ms);
	const char *p[6] = {w->name, w->blackout ? "true" : "false", w->cron.text, dur, w->timezone,
	    w->description};
	if (q(a, &r,
		"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pgfleet.maintenance_window WHERE name = $1)"
		" THEN 'add' WHEN EXISTS (SELECT 1 FROM pgfleet.maintenance_window WHERE name = $1"
		" AND (blackout, cron, duration, timezone) IS DISTINCT FROM ($2::bool, $3,"
		" $4::bigint * interval '1 millisecond', $5)) THEN 'redefine'"
		" WHEN EXISTS (SELECT 1 FROM pgfleet.maintenance_window WHERE name = $1"
		" AND description IS DISTINCT FROM $6) THEN 'describe' ELSE 'same' END",
		6, p) == -1)
		return -1;
	char what = db_value(r, 0, 0)[0];
	db_result_free(r);
	if (what == 's')
		return 0;
	fprintf(a->out, "%s %s: %s%s\n", w->blackout ? "blackout" : "window", w->name, a->would,
	    what == 'a' ? "added" : what == 'r' ? "changed, its spans computed anew" : "description updated");
	if (a->o->dry_run)
		return 0;
	if (q(a, &r,
		"INSERT INTO pgfleet.maintenance_window (name, blackout, cron, duration, timezone, description)"
		" VALUES ($1, $2::bool, $3, $4::bigint * interval '1 millisecond', $5, $6)"
		" ON CONFLICT (name) DO UPDATE SET blackout = EXCLUDED.blackout, cron = EXCLUDED.cron,"
		" duration = EXCLUDED.duration, timezone = EXCLUDED.timezone,"
		" description = EXCLUDED.description, updated_at = now() RETURNING window_id",
		6, p) == -1)
		return -1;
	char id[32];
	snprintf(id, sizeof(id), "%s", db_value(r, 0, 0));
	db_result_free(r);
	if (what != 'd' && windows_refill(a->db, id, a->now, a->err, a->errlen) == -1)
		return -1;
	return 0;
}

/* ---- groups --------------------------------------------------------------- */

static int
apply_group(struct ap *a, const struct batch_group *g)
{
	struct db_result *r;
	const char *p[2] = {g->name, g->description};
	if (q(a, &r,
		"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pgfleet.computer_group WHERE name = $1) "
		"THEN 'add' WHEN $2::text IS NOT NULL AND EXISTS (SELECT 1 FROM pgfleet.computer_group "
		"WHERE name = $1 AND description IS DISTINCT FROM $2) THEN 'update' ELSE 'same' END",
		2, p) == -1)
		return -1;
	char what = db_value(r, 0, 0)[0];
	db_result_free(r);
	if (what == 's')
		return 0;
	if (what == 'a') {
		a->st->groups_added++;
		fprintf(a->out, "group %s: %sadded\n", g->name, a->would);
	} else {
		a->st->groups_changed++;
		fprintf(a->out, "group %s: description %supdated\n", g->name, a->would);
	}
	if (a->o->dry_run)
		return 0;
	return q(a, NULL,
	    "INSERT INTO pgfleet.computer_group (name, description) VALUES ($1, $2) "
	    "ON CONFLICT (name) DO UPDATE SET description = coalesce(EXCLUDED.description, "
	    "computer_group.description)",
	    2, p);
}

/* A group's windows, when the file gives them. */
static int
apply_group_windows(struct ap *a, const struct batch_group *g)
{
	if (!g->has_windows)
		return 0;
	return sync_windows(a, WIN_GROUP, "group", g->name, g->name, g->windows, g->nwindows);
}

/* ---- computers ------------------------------------------------------------ */

#define COMPUTER_COLS "host, port, os, boot_env, ip, mac, serial, asset_tag, domain, domain_ou, " \
		      "dept, contact, email, labels, attrs, enabled"
#define COMPUTER_COLS_Q "computer.host, computer.port, computer.os, computer.boot_env, " \
	"computer.ip, computer.mac, computer.serial, computer.asset_tag, computer.domain, " \
	"computer.domain_ou, computer.dept, computer.contact, computer.email, computer.labels, " \
	"computer.attrs, computer.enabled"
#define COMPUTER_PARAMS "$2, $3::int, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, " \
			"$15::jsonb, $16::jsonb, $17::bool"

/* The computer's labels, attrs and groups as JSON (malloc'd). -1: all three freed. */
static int
computer_json(struct ap *a, const struct batch_computer *c, char **labels, char **attrs,
    char **groups)
{
	struct sb s;

	*labels = *attrs = *groups = NULL;
	if (sb_open(&s, a) == -1)
		return -1;
	json_kvs(s.fp, c->labels, c->nlabels, 0);
	if ((*labels = sb_close(&s, a)) == NULL || sb_open(&s, a) == -1)
		goto fail;
	json_kvs(s.fp, c->attrs, c->nattrs, 1);
	if ((*attrs = sb_close(&s, a)) == NULL || sb_open(&s, a) == -1)
		goto fail;
	json_names(s.fp, c->groups, c->ngroups);
	if ((*groups = sb_close(&s, a)) == NULL)
		goto fail;
	return 0;
fail:
	free(*labels);
	free(*attrs);
	*labels = *attrs = NULL;
	return -1;
}

/* The file is the truth for what it declares: every column, labels and groups. */
static int
computer_write(struct ap *a, const char *const *p, const char *name, const char *groups)
{
	const char *pg[2] = {name, groups};

	if (q(a, NULL,
		"INSERT INTO pgfleet.computer (name, " COMPUTER_COLS ") VALUES ($1, " COMPUTER_PARAMS ") "
		"ON CONFLICT (name) DO UPDATE SET (" COMPUTER_COLS ") = (" COMPUTER_PARAMS ") "
		"WHERE (" COMPUTER_COLS_Q ") IS DISTINCT FROM (" COMPUTER_PARAMS ")",
		17, p) == -1)
		return -1;
	if (q(a, NULL,
		"DELETE FROM pgfleet.computer_group_member m USING pgfleet.computer_group g, "
		"pgfleet.computer c WHERE m.group_id = g.group_id AND m.computer_id = c.computer_id "
		"AND c.name = $1 AND g.name NOT IN (SELECT jsonb_array_elements_text($2::jsonb))",
		2, pg) == -1 ||
	    q(a, NULL,
		"INSERT INTO pgfleet.computer_group_member (group_id, computer_id) "
		"SELECT g.group_id, c.computer_id FROM pgfleet.computer c, pgfleet.computer_group g "
		"WHERE c.name = $1 AND g.name IN (SELECT jsonb_array_elements_text($2::jsonb)) "
		"ON CONFLICT DO NOTHING",
		2, pg) == -1)
		return -1;
	return 0;
}

static int
apply_computer(struct ap *a, const struct batch_computer *c)
{
	struct db_result *r;
	char port[16], *labels, *attrs, *groups;
	int rc = -1;

	snprintf(port, sizeof(port), "%d", c->port);
	if (computer_json(a, c, &labels, &attrs, &groups) == -1)
		return -1;

	const char *p[18] = {c->name, c->host != NULL ? c->host : c->name,
	    c->port > 0 ? port : NULL, c->os, c->boot_env, c->ip, c->mac};
	for (size_t k = 0; k < NATTR_COLS; k++)
		p[7 + k] = batch_attr(c, attr_cols[k]);
	p[14] = labels;
	p[15] = attrs;
	p[16] = c->enabled ? "true" : "false";
	p[17] = groups;

	if (q(a, &r,
		"SELECT CASE WHEN c.computer_id IS NULL THEN 'add' "
		"WHEN (" COMPUTER_COLS ") IS DISTINCT FROM (" COMPUTER_PARAMS ") THEN 'update' "
		"WHEN (SELECT coalesce(jsonb_agg(g.name ORDER BY g.name), '[]') "
		"      FROM pgfleet.computer_group_member m JOIN pgfleet.computer_group g USING (group_id) "
		"      WHERE m.computer_id = c.computer_id) "
		"  <> (SELECT coalesce(jsonb_agg(x ORDER BY x), '[]') FROM jsonb_array_elements_text($18) x) "
		"THEN 'groups' ELSE 'same' END "
		"FROM (SELECT 1) one LEFT JOIN pgfleet.computer c ON c.name = $1",
		18, p) == -1)
		goto out;
	char what = db_value(r, 0, 0)[0];
	db_result_free(r);
	if (what == 's') {
		rc = 0;
		goto out;
	}
	if (what == 'a') {
		a->st->computers_added++;
		fprintf(a->out, "computer %s: %sadded\n", c->name, a->would);
	} else {
		a->st->computers_changed++;
		fprintf(a->out, "computer %s: %s%supdated\n", c->name, what == 'g' ? "groups " : "",
		    a->would);
	}
	rc = a->o->dry_run ? 0 : computer_write(a, p, c->name, groups);
out:
	free(labels);
	free(attrs);
	free(groups);
	return rc;
}

/* ---- jobs ----------------------------------------------------------------- */

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

static char *
targets_json(struct ap *a, const struct batch_targets *t)
{
	struct sb s;
	if (sb_open(&s, a) == -1)
		return NULL;
	fputs("{\"computers\":", s.fp);
	json_names(s.fp, t->computers, t->ncomputers);
	fputs(",\"groups\":", s.fp);
	json_names(s.fp, t->groups, t->ngroups);
	fputs(",\"labels\":", s.fp);
	json_kvs(s.fp, t->labels, t->nlabels, 0);
	fputc('}', s.fp);
	return sb_close(&s, a);
}

/* "{1,-25}": a task's retry on_codes as an array literal (malloc'd); NULL when none. */
static char *
retry_codes(const struct batch_retries *r)
{
	if (r->on_codes == NULL)
		return NULL;
	struct util_buf b = {0};
	util_buf_puts(&b, "{");
	for (size_t i = 0; i < r->non_codes; i++)
		util_buf_fmt(&b, "%s%d", i > 0 ? "," : "", r->on_codes[i]);
	util_buf_puts(&b, "}");
	return util_buf_take(&b);
}

static int
insert_tasks(struct ap *a, const char *job_id, const char *version, const struct batch_job *j)
{
	static const char *const actions[] = {"success", "failure", "continue", "stop"};
	for (size_t i = 0; i < j->ntasks; i++) {
		const struct batch_task *t = &j->tasks[i];
		char seq[32], timeout[32], codes[4096], *on_code;
		size_t len = 0;
		struct sb s;

		snprintf(seq, sizeof(seq), "%zu", i);
		snprintf(timeout, sizeof(timeout), "%lld", t->timeout_ms);
		len += (size_t)snprintf(codes, sizeof(codes), "{");
		for (size_t k = 0; k < t->nsuccess_codes && len < sizeof(codes) - 8; k++)
			len += (size_t)snprintf(codes + len, sizeof(codes) - len, "%s%d", k ? "," : "",
			    t->success_codes[k]);
		snprintf(codes + len, sizeof(codes) - len, "%s}", t->nsuccess_codes == 0 ? "0" : "");
		if (sb_open(&s, a) == -1)
			return -1;
		fputc('{', s.fp);
		for (size_t k = 0; k < t->non_code; k++)
			fprintf(s.fp, "%s\"%d\":\"%s\"", k ? "," : "", t->on_code[k].code,
			    actions[t->on_code[k].action]);
		fputc('}', s.fp);
		if ((on_code = sb_close(&s, a)) == NULL)
			return -1;
		char *rcodes = retry_codes(&t->retries);
		if (rcodes == NULL && t->retries.on_codes != NULL) {
			free(on_code);
			snprintf(a->err, a->errlen, "out of memory");
			return -1;
		}
		char rcount[16], rback[24], rmax[24], cmode[16];
		int has = t->retries.count > 0;
		snprintf(cmode, sizeof(cmode), "%d", t->copy_mode);
		snprintf(rcount, sizeof(rcount), "%d", t->retries.count);
		snprintf(rback, sizeof(rback), "%lld", has ? t->retries.backoff_ms : BATCH_RETRY_BACKOFF_MS);
		snprintf(rmax, sizeof(rmax), "%lld", has ? t->retries.max_ms : BATCH_RETRY_MAX_MS);
		const char *p[20] = {job_id, version, seq, t->name, t->script,
		    t->interpreter != NULL ? t->interpreter : "/bin/sh", t->run_as,
		    t->timeout_ms > 0 ? timeout : NULL, codes, on_code,
		    t->on_failure == BATCH_CONTINUE ? "continue" : "stop", t->os_required, t->boot_env,
		    rcount, rback, rmax, has ? rcodes : NULL, t->copy ? "copy_file" : "run_script",
		    t->copy ? t->copy_dest : NULL, t->copy ? cmode : NULL};
		int rc = q(a, NULL,
		    "INSERT INTO pgfleet.task (job_id, version, seq, name, script, interpreter, run_as, "
		    "timeout_ms, success_codes, on_code, on_failure, os_required, boot_env, retry_count, "
		    "retry_backoff_ms, retry_max_ms, retry_on_codes, type, copy_dest, copy_mode) "
		    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::int[], $10::jsonb, $11, $12, $13, "
		    "$14::int, $15::bigint, $16::bigint, $17::int[], $18, $19, $20::int)",
		    20, p);
		free(on_code);
		free(rcodes);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * End what earlier submits of this job planned: open schedules that came from a submit
 * (and the occurrences recurring ones made). Pending ones are cancelled; running ones
 * finish with the version they started with, but do not recur.
 */
static int
supersede(struct ap *a, const struct batch_job *j, const char *job_id)
{
	struct db_result *r;
	const char *p[1] = {job_id};
	if (q(a, &r,
		"WITH RECURSIVE chain AS ("
		"  SELECT schedule_id FROM pgfleet.schedule WHERE job_id = $1 AND origin_hash IS NOT NULL"
		"  UNION SELECT s.schedule_id FROM pgfleet.schedule s JOIN chain c "
		"        ON s.parent_schedule_id = c.schedule_id) "
		"SELECT s.schedule_id, s.state, s.repeat_every IS NOT NULL OR s.repeat_cron IS NOT NULL "
		"FROM pgfleet.schedule s JOIN chain USING (schedule_id) "
		"WHERE s.state IN ('pending', 'running', 'halted') ORDER BY 1",
		1, p) == -1)
		return -1;
	int rc = 0;
	for (int i = 0; i < db_ntuples(r) && rc == 0; i++) {
		const char *sp[1] = {db_value(r, i, 0)};
		int pending = strcmp(db_value(r, i, 1), "running") != 0;
		int recurring = strcmp(db_value(r, i, 2), "t") == 0;
		if (!pending && !recurring)
			continue;
		a->st->schedules_superseded++;
		if (pending)
			fprintf(a->out, "job %s: schedule %s (not started) %scancelled\n", j->name, sp[0],
			    a->would);
		else
			fprintf(a->out, "job %s: schedule %s keeps running, its recurrence %sended\n",
			    j->name, sp[0], a->would);
		if (a->o->dry_run)
			continue;
		if (pending)
			rc = q(a, NULL, "SELECT pgfleet.cancel_schedule($1)", 1, sp);
		else
			rc = q(a, NULL,
			    "UPDATE pgfleet.schedule SET repeat_until = now() WHERE schedule_id = $1 "
			    "AND (repeat_until IS NULL OR repeat_until > now())",
			    1, sp);
	}
	db_result_free(r);
	return rc;
}

void
apply_waves_literal(const struct batch_rollout *ro, char *waves, size_t wlen, char *pause,
    size_t plen)
{
	size_t n = (size_t)snprintf(waves, wlen, "{");
	for (int i = 0; i < ro->nwaves && n < wlen; i++)
		n += (size_t)snprintf(waves + n, wlen - n, "%s%d%s", i > 0 ? "," : "", ro->waves[i],
		    ro->waves_pct[i] ? "%" : "");
	if (n < wlen)
		snprintf(waves + n, wlen - n, "}");
	snprintf(pause, plen, "%lld", ro->pause_ms > 0 ? ro->pause_ms : 0);
}

/*
 * The job with its schedule's wall-clock times resolved into instants (*r, a copy sharing
 * j's strings), and its first due time: 0, 1 when no run starts before until (*due unset),
 * -1 on a database error.
 */
static int
resolve_schedule(struct ap *a, const struct batch_job *j, struct batch_job *r, time_t *due)
{
	struct batch_schedule *s = &r->schedule;
	*r = *j;
	if (s->at_local && !s->at_now && tzdb_local(a->db, s->at_zone, s->at, &s->at, a->err,
		a->errlen) == -1)
		return -1;
	if (s->has_until && s->until_local && tzdb_local(a->db, s->until_zone, s->until, &s->until,
		a->err, a->errlen) == -1)
		return -1;
	s->at_local = s->until_local = 0;
	if (!s->has_cron || s->timezone == NULL)
		return apply_first_due(r, a->now, due) == -1 ? 1 : 0;
	/* cron in a zone: as apply_first_due, the zone's wall clock read with its offsets */
	time_t t = s->at_now ? a->now : s->at;
	int rc = tzdb_cron_next(a->db, &s->cron, s->timezone, t > a->now ? t - 1 : a->now, due,
	    a->err, a->errlen);
	if (rc != 0)
		return rc;
	return s->has_until && *due >= s->until ? 1 : 0;
}

static int
create_schedule(struct ap *a, const struct batch_job *j0, const char *job_id, const char *version,
    const char *plan_hash)
{
	time_t due;
	char dues[32], every[32], until[32], maxc[32], maxf[32], splay[32];
	char waves[APPLY_WAVES_MAX], pause[32], offline[32];
	struct batch_job rj;
	const struct batch_job *j = &rj;
	const struct batch_schedule *s = &rj.schedule;
	const struct batch_rollout *ro = &rj.rollout;

	int rs = resolve_schedule(a, j0, &rj, &due);
	if (rs == -1)
		return -1;
	if (rs == 1) {
		fprintf(a->out, "job %s: no run starts before its schedule's until: nothing scheduled\n",
		    j->name);
		return 0;
	}
	a->st->schedules_created++;
	if (a->o->dry_run) {
		char buf[64];
		struct tm tm;
		gmtime_r(&due, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(a->out, "job %s: a schedule would be created at version %s, due %s\n", j->name,
		    version, apply_due_now(j) ? "now" : buf);
		return 0;
	}
	char *targets = targets_json(a, &j->targets);
	if (targets == NULL)
		return -1;
	snprintf(dues, sizeof(dues), "%lld", (long long)due);
	snprintf(every, sizeof(every), "%lld", s->every_ms);
	snprintf(until, sizeof(until), "%lld", (long long)s->until);
	snprintf(maxc, sizeof(maxc), "%d", ro->max_concurrent);
	snprintf(maxf, sizeof(maxf), "%d", ro->max_failures);
	snprintf(splay, sizeof(splay), "%lld", s->splay_ms);
	apply_waves_literal(ro, waves, sizeof(waves), pause, sizeof(pause));
	snprintf(offline, sizeof(offline), "%lld", j->offline_wait_ms);
	const char *p[17] = {job_id, version, targets, apply_due_now(j) ? NULL : dues,
	    s->every_ms > 0 ? every : NULL, s->has_cron ? s->cron.text : NULL,
	    s->has_until ? until : NULL, ro->max_concurrent > 0 ? maxc : NULL,
	    ro->max_failures >= 0 && !ro->max_failures_pct ? maxf : NULL,
	    ro->max_failures >= 0 && ro->max_failures_pct ? maxf : NULL, plan_hash,
	    a->o->client_user, s->timezone, s->splay_ms > 0 ? splay : NULL,
	    ro->nwaves > 0 ? waves : NULL, ro->nwaves > 0 ? pause : NULL,
	    j->offline_wait_ms > 0 ? offline : NULL};
	struct db_result *r;
	int rc = q(a, &r,
	    "INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every, "
	    "repeat_cron, repeat_until, max_concurrent, max_failures, max_failures_pct, origin_hash, "
	    "created_by, client_user, timezone, splay, rollout_waves, rollout_pause, offline_wait) "
	    "VALUES ($1, $2, "
	    "$3::jsonb, coalesce(to_timestamp($4::float8), now()), "
	    "justify_hours($5::bigint * interval '1 millisecond'), $6, to_timestamp($7::float8), $8::int, $9::int, "
	    "$10::numeric, $11, session_user, $12, $13, $14::bigint * interval '1 millisecond', "
	    "$15::text[], $16::bigint * interval '1 millisecond', $17::bigint * interval '1 millisecond') "
	    "RETURNING schedule_id, to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	    17, p);
	free(targets);
	if (rc == -1)
		return -1;
	char id[32], when[64];
	snprintf(id, sizeof(id), "%s", db_value(r, 0, 0));
	snprintf(when, sizeof(when), "%s", db_value(r, 0, 1));
	db_result_free(r);
	const char *sp[1] = {id};
	if (q(a, &r, "SELECT pgfleet.expand_schedule($1)", 1, sp) == -1)
		return -1;
	long long n = atoll(db_value(r, 0, 0));
	db_result_free(r);
	a->st->events += n;
	fprintf(a->out, "job %s: schedule %s created at version %s, due %s, %lld event%s\n", j->name,
	    id, version, when, n, n == 1 ? "" : "s");
	return 0;
}

/*
 * The job's rollout limits, which `pgfleet run` applies: kept on the job row (0007).
 * Written only when they differ, so a second submit writes nothing.
 */
static int
job_rollout(struct ap *a, const struct batch_job *j, const char *job_id)
{
	const struct batch_rollout *ro = &j->rollout;
	char maxc[32], maxf[32], waves[APPLY_WAVES_MAX], pause[32], offline[32];
	snprintf(maxc, sizeof(maxc), "%d", ro->max_concurrent);
	snprintf(maxf, sizeof(maxf), "%d", ro->max_failures);
	snprintf(offline, sizeof(offline), "%lld", j->offline_wait_ms);
	apply_waves_literal(ro, waves, sizeof(waves), pause, sizeof(pause));
	const char *p[7] = {job_id, ro->max_concurrent > 0 ? maxc : NULL,
	    ro->max_failures >= 0 && !ro->max_failures_pct ? maxf : NULL,
	    ro->max_failures >= 0 && ro->max_failures_pct ? maxf : NULL,
	    ro->nwaves > 0 ? waves : NULL, ro->nwaves > 0 ? pause : NULL,
	    j->offline_wait_ms > 0 ? offline : NULL};
	return q(a, NULL,
	    "UPDATE pgfleet.job SET rollout_max_concurrent = $2::int, rollout_max_failures = $3::int,"
	    " rollout_max_failures_pct = $4::numeric, rollout_waves = $5::text[],"
	    " rollout_pause = $6::bigint * interval '1 millisecond',"
	    " offline_wait = $7::bigint * interval '1 millisecond' WHERE job_id = $1"
	    " AND (rollout_max_concurrent, rollout_max_failures, rollout_max_failures_pct, rollout_waves,"
	    " rollout_pause, offline_wait) IS DISTINCT FROM ($2::int, $3::int, $4::numeric, $5::text[],"
	    " $6::bigint * interval '1 millisecond', $7::bigint * interval '1 millisecond')",
	    7, p);
}

/* The job exported as YAML (malloc'd): what job.source keeps. */
static char *
job_source(struct ap *a, const struct batch_job *j)
{
	struct sb s;

	if (sb_open(&s, a) == -1)
		return NULL;
	if (batch_job_export(j, s.fp) == -1) {
		fclose(s.fp);
		free(s.buf);
		snprintf(a->err, a->errlen, "job %s: exporting it as YAML failed", j->name);
		return NULL;
	}
	return sb_close(&s, a);
}

/* A job as apply_job finds and leaves it in the database. */
struct job_row {
	char id[32];
	char version[32];
	int added, new_version, plan_changed;
};

/* A job the database has not got: version 1 and its tasks. */
static int
job_insert(struct ap *a, const struct batch_job *j, const char *source, const char *hash,
    const char *plan, struct job_row *jr)
{
	const char *p[5] = {j->name, j->description, source, hash, plan};
	struct db_result *r;

	jr->added = 1;
	jr->plan_changed = 1;
	a->st->jobs_added++;
	fprintf(a->out, "job %s: %sadded (version 1, %zu task%s)\n", j->name, a->would,
	    j->ntasks, j->ntasks == 1 ? "" : "s");
	if (a->o->dry_run)
		return 0;
	if (q(a, &r,
		"INSERT INTO pgfleet.job (name, description, version, source, source_hash, "
		"plan_hash) VALUES ($1, $2, 1, $3, $4, $5) RETURNING job_id",
		5, p) == -1)
		return -1;
	snprintf(jr->id, sizeof(jr->id), "%s", db_value(r, 0, 0));
	db_result_free(r);
	return insert_tasks(a, jr->id, jr->version, j);
}

/* A job the database has (r: its row): a new version when the tasks changed. */
static int
job_update(struct ap *a, const struct batch_job *j, struct db_result *r, const char *source,
    const char *hash, const char *plan, struct job_row *jr)
{
	snprintf(jr->id, sizeof(jr->id), "%s", db_value(r, 0, 0));
	int v = atoi(db_value(r, 0, 1));
	jr->new_version = strcmp(db_value(r, 0, 2), hash) != 0;
	jr->plan_changed = strcmp(db_value(r, 0, 3), plan) != 0;
	int same_text = strcmp(db_value(r, 0, 4), "t") == 0;
	snprintf(jr->version, sizeof(jr->version), "%d", jr->new_version ? v + 1 : v);
	if (jr->new_version) {
		fprintf(a->out, "job %s: tasks changed, version %d -> %s%s\n", j->name, v, jr->version,
		    a->o->dry_run ? " (dry run)" : "");
	} else if (jr->plan_changed) {
		fprintf(a->out, "job %s: targets, schedule or rollout changed\n", j->name);
	} else if (!same_text) {
		fprintf(a->out, "job %s: description %supdated\n", j->name, a->would);
	}
	if (!jr->new_version && !jr->plan_changed && same_text)
		return 0;
	a->st->jobs_changed++;
	if (a->o->dry_run)
		return 0;
	const char *p[6] = {jr->id, jr->version, j->description, source, hash, plan};
	if (q(a, NULL,
		"UPDATE pgfleet.job SET version = $2, description = $3, source = $4, "
		"source_hash = $5, plan_hash = $6 WHERE job_id = $1",
		6, p) == -1)
		return -1;
	return jr->new_version ? insert_tasks(a, jr->id, jr->version, j) : 0;
}

/* The job's windows and allow_defer (not part of its version or plan: the claim reads them). */
static int
job_windows(struct ap *a, const struct batch_job *j, const struct job_row *jr)
{
	char defer[16];
	snprintf(defer, sizeof(defer), "%d", j->allow_defer);
	if (jr->added && a->o->dry_run) {
		if (j->nwindows > 0 || j->allow_defer > 0)
			fprintf(a->out, "job %s: would get %zu window(s), allow_defer %d\n", j->name,
			    j->nwindows, j->allow_defer);
		return 0;
	}
	if (jr->id[0] == '\0')
		return 0;
	if (sync_windows(a, WIN_JOB, "job", j->name, jr->id, j->windows, j->nwindows) == -1)
		return -1;
	if (a->o->dry_run)
		return 0;
	const char *p[2] = {jr->id, defer};
	return q(a, NULL,
	    "UPDATE pgfleet.job SET allow_defer = $2::int WHERE job_id = $1::bigint"
	    " AND allow_defer <> $2::int",
	    2, p);
}

static int
apply_job(struct ap *a, const struct batch_job *j)
{
	char hash[65], plan[65], *source;
	struct db_result *r = NULL;
	struct job_row jr = {.id = "", .version = "1"};
	int rc = -1;

	if (batch_job_hash(j, hash) == -1 || batch_job_plan_hash(j, plan) == -1) {
		snprintf(a->err, a->errlen, "out of memory");
		return -1;
	}
	if ((source = job_source(a, j)) == NULL)
		return -1;
	const char *p3[3] = {j->name, j->description, source};
	/* A dry run reads in a READ ONLY transaction, where FOR UPDATE is refused. */
	if (q(a, &r,
		a->o->dry_run
		    ? "SELECT job_id, version, source_hash, plan_hash, (description IS NOT DISTINCT FROM "
		      "$2 AND source IS NOT DISTINCT FROM $3) FROM pgfleet.job WHERE name = $1"
		    : "SELECT job_id, version, source_hash, plan_hash, (description IS NOT DISTINCT FROM "
		      "$2 AND source IS NOT DISTINCT FROM $3) FROM pgfleet.job WHERE name = $1 FOR UPDATE",
		3, p3) == -1)
		goto out;
	if ((db_ntuples(r) == 0 ? job_insert(a, j, source, hash, plan, &jr)
				: job_update(a, j, r, source, hash, plan, &jr)) == -1)
		goto out;
	if (!a->o->dry_run && job_rollout(a, j, jr.id) == -1)
		goto out;
	if (job_windows(a, j, &jr) == -1)
		goto out;
	if (jr.new_version || jr.plan_changed) {
		if (!jr.added && supersede(a, j, jr.id) == -1)
			goto out;
		/* a chained job runs after another: a schedule of its own only when it asks */
		if (j->has_targets && (j->nafter == 0 || j->has_schedule) &&
		    create_schedule(a, j, jr.id, jr.version, plan) == -1)
			goto out;
	}
	rc = 0;
out:
	db_result_free(r);
	free(source);
	return rc;
}

int
apply_job_version(struct db *db, const struct batch_job *j, char *job_id, char *version,
    char *err, size_t errlen)
{
	struct apply_opts o = {0};
	struct apply_stats st;
	char hash[65], plan[65], *source = NULL;
	struct db_result *r = NULL;
	struct job_row jr = {.id = "", .version = "1"};
	const char *key[1] = {APPLY_LOCK_KEY};
	int rc = -1;
	/* what a submit reports goes nowhere: the caller says what it made */
	FILE *sink = fopen("/dev/null", "w");
	if (sink == NULL) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		return -1;
	}
	struct ap a = {.db = db, .o = &o, .st = &st, .out = sink, .err = err, .errlen = errlen,
	    .would = ""};
	memset(&st, 0, sizeof(st));
	if (batch_job_hash(j, hash) == -1 || batch_job_plan_hash(j, plan) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (q(&a, NULL, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key) == -1 ||
	    (source = job_source(&a, j)) == NULL)
		goto out;
	const char *p3[3] = {j->name, j->description, source};
	if (q(&a, &r,
		"SELECT job_id, version, source_hash, coalesce(plan_hash, ''), (description IS NOT "
		"DISTINCT FROM $2 AND source IS NOT DISTINCT FROM $3) FROM pgfleet.job WHERE name = $1 "
		"FOR UPDATE",
		3, p3) == -1)
		goto out;
	/* an existing job keeps its plan: the hash it has is passed back unchanged */
	if ((db_ntuples(r) == 0 ? job_insert(&a, j, source, hash, plan, &jr)
				: job_update(&a, j, r, source, hash, db_value(r, 0, 3), &jr)) == -1)
		goto out;
	snprintf(job_id, 32, "%s", jr.id);
	snprintf(version, 32, "%s", jr.version);
	rc = 0;
out:
	db_result_free(r);
	free(source);
	fclose(sink);
	return rc;
}

/* Target computers the file names but does not declare must be in the database. */
static int
check_refs(struct ap *a, const struct batch *b, struct yt_errors *errs)
{
	int missing = 0;
	for (size_t i = 0; i < b->nrefs; i++) {
		struct db_result *r;
		const char *p[1] = {b->refs[i].name};
		if (q(a, &r, "SELECT 1 FROM pgfleet.computer WHERE name = $1", 1, p) == -1)
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

/* One zone name of a schedule: known to PostgreSQL? 0, 1 (an error added), -1. */
static int
check_zone(struct ap *a, const struct batch_job *j, const char *zone, struct yt_pos pos,
    struct yt_errors *errs)
{
	if (zone == NULL)
		return 0;
	int known = tzdb_known(a->db, zone, a->err, a->errlen);
	if (known == -1)
		return -1;
	if (!known)
		yt_errors_add(errs, pos, "job %s: time zone \"%s\" is not one PostgreSQL knows "
		    "(pg_timezone_names; examples: Europe/Berlin, America/New_York, UTC)", j->name, zone);
	return !known;
}

/* ---- chains ---------------------------------------------------------------- */

/* The after: of a job as job_after rows: [{after, on, scope, targets}] as JSON (malloc'd). */
static char *
after_json(struct ap *a, const struct batch_job *j)
{
	static const char *const on[] = {"success", "failure", "any"};
	struct sb s;
	if (sb_open(&s, a) == -1)
		return NULL;
	fputc('[', s.fp);
	for (size_t i = 0; i < j->nafter; i++) {
		fprintf(s.fp, "%s{\"after\":", i > 0 ? "," : "");
		args_json_str(s.fp, j->after[i].job);
		fprintf(s.fp, ",\"on\":\"%s\",\"scope\":\"%s\"}", on[j->after[i].on],
		    j->after[i].per_computer ? "computer" : "schedule");
	}
	fputc(']', s.fp);
	return sb_close(&s, a);
}

/*
 * The job's after: rows become exactly the file's (with its targets for the schedules of
 * the chain); what changed is said. $1 the job's name, $2 the rows, $3 its targets.
 */
static int
apply_after(struct ap *a, const struct batch_job *j)
{
	char *rows = after_json(a, j), *targets = NULL;
	struct db_result *r;
	int rc = -1;
	if (rows == NULL || (j->has_targets && (targets = targets_json(a, &j->targets)) == NULL))
		goto out;
	const char *p[3] = {j->name, rows, targets};
	if (q(a, &r,
		"SELECT coalesce((SELECT jsonb_agg(jsonb_build_object('after', p.name, 'on', x.on_result,"
		" 'scope', x.scope, 'targets', x.targets) ORDER BY p.name) FROM pgfleet.job_after x"
		" JOIN pgfleet.job p ON p.job_id = x.after_job_id JOIN pgfleet.job j ON j.job_id = x.job_id"
		" WHERE j.name = $1), '[]') = coalesce((SELECT jsonb_agg(v || jsonb_build_object('targets',"
		" CASE WHEN v->>'scope' = 'computer' AND $3::jsonb IS NULL THEN NULL ELSE $3::jsonb END)"
		" ORDER BY v->>'after') FROM jsonb_array_elements($2::jsonb) v), '[]')",
		3, p) == -1)
		goto out;
	int same = db_value(r, 0, 0)[0] == 't';
	db_result_free(r);
	rc = 0;
	if (same)
		goto out;
	fprintf(a->out, "job %s: runs after %s%s\n", j->name, j->nafter > 0 ? "" : "no job",
	    a->o->dry_run ? " (dry run)" : "");
	for (size_t i = 0; i < j->nafter; i++)
		fprintf(a->out, "  after %s\n", j->after[i].job);
	if (a->o->dry_run)
		goto out;
	rc = q(a, NULL,
	    "WITH d AS (DELETE FROM pgfleet.job_after x USING pgfleet.job j WHERE j.job_id = x.job_id"
	    " AND j.name = $1) INSERT INTO pgfleet.job_after (job_id, after_job_id, on_result, scope,"
	    " targets) SELECT j.job_id, p.job_id, v->>'on', v->>'scope', $3::jsonb"
	    " FROM jsonb_array_elements($2::jsonb) v JOIN pgfleet.job p ON p.name = v->>'after',"
	    " pgfleet.job j WHERE j.name = $1",
	    3, p);
out:
	free(rows);
	free(targets);
	return rc;
}

/* After every job is written: a job that would run after itself is refused. 0, 1, -1. */
static int
check_after_cycles(struct ap *a, const struct batch *b, struct yt_errors *errs)
{
	int bad = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		const struct batch_job *j = &b->jobs[i];
		if (j->nafter == 0)
			continue;
		struct db_result *r;
		const char *p[1] = {j->name};
		if (q(a, &r, "SELECT pgfleet.job_after_cycle(job_id) FROM pgfleet.job WHERE name = $1", 1,
			p) == -1)
			return -1;
		if (db_ntuples(r) == 1 && !db_isnull(r, 0, 0)) {
			yt_errors_add(errs, j->after[0].pos, "job %s: runs after itself: %s", j->name,
			    db_value(r, 0, 0));
			bad = 1;
		}
		db_result_free(r);
	}
	return bad;
}

/* Jobs after: names must be this file's or the database's. */
static int
check_after_refs(struct ap *a, const struct batch *b, struct yt_errors *errs)
{
	int missing = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		for (size_t k = 0; k < b->jobs[i].nafter; k++) {
			const struct batch_after *af = &b->jobs[i].after[k];
			size_t m = 0;
			while (m < b->njobs && (b->jobs[m].name == NULL || strcmp(b->jobs[m].name, af->job) != 0))
				m++;
			if (m < b->njobs)
				continue;
			struct db_result *r;
			const char *p[1] = {af->job};
			if (q(a, &r, "SELECT 1 FROM pgfleet.job WHERE name = $1", 1, p) == -1)
				return -1;
			if (db_ntuples(r) == 0) {
				yt_errors_add(errs, af->pos, "job %s: runs after job \"%s\", which is neither "
				    "in this file nor in the database", b->jobs[i].name, af->job);
				missing++;
			}
			db_result_free(r);
		}
	}
	return missing;
}

/* Windows the file names but does not declare must be in the database. */
static int
check_window_refs(struct ap *a, const struct batch *b, struct yt_errors *errs)
{
	int missing = 0;
	for (size_t i = 0; i < b->nwrefs; i++) {
		struct db_result *r;
		const char *p[1] = {b->wrefs[i].name};
		if (q(a, &r, "SELECT 1 FROM pgfleet.maintenance_window WHERE name = $1", 1, p) == -1)
			return -1;
		if (db_ntuples(r) == 0) {
			yt_errors_add(errs, b->wrefs[i].pos,
			    "window \"%s\" is neither declared in this file nor in the database",
			    b->wrefs[i].name);
			missing++;
		}
		db_result_free(r);
	}
	return missing;
}

/* The time zones schedules name must be PostgreSQL's. Returns how many are not, or -1. */
static int
check_zones(struct ap *a, const struct batch *b, struct yt_errors *errs)
{
	int bad = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		const struct batch_schedule *s = &b->jobs[i].schedule;
		int r[3] = {check_zone(a, &b->jobs[i], s->timezone, s->tz_pos, errs),
		    s->at_zone != s->timezone && !s->at_now
			? check_zone(a, &b->jobs[i], s->at_zone, s->at_pos, errs) : 0,
		    s->until_zone != s->timezone && s->has_until
			? check_zone(a, &b->jobs[i], s->until_zone, s->until_pos, errs) : 0};
		for (int k = 0; k < 3; k++) {
			if (r[k] == -1)
				return -1;
			bad += r[k];
		}
	}
	for (size_t i = 0; i < b->nwindows; i++) {
		int r = 0;
		if (b->windows[i].timezone != NULL) {
			const char *p[1] = {b->windows[i].timezone};
			if ((r = tzdb_known(a->db, p[0], a->err, a->errlen)) == -1)
				return -1;
			if (r == 0)
				yt_errors_add(errs, b->windows[i].tz_pos, "window %s: time zone \"%s\" is "
				    "not one PostgreSQL knows (pg_timezone_names; examples: Europe/Berlin, "
				    "America/New_York, UTC)", b->windows[i].name, p[0]);
			bad += r == 0;
		}
	}
	return bad;
}

int
apply_batch(struct db *db, const struct batch *b, const struct apply_opts *o,
    struct apply_stats *st, struct yt_errors *errs, FILE *out, char *err, size_t errlen)
{
	struct ap a = {.db = db, .o = o, .st = st, .out = out, .err = err, .errlen = errlen,
	    .would = o->dry_run ? "would be " : "", .now = 0};
	char msg[512];
	const char *key[1] = {APPLY_LOCK_KEY};
	int missing = 0;

	memset(st, 0, sizeof(*st));
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if ((o->dry_run && q(&a, NULL, "SET TRANSACTION READ ONLY", 0, NULL) == -1) ||
	    q(&a, NULL, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key) == -1)
		goto fail;
	/* schedules start from the database's clock, the one the claim compares due_at with */
	struct db_result *r;
	if (q(&a, &r, "SELECT floor(extract(epoch FROM now()))::bigint", 0, NULL) == -1)
		goto fail;
	a.now = (time_t)strtoll(db_value(r, 0, 0), NULL, 10);
	db_result_free(r);
	/* PGFLEET_NOW: first occurrences as of that instant (tests, "what if I submit at …") */
	if (getenv("PGFLEET_NOW") != NULL && args_now(&a.now, err, errlen) == -1)
		goto fail;
	int wmissing = 0, zones = 0, amissing = 0;
	if ((!o->inventory_only && (missing = check_refs(&a, b, errs)) == -1) ||
	    (wmissing = check_window_refs(&a, b, errs)) == -1 ||
	    (zones = check_zones(&a, b, errs)) == -1 ||
	    (!o->inventory_only && (amissing = check_after_refs(&a, b, errs)) == -1))
		goto fail;
	missing += wmissing + zones + amissing;
	if (missing != 0) {
		yt_errors_sort(errs);
		(void)db_rollback(db, msg, sizeof(msg));
		return 1;
	}
	for (size_t i = 0; i < b->nwindows; i++)
		if (apply_window(&a, &b->windows[i]) == -1)
			goto fail;
	for (size_t i = 0; i < b->ngroups; i++)
		if (apply_group(&a, &b->groups[i]) == -1 || apply_group_windows(&a, &b->groups[i]) == -1)
			goto fail;
	/* the file is the truth for the computers it declares: their windows too */
	for (size_t i = 0; i < b->ncomputers; i++)
		if (apply_computer(&a, &b->computers[i]) == -1 ||
		    sync_windows(&a, WIN_COMPUTER, "computer", b->computers[i].name, b->computers[i].name,
			b->computers[i].windows, b->computers[i].nwindows) == -1)
			goto fail;
	for (size_t i = 0; !o->inventory_only && i < b->njobs; i++)
		if (apply_job(&a, &b->jobs[i]) == -1)
			goto fail;
	/* chains once every job of the file exists */
	for (size_t i = 0; !o->inventory_only && i < b->njobs; i++)
		if (apply_after(&a, &b->jobs[i]) == -1)
			goto fail;
	if (!o->inventory_only && !o->dry_run) {
		int cyc = check_after_cycles(&a, b, errs);
		if (cyc == -1)
			goto fail;
		if (cyc == 1) {
			yt_errors_sort(errs);
			(void)db_rollback(db, msg, sizeof(msg));
			return 1;
		}
	}
	if (!o->dry_run && st->schedules_created > 0 &&
	    q(&a, NULL, "SELECT pg_notify('pgfleet_wakeup', '')", 0, NULL) == -1)
		goto fail;
	if (o->dry_run)
		return db_rollback(db, err, errlen);
	return db_commit(db, err, errlen);
fail:
	(void)db_rollback(db, msg, sizeof(msg));
	return -1;
}
