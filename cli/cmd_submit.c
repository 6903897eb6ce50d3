/*
 * pgfleet submit FILE.yaml [--dry-run]: validate the whole batch (every error printed
 * FILE:LINE:COL, nothing written), then apply it in one transaction (cli/apply.c).
 * cmd_submit_file is shared with `pgfleet computer import`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/apply.h"
#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/opts.h"
#include "common/db.h"

static const struct opts_spec specs[] = {
	OPTS_ROW_FLAG("--dry-run", 0, "validate and print what would change; write nothing"),
};

static const struct opts_cmd submit_cmd = {.cmd = "submit", OPTS_TABLE(specs), .maxpos = 1,
    .extra = "%s: one file at a time",
    .about = "usage: pgfleet submit FILE.yaml [--dry-run]\n\n"
		   "Validate a job batch (computers:, groups:, jobs:) in full, then apply it in one\n"
		   "transaction. Any error, each shown as FILE:LINE:COL, writes nothing (exit 2).\n"
		   "Submitting the same file twice changes nothing; a job whose tasks changed gets\n"
		   "a new version (schedules already running keep theirs); a job whose tasks,\n"
		   "targets, schedule or rollout changed gets a new schedule, and the schedules its\n"
		   "earlier submits made are cancelled when not started yet.\n\n"};

static void
summary(const char *path, const struct apply_stats *st, int dry_run)
{
	char buf[512];
	size_t len = 0;
	struct {
		int n;
		const char *what;
	} parts[] = {
		{st->computers_added, "computer(s) added"},
		{st->computers_changed, "computer(s) updated"},
		{st->groups_added, "group(s) added"},
		{st->groups_changed, "group(s) updated"},
		{st->jobs_added, "job(s) added"},
		{st->jobs_changed, "job(s) changed"},
		{st->schedules_superseded, "earlier schedule(s) superseded"},
		{st->schedules_created, "schedule(s) created"},
	};
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].n == 0)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d %s", len ? ", " : "",
		    parts[i].n, parts[i].what);
		if (len >= sizeof(buf))
			break;
	}
	if (len == 0)
		printf("%s: nothing %schanged\n", path, dry_run ? "would be " : "");
	else if (dry_run)
		printf("%s: dry run, nothing written; would apply: %s\n", path, buf);
	else if (st->schedules_created > 0)
		printf("%s: applied: %s, %lld event(s)\n", path, buf, st->events);
	else
		printf("%s: applied: %s\n", path, buf);
}

int
cmd_submit_file(const char *cmd, const char *path, int dry_run, int inventory_only)
{
	struct batch *b = NULL;
	struct yt_errors errs = {0};
	struct apply_stats st;
	char err[2048];
	int rc;

	if (batch_load(path, &b, &errs) == -1) {
		yt_errors_print(&errs, stderr);
		fprintf(stderr, "pgfleet %s: %s: %zu error(s), nothing written\n", cmd, path,
		    errs.n + errs.dropped);
		yt_errors_free(&errs);
		return CLI_USAGE;
	}
	if (inventory_only && b->njobs > 0)
		fprintf(stderr, "pgfleet %s: %s: %zu job(s) ignored (pgfleet submit applies them)\n",
		    cmd, path, b->njobs);
	struct db *db = cmdutil_open(cmd);
	if (db == NULL) {
		batch_free(b);
		return CLI_ERROR;
	}
	/* The report is shown only when the transaction ends as it should. */
	char *report = NULL;
	size_t report_len = 0;
	FILE *out = open_memstream(&report, &report_len);
	if (out == NULL) {
		fprintf(stderr, "pgfleet %s: out of memory\n", cmd);
		batch_free(b);
		db_close(db);
		return CLI_ERROR;
	}
	struct apply_opts o = {.dry_run = dry_run, .inventory_only = inventory_only};
	rc = apply_batch(db, b, &o, &st, &errs, out, err, sizeof(err));
	fclose(out);
	if (rc == 1) {
		yt_errors_print(&errs, stderr);
		fprintf(stderr, "pgfleet %s: %s: %zu error(s), nothing written\n", cmd, path,
		    errs.n + errs.dropped);
		rc = CLI_USAGE;
	} else if (rc == -1 && db_api_refused(st.sqlstate)) {
		/* refused by pgfleet.submit: a value, or the caller's duty or scopes */
		fprintf(stderr, "pgfleet %s: %s: %.*s (nothing written)\n", cmd, path,
		    db_err_split(err, NULL), err);
		rc = CLI_USAGE;
	} else if (rc == -1) {
		fprintf(stderr, "pgfleet %s: %s: %s (nothing written)\n", cmd, path, err);
		rc = CLI_ERROR;
	} else {
		fputs(report, stdout);
		summary(path, &st, dry_run);
		rc = CLI_OK;
	}
	free(report);
	yt_errors_free(&errs);
	batch_free(b);
	db_close(db);
	return rc;
}

int
cmd_submit(int argc, char **argv)
{
	int dry_run = 0;
	struct opts_pos pos;
	int rc = opts_parse(&submit_cmd, argc, argv, &dry_run, &pos);
	if (rc != 0)
		return opts_exit(rc);
	if (pos.n == 0) {
		fprintf(stderr, "pgfleet submit: which file? (pgfleet submit FILE.yaml)\n");
		opts_usage(stderr, &submit_cmd);
		return CLI_USAGE;
	}
	return cmd_submit_file("submit", pos.v[0], dry_run, 0);
}
