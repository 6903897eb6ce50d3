/*
 * Unit tests for cli/batch: a full batch loads with its values, every error
 * class is reported at its FILE:LINE:COL, all errors of a file come at once in
 * source order, hashes ignore layout but see task changes, export loads back
 * to the same hashes, and the shipped examples load cleanly.
 */
#include <check.h>
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/batch_canon.h"
#include "cli/batch_export.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-batch-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write dir/name with the given bytes; returns the path (static buffer). */
static const char *
wfile_n(const char *name, const char *text, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *slash = strrchr(path, '/');
	if (slash > path + strlen(dir)) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	fclose(fp);
	return path;
}

static const char *
wfile(const char *name, const char *text)
{
	return wfile_n(name, text, strlen(text));
}

/* Every error printed, with the temp dir cut from the file names. */
static char *
errors_text(const struct yt_errors *e)
{
	char *buf = NULL, prefix[80];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	yt_errors_print(e, fp);
	fclose(fp);
	snprintf(prefix, sizeof(prefix), "%s/", dir);
	for (char *p; (p = strstr(buf, prefix)) != NULL;)
		memmove(p, p + strlen(prefix), strlen(p + strlen(prefix)) + 1);
	return buf;
}

/* Load text as b.yaml; expect failure with exactly these error lines. */
static void
expect_errors(const char *text, const char *want)
{
	struct batch *b = (struct batch *)1;
	struct yt_errors e = {0};
	const char *path = wfile("b.yaml", text);
	ck_assert_int_eq(batch_load(path, &b, &e), -1);
	ck_assert_ptr_null(b);
	char *got = errors_text(&e);
	ck_assert_str_eq(got, want);
	free(got);
	yt_errors_free(&e);
}

/* Load text as name; expect success. */
static struct batch *
load_ok(const char *name, const char *text)
{
	struct batch *b = NULL;
	struct yt_errors e = {0};
	const char *path = text != NULL ? wfile(name, text) : name;
	int rc = batch_load(path, &b, &e);
	char *got = errors_text(&e);
	ck_assert_msg(rc == 0, "load failed:\n%s", got);
	ck_assert_str_eq(got, "");
	free(got);
	yt_errors_free(&e);
	return b;
}

static const char *patch_night =
	"# patch-night.yaml, from DESIGN.md\n"
	"computers:\n"
	"  - {name: web-01, host: 10.0.0.11, port: 4020, os: Linux, labels: {role: web, env: prod},\n"
	"     attrs: {serial: SN-1, domain: corp.example}, groups: [web]}\n"
	"  - name: web-02\n"
	"    ip: 10.0.0.12\n"
	"    mac: 52-54-00-AB-CD-EF\n"
	"    boot_env: Production\n"
	"    enabled: no\n"
	"    groups: [web, db, web]\n"
	"groups: [web, {name: db, description: Database servers}]\n"
	"jobs:\n"
	"  - name: patch-night/clean-tmp\n"
	"    description: Remove stale files from /tmp\n"
	"    tasks:\n"
	"      - script: |\n"
	"          echo \"cleaning %COMPNAME% (%ID%) at %AGENTIPADDR%\"\n"
	"          find /tmp -xdev -mtime +7 -delete\n"
	"        run_as: root\n"
	"        timeout: 10m\n"
	"      - script_file: scripts/check-disk.sh\n"
	"        name: check disk\n"
	"        interpreter: /bin/bash\n"
	"        success_codes: [3, 0]\n"
	"        on_code: {4: continue, -4: stop, 3010: success}\n"
	"        on_failure: stop       # stop | continue\n"
	"        os_required: Linux\n"
	"        boot_env: Production\n"
	"    targets: {groups: [web], labels: {env: prod}, computers: [db-01, web-01]}\n"
	"    schedule: {at: \"2026-12-01T02:00:00Z\", every: 1d, until: \"2027-01-01T00:00:00Z\"}\n"
	"    rollout: {max_concurrent: 200, max_failures: 5%}\n"
	"  - name: nightly\n"
	"    tasks: [{script: \"true\"}]\n"
	"    targets: {computers: [web-02]}\n"
	"    schedule: {cron: \"0  2 * * mon-fri\", at: \"2026-12-01T03:00:00+01:00\"}\n"
	"    rollout: {max_failures: 3}\n";

START_TEST(test_batch_loads_full_example_with_values)
{
	wfile("scripts/check-disk.sh", "#!/bin/bash\ndf -h /\n");
	struct batch *b = load_ok("patch-night.yaml", patch_night);

	ck_assert_uint_eq(b->ncomputers, 2);
	const struct batch_computer *c = &b->computers[0];
	ck_assert_str_eq(c->name, "web-01");
	ck_assert_str_eq(c->host, "10.0.0.11");
	ck_assert_int_eq(c->port, 4020);
	ck_assert_str_eq(c->os, "Linux");
	ck_assert_uint_eq(c->nlabels, 2);
	ck_assert_str_eq(c->labels[0].key, "env"); /* sorted by key */
	ck_assert_str_eq(c->labels[0].value, "prod");
	ck_assert_str_eq(c->labels[1].key, "role");
	ck_assert_str_eq(batch_attr(c, "serial"), "SN-1");
	ck_assert_str_eq(batch_attr(c, "domain"), "corp.example");
	ck_assert_ptr_null(batch_attr(c, "dept"));
	ck_assert_uint_eq(c->ngroups, 1);
	ck_assert_str_eq(c->groups[0], "web");
	ck_assert_int_eq(c->enabled, 1);
	ck_assert_int_eq(c->pos.line, 3);
	ck_assert_int_eq(c->pos.col, 12);
	c = &b->computers[1];
	ck_assert_str_eq(c->host, "web-02"); /* defaults to the name */
	ck_assert_int_eq(c->port, 0);
	ck_assert_str_eq(c->ip, "10.0.0.12");
	ck_assert_str_eq(c->mac, "52:54:00:ab:cd:ef");
	ck_assert_str_eq(c->boot_env, "Production");
	ck_assert_ptr_null(c->os);
	ck_assert_int_eq(c->enabled, 0);
	ck_assert_uint_eq(c->ngroups, 2); /* sorted, unique */
	ck_assert_str_eq(c->groups[0], "db");
	ck_assert_str_eq(c->groups[1], "web");

	ck_assert_uint_eq(b->ngroups, 2);
	ck_assert_str_eq(b->groups[0].name, "web");
	ck_assert_ptr_null(b->groups[0].description);
	ck_assert_str_eq(b->groups[1].name, "db");
	ck_assert_str_eq(b->groups[1].description, "Database servers");

	ck_assert_uint_eq(b->njobs, 2);
	const struct batch_job *j = &b->jobs[0];
	ck_assert_str_eq(j->name, "patch-night/clean-tmp");
	ck_assert_str_eq(j->description, "Remove stale files from /tmp");
	ck_assert_uint_eq(j->ntasks, 2);
	const struct batch_task *t = &j->tasks[0];
	ck_assert_str_eq(t->script, "echo \"cleaning %COMPNAME% (%ID%) at %AGENTIPADDR%\"\n"
				    "find /tmp -xdev -mtime +7 -delete\n");
	ck_assert_ptr_null(t->script_file);
	ck_assert_ptr_null(t->name);
	ck_assert_str_eq(t->interpreter, "/bin/sh");
	ck_assert_str_eq(t->run_as, "root");
	ck_assert_int_eq(t->timeout_ms, 600000);
	ck_assert_uint_eq(t->nsuccess_codes, 1);
	ck_assert_int_eq(t->success_codes[0], 0);
	ck_assert_uint_eq(t->non_code, 0);
	ck_assert_int_eq(t->on_failure, BATCH_STOP);
	t = &j->tasks[1];
	ck_assert_str_eq(t->name, "check disk");
	ck_assert_str_eq(t->script_file, "scripts/check-disk.sh");
	ck_assert_str_eq(t->script, "#!/bin/bash\ndf -h /\n");
	ck_assert_str_eq(t->interpreter, "/bin/bash");
	ck_assert_ptr_null(t->run_as);
	ck_assert_int_eq(t->timeout_ms, 0);
	ck_assert_uint_eq(t->nsuccess_codes, 2);
	ck_assert_int_eq(t->success_codes[0], 0);
	ck_assert_int_eq(t->success_codes[1], 3);
	ck_assert_uint_eq(t->non_code, 3); /* sorted by code */
	ck_assert_int_eq(t->on_code[0].code, -4);
	ck_assert_int_eq(t->on_code[0].action, BATCH_STOP);
	ck_assert_int_eq(t->on_code[1].code, 4);
	ck_assert_int_eq(t->on_code[1].action, BATCH_CONTINUE);
	ck_assert_int_eq(t->on_code[2].code, 3010);
	ck_assert_int_eq(t->on_code[2].action, BATCH_SUCCESS);
	ck_assert_str_eq(t->os_required, "Linux");
	ck_assert_str_eq(t->boot_env, "Production");
	ck_assert_int_eq(j->has_targets, 1);
	ck_assert_uint_eq(j->targets.ncomputers, 2);
	ck_assert_str_eq(j->targets.computers[0], "db-01");
	ck_assert_str_eq(j->targets.computers[1], "web-01");
	ck_assert_uint_eq(j->targets.ngroups, 1);
	ck_assert_str_eq(j->targets.groups[0], "web");
	ck_assert_uint_eq(j->targets.nlabels, 1);
	ck_assert_str_eq(j->targets.labels[0].key, "env");
	ck_assert_str_eq(j->targets.labels[0].value, "prod");
	ck_assert_int_eq(j->schedule.at_now, 0);
	ck_assert_int_eq((long long)j->schedule.at, 1796090400LL);
	ck_assert_int_eq(j->schedule.every_ms, 86400000LL);
	ck_assert_int_eq(j->schedule.has_cron, 0);
	ck_assert_int_eq(j->schedule.has_until, 1);
	ck_assert_int_eq((long long)j->schedule.until, 1798761600LL);
	ck_assert_int_eq(j->rollout.max_concurrent, 200);
	ck_assert_int_eq(j->rollout.max_failures, 5);
	ck_assert_int_eq(j->rollout.max_failures_pct, 1);
	ck_assert_ptr_nonnull(j->canon);
	ck_assert_ptr_nonnull(strstr(j->canon, "name 21:patch-night/clean-tmp\n"));
	ck_assert_ptr_nonnull(j->plan_canon);

	j = &b->jobs[1];
	ck_assert_uint_eq(j->ntasks, 1);
	ck_assert_str_eq(j->tasks[0].script, "true");
	ck_assert_int_eq(j->schedule.has_cron, 1);
	ck_assert_str_eq(j->schedule.cron.text, "0 2 * * mon-fri");
	ck_assert_int_eq((long long)j->schedule.at, 1796090400LL); /* 03:00+01:00 */
	ck_assert_int_eq(j->rollout.max_concurrent, 0);
	ck_assert_int_eq(j->rollout.max_failures, 3);
	ck_assert_int_eq(j->rollout.max_failures_pct, 0);

	/* db-01 is not declared here: apply checks it in the database, at its place */
	ck_assert_uint_eq(b->nrefs, 1);
	ck_assert_str_eq(b->refs[0].name, "db-01");
	ck_assert_uint_eq(b->refs[0].job, 0);
	ck_assert_int_eq(b->refs[0].pos.line, 29);
	ck_assert_int_eq(b->refs[0].pos.col, 63);
	ck_assert_ptr_nonnull(strstr(b->source, "patch-night.yaml, from DESIGN.md"));
	ck_assert_uint_eq(b->source_len, strlen(patch_night));
	batch_free(b);
}
END_TEST

START_TEST(test_batch_fills_defaults)
{
	struct batch *b = load_ok("d.yaml", "jobs:\n"
					    "  - name: j\n"
					    "    tasks: [{script: x}]\n"
					    "    targets: {labels: {env: test}}\n"
					    "  - name: defined-only\n"
					    "    tasks: [{script: y}]\n");
	const struct batch_job *j = &b->jobs[0];
	ck_assert_str_eq(j->tasks[0].interpreter, "/bin/sh");
	ck_assert_uint_eq(j->tasks[0].nsuccess_codes, 1);
	ck_assert_int_eq(j->tasks[0].success_codes[0], 0);
	ck_assert_int_eq(j->tasks[0].on_failure, BATCH_STOP);
	ck_assert_int_eq(j->tasks[0].timeout_ms, 0);
	ck_assert_int_eq(j->schedule.at_now, 1);
	ck_assert_int_eq(j->schedule.every_ms, 0);
	ck_assert_int_eq(j->schedule.has_cron, 0);
	ck_assert_int_eq(j->schedule.has_until, 0);
	ck_assert_int_eq(j->rollout.max_concurrent, 0);
	ck_assert_int_eq(j->rollout.max_failures, -1);
	ck_assert_int_eq(j->has_targets, 1);
	ck_assert_int_eq(b->jobs[1].has_targets, 0);
	ck_assert_uint_eq(b->nrefs, 0);
	batch_free(b);
}
END_TEST

START_TEST(test_batch_refuses_unknown_keys)
{
	expect_errors("computers:\n"
		      "  - name: a\n"
		      "    hots: x\n"
		      "jobz: []\n",
		      "b.yaml:3:5: unknown key \"hots\" in a computer (known: name, host, port, os, "
		      "boot_env, ip, mac, labels, attrs, groups, enabled, windows)\n"
		      "b.yaml:4:1: unknown key \"jobz\" in the batch (known: computers, groups, jobs, windows)\n");
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {script: x, retry: 3}\n"
		      "    targets: {computers: [a], hosts: [b]}\n"
		      "    schedule: {at: now, when: later}\n"
		      "    rollout: {max_concurent: 1}\n",
		      "b.yaml:4:21: unknown key \"retry\" in a task (known: name, script, script_file, "
		      "interpreter, run_as, timeout, success_codes, on_code, on_failure, os_required, "
		      "boot_env, retries, copy)\n"
		      "b.yaml:5:31: unknown key \"hosts\" in targets (known: computers, groups, labels, facts)\n"
		      "b.yaml:6:25: unknown key \"when\" in schedule (known: at, every, cron, until, timezone, splay)\n"
		      "b.yaml:7:15: unknown key \"max_concurent\" in rollout (known: max_concurrent, "
		      "max_failures, waves, pause)\n");
}
END_TEST

START_TEST(test_batch_refuses_duplicate_keys)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    name: k\n"
		      "    tasks: [{script: x}]\n"
		      "computers: [{name: a, labels: {x: 1, x: 2}}]\n",
		      "b.yaml:3:5: duplicate key \"name\" in a job\n"
		      "b.yaml:5:38: duplicate key \"x\" in labels\n");
}
END_TEST

START_TEST(test_batch_refuses_wrong_types)
{
	expect_errors("computers: {name: a}\n"
		      "groups: [[web]]\n"
		      "jobs:\n"
		      "  - name: [j]\n"
		      "    tasks: {script: x}\n"
		      "  - name: k\n"
		      "    description: {a: b}\n"
		      "    tasks: [{script: [x], run_as: {u: 1}}]\n"
		      "    targets: [a]\n"
		      "  - just a string\n",
		      "b.yaml:1:12: computers: expected a list, found a mapping\n"
		      "b.yaml:2:10: groups: expected a group name or a mapping {name, description}, "
		      "found a list\n"
		      "b.yaml:4:11: name: expected a string, found a list\n"
		      "b.yaml:5:12: tasks: expected a list, found a mapping\n"
		      "b.yaml:7:18: description: expected a string, found a mapping\n"
		      "b.yaml:8:22: script: expected a string, found a list\n"
		      "b.yaml:8:35: run_as: expected a string, found a mapping\n"
		      "b.yaml:9:14: targets: expected a mapping, found a list\n"
		      "b.yaml:10:5: a job: expected a mapping, found \"just a string\"\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_computer_values)
{
	expect_errors("computers:\n"
		      "  - {name: \"web 01\"}\n"
		      "  - {name: a, port: 70000, ip: 10.0.0.300, mac: 52:54:00, enabled: maybe}\n"
		      "  - {name: b, port: x, labels: {k: [1]}}\n"
		      "  - {host: c}\n",
		      "b.yaml:2:12: computer name \"web 01\": use 1 to 253 letters, digits, '.', '_' "
		      "or '-', starting with a letter or digit\n"
		      "b.yaml:3:21: port: 70000 is out of range 1..65535\n"
		      "b.yaml:3:32: ip \"10.0.0.300\" is not an IPv4 or IPv6 address\n"
		      "b.yaml:3:49: mac \"52:54:00\" is not a MAC address (example: 52:54:00:12:34:56)\n"
		      "b.yaml:3:68: enabled: \"maybe\" is not true or false\n"
		      "b.yaml:4:21: port: \"x\" is not an integer\n"
		      "b.yaml:4:36: labels: expected a string, found a list\n"
		      "b.yaml:5:5: computer: name is missing\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_duration)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {script: x, timeout: 10 minutes}\n"
		      "      - {script: x, timeout: 0}\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {every: 500ms}\n",
		      "b.yaml:4:30: timeout: \"10 minutes\" has an unknown duration unit (use ms, s, m, "
		      "h or d)\n"
		      "b.yaml:5:30: timeout: 0 is shorter than 1ms\n"
		      "b.yaml:7:23: every: 500ms is shorter than 1s\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_cron)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {cron: \"61 * * * *\"}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule:\n"
		      "      cron: 0 2 * *\n",
		      "b.yaml:5:22: cron \"61 * * * *\": minute 61 out of range 0-59\n"
		      "b.yaml:10:13: cron \"0 2 * *\": expected 5 fields (minute hour day-of-month "
		      "month day-of-week), found 4\n");
}
END_TEST

#define EXAMPLES "(examples: 2026-12-01T02:00:00Z, 2026-12-01T03:00:00+01:00, " \
		 "2026-12-01T03:00:00[Europe/Berlin])"

START_TEST(test_batch_refuses_bad_timestamps)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {at: tomorrow}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {at: \"2027-02-29T00:00:00Z\", every: 1h,\n"
		      "               until: \"2026-12-01T02:00:00\"}\n"
		      "  - name: l\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {at: \"1969-12-31T23:59:59Z\"}\n",
		      "b.yaml:5:20: at: \"tomorrow\" is not an RFC 3339 timestamp " EXAMPLES "\n"
		      "b.yaml:9:20: at: \"2027-02-29T00:00:00Z\" is not an RFC 3339 timestamp " EXAMPLES "\n"
		      "b.yaml:10:23: until: \"2026-12-01T02:00:00\" names no offset and the schedule no "
		      "timezone (add Z, +01:00 or [Europe/Berlin], or give timezone:)\n"
		      "b.yaml:14:20: at: \"1969-12-31T23:59:59Z\" is not an RFC 3339 timestamp " EXAMPLES "\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_schedule_combinations)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {every: 1h, cron: \"0 * * * *\"}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {until: \"2027-01-01T00:00:00Z\"}\n"
		      "  - name: l\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {at: \"2027-01-01T00:00:00Z\", every: 1d, until: "
		      "\"2027-01-01T00:00:00Z\"}\n"
		      "  - name: m\n"
		      "    tasks: [{script: x}]\n"
		      "    schedule: {at: now}\n"
		      "    rollout: {max_concurrent: 2}\n"
		      "  - name: n\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: []}\n",
		      "b.yaml:5:33: schedule: every and cron exclude each other (use one)\n"
		      "b.yaml:9:23: until: needs every or cron (a single run has no end)\n"
		      "b.yaml:13:62: until: \"2027-01-01T00:00:00Z\" is not after at\n"
		      "b.yaml:16:15: schedule: needs targets\n"
		      "b.yaml:17:14: rollout: needs targets\n"
		      "b.yaml:20:14: targets: name at least one computer, group, label or fact\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_rollout)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    rollout: {max_concurrent: 0, max_failures: 101%}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    rollout: {max_concurrent: many, max_failures: 5x}\n",
		      "b.yaml:5:31: max_concurrent: 0 is out of range 1..1000000\n"
		      "b.yaml:5:48: max_failures: \"101%\" is not a count (0-1000000) or a percentage "
		      "(0%-100%)\n"
		      "b.yaml:9:31: max_concurrent: \"many\" is not an integer\n"
		      "b.yaml:9:51: max_failures: \"5x\" is not a count (0-1000000) or a percentage "
		      "(0%-100%)\n");
}
END_TEST

START_TEST(test_batch_refuses_unknown_groups)
{
	expect_errors("groups: [web]\n"
		      "computers:\n"
		      "  - {name: a, groups: [web, dbs]}\n"
		      "jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {groups: [web, ghosts]}\n",
		      "b.yaml:3:29: group \"dbs\" is not declared in groups: of this file\n"
		      "b.yaml:7:29: group \"ghosts\" is not declared in groups: of this file\n");
}
END_TEST

START_TEST(test_batch_refuses_duplicate_names)
{
	expect_errors("groups: [web, db, {name: web}]\n"
		      "computers:\n"
		      "  - name: a\n"
		      "  - name: b\n"
		      "  - name: a\n"
		      "jobs:\n"
		      "  - {name: j, tasks: [{script: x}]}\n"
		      "  - {name: j, tasks: [{script: y}]}\n",
		      "b.yaml:1:26: duplicate group name \"web\" (first at 1:10)\n"
		      "b.yaml:5:11: duplicate computer name \"a\" (first at 3:11)\n"
		      "b.yaml:8:12: duplicate job name \"j\" (first at 7:12)\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_names)
{
	expect_errors("groups: [\" web\"]\n"
		      "jobs:\n"
		      "  - {name: /j, tasks: [{script: x}]}\n"
		      "  - {name: a//b, tasks: [{script: x}]}\n"
		      "  - {name: \"a\\tb\", tasks: [{script: x}]}\n"
		      "  - {tasks: [{script: x}]}\n",
		      "b.yaml:1:10: group name \" web\" begins or ends with a space\n"
		      "b.yaml:3:12: job name \"/j\": folders are separated by single '/', not at the "
		      "start or the end\n"
		      "b.yaml:4:12: job name \"a//b\": folders are separated by single '/', not at the "
		      "start or the end\n"
		      "b.yaml:5:12: job name \"a\tb\" holds a control character\n"
		      "b.yaml:6:5: job: name is missing\n");
}
END_TEST

START_TEST(test_batch_refuses_missing_or_double_script)
{
	wfile("there.sh", "echo hi\n");
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - run_as: root\n"
		      "      - script: echo a\n"
		      "        script_file: there.sh\n"
		      "      - script: \"\"\n",
		      "b.yaml:4:9: task needs script, script_file or copy\n"
		      "b.yaml:6:22: task has both script and script_file (use one)\n"
		      "b.yaml:7:17: script: the script is empty\n");
}
END_TEST

START_TEST(test_batch_refuses_missing_script_file)
{
	char want[512];
	snprintf(want, sizeof(want),
		 "b.yaml:4:22: script_file \"scripts/nope.sh\": cannot read "
		 "scripts/nope.sh: No such file or directory\n");
	/* the message names the resolved path too; the temp dir prefix is cut by errors_text */
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - script_file: scripts/nope.sh\n",
		      want);
}
END_TEST

START_TEST(test_batch_refuses_bad_script_file_content)
{
	wfile_n("nul.sh", "echo a\0b\n", 9);
	wfile("latin1.sh", "echo caf\xe9\n");
	wfile("empty.sh", "");
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - script_file: nul.sh\n"
		      "      - script_file: latin1.sh\n"
		      "      - script_file: empty.sh\n"
		      "      - script_file: \"\"\n"
		      "      - script_file: /dev/null\n"
		      "      - script_file: .\n",
		      "b.yaml:4:22: script_file \"nul.sh\": holds a NUL byte (a script is text)\n"
		      "b.yaml:5:22: script_file \"latin1.sh\": not UTF-8 text\n"
		      "b.yaml:6:22: script_file \"empty.sh\": the file is empty\n"
		      "b.yaml:7:22: script_file: the file name is empty\n"
		      "b.yaml:8:22: script_file \"/dev/null\": /dev/null is not a regular file\n"
		      "b.yaml:9:22: script_file \".\": . is not a regular file\n");
}
END_TEST

START_TEST(test_batch_refuses_empty_or_missing_task_list)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: []\n"
		      "  - name: k\n"
		      "    description: no tasks at all\n",
		      "b.yaml:3:12: tasks: the list is empty (a job runs at least one task)\n"
		      "b.yaml:4:5: job: tasks is missing (a job runs at least one task)\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_success_codes)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {script: x, success_codes: [0, 256, -1, x]}\n"
		      "      - {script: x, success_codes: []}\n"
		      "      - {script: x, success_codes: 0}\n",
		      "b.yaml:4:40: success_codes: 256 is out of range 0..255\n"
		      "b.yaml:4:45: success_codes: -1 is out of range 0..255\n"
		      "b.yaml:4:49: success_codes: \"x\" is not an integer\n"
		      "b.yaml:5:36: success_codes: the list is empty (the default is [0])\n"
		      "b.yaml:6:36: success_codes: expected a list, found \"0\"\n");
}
END_TEST

START_TEST(test_batch_refuses_bad_on_failure_and_on_code)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - script: x\n"
		      "        on_failure: halt\n"
		      "        on_code: {3: maybe, x: stop, 4: stop, 4: success}\n"
		      "        interpreter: bash\n",
		      "b.yaml:5:21: on_failure: \"halt\" is not stop or continue\n"
		      "b.yaml:6:22: on_code: \"maybe\" is not an action (use success, failure, continue "
		      "or stop)\n"
		      "b.yaml:6:29: on_code: \"x\" is not an integer\n"
		      "b.yaml:6:47: on_code: code 4 is given twice\n"
		      "b.yaml:7:22: interpreter \"bash\" must start with an absolute path (example: "
		      "/usr/bin/env python3)\n");
}
END_TEST

/* The values that reach the control protocol: "nobody\nx" once made the worker drop Run-As. */
START_TEST(test_batch_refuses_control_characters_in_values_that_reach_the_wire)
{
	expect_errors("computers:\n"
		      "  - {name: web-01, host: \"web\\x01\", os: \"Linux\\n\", boot_env: \"a\\tb\"}\n"
		      "jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - script: x\n"
		      "        run_as: \"nobody\\nx\"\n"
		      "        os_required: \"Linux\\r\"\n"
		      "        boot_env: \"Prod\\x7f\"\n"
		      "        interpreter: \"/bin/sh\\e\"\n",
		      "b.yaml:2:26: host \"web\\x01\" holds a control character (\\x01)\n"
		      "b.yaml:2:41: os \"Linux\\n\" holds a control character (\\n)\n"
		      "b.yaml:2:62: boot_env \"a\\tb\" holds a control character (\\t)\n"
		      "b.yaml:7:17: run_as \"nobody\\nx\" holds a control character (\\n)\n"
		      "b.yaml:8:22: os_required \"Linux\\r\" holds a control character (\\r)\n"
		      "b.yaml:9:19: boot_env \"Prod\\x7f\" holds a control character (\\x7f)\n"
		      "b.yaml:10:22: interpreter \"/bin/sh\\x1b\" holds a control character (\\x1b)\n");
}
END_TEST

START_TEST(test_batch_refuses_an_interpreter_of_17001_bytes_and_long_values)
{
	static const char head[] = "jobs:\n"
				   "  - name: j\n"
				   "    tasks:\n"
				   "      - script: x\n"
				   "        run_as: a-user-name-that-is-33-bytes-long\n"
				   "        os_required: ";
	char *text = malloc(40000), *p = text;
	p += sprintf(p, "%s", head);
	memset(p, 'L', 129);
	p += 129;
	p += sprintf(p, "\n        interpreter: /");
	memset(p, 'i', 17000);
	p += 17000;
	sprintf(p, "\n");
	struct batch *b = (struct batch *)1;
	struct yt_errors e = {0};
	ck_assert_int_eq(batch_load(wfile("b.yaml", text), &b, &e), -1);
	ck_assert_ptr_null(b);
	char *got = errors_text(&e);
	char want[1024], sixty[61];
	memset(sixty, 'L', 60);
	sixty[60] = '\0';
	snprintf(want, sizeof(want),
	    "b.yaml:5:17: run_as \"a-user-name-that-is-33-bytes-long\" is 33 bytes long, more than 32\n"
	    "b.yaml:6:22: os_required \"%s...\" is 129 bytes long, more than 128\n"
	    "b.yaml:7:22: interpreter \"/iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii...\" is 17001 "
	    "bytes long, more than 1024\n", sixty);
	ck_assert_str_eq(got, want);
	free(got);
	free(text);
	yt_errors_free(&e);
}
END_TEST

START_TEST(test_batch_accepts_an_interpreter_with_arguments)
{
	struct batch *b = load_ok("b.yaml", "jobs:\n"
					    "  - name: j\n"
					    "    tasks:\n"
					    "      - {script: x, interpreter: /usr/bin/env python3, run_as: deploy}\n");
	ck_assert_str_eq(b->jobs[0].tasks[0].interpreter, "/usr/bin/env python3");
	batch_free(b);
}
END_TEST

START_TEST(test_batch_reports_yaml_syntax_error)
{
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}\n"
		      "  - name: k\n",
		      "b.yaml:4:3: YAML syntax error: did not find expected ',' or ']' (while parsing "
		      "a flow sequence at 3:12)\n");
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      " bad: 1\n",
		      "b.yaml:3:2: YAML syntax error: did not find expected key (while parsing a "
		      "block mapping at 1:1)\n");
}
END_TEST

START_TEST(test_batch_refuses_invalid_utf8)
{
	expect_errors("jobs:\n  - name: caf\xc3\x28\n",
		      "b.yaml:2:15: YAML syntax error: invalid trailing UTF-8 octet\n");
}
END_TEST

START_TEST(test_batch_refuses_aliases)
{
	expect_errors("groups: &g [web]\n"
		      "computers:\n"
		      "  - {name: a, groups: *g}\n"
		      "jobs:\n"
		      "  - name: j\n"
		      "    tasks: &t [{script: x}]\n"
		      "  - name: k\n"
		      "    tasks: *t\n",
		      "b.yaml:1:9: groups: YAML anchor &g is not allowed\n"
		      "b.yaml:3:23: computers.groups: YAML alias *g is not allowed\n"
		      "b.yaml:6:12: jobs.tasks: YAML anchor &t is not allowed\n"
		      "b.yaml:8:12: jobs.tasks: YAML alias *t is not allowed\n");
}
END_TEST

START_TEST(test_batch_refuses_alias_bomb_quickly)
{
	/* the classic billion laughs: refused at its anchors and aliases, nothing expanded */
	expect_errors("groups: &a [a, b, c, d, e, f, g, h, i]\n"
		      "jobs: &b [*a, *a]\n",
		      "b.yaml:1:9: groups: YAML anchor &a is not allowed\n"
		      "b.yaml:2:7: jobs: YAML anchor &b is not allowed\n"
		      "b.yaml:2:11: jobs: YAML alias *a is not allowed\n"
		      "b.yaml:2:15: jobs: YAML alias *a is not allowed\n");
}
END_TEST

START_TEST(test_batch_refuses_inventory_values_off_their_grammar)
{
	expect_errors("computers:\n"
		      "  - {name: a, host: \"127.0.0.1;id\"}\n"
		      "  - {name: b, host: \"$(id).example\", ip: \"10.0.0.1;id\", mac: \"52:54:00:12:34:5g\"}\n"
		      "  - {name: c_1}\n"
		      "  - name: d\n"
		      "    attrs: {dept: \"ops\\nid\", email: \"ann@x;id\", domain: \"corp example\",\n"
		      "            contact: \"Ann $(id)\", serial: \"SN-1\", note: \"free\\ttext\"}\n",
		      "b.yaml:2:21: host \"127.0.0.1;id\" is neither a host name (RFC 1123: letters, "
		      "digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address\n"
		      "b.yaml:3:21: host \"$(id).example\" is neither a host name (RFC 1123: letters, "
		      "digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address\n"
		      "b.yaml:3:42: ip \"10.0.0.1;id\" is not an IPv4 or IPv6 address\n"
		      "b.yaml:3:62: mac \"52:54:00:12:34:5g\" is not a MAC address (example: "
		      "52:54:00:12:34:56)\n"
		      "b.yaml:4:12: computer \"c_1\": host is missing and the name is no host name "
		      "(RFC 1123: letters, digits and '-'); give host:\n"
		      "b.yaml:6:19: attrs: dept \"ops\\nid\" holds a control character (\\n)\n"
		      "b.yaml:6:37: attrs: email \"ann@x;id\" is not an e-mail address (example: "
		      "ann@corp.example)\n"
		      "b.yaml:6:57: attrs: domain \"corp example\" is not a DNS name (letters, digits, "
		      "'-' and '_' in dot-separated labels of 1 to 63)\n");
	/* free text with shell characters is data (the renderer quotes it); addresses of both kinds */
	struct batch *b = load_ok("ok.yaml", "computers:\n"
		      "  - {name: a, host: web-01.corp.example, ip: \"fe80::1\", mac: 52-54-00-AB-cd-EF,\n"
		      "     attrs: {dept: \"Ops $(id) 'x'\", email: \"o'brien+x@corp.example\", domain: _msdcs.corp}}\n"
		      "  - {name: b, host: \"2001:db8::7\"}\n"
		      "  - {name: c.example}\n");
	ck_assert_str_eq(b->computers[0].mac, "52:54:00:ab:cd:ef");
	ck_assert_str_eq(batch_attr(&b->computers[0], "dept"), "Ops $(id) 'x'");
	ck_assert_str_eq(b->computers[2].host, "c.example");
	batch_free(b);
}
END_TEST

/* A growing text buffer for generated batches. */
struct gen {
	char *p;
	size_t len;
	FILE *fp;
};

static void
gen_open(struct gen *g)
{
	g->p = NULL;
	g->len = 0;
	g->fp = open_memstream(&g->p, &g->len);
	ck_assert_ptr_nonnull(g->fp);
}

static char *
gen_close(struct gen *g)
{
	fclose(g->fp);
	return g->p;
}

/* Load text; expect failure with exactly the one error line want. */
static void
expect_one_error(const char *text, const char *want)
{
	expect_errors(text, want);
}

START_TEST(test_batch_refuses_more_tasks_than_the_limit)
{
	struct gen g;
	/* 1000 tasks load; the 1001st is refused where it is written */
	gen_open(&g);
	fprintf(g.fp, "jobs:\n  - name: many\n    tasks:\n");
	for (int i = 0; i < BATCH_MAX_TASKS; i++)
		fprintf(g.fp, "      - {script: \"echo %d\"}\n", i);
	char *text = gen_close(&g);
	struct batch *b = load_ok("ok.yaml", text);
	ck_assert_uint_eq(b->jobs[0].ntasks, BATCH_MAX_TASKS);
	batch_free(b);
	gen_open(&g);
	fprintf(g.fp, "%s      - {script: \"echo last\"}\n", text);
	free(text);
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:1004:9: tasks: more than 1000 tasks in one job (the limit; "
	    "split the job)\n");
	free(text);
	/* 10,000 tasks in one batch, all jobs together */
	gen_open(&g);
	fprintf(g.fp, "jobs:\n");
	for (int j = 0; j < 11; j++) {
		fprintf(g.fp, "  - name: j%d\n    tasks:\n", j);
		for (int i = 0; i < BATCH_MAX_TASKS; i++)
			fprintf(g.fp, "      - {script: x}\n");
	}
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:10024:7: tasks: more than 10000 tasks in one batch (the "
	    "limit; split the batch)\n");
	free(text);
}
END_TEST

START_TEST(test_batch_refuses_more_jobs_computers_groups_and_values_than_the_limits)
{
	struct gen g;
	char *text;

	gen_open(&g);
	fprintf(g.fp, "jobs:\n");
	for (int j = 0; j <= BATCH_MAX_JOBS; j++)
		fprintf(g.fp, "  - {name: j%d, tasks: [{script: x}]}\n", j);
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:1002:5: jobs: more than 1000 in one batch (the limit; split "
	    "the batch)\n");
	free(text);
	gen_open(&g);
	fprintf(g.fp, "computers:\n");
	for (int c = 0; c <= BATCH_MAX_COMPUTERS; c++)
		fprintf(g.fp, "  - {name: c%d}\n", c);
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:10002:5: computers: more than 10000 in one batch (the limit; "
	    "split the batch)\n");
	free(text);
	gen_open(&g);
	fprintf(g.fp, "groups:\n");
	for (int c = 0; c <= BATCH_MAX_GROUPS; c++)
		fprintf(g.fp, "  - g%d\n", c);
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:10002:5: groups: more than 10000 in one batch (the limit; "
	    "split the batch)\n");
	free(text);
	/* half a million values in one list: refused where the limit is passed */
	gen_open(&g);
	fprintf(g.fp, "groups: [");
	for (int c = 0; c < BATCH_MAX_NODES; c++)
		fprintf(g.fp, "a,");
	text = gen_close(&g);
	expect_one_error(text, "b.yaml:1:1000004: more than 500000 YAML nodes in one file (the "
	    "limit)\n");
	free(text);
}
END_TEST

START_TEST(test_batch_refuses_a_job_whose_scripts_pass_16_mib)
{
	size_t n = 1024 * 1024;
	char *s = malloc(n + 1);
	memset(s, 'x', n);
	s[n] = '\0';
	wfile("one-mib.sh", s);
	free(s);
	struct gen g;
	gen_open(&g);
	fprintf(g.fp, "jobs:\n  - name: big\n    tasks:\n");
	for (int i = 0; i < 17; i++)
		fprintf(g.fp, "      - {script_file: one-mib.sh}\n");
	char *text = gen_close(&g);
	expect_one_error(text, "b.yaml:20:9: tasks: the scripts of this job pass 16 MiB together "
	    "(the limit; split the job)\n");
	free(text);
}
END_TEST

START_TEST(test_batch_refuses_a_script_file_over_16_mib)
{
	/* a file of exactly the limit is a script; one byte more is refused where it is named */
	size_t n = BATCH_MAX_SCRIPT + 1;
	char *s = malloc(n);
	ck_assert_ptr_nonnull(s);
	memset(s, '#', n);
	s[n - 1] = '\n';
	wfile_n("big.sh", s, n);
	s[n - 2] = '\n';
	wfile_n("limit.sh", s, n - 1);
	free(s);
	struct batch *b = load_ok("ok.yaml", "jobs:\n"
					   "  - name: j\n"
					   "    tasks:\n"
					   "      - script_file: limit.sh\n");
	ck_assert_uint_eq(strlen(b->jobs[0].tasks[0].script), BATCH_MAX_SCRIPT);
	batch_free(b);
	expect_one_error("jobs:\n"
			 "  - name: j\n"
			 "    tasks:\n"
			 "      - script: echo first\n"
			 "      - script_file: big.sh\n",
			 "b.yaml:5:22: script_file \"big.sh\": larger than 16 MiB\n");
}
END_TEST

START_TEST(test_batch_refuses_yaml_tags)
{
	expect_errors("groups:\n"
		      "  - !!binary aGVsbG8=\n"
		      "  - !!python/object:os.system {name: x}\n"
		      "  - !local web\n"
		      "  - !!str db\n"
		      "jobs: !!seq []\n",
		      "b.yaml:2:5: groups: YAML tag !!binary is not allowed\n"
		      "b.yaml:3:5: groups: YAML tag !!python/object:os.system is not allowed\n"
		      "b.yaml:4:5: groups: YAML tag !local is not allowed\n"
		      "b.yaml:5:5: groups: YAML tag !!str is not allowed\n"
		      "b.yaml:6:7: jobs: YAML tag !!seq is not allowed\n");
}
END_TEST

START_TEST(test_batch_refuses_file_over_4_mib)
{
	size_t n = BATCH_MAX_FILE + 1;
	char *big = malloc(n);
	memset(big, '#', n);
	big[n - 1] = '\n';
	wfile_n("big.yaml", big, n);
	free(big);
	struct batch *b;
	struct yt_errors e = {0};
	char path[128];
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	ck_assert_int_eq(batch_load(path, &b, &e), -1);
	char *got = errors_text(&e);
	ck_assert_str_eq(got, "big.yaml: the file is larger than 4 MiB (the limit)\n");
	free(got);
	yt_errors_free(&e);
}
END_TEST

START_TEST(test_batch_refuses_unreadable_empty_and_odd_files)
{
	struct batch *b;
	struct yt_errors e = {0};
	char path[128];
	snprintf(path, sizeof(path), "%s/none.yaml", dir);
	ck_assert_int_eq(batch_load(path, &b, &e), -1);
	char *got = errors_text(&e);
	ck_assert_str_eq(got, "none.yaml: cannot open: No such file or directory\n");
	free(got);
	yt_errors_free(&e);

	expect_errors("", "b.yaml:1:1: the batch is empty (expected computers:, groups:, jobs: or windows:)\n");
	expect_errors("# only a comment\n",
		      "b.yaml:1:1: the batch is empty (expected computers:, groups:, jobs: or windows:)\n");
	expect_errors("- a\n- b\n", "b.yaml:1:1: the batch: expected a mapping of computers:, "
					"groups: and jobs:, found a list\n");
	expect_errors("groups: [a]\n---\ngroups: [b]\n",
		      "b.yaml:2:1: only one YAML document is allowed\n");
	expect_errors("groups: [\"a\\0b\"]\n", "b.yaml:1:10: groups: value contains a NUL character\n");
}
END_TEST

START_TEST(test_batch_refuses_deep_nesting)
{
	char text[400] = "groups: ";
	for (int i = 0; i < YT_MAX_DEPTH + 5; i++)
		strcat(text, "[");
	strcat(text, "\n");
	/* the batch itself is the first level: the 32nd '[' is one too many */
	expect_errors(text, "b.yaml:1:40: maps and lists nest deeper than 32 levels\n");
}
END_TEST

START_TEST(test_batch_reports_all_errors_in_source_order)
{
	/* groups: comes last, so the unknown-group check runs after the jobs were read */
	expect_errors("computers:\n"
		      "  - {name: a, groups: [nope], port: 0}\n"
		      "jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {script: x, timeout: soon}\n"
		      "      - {script_file: missing.sh, on_failure: retry}\n"
		      "    targets: {groups: [web, ghost], computers: [a, elsewhere]}\n"
		      "    schedule: {cron: \"* * * * * *\", every: 1x}\n"
		      "  - name: j\n"
		      "    tasks: []\n"
		      "groups: [web]\n"
		      "surprise: 1\n",
		      "b.yaml:2:24: group \"nope\" is not declared in groups: of this file\n"
		      "b.yaml:2:37: port: 0 is out of range 1..65535\n"
		      "b.yaml:6:30: timeout: \"soon\" is not a duration (examples: 500ms, 10s, 5m, 2h, "
		      "1d)\n"
		      "b.yaml:7:23: script_file \"missing.sh\": cannot read missing.sh: No such file "
		      "or directory\n"
		      "b.yaml:7:47: on_failure: \"retry\" is not stop or continue\n"
		      "b.yaml:8:29: group \"ghost\" is not declared in groups: of this file\n"
		      "b.yaml:9:22: schedule: every and cron exclude each other (use one)\n"
		      "b.yaml:9:22: cron \"* * * * * *\": expected 5 fields (minute hour day-of-month "
		      "month day-of-week), found 6\n"
		      "b.yaml:9:44: every: \"1x\" has an unknown duration unit (use ms, s, m, h or d)\n"
		      "b.yaml:10:11: duplicate job name \"j\" (first at 4:11)\n"
		      "b.yaml:11:12: tasks: the list is empty (a job runs at least one task)\n"
		      "b.yaml:13:1: unknown key \"surprise\" in the batch (known: computers, groups, "
		      "jobs, windows)\n");
}
END_TEST

START_TEST(test_batch_caps_the_number_of_errors)
{
	size_t n = YT_MAX_ERRORS + 5, len = 0;
	char *text = malloc(n * 16 + 16);
	len += (size_t)sprintf(text, "groups:\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "  - \" g%zu\"\n", i);
	struct batch *b;
	struct yt_errors e = {0};
	ck_assert_int_eq(batch_load(wfile("b.yaml", text), &b, &e), -1);
	free(text);
	ck_assert_uint_eq(e.n, YT_MAX_ERRORS);
	ck_assert_uint_eq(e.dropped, 5);
	char *got = errors_text(&e);
	ck_assert_ptr_nonnull(strstr(got, "\nb.yaml: 5 more errors not shown\n"));
	free(got);
	yt_errors_free(&e);
}
END_TEST

/* Hashes of job i loaded from text. */
static void
hashes(const char *text, size_t i, char job[65], char plan[65])
{
	struct batch *b = load_ok("h.yaml", text);
	ck_assert_uint_gt(b->njobs, i);
	ck_assert_int_eq(batch_job_hash(&b->jobs[i], job), 0);
	ck_assert_int_eq(batch_job_plan_hash(&b->jobs[i], plan), 0);
	batch_free(b);
}

static const char *base =
	"groups: [web]\n"
	"jobs:\n"
	"  - name: j\n"
	"    description: one\n"
	"    tasks:\n"
	"      - script: |\n"
	"          echo a\n"
	"        timeout: 10m\n"
	"        success_codes: [0, 3]\n"
	"        on_code: {4: continue, 5: stop}\n"
	"    targets: {groups: [web], computers: [b, a]}\n"
	"    schedule: {cron: \"0 2 * * *\"}\n"
	"    rollout: {max_failures: 5%}\n";

START_TEST(test_batch_hash_ignores_layout_comments_order_and_defaults)
{
	char j1[65], p1[65], j2[65], p2[65];
	hashes(base, 0, j1, p1);
	ck_assert_uint_eq(strlen(j1), 64);
	hashes("# the same job, written differently\n"
	       "jobs:\n"
	       "  - rollout:\n"
	       "      max_failures: \"5%\"\n"
	       "    schedule:\n"
	       "      at: now             # the default\n"
	       "      cron: 0   2 * * *\n"
	       "    targets:\n"
	       "      computers: [a, b, a]\n"
	       "      groups: [web]\n"
	       "    tasks:\n"
	       "      - on_code: {5: stop, 4: continue}\n"
	       "        success_codes: [3, 0, 3]\n"
	       "        timeout: 600s\n"
	       "        interpreter: /bin/sh\n"
	       "        on_failure: stop\n"
	       "        script: \"echo a\\n\"\n"
	       "    description: the description is not part of the hash\n"
	       "    name: 'j'\n"
	       "groups:\n"
	       "  - name: web\n"
	       "    description: web servers\n",
	       0, j2, p2);
	ck_assert_str_eq(j1, j2);
	ck_assert_str_eq(p1, p2);
}
END_TEST

START_TEST(test_batch_hash_changes_with_a_task_change)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"echo a\n", "echo b\n"},
		{"timeout: 10m", "timeout: 11m"},
		{"[0, 3]", "[0, 4]"},
		{"4: continue", "4: success"},
		{"        timeout: 10m\n", "        timeout: 10m\n        run_as: root\n"},
		{"        timeout: 10m\n", "        timeout: 10m\n        interpreter: /bin/bash\n"},
		{"        timeout: 10m\n", "        timeout: 10m\n        on_failure: continue\n"},
		{"        timeout: 10m\n", "        timeout: 10m\n        os_required: Linux\n"},
		{"        timeout: 10m\n", "        timeout: 10m\n      - script: echo c\n"},
		{"name: j\n", "name: j2\n"},
	};
	char j1[65], p1[65], j2[65], p2[65], text[2048];
	hashes(base, 0, j1, p1);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(base, edits[i].from);
		ck_assert_ptr_nonnull(at);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, edits[i].to,
			 at + strlen(edits[i].from));
		hashes(text, 0, j2, p2);
		ck_assert_msg(strcmp(j1, j2) != 0, "edit %zu left the job hash unchanged", i);
	}
	/* a schedule change is a plan change, not a new job version */
	const char *at = strstr(base, "0 2 * * *");
	snprintf(text, sizeof(text), "%.*s0 3 * * *%s", (int)(at - base), base, at + 9);
	hashes(text, 0, j2, p2);
	ck_assert_str_eq(j1, j2);
	ck_assert_str_ne(p1, p2);
}
END_TEST

/* Export job i of b, load the export, compare both hashes. */
static void
roundtrip(const struct batch *b, size_t i)
{
	char *buf = NULL;
	size_t len = 0;
	char j1[65], p1[65], j2[65], p2[65];
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_int_eq(batch_job_export(&b->jobs[i], fp), 0);
	fclose(fp);
	struct batch *c = load_ok("export.yaml", buf);
	ck_assert_uint_eq(c->njobs, 1);
	ck_assert_int_eq(batch_job_hash(&b->jobs[i], j1), 0);
	ck_assert_int_eq(batch_job_plan_hash(&b->jobs[i], p1), 0);
	ck_assert_int_eq(batch_job_hash(&c->jobs[0], j2), 0);
	ck_assert_int_eq(batch_job_plan_hash(&c->jobs[0], p2), 0);
	ck_assert_msg(strcmp(j1, j2) == 0, "job hash differs after export:\n%s", buf);
	ck_assert_msg(strcmp(p1, p2) == 0, "plan hash differs after export:\n%s", buf);
	ck_assert_str_eq(b->jobs[i].canon, c->jobs[0].canon);
	batch_free(c);
	free(buf);
}

START_TEST(test_batch_export_loads_back_to_the_same_hash)
{
	wfile("scripts/check-disk.sh", "#!/bin/bash\ndf -h /\n");
	struct batch *b = load_ok("patch-night.yaml", patch_night);
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	batch_free(b);

	/*
	 * scripts that a careless emitter would change (the schedule's times are only read and
	 * written back: the loader compares until with at, never with the clock)
	 */
	b = load_ok("tricky.yaml",
		    "jobs:\n"
		    "  - name: \"odd: names/and #things\"\n"
		    "    description: \"null\"\n"
		    "    tasks:\n"
		    "      - {name: \"~\", script: \"  leading spaces\\n\\tand a tab\\n\"}\n"
		    "      - {name: \"\", script: \"no trailing newline\"}\n"
		    "      - script: \"two trailing newlines\\n\\n\"\n"
		    "      - script: \"trailing spaces   \\nnext\\n\"\n"
		    "      - script: \"crlf\\r\\nline\\r\\n\"\n"
		    "      - script: \"\\n\\nleading blank lines\\n\"\n"
		    "      - script: \"quotes ' \\\" and \\\\ and %%TOKEN%% and caf\\u00e9 \\u2603\\n\"\n"
		    "      - script: \"- looks like a list\\n\"\n"
		    "      - script: \"key: value\"\n"
		    "      - script: \"bell \\a and escape \\e\\n\"\n"
		    "        on_code: {-1: continue, 2147483647: success}\n"
		    "        timeout: 1500ms\n"
		    "    targets: {labels: {\"k:1\": \"\", env: \"null\"}}\n"
		    "    schedule: {at: \"2026-12-01T02:00:00.750+05:30\", cron: \"@daily\",\n"
		    "               until: \"2030-01-01T00:00:00Z\"}\n"
		    "    rollout: {max_concurrent: 1, max_failures: 0}\n");
	roundtrip(b, 0);
	batch_free(b);
}
END_TEST

START_TEST(test_batch_reads_time_zones_and_wall_clock_times)
{
	struct batch *b = load_ok("tz.yaml",
				  "jobs:\n"
				  "  - name: nightly\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    schedule: {cron: \"30 3 * * *\", timezone: Europe/Berlin,\n"
				  "               at: \"2026-12-01T00:00:00\", until: \"2027-06-01T00:00:00[UTC]\"}\n"
				  "  - name: once\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    schedule: {at: \"2026-03-29T02:30:00[Europe/Berlin]\"}\n"
				  "  - name: offset\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    schedule: {at: \"2026-03-29T02:30:00+01:00\"}\n");
	const struct batch_schedule *s = &b->jobs[0].schedule;
	ck_assert_str_eq(s->timezone, "Europe/Berlin");
	ck_assert_int_eq(s->at_local, 1);
	ck_assert_str_eq(s->at_zone, "Europe/Berlin");
	ck_assert_int_eq((long long)s->at, 1796083200LL); /* the wall-clock fields read as UTC */
	ck_assert_int_eq(s->until_local, 1);
	ck_assert_str_eq(s->until_zone, "UTC");
	ck_assert_ptr_nonnull(strstr(b->jobs[0].plan_canon, "timezone 13:Europe/Berlin\n"));
	s = &b->jobs[1].schedule;
	ck_assert_ptr_null(s->timezone);
	ck_assert_str_eq(s->at_zone, "Europe/Berlin");
	s = &b->jobs[2].schedule;
	ck_assert_int_eq(s->at_local, 0);
	ck_assert_int_eq((long long)s->at, 1774747800LL); /* 01:30 UTC */
	/* a plan without the new keys hashes as before they existed */
	ck_assert_ptr_null(strstr(b->jobs[2].plan_canon, "timezone"));
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	batch_free(b);

	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {cron: \"0 2 * * *\", timezone: \"Europe//Berlin\"}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {at: \"2026-12-01T02:00:00+01:00[Europe/Berlin]\"}\n"
		      "  - name: l\n"
		      "    tasks: [{script: x}]\n"
		      "    targets: {computers: [a]}\n"
		      "    schedule: {timezone: Europe/Berlin, cron: \"0 2 * * *\",\n"
		      "               at: \"2026-12-01T02:00:00\", until: \"2026-11-01T00:00:00\"}\n",
		      "b.yaml:5:45: timezone: \"Europe//Berlin\" is not a time zone name (examples: "
		      "Europe/Berlin, America/New_York, UTC)\n"
		      "b.yaml:9:20: at: \"2026-12-01T02:00:00+01:00[Europe/Berlin]\": give an offset or a "
		      "zone, not both\n"
		      "b.yaml:14:50: until: \"2026-11-01T00:00:00\" is not after at\n");
}
END_TEST

START_TEST(test_batch_reads_retries_of_tasks_and_jobs)
{
	struct batch *b = load_ok("r.yaml",
				  "jobs:\n"
				  "  - name: j\n"
				  "    retries: {count: 2, backoff: 5s}\n"
				  "    tasks:\n"
				  "      - {script: a}\n"
				  "      - {script: b, retries: {count: 3, backoff: 30s, max: 10m,\n"
				  "                              on_codes: [1, -25, 1]}}\n"
				  "      - {script: c, retries: {count: 0}}\n"
				  "  - name: k\n"
				  "    tasks: [{script: d, retries: {count: 1, backoff: 1h}}]\n"
				  "  - name: plain\n"
				  "    tasks: [{script: e}]\n");
	const struct batch_job *j = &b->jobs[0];
	ck_assert_int_eq(j->tasks[0].retries.count, 2); /* the job's */
	ck_assert_int_eq(j->tasks[0].retries.backoff_ms, 5000);
	ck_assert_int_eq(j->tasks[0].retries.max_ms, 600000);
	ck_assert_ptr_null(j->tasks[0].retries.on_codes);
	ck_assert_int_eq(j->tasks[1].retries.count, 3);
	ck_assert_uint_eq(j->tasks[1].retries.non_codes, 2);
	ck_assert_int_eq(j->tasks[1].retries.on_codes[0], -25);
	ck_assert_int_eq(j->tasks[1].retries.on_codes[1], 1);
	ck_assert_int_eq(j->tasks[2].retries.count, 0); /* its own count: 0 wins over the job's */
	ck_assert_ptr_nonnull(strstr(j->canon, "retries 3 30000 600000 -25 1\n"));
	ck_assert_ptr_nonnull(strstr(j->canon, "retries 2 5000 600000 -\n"));
	/* a backoff past the default max raises max with it */
	ck_assert_int_eq(b->jobs[1].tasks[0].retries.max_ms, 3600000);
	/* a task without retries hashes as before retries existed */
	ck_assert_ptr_null(strstr(b->jobs[2].canon, "retries"));
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	batch_free(b);

	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {script: a, retries: {backoff: 5s}}\n"
		      "      - {script: b, retries: {count: 101}}\n"
		      "      - {script: c, retries: {count: 1, backoff: 1m, max: 30s}}\n"
		      "      - {script: d, retries: {count: 1, on_codes: [-8, x]}}\n"
		      "      - {script: e, retries: {count: 1, on_codes: []}}\n"
		      "      - {script: f, retries: {count: 1, backoff: 500ms}}\n",
		      "b.yaml:4:30: retries: count is missing (how many times a failed task runs again)\n"
		      "b.yaml:5:38: count: 101 is out of range 0..100\n"
		      "b.yaml:6:59: max: 30s is shorter than backoff\n"
		      "b.yaml:7:52: on_codes: -8 (cancelled by an operator) is never retried\n"
		      "b.yaml:7:56: on_codes: \"x\" is not an integer\n"
		      "b.yaml:8:51: on_codes: give 1 to 256 codes (absent: every failure a retry can "
		      "change)\n"
		      "b.yaml:9:50: backoff: 500ms is shorter than 1s\n");
}
END_TEST

START_TEST(test_batch_reads_copy_tasks_offline_waits_and_waves)
{
	wfile("files/app.conf", "port = 8080\n");
	struct batch *b = load_ok("c.yaml",
				  "jobs:\n"
				  "  - name: deploy\n"
				  "    tasks:\n"
				  "      - copy: {source: files/app.conf, destination: /etc/app/app.conf, mode: \"0640\"}\n"
				  "      - copy: {content: \"x\\n\", destination: /etc/app/x}\n"
				  "      - script: systemctl reload app\n"
				  "    targets: {computers: [a]}\n"
				  "    offline: {wait: 2h}\n"
				  "    rollout: {waves: [\"1\", \"10%\", \"100%\"], pause: 10m, max_failures: 2%}\n"
				  "    after: {job: build, on: any, scope: computer}\n");
	const struct batch_job *j = &b->jobs[0];
	ck_assert_int_eq(j->tasks[0].copy, 1);
	ck_assert_str_eq(j->tasks[0].script, "port = 8080\n");
	ck_assert_str_eq(j->tasks[0].copy_dest, "/etc/app/app.conf");
	ck_assert_int_eq(j->tasks[0].copy_mode, 0640);
	ck_assert_int_eq(j->tasks[1].copy_mode, 0644);
	ck_assert_int_eq(j->tasks[2].copy, 0);
	ck_assert_int_eq(j->offline_wait_ms, 7200000);
	ck_assert_int_eq(j->rollout.nwaves, 3);
	ck_assert_int_eq(j->rollout.waves[1], 10);
	ck_assert_int_eq(j->rollout.waves_pct[1], 1);
	ck_assert_int_eq(j->rollout.pause_ms, 600000);
	ck_assert_uint_eq(j->nafter, 1);
	ck_assert_int_eq(j->after[0].on, BATCH_AFTER_ANY);
	ck_assert_int_eq(j->after[0].per_computer, 1);
	ck_assert_ptr_nonnull(strstr(j->canon, "copy_dest 17:/etc/app/app.conf\ncopy_mode 640\n"));
	ck_assert_ptr_null(strstr(j->canon, "copy_owner"));
	roundtrip(b, 0);
	batch_free(b);

	/* owner: a user name as run_as, part of the task (written only when set), exported */
	b = load_ok("o.yaml", "jobs:\n  - name: own\n    tasks:\n"
		    "      - copy: {content: x, destination: /etc/app/x, owner: www-data}\n");
	ck_assert_str_eq(b->jobs[0].tasks[0].copy_owner, "www-data");
	ck_assert_ptr_nonnull(strstr(b->jobs[0].canon, "copy_mode 644\ncopy_owner 8:www-data\n"));
	roundtrip(b, 0);
	batch_free(b);
	expect_errors("jobs:\n  - name: own\n    tasks:\n"
		      "      - copy: {content: x, destination: /etc/app/x, owner: \"www\\tdata\"}\n",
		      "b.yaml:4:60: owner \"www\\tdata\" holds a control character (\\t)\n");

	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {copy: {content: x, destination: etc/x}}\n"
		      "      - {copy: {content: x, destination: /etc/../x}}\n"
		      "      - {copy: {content: x, destination: /etc/x, mode: \"999\"}}\n"
		      "      - {script: x, copy: {content: x, destination: /etc/x}}\n"
		      "      - {copy: {destination: /etc/x}}\n"
		      "    offline: {wait: 0s}\n",
		      "b.yaml:4:42: destination: \"etc/x\" is not an absolute file path (no . or .. part, no "
		      "trailing /, no control character, at most 1024 bytes)\n"
		      "b.yaml:5:42: destination: \"/etc/../x\" is not an absolute file path (no . or .. part, "
		      "no trailing /, no control character, at most 1024 bytes)\n"
		      "b.yaml:6:56: mode: \"999\" is not an octal mode (0644, 0755, 0600)\n"
		      "b.yaml:7:27: copy: a copy-file task has no script, script_file or interpreter\n"
		      "b.yaml:8:16: copy: give source (a file read now), content or content_base64, one "
		      "of them\n"
		      "b.yaml:9:21: wait: 0s is shorter than 1s\n");
}
END_TEST

/* A file that is no text (a NUL, invalid UTF-8) is copied as bytes: script NULL, its digest in
 * the canonical text, content_base64 in the export, which loads back to the same hash. */
START_TEST(test_batch_reads_binary_copy_sources)
{
	static const char bin[] = {'\x7f', 'E', 'L', 'F', '\0', '\xff', '\xfe', '\xc3', '(', '\n'};
	wfile_n("files/app.bin", bin, sizeof(bin));
	struct batch *b = load_ok("c.yaml",
				  "jobs:\n"
				  "  - name: deploy\n"
				  "    tasks:\n"
				  "      - copy: {source: files/app.bin, destination: /opt/app/app.bin, mode: \"0755\"}\n"
				  "      - copy: {content_base64: \"aGk=\", destination: /opt/app/hi}\n"
				  "      - copy: {content_base64: \"AP/+\\nAA==\", destination: /opt/app/z}\n");
	const struct batch_task *t = b->jobs[0].tasks;
	ck_assert_ptr_null(t[0].script);
	ck_assert_uint_eq(t[0].copy_len, sizeof(bin));
	ck_assert_int_eq(memcmp(t[0].copy_bytes, bin, sizeof(bin)), 0);
	/* text given as base64 is text: the same task as content: "hi" */
	ck_assert_str_eq(t[1].script, "hi");
	ck_assert_ptr_null(t[1].copy_bytes);
	ck_assert_uint_eq(t[2].copy_len, 4);
	ck_assert_ptr_nonnull(strstr(b->jobs[0].canon, "task 0\nname -\nscript -\n"));
	ck_assert_ptr_nonnull(strstr(b->jobs[0].canon, "copy_content 10 sha256:"));
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_int_eq(batch_job_export(&b->jobs[0], fp), 0);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(buf, "content_base64: |\n"));
	free(buf);
	roundtrip(b, 0);
	batch_free(b);

	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - {copy: {content_base64: \"Zg=\", destination: /etc/x}}\n"
		      "      - {copy: {content: x, content_base64: eA==, destination: /etc/x}}\n"
		      "      - {copy: {source: nope.bin, destination: /etc/x}}\n",
		      "b.yaml:4:33: content_base64: not base64 (RFC 4648, padded; blanks and line breaks "
		      "are skipped)\n"
		      "b.yaml:5:16: copy: give source (a file read now), content or content_base64, one "
		      "of them\n"
		      "b.yaml:6:25: source \"nope.bin\": cannot read nope.bin: No such file or directory\n");
}
END_TEST

/* A folder becomes one copy task per file, sorted by path, in the folder task's place, each
 * with the folder's settings; links and special files in it are refused at the source. */
START_TEST(test_batch_expands_copied_folders)
{
	static const char bin[] = {'\0', '\xff'};
	wfile("conf.d/b.conf", "b\n");
	wfile("conf.d/a.conf", "a\n");
	wfile("conf.d/sub/x.conf", "");
	wfile_n("conf.d/sub/y.bin", bin, sizeof(bin));
	struct batch *b = load_ok("t.yaml",
				  "jobs:\n"
				  "  - name: tree\n"
				  "    tasks:\n"
				  "      - script: echo before\n"
				  "      - copy: {source: conf.d/, destination: /etc/app/conf.d, mode: \"0640\"}\n"
				  "        run_as: app\n"
				  "      - script: echo after\n");
	const struct batch_job *j = &b->jobs[0];
	ck_assert_uint_eq(j->ntasks, 6);
	static const char *const dest[] = {"/etc/app/conf.d/a.conf", "/etc/app/conf.d/b.conf",
	    "/etc/app/conf.d/sub/x.conf", "/etc/app/conf.d/sub/y.bin"};
	for (size_t i = 0; i < 4; i++) {
		const struct batch_task *t = &j->tasks[i + 1];
		ck_assert_str_eq(t->copy_dest, dest[i]);
		ck_assert_int_eq(t->copy_mode, 0640);
		ck_assert_str_eq(t->run_as, "app");
		ck_assert_uint_eq(t->ntree, 0);
	}
	ck_assert_str_eq(j->tasks[1].copy_source, "conf.d/a.conf");
	ck_assert_str_eq(j->tasks[1].script, "a\n");
	ck_assert_str_eq(j->tasks[3].script, "");
	ck_assert_uint_eq(j->tasks[4].copy_len, 2);
	ck_assert_str_eq(j->tasks[5].script, "echo after");
	roundtrip(b, 0);
	batch_free(b);

	char link[512];
	snprintf(link, sizeof(link), "%s/conf.d/sub/link", dir);
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - copy: {source: conf.d, destination: /etc/app}\n"
		      "      - copy: {source: conf.d/sub/x.conf, destination: /etc/x, checksum: x}\n"
		      "      - copy: {source: empty.d, destination: /etc/app}\n",
		      "b.yaml:4:24: source \"conf.d\": sub/link is a symbolic link (links in a copied "
		      "folder are not followed)\n"
		      "b.yaml:5:74: checksum: \"x\" is not sha256: and 64 hex digits\n"
		      "b.yaml:6:24: source \"empty.d\": cannot read empty.d: No such file or directory\n");
	ck_assert_int_eq(unlink(link), 0);
	char fifo[512];
	snprintf(fifo, sizeof(fifo), "%s/conf.d/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(link, sizeof(link), "%s/empty.d", dir);
	ck_assert_int_eq(mkdir(link, 0700), 0);
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - copy: {source: conf.d, destination: /etc/app, checksum: \"sha256:0\"}\n"
		      "      - copy: {source: empty.d/, destination: /etc/app}\n",
		      "b.yaml:4:24: source \"conf.d\": fifo is neither a regular file nor a folder\n"
		      "b.yaml:5:24: source \"empty.d/\": the folder holds no file\n");
	ck_assert_int_eq(unlink(fifo), 0);
	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks:\n"
		      "      - copy: {source: conf.d, destination: /etc/app, checksum: \"sha256:0\"}\n",
		      "b.yaml:4:65: checksum: goes with one file; source \"conf.d\" is a folder\n");
}
END_TEST

/* checksum: the content read at submit must have it, in either case; else refused at its place. */
START_TEST(test_batch_checks_copy_checksums)
{
	/* sha256("hi") */
	static const char *hi = "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4";
	char yaml[1024];
	wfile("hi.txt", "hi");
	snprintf(yaml, sizeof(yaml),
		 "jobs:\n"
		 "  - name: j\n"
		 "    tasks:\n"
		 "      - copy: {source: hi.txt, destination: /etc/hi, checksum: \"sha256:%s\"}\n"
		 "      - copy: {content_base64: aGk=, destination: /etc/hi, checksum: \"SHA256:%s\"}\n",
		 hi, hi);
	expect_errors(yaml, "b.yaml:5:70: checksum: \"SHA256:8f434346648f6b96df89dda901c5176b10a6d8"
		      "3961dd3c1ac88b59b2dc327aa4\" is not sha256: and 64 hex digits\n");
	snprintf(yaml, sizeof(yaml),
		 "jobs:\n"
		 "  - name: j\n"
		 "    tasks:\n"
		 "      - copy: {source: hi.txt, destination: /etc/hi, checksum: \"sha256:%s\"}\n"
		 "      - copy: {content: hi, destination: /etc/hi, checksum: \"sha256:%.60s\"}\n", hi, hi);
	expect_errors(yaml, "b.yaml:5:61: checksum: \"sha256:8f434346648f6b96df89dda901c5176b10a6d8"
		      "3961dd3c1ac88b59b2dc32\" is not sha256: and 64 hex digits\n");
	wfile("hi.txt", "hi!");
	snprintf(yaml, sizeof(yaml),
		 "jobs:\n"
		 "  - name: j\n"
		 "    tasks:\n"
		 "      - copy: {source: hi.txt, destination: /etc/hi, checksum: \"sha256:%s\"}\n", hi);
	expect_errors(yaml, "b.yaml:4:64: checksum: the content's is sha256:"
		      "c0ddd62c7717180e7ffb8a15bb9674d3ec92592e0b7ac7d1d5289836b4553be2, not sha256:"
		      "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4\n");
	/* upper-case hex is the same digest; the task is the same with or without a checksum */
	wfile("hi.txt", "hi");
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (char)toupper((unsigned char)hi[i]);
	snprintf(yaml, sizeof(yaml),
		 "jobs:\n"
		 "  - name: j\n"
		 "    tasks:\n"
		 "      - copy: {source: hi.txt, destination: /etc/hi, checksum: \"sha256:%s\"}\n", up);
	struct batch *b = load_ok("s.yaml", yaml);
	struct batch *c = load_ok("n.yaml", "jobs:\n  - name: j\n    tasks:\n"
				  "      - copy: {content: hi, destination: /etc/hi}\n");
	ck_assert_str_eq(b->jobs[0].canon, c->jobs[0].canon);
	batch_free(b);
	batch_free(c);
}
END_TEST

START_TEST(test_batch_reads_offline_wake_and_keeps_it_in_plan_and_export)
{
	struct batch *b = load_ok("w.yaml",
				  "jobs:\n"
				  "  - name: a\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    offline: {wait: 24h, wake: true}\n"
				  "  - name: b\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    offline: {wake: yes}\n"
				  "  - name: c\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    offline: {wait: 24h, wake: false}\n"
				  "  - name: d\n"
				  "    tasks: [{script: x}]\n"
				  "    targets: {computers: [a]}\n"
				  "    offline: {wait: 24h}\n");
	ck_assert_int_eq(b->jobs[0].offline_wake, 1);
	ck_assert_int_eq(b->jobs[0].offline_wait_ms, 86400000);
	ck_assert_int_eq(b->jobs[1].offline_wake, 1);
	ck_assert_int_eq(b->jobs[1].offline_wait_ms, 0);
	ck_assert_int_eq(b->jobs[2].offline_wake, 0);
	char p0[65], p2[65], p3[65];
	ck_assert_int_eq(batch_job_plan_hash(&b->jobs[0], p0), 0);
	ck_assert_int_eq(batch_job_plan_hash(&b->jobs[2], p2), 0);
	ck_assert_int_eq(batch_job_plan_hash(&b->jobs[3], p3), 0);
	ck_assert_str_ne(p0, p2);  /* the wake is part of the plan */
	ck_assert_str_eq(p2, p3);  /* wake: false hashes as before it existed */
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_int_eq(batch_job_export(&b->jobs[1], fp), 0);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(buf, "  offline: {wake: true}\n"));
	free(buf);
	batch_free(b);

	expect_errors("jobs:\n"
		      "  - name: j\n"
		      "    tasks: [{script: x}]\n"
		      "    offline: {wake: maybe}\n"
		      "  - name: k\n"
		      "    tasks: [{script: x}]\n"
		      "    offline: {}\n"
		      "  - name: l\n"
		      "    tasks: [{script: x}]\n"
		      "    offline: {wake: [true]}\n",
		      "b.yaml:4:21: wake: \"maybe\" is not true or false\n"
		      "b.yaml:7:14: offline: give wait (how long an event waits for its computer), wake "
		      "(true: wake-on-LAN) or both\n"
		      "b.yaml:10:21: wake: expected a string, found a list\n");
}
END_TEST

START_TEST(test_batch_export_writes_readable_yaml)
{
	struct batch *b = load_ok("r.yaml", base);
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	ck_assert_int_eq(batch_job_export(&b->jobs[0], fp), 0);
	fclose(fp);
	ck_assert_str_eq(buf, "groups: [web]\n"
			      "jobs:\n"
			      "- name: j\n"
			      "  description: one\n"
			      "  tasks:\n"
			      "  - script: |\n"
			      "      echo a\n"
			      "    interpreter: /bin/sh\n"
			      "    timeout: 10m\n"
			      "    success_codes: [0, 3]\n"
			      "    on_code: {4: continue, 5: stop}\n"
			      "    on_failure: stop\n"
			      "  targets:\n"
			      "    computers: [a, b]\n"
			      "    groups: [web]\n"
			      "  schedule:\n"
			      "    at: now\n"
			      "    cron: 0 2 * * *\n"
			      "  rollout:\n"
			      "    max_failures: 5%\n");
	free(buf);
	batch_free(b);
}
END_TEST

START_TEST(test_batch_examples_load_without_errors)
{
	struct batch *b = load_ok("examples/demo.yaml", NULL);
	ck_assert_uint_eq(b->ncomputers, 3);
	ck_assert_str_eq(b->computers[0].name, "agent-1");
	ck_assert_str_eq(b->computers[0].host, "127.0.0.1");
	ck_assert_int_eq(b->computers[2].port, 0); /* agents connect out: no port */
	ck_assert_uint_eq(b->njobs, 1);
	ck_assert_uint_gt(b->jobs[0].ntasks, 2);
	int mapped = 0, continues = 0;
	for (size_t i = 0; i < b->jobs[0].ntasks; i++) {
		const struct batch_task *t = &b->jobs[0].tasks[i];
		mapped += t->non_code == 1 && t->on_code[0].code == 3 &&
			  t->on_code[0].action == BATCH_SUCCESS;
		continues += t->on_failure == BATCH_CONTINUE;
	}
	ck_assert_int_eq(mapped, 1);
	ck_assert_int_eq(continues, 1);
	ck_assert_ptr_nonnull(strstr(b->jobs[0].tasks[0].script, "%NAME%"));
	ck_assert_uint_eq(b->nrefs, 0);
	roundtrip(b, 0);
	batch_free(b);

	b = load_ok("examples/fleet.yaml", NULL);
	ck_assert_uint_eq(b->njobs, 3);
	ck_assert_uint_eq(b->nrefs, 0);
	ck_assert_int_eq(b->jobs[0].rollout.max_concurrent, 10);
	ck_assert_int_eq(b->jobs[1].schedule.has_cron, 1);
	ck_assert_str_eq(b->jobs[2].tasks[0].script_file, "scripts/inventory.sh");
	ck_assert_ptr_nonnull(strstr(b->jobs[2].tasks[0].script, "computer=%COMPNAME%"));
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	batch_free(b);

	b = load_ok("examples/operations.yaml", NULL);
	ck_assert_uint_eq(b->nwindows, 3);
	ck_assert_int_eq(b->windows[2].blackout, 1);
	ck_assert_uint_eq(b->njobs, 7);
	ck_assert_int_eq(b->jobs[0].rollout.nwaves, 3);
	ck_assert_int_eq(b->jobs[0].offline_wait_ms, 6 * 3600000LL);
	ck_assert_int_eq(b->jobs[0].offline_wake, 1);
	ck_assert_int_eq(b->jobs[0].tasks[0].retries.count, 3);
	ck_assert_int_eq(b->jobs[0].tasks[1].retries.count, 0);
	ck_assert_str_eq(b->jobs[1].schedule.timezone, "America/New_York");
	ck_assert_uint_eq(b->jobs[3].nafter, 1);
	ck_assert_int_eq(b->jobs[4].tasks[0].copy, 1);
	ck_assert_uint_eq(b->jobs[4].ntasks, 3);
	ck_assert_str_eq(b->jobs[4].tasks[2].copy_dest, "/etc/issue.d/20-window.issue");
	ck_assert_int_eq(b->jobs[5].schedule.splay_ms, 600000);
	ck_assert_int_eq(b->jobs[6].schedule.at_local, 1);
	ck_assert_int_eq(b->jobs[6].schedule.at, 1800066600); /* 2027-01-16 02:30, wall clock */
	ck_assert_str_eq(b->jobs[6].schedule.at_zone, "America/New_York");
	ck_assert_str_eq(b->computers[3].mac, "52:54:00:01:01:21");
	ck_assert_uint_eq(b->nwrefs, 0);
	for (size_t i = 0; i < b->njobs; i++)
		roundtrip(b, i);
	batch_free(b);
}
END_TEST

START_TEST(test_batch_free_accepts_null)
{
	batch_free(NULL);
}
END_TEST

Suite *
batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_batch_loads_full_example_with_values);
	tcase_add_test(tc, test_batch_fills_defaults);
	tcase_add_test(tc, test_batch_refuses_unknown_keys);
	tcase_add_test(tc, test_batch_refuses_duplicate_keys);
	tcase_add_test(tc, test_batch_refuses_wrong_types);
	tcase_add_test(tc, test_batch_refuses_bad_computer_values);
	tcase_add_test(tc, test_batch_refuses_bad_duration);
	tcase_add_test(tc, test_batch_refuses_bad_cron);
	tcase_add_test(tc, test_batch_refuses_bad_timestamps);
	tcase_add_test(tc, test_batch_refuses_bad_schedule_combinations);
	tcase_add_test(tc, test_batch_refuses_bad_rollout);
	tcase_add_test(tc, test_batch_refuses_unknown_groups);
	tcase_add_test(tc, test_batch_refuses_duplicate_names);
	tcase_add_test(tc, test_batch_refuses_bad_names);
	tcase_add_test(tc, test_batch_refuses_missing_or_double_script);
	tcase_add_test(tc, test_batch_refuses_missing_script_file);
	tcase_add_test(tc, test_batch_refuses_bad_script_file_content);
	tcase_add_test(tc, test_batch_refuses_empty_or_missing_task_list);
	tcase_add_test(tc, test_batch_refuses_bad_success_codes);
	tcase_add_test(tc, test_batch_refuses_bad_on_failure_and_on_code);
	tcase_add_test(tc, test_batch_refuses_control_characters_in_values_that_reach_the_wire);
	tcase_add_test(tc, test_batch_refuses_an_interpreter_of_17001_bytes_and_long_values);
	tcase_add_test(tc, test_batch_accepts_an_interpreter_with_arguments);
	tcase_add_test(tc, test_batch_reports_yaml_syntax_error);
	tcase_add_test(tc, test_batch_refuses_invalid_utf8);
	tcase_add_test(tc, test_batch_refuses_aliases);
	tcase_add_test(tc, test_batch_refuses_alias_bomb_quickly);
	tcase_add_test(tc, test_batch_refuses_inventory_values_off_their_grammar);
	tcase_add_test(tc, test_batch_refuses_more_tasks_than_the_limit);
	tcase_add_test(tc, test_batch_refuses_more_jobs_computers_groups_and_values_than_the_limits);
	tcase_add_test(tc, test_batch_refuses_a_job_whose_scripts_pass_16_mib);
	tcase_add_test(tc, test_batch_refuses_a_script_file_over_16_mib);
	tcase_add_test(tc, test_batch_refuses_yaml_tags);
	tcase_add_test(tc, test_batch_refuses_file_over_4_mib);
	tcase_add_test(tc, test_batch_refuses_unreadable_empty_and_odd_files);
	tcase_add_test(tc, test_batch_refuses_deep_nesting);
	tcase_add_test(tc, test_batch_reports_all_errors_in_source_order);
	tcase_add_test(tc, test_batch_caps_the_number_of_errors);
	tcase_add_test(tc, test_batch_hash_ignores_layout_comments_order_and_defaults);
	tcase_add_test(tc, test_batch_hash_changes_with_a_task_change);
	tcase_add_test(tc, test_batch_export_loads_back_to_the_same_hash);
	tcase_add_test(tc, test_batch_reads_time_zones_and_wall_clock_times);
	tcase_add_test(tc, test_batch_reads_retries_of_tasks_and_jobs);
	tcase_add_test(tc, test_batch_reads_copy_tasks_offline_waits_and_waves);
	tcase_add_test(tc, test_batch_reads_binary_copy_sources);
	tcase_add_test(tc, test_batch_checks_copy_checksums);
	tcase_add_test(tc, test_batch_expands_copied_folders);
	tcase_add_test(tc, test_batch_reads_offline_wake_and_keeps_it_in_plan_and_export);
	tcase_add_test(tc, test_batch_export_writes_readable_yaml);
	tcase_add_test(tc, test_batch_examples_load_without_errors);
	tcase_add_test(tc, test_batch_free_accepts_null);
	suite_add_tcase(s, tc);
	return s;
}
