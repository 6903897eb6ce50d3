/*
 * batch_canon: a job's canonical text (cli/batch_canon.h): every field on its own line,
 * strings as "key LEN:bytes", defaults filled in, so that two texts are equal exactly
 * when the jobs are. "pgfleet-job 1" and "pgfleet-plan 1" version the formats: a change
 * here changes every stored hash.
 */
#include "cli/batch_canon.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* "key LEN:bytes\n", or "key -\n" for NULL: unambiguous whatever the bytes are. */
static void
buf_str(struct util_buf *b, const char *key, const char *s)
{
	if (s == NULL) {
		util_buf_fmt(b, "%s -\n", key);
		return;
	}
	util_buf_fmt(b, "%s %zu:", key, strlen(s));
	util_buf_puts(b, s);
	util_buf_puts(b, "\n");
}

char *
batch_job_canon(const struct batch_job *j)
{
	struct util_buf b = {0};
	util_buf_puts(&b, "pgfleet-job 1\n");
	buf_str(&b, "name", j->name);
	util_buf_fmt(&b, "tasks %zu\n", j->ntasks);
	for (size_t i = 0; i < j->ntasks; i++) {
		const struct batch_task *t = &j->tasks[i];
		util_buf_fmt(&b, "task %zu\n", i);
		buf_str(&b, "name", t->name);
		buf_str(&b, "script", t->script);
		buf_str(&b, "interpreter", t->interpreter != NULL ? t->interpreter : "/bin/sh");
		buf_str(&b, "run_as", t->run_as);
		util_buf_fmt(&b, "timeout_ms %lld\n", t->timeout_ms);
		util_buf_puts(&b, "success_codes");
		if (t->nsuccess_codes == 0)
			util_buf_puts(&b, " 0");
		for (size_t k = 0; k < t->nsuccess_codes; k++)
			util_buf_fmt(&b, " %d", t->success_codes[k]);
		util_buf_puts(&b, "\non_code");
		for (size_t k = 0; k < t->non_code; k++)
			util_buf_fmt(&b, " %d=%s", t->on_code[k].code, batch_action_name(t->on_code[k].action));
		util_buf_fmt(&b, "\non_failure %s\n", batch_action_name(t->on_failure));
		buf_str(&b, "os_required", t->os_required);
		buf_str(&b, "boot_env", t->boot_env);
		/* written only when set: the tasks of older files hash as before */
		if (t->copy) {
			buf_str(&b, "copy_dest", t->copy_dest);
			util_buf_fmt(&b, "copy_mode %o\n", t->copy_mode);
		}
		if (t->copy_owner != NULL)
			buf_str(&b, "copy_owner", t->copy_owner);
		/* bytes that are no text (script is "-" then): their count and digest, so that the
		 * text stays text whatever they hold */
		if (t->copy_bytes != NULL) {
			char hex[65];
			if (util_sha256_hex(t->copy_bytes, t->copy_len, hex) == -1)
				fatalx("sha256 failed");
			util_buf_fmt(&b, "copy_content %zu sha256:%s\n", t->copy_len, hex);
		}
		if (t->retries.count > 0) {
			util_buf_fmt(&b, "retries %d %lld %lld", t->retries.count, t->retries.backoff_ms,
			    t->retries.max_ms);
			if (t->retries.on_codes == NULL)
				util_buf_puts(&b, " -");
			for (size_t k = 0; k < t->retries.non_codes; k++)
				util_buf_fmt(&b, " %d", t->retries.on_codes[k]);
			util_buf_puts(&b, "\n");
		}
	}
	return util_buf_take(&b);
}

char *
batch_job_plan_canon(const struct batch_job *j)
{
	struct util_buf b = {0};
	const struct batch_targets *t = &j->targets;
	const struct batch_schedule *s = &j->schedule;

	util_buf_puts(&b, "pgfleet-plan 1\n");
	util_buf_fmt(&b, "targets %d\n", j->has_targets);
	util_buf_fmt(&b, "computers %zu\n", t->ncomputers);
	for (size_t i = 0; i < t->ncomputers; i++)
		buf_str(&b, "computer", t->computers[i]);
	util_buf_fmt(&b, "groups %zu\n", t->ngroups);
	for (size_t i = 0; i < t->ngroups; i++)
		buf_str(&b, "group", t->groups[i]);
	util_buf_fmt(&b, "labels %zu\n", t->nlabels);
	for (size_t i = 0; i < t->nlabels; i++) {
		buf_str(&b, "key", t->labels[i].key);
		buf_str(&b, "value", t->labels[i].value);
	}
	/* only when set: the plans of batches written before facts keep their hash */
	if (t->nfacts > 0)
		util_buf_fmt(&b, "facts %zu\n", t->nfacts);
	for (size_t i = 0; i < t->nfacts; i++) {
		buf_str(&b, "path", t->facts[i].key);
		buf_str(&b, "cond", t->facts[i].value);
	}
	if (s->at_now)
		util_buf_puts(&b, "at now\n");
	else if (s->at_local) {
		util_buf_fmt(&b, "at local %lld\n", (long long)s->at);
		buf_str(&b, "at_zone", s->at_zone);
	} else
		util_buf_fmt(&b, "at %lld\n", (long long)s->at);
	util_buf_fmt(&b, "every_ms %lld\n", s->every_ms);
	buf_str(&b, "cron", s->has_cron ? s->cron.text : NULL);
	if (s->has_until && s->until_local) {
		util_buf_fmt(&b, "until local %lld\n", (long long)s->until);
		buf_str(&b, "until_zone", s->until_zone);
	} else if (s->has_until)
		util_buf_fmt(&b, "until %lld\n", (long long)s->until);
	else
		util_buf_puts(&b, "until -\n");
	/* keys added later are written only when set: the plans of older files hash as before */
	if (s->timezone != NULL)
		buf_str(&b, "timezone", s->timezone);
	if (s->splay_ms > 0)
		util_buf_fmt(&b, "splay_ms %lld\n", s->splay_ms);
	if (j->offline_wait_ms > 0)
		util_buf_fmt(&b, "offline_wait_ms %lld\n", j->offline_wait_ms);
	if (j->offline_wake)
		util_buf_puts(&b, "offline_wake 1\n");
	util_buf_fmt(&b, "max_concurrent %d\n", j->rollout.max_concurrent);
	if (j->rollout.max_failures < 0)
		util_buf_puts(&b, "max_failures -\n");
	else
		util_buf_fmt(&b, "max_failures %d%s\n", j->rollout.max_failures,
			j->rollout.max_failures_pct ? "%" : "");
	if (j->rollout.nwaves > 0) {
		util_buf_puts(&b, "waves");
		for (int i = 0; i < j->rollout.nwaves; i++)
			util_buf_fmt(&b, " %d%s", j->rollout.waves[i], j->rollout.waves_pct[i] ? "%" : "");
		util_buf_fmt(&b, "\npause_ms %lld\n", j->rollout.pause_ms);
	}
	return util_buf_take(&b);
}

int
batch_job_hash(const struct batch_job *j, char hex[65])
{
	char *c = batch_job_canon(j);
	int rc = util_sha256_hex(c, strlen(c), hex);
	free(c);
	return rc;
}

int
batch_job_plan_hash(const struct batch_job *j, char hex[65])
{
	char *c = batch_job_plan_canon(j);
	int rc = util_sha256_hex(c, strlen(c), hex);
	free(c);
	return rc;
}
