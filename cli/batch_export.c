/*
 * batch_export: a job as a batch (cli/batch_export.h), written with libyaml's emitter:
 * scalars plain where they read back the same, scripts as literal blocks, times in UTC.
 */
#include "cli/batch_export.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <yaml.h>

#include "common/log.h"
#include "common/units.h"
#include "common/util.h"

struct em {
	yaml_emitter_t e;
	yaml_event_t ev;
	int failed;
};

static void
em_emit(struct em *m)
{
	if (!m->failed && !yaml_emitter_emit(&m->e, &m->ev))
		m->failed = 1;
	else if (m->failed)
		yaml_event_delete(&m->ev);
}

/* A scalar: plain where libyaml allows it, quoted when it would read back as null. */
static void
em_str(struct em *m, const char *s)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (s[0] == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
				     style);
	em_emit(m);
}

/* A script: a literal block when libyaml can keep it exact, else double quoted. */
static void
em_script(struct em *m, const char *s)
{
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
				     strchr(s, '\n') != NULL ? YAML_LITERAL_SCALAR_STYLE
							     : YAML_ANY_SCALAR_STYLE);
	em_emit(m);
}

static void
em_int(struct em *m, long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	em_str(m, buf);
}

static void
em_kv(struct em *m, const char *key, const char *value)
{
	if (value == NULL)
		return;
	em_str(m, key);
	em_str(m, value);
}

static void
em_start(struct em *m, int map, int flow)
{
	if (map)
		yaml_mapping_start_event_initialize(&m->ev, NULL, NULL, 1,
						    flow ? YAML_FLOW_MAPPING_STYLE
							 : YAML_BLOCK_MAPPING_STYLE);
	else
		yaml_sequence_start_event_initialize(&m->ev, NULL, NULL, 1,
						     flow ? YAML_FLOW_SEQUENCE_STYLE
							  : YAML_BLOCK_SEQUENCE_STYLE);
	em_emit(m);
}

static void
em_end(struct em *m, int map)
{
	if (map)
		yaml_mapping_end_event_initialize(&m->ev);
	else
		yaml_sequence_end_event_initialize(&m->ev);
	em_emit(m);
}

static void
em_names(struct em *m, const char *key, char *const *v, size_t n)
{
	if (n == 0)
		return;
	em_str(m, key);
	em_start(m, 0, 1);
	for (size_t i = 0; i < n; i++)
		em_str(m, v[i]);
	em_end(m, 0);
}

static void
em_time(struct em *m, const char *key, time_t t)
{
	char buf[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	em_str(m, key);
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)buf, (int)strlen(buf), 1, 1,
				     YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	em_emit(m);
}

/*
 * A copied file's content: its text, or, for bytes that are no text, content_base64 as a
 * literal block of 76-character lines (which read back as they are: the reader skips the
 * line breaks).
 */
static void
em_content(struct em *m, const struct batch_task *t)
{
	if (t->copy_bytes == NULL) {
		const char *s = t->script != NULL ? t->script : "";
		em_str(m, "content");
		if (s[0] == '\0')
			em_str(m, s); /* quoted: an empty plain scalar would read back as null */
		else
			em_script(m, s);
		return;
	}
	char *b64 = util_base64(t->copy_bytes, t->copy_len);
	size_t n = strlen(b64);
	char *lines = malloc(n + n / 76 + 2), *o = lines;
	if (lines == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < n; i += 76) {
		size_t k = n - i < 76 ? n - i : 76;
		memcpy(o, b64 + i, k);
		o += k;
		*o++ = '\n';
	}
	*o = '\0';
	em_str(m, "content_base64");
	em_script(m, lines);
	free(lines);
	free(b64);
}

static void
em_task(struct em *m, const struct batch_task *t)
{
	char buf[32];
	em_start(m, 1, 0);
	em_kv(m, "name", t->name);
	if (t->copy) {
		/* the content inline, as scripts are: the export stands alone */
		em_str(m, "copy");
		em_start(m, 1, 0);
		em_content(m, t);
		em_kv(m, "destination", t->copy_dest);
		snprintf(buf, sizeof(buf), "%04o", t->copy_mode);
		em_kv(m, "mode", buf);
		em_kv(m, "owner", t->copy_owner);
		em_end(m, 1);
	} else {
		em_str(m, "script");
		em_script(m, t->script != NULL ? t->script : "");
		em_kv(m, "interpreter", t->interpreter != NULL ? t->interpreter : "/bin/sh");
	}
	em_kv(m, "run_as", t->run_as);
	if (t->timeout_ms > 0) {
		units_format_duration(t->timeout_ms, buf, sizeof(buf));
		em_kv(m, "timeout", buf);
	}
	em_str(m, "success_codes");
	em_start(m, 0, 1);
	if (t->nsuccess_codes == 0)
		em_int(m, 0);
	for (size_t i = 0; i < t->nsuccess_codes; i++)
		em_int(m, t->success_codes[i]);
	em_end(m, 0);
	if (t->non_code > 0) {
		em_str(m, "on_code");
		em_start(m, 1, 1);
		for (size_t i = 0; i < t->non_code; i++) {
			em_int(m, t->on_code[i].code);
			em_str(m, batch_action_name(t->on_code[i].action));
		}
		em_end(m, 1);
	}
	em_kv(m, "on_failure", batch_action_name(t->on_failure));
	em_kv(m, "os_required", t->os_required);
	em_kv(m, "boot_env", t->boot_env);
	if (t->retries.count > 0) {
		em_str(m, "retries");
		em_start(m, 1, 1);
		em_str(m, "count");
		em_int(m, t->retries.count);
		units_format_duration(t->retries.backoff_ms, buf, sizeof(buf));
		em_kv(m, "backoff", buf);
		units_format_duration(t->retries.max_ms, buf, sizeof(buf));
		em_kv(m, "max", buf);
		if (t->retries.on_codes != NULL) {
			em_str(m, "on_codes");
			em_start(m, 0, 1);
			for (size_t i = 0; i < t->retries.non_codes; i++)
				em_int(m, t->retries.on_codes[i]);
			em_end(m, 0);
		}
		em_end(m, 1);
	}
	em_end(m, 1);
}

static void
em_targets(struct em *m, const struct batch_targets *t)
{
	em_str(m, "targets");
	em_start(m, 1, 0);
	em_names(m, "computers", t->computers, t->ncomputers);
	em_names(m, "groups", t->groups, t->ngroups);
	if (t->nlabels > 0) {
		em_str(m, "labels");
		em_start(m, 1, 1);
		for (size_t i = 0; i < t->nlabels; i++)
			em_kv(m, t->labels[i].key, t->labels[i].value);
		em_end(m, 1);
	}
	if (t->nfacts > 0) {
		em_str(m, "facts");
		em_start(m, 1, 1);
		for (size_t i = 0; i < t->nfacts; i++)
			em_kv(m, t->facts[i].key, t->facts[i].value);
		em_end(m, 1);
	}
	em_end(m, 1);
}

/* A wall-clock time, with its zone in brackets unless it is the schedule's timezone. */
static void
em_local_time(struct em *m, const char *key, time_t t, const char *zone, const char *sched_zone)
{
	char buf[128];
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (sched_zone == NULL || strcmp(zone, sched_zone) != 0)
		snprintf(buf + n, sizeof(buf) - n, "[%s]", zone);
	em_str(m, key);
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)buf, (int)strlen(buf), 1, 1,
				     YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	em_emit(m);
}

static void
em_schedule(struct em *m, const struct batch_schedule *s)
{
	char buf[32];

	em_str(m, "schedule");
	em_start(m, 1, 0);
	em_kv(m, "timezone", s->timezone);
	if (s->at_now)
		em_kv(m, "at", "now");
	else if (s->at_local)
		em_local_time(m, "at", s->at, s->at_zone, s->timezone);
	else
		em_time(m, "at", s->at);
	if (s->every_ms > 0) {
		units_format_duration(s->every_ms, buf, sizeof(buf));
		em_kv(m, "every", buf);
	}
	if (s->has_cron)
		em_kv(m, "cron", s->cron.text);
	if (s->splay_ms > 0) {
		units_format_duration(s->splay_ms, buf, sizeof(buf));
		em_kv(m, "splay", buf);
	}
	if (s->has_until && s->until_local)
		em_local_time(m, "until", s->until, s->until_zone, s->timezone);
	else if (s->has_until)
		em_time(m, "until", s->until);
	em_end(m, 1);
}

static void
em_rollout(struct em *m, const struct batch_rollout *r)
{
	char buf[32];

	if (r->max_concurrent <= 0 && r->max_failures < 0 && r->nwaves == 0)
		return;
	em_str(m, "rollout");
	em_start(m, 1, 0);
	if (r->max_concurrent > 0) {
		em_str(m, "max_concurrent");
		em_int(m, r->max_concurrent);
	}
	if (r->max_failures >= 0) {
		snprintf(buf, sizeof(buf), "%d%s", r->max_failures, r->max_failures_pct ? "%" : "");
		em_kv(m, "max_failures", buf);
	}
	if (r->nwaves > 0) {
		em_str(m, "waves");
		em_start(m, 0, 1);
		for (int i = 0; i < r->nwaves; i++) {
			snprintf(buf, sizeof(buf), "%d%s", r->waves[i], r->waves_pct[i] ? "%" : "");
			em_str(m, buf);
		}
		em_end(m, 0);
		if (r->pause_ms >= 0) {
			units_format_duration(r->pause_ms, buf, sizeof(buf));
			em_kv(m, "pause", buf);
		}
	}
	em_end(m, 1);
}

/* The batch: groups: [the groups the targets name], then jobs: [the job]. */
static void
em_batch(struct em *m, const struct batch_job *j)
{
	em_start(m, 1, 0);
	em_names(m, "groups", j->targets.groups, j->targets.ngroups);
	em_str(m, "jobs");
	em_start(m, 0, 0);
	em_start(m, 1, 0);
	em_kv(m, "name", j->name);
	em_kv(m, "description", j->description);
	em_str(m, "tasks");
	em_start(m, 0, 0);
	for (size_t i = 0; i < j->ntasks; i++)
		em_task(m, &j->tasks[i]);
	em_end(m, 0);
	if (j->has_targets) {
		em_targets(m, &j->targets);
		/* a chained job runs after another, not at a time of its own, unless it says so */
		if (j->nafter == 0 || j->has_schedule)
			em_schedule(m, &j->schedule);
		em_rollout(m, &j->rollout);
	}
	if (j->nwindows > 0)
		em_names(m, "windows", j->windows, j->nwindows);
	if (j->nafter > 0) {
		static const char *const on[] = {"success", "failure", "any"};
		em_str(m, "after");
		em_start(m, 0, 0);
		for (size_t i = 0; i < j->nafter; i++) {
			em_start(m, 1, 1);
			em_kv(m, "job", j->after[i].job);
			em_kv(m, "on", on[j->after[i].on]);
			em_kv(m, "scope", j->after[i].per_computer ? "computer" : "schedule");
			em_end(m, 1);
		}
		em_end(m, 0);
	}
	if (j->allow_defer > 0) {
		em_str(m, "allow_defer");
		em_int(m, j->allow_defer);
	}
	if (j->offline_wait_ms > 0 || j->offline_wake) {
		char buf[32];
		units_format_duration(j->offline_wait_ms, buf, sizeof(buf));
		em_str(m, "offline");
		em_start(m, 1, 1);
		if (j->offline_wait_ms > 0)
			em_kv(m, "wait", buf);
		if (j->offline_wake)
			em_kv(m, "wake", "true");
		em_end(m, 1);
	}
	em_end(m, 1);
	em_end(m, 0);
	em_end(m, 1);
}

int
batch_job_export(const struct batch_job *j, FILE *fp)
{
	struct em m;

	memset(&m, 0, sizeof(m));
	if (!yaml_emitter_initialize(&m.e))
		fatalx("batch: yaml emitter out of memory");
	yaml_emitter_set_output_file(&m.e, fp);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, 1 << 20);
	yaml_emitter_set_indent(&m.e, 2);
	yaml_stream_start_event_initialize(&m.ev, YAML_UTF8_ENCODING);
	em_emit(&m);
	yaml_document_start_event_initialize(&m.ev, NULL, NULL, NULL, 1);
	em_emit(&m);
	em_batch(&m, j);
	yaml_document_end_event_initialize(&m.ev, 1);
	em_emit(&m);
	yaml_stream_end_event_initialize(&m.ev);
	em_emit(&m);
	int rc = m.failed || !yaml_emitter_flush(&m.e) ? -1 : 0;
	yaml_emitter_delete(&m.e);
	return rc;
}
