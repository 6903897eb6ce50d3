/*
 * pgfleet computer add|list|show|remove|import|pending|accept|reject|revoke: the
 * inventory by hand (job batches are the other way in: pgfleet submit); groups are
 * cmd_group.c's, the options of both invopts.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/invopts.h"
#include "cli/cmdutil.h"
#include "common/db.h"
#include "common/field.h"
#include "common/json.h"
#include "common/rule.h"
#include "common/util.h"
#include "common/units.h"

static void
usage_computer(FILE *f)
{
	fprintf(f, "usage: pgfleet computer add NAME --host HOST [--port PORT] [--os OS]\n"
		   "                            [--label KEY=VALUE ...] [--group GROUP ...]\n"
		   "       pgfleet computer list [--where COND ...] [--format table|csv|json]\n"
		   "       pgfleet computer show NAME [--format table|json]\n"
		   "       pgfleet computer remove NAME [--force]\n"
		   "       pgfleet computer import FILE.yaml [--dry-run]\n"
		   "       pgfleet computer pending [--format table|csv|json]\n"
		   "       pgfleet computer accept|reject|revoke NAME\n\n"
		   "  add      register a computer; each --group must exist (pgfleet group add)\n"
		   "  list     every computer with its groups, labels, last_seen and agent version;\n"
		   "           --where FIELD=VALUE (or != >= <= > <; repeat: all must hold) keeps those\n"
		   "           that match, FIELD a column (name, os, ip, serial, agent_version, ...),\n"
		   "           facts.PATH (facts.os.id, facts.memory_mb) or labels.KEY\n"
		   "  show     one computer: every column, its certificate, its facts, its last 10 events\n"
		   "  remove   delete a computer; one with events in its history needs --force,\n"
		   "           which deletes those events too (status_log rows stay); refused while\n"
		   "           one of its events is pending or running\n"
		   "  import   apply the computers: and groups: of a job batch (see pgfleet submit);\n"
		   "           its jobs are ignored\n"
		   "  pending  enrolment requests waiting for an operator (docs/enrolment.md)\n"
		   "  accept   accept NAME's newest pending enrolment (its agent gets its certificate\n"
		   "           at its next try); for a revoked computer without one, lift the revocation\n"
		   "  reject   reject NAME's pending enrolments\n"
		   "  revoke   refuse every certificate of NAME from now on, disable it and fail its\n"
		   "           pending events with -26 (CERT_REVOKED); its connection is closed\n\n"
		   "Options:\n");
	invopts_help(f, "hpolgwjfn");
}

static void
json_list(FILE *fp, char **v, int n, int labels)
{
	fputc(labels ? '{' : '[', fp);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', fp);
		if (labels) {
			char *eq = strchr(v[i], '=');
			*eq = '\0';
			args_json_str(fp, v[i]);
			fputc(':', fp);
			args_json_str(fp, eq + 1);
			*eq = '=';
		} else {
			args_json_str(fp, v[i]);
		}
	}
	fputc(labels ? '}' : ']', fp);
}

static char *
to_json(char **v, int n, int labels)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	if (fp == NULL)
		return NULL;
	json_list(fp, v, n, labels);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "pgfleet CMD: OPT: why" (OPT NULL: none) on stderr; CLI_USAGE. */
static int
refuse(const char *cmd, const char *opt, const char *why)
{
	fprintf(stderr, "pgfleet %s: %s%s%s\n", cmd, opt != NULL ? opt : "", opt != NULL ? ": " : "", why);
	return CLI_USAGE;
}

/* The values of add's options, checked before the database is asked: CLI_OK or CLI_USAGE. */
static int
add_check(const char *cmd, const struct invopts *o)
{
	char err[1024], buf[512], *k, *v;
	long long port;
	if (field_computer_name(o->pos[0], err, sizeof(err)) == -1)
		return refuse(cmd, NULL, err);
	if (o->port != NULL && units_int(o->port, 1, 65535, &port, err, sizeof(err)) == -1)
		return refuse(cmd, "--port", err);
	if (o->host == NULL || *o->host == '\0')
		return refuse(cmd, NULL, "--host HOST is required (where its agent listens)");
	if (field_check(FIELD_HOST, o->host, err, sizeof(err)) == -1)
		return refuse(cmd, "--host", err);
	if (o->os != NULL && field_check(FIELD_OS, o->os, err, sizeof(err)) == -1)
		return refuse(cmd, "--os", err);
	for (int i = 0; i < o->nlabels; i++) {
		if (args_label(o->labels[i], buf, sizeof(buf), &k, &v, err, sizeof(err)) == -1)
			return refuse(cmd, "--label", err);
		for (int j = 0; j < i; j++)
			if (strncmp(o->labels[j], o->labels[i], strlen(k) + 1) == 0) {
				fprintf(stderr, "pgfleet %s: --label %s: label %s given twice\n", cmd, o->labels[i], k);
				return CLI_USAGE;
			}
	}
	for (int i = 0; i < o->ngroups; i++)
		if (args_name("group", o->groups[i], err, sizeof(err)) == -1)
			return refuse(cmd, "--group", err);
	return CLI_OK;
}

/* Its groups checked (for a message naming the option; pgfleet.computer_add checks again),
 * then pgfleet.computer_add; an exit code. */
static int
add_call(struct db *db, const char *cmd, const struct invopts *o, const char *labels, const char *groups)
{
	char err[1024];
	struct db_result *r;
	const char *pg[1] = {groups};
	if (db_exec(db, &r,
		"SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($1::jsonb) x "
		"WHERE x NOT IN (SELECT name FROM pgfleet.group_list)",
		1, pg, err, sizeof(err)) == -1)
		return cmdutil_api_error(db, cmd, err);
	if (!db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet %s: --group: no such group: %s (pgfleet group add NAME)\n", cmd,
		    db_value(r, 0, 0));
		db_result_free(r);
		return CLI_USAGE;
	}
	db_result_free(r);
	const char *p[6] = {o->pos[0], o->host, o->port, o->os, labels, groups};
	if (db_exec(db, &r,
		"SELECT pgfleet.computer_add($1, $2, $3::int, $4, $5::jsonb,"
		" ARRAY(SELECT jsonb_array_elements_text($6::jsonb)))",
		6, p, err, sizeof(err)) == -1)
		return cmdutil_api_error(db, cmd, err);
	printf("computer %s added (id %s)\n", o->pos[0], db_value(r, 0, 0));
	db_result_free(r);
	return CLI_OK;
}

static int
computer_add(struct invopts *o)
{
	const char *cmd = "computer add";
	if (invopts_want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	int rc = add_check(cmd, o);
	if (rc != CLI_OK)
		return rc;
	char *labels = to_json(o->labels, o->nlabels, 1), *groups = to_json(o->groups, o->ngroups, 0);
	struct db *db = NULL;
	rc = CLI_ERROR;
	if (labels == NULL || groups == NULL)
		fprintf(stderr, "pgfleet %s: out of memory\n", cmd);
	else if ((db = cmdutil_open(cmd)) != NULL)
		rc = add_call(db, cmd, o, labels, groups);
	db_close(db);
	free(labels);
	free(groups);
	return rc;
}

static int
computer_list(struct invopts *o)
{
	const char *cmd = "computer list";
	if (invopts_want_pos(cmd, o, 0, "") == -1)
		return CLI_USAGE;
	char *rule = o->nwheres > 0 ? invopts_where_rule(cmd, o) : NULL;
	if (o->nwheres > 0 && rule == NULL)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL) {
		free(rule);
		return CLI_ERROR;
	}
	const char *p[1] = {rule};
	/* --where: the rule is evaluated by pgfleet.rule_matches (migrations/0019_targeting.sql);
	 * the memberships, dynamic ones too, are read once for all computers */
	int rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT c.computer_id AS \"ID\", c.name AS \"NAME\", c.host AS \"HOST\","
		  " coalesce(c.port::text, '-') AS \"PORT\", coalesce(c.os, '-') AS \"OS\","
		  " CASE WHEN c.revoked_at IS NOT NULL THEN 'revoked' WHEN c.enabled THEN 'yes' ELSE 'no' END"
		  "  AS \"ENABLED\", coalesce(m.groups, '-') AS \"GROUPS\","
		  " coalesce((SELECT string_agg(key || '=' || value, ',' ORDER BY key)"
		  "  FROM jsonb_each_text(c.labels)), '-') AS \"LABELS\","
		  " coalesce(to_char(c.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '-') AS \"LAST_SEEN\","
		  " coalesce(c.agent_version, '-') AS \"AGENT\""
		  " FROM pgfleet.computer_list c"
		  " LEFT JOIN (SELECT g.computer_id, string_agg(g.group_name, ',' ORDER BY g.group_name) AS groups"
		  "  FROM pgfleet.group_member_list g GROUP BY g.computer_id) m ON m.computer_id = c.computer_id"
		  " WHERE $1::jsonb IS NULL OR c.computer_id IN (SELECT pgfleet.rule_matches($1::jsonb))"
		  " ORDER BY c.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT c.computer_id AS id, c.name, c.host, c.port, c.os, c.enabled, c.labels,"
		  "  coalesce(m.groups, '[]') AS groups, c.last_seen, c.agent_version, c.facts_at, c.revoked_at"
		  " FROM pgfleet.computer_list c"
		  " LEFT JOIN (SELECT g.computer_id, json_agg(g.group_name ORDER BY g.group_name) AS groups"
		  "  FROM pgfleet.group_member_list g GROUP BY g.computer_id) m ON m.computer_id = c.computer_id"
		  " WHERE $1::jsonb IS NULL OR c.computer_id IN (SELECT pgfleet.rule_matches($1::jsonb))) x",
		  1, p);
	db_close(db);
	free(rule);
	return rc;
}

/* Every column of the computer, then its facts, one path = value a line (docs/enrolment.md),
 * then its last events; 0, or -1 with err. */
static int
show_text(struct db *db, const char *const *p, char *err, size_t errlen)
{
	struct db_result *r;
	if (db_exec(db, &r,
		"SELECT c.computer_id AS id, c.name, c.host, c.port, c.os, c.boot_env, c.ip, c.mac, c.serial,"
		" c.asset_tag, c.domain, c.domain_ou, c.dept, c.contact, c.email, c.labels, c.attrs, c.enabled,"
		" (SELECT string_agg(g.group_name || CASE WHEN g.by_rule THEN ' (by rule)' ELSE '' END, ', '"
		"  ORDER BY g.group_name) FROM pgfleet.group_member_list g WHERE g.computer_id = c.computer_id)"
		"  AS groups,"
		" c.last_seen, c.agent_version, c.revoked_at,"
		" c.cert_serial || ' until ' || c.cert_not_after AS certificate,"
		" c.facts_at, c.running_event, c.created_at, c.updated_at"
		" FROM pgfleet.computer_detail c WHERE c.name = $1",
		1, p, err, errlen) == -1)
		return -1;
	cmdutil_fields(r, 14, stdout);
	db_result_free(r);
	if (db_exec(db, &r,
		"WITH RECURSIVE f(path, v) AS ("
		" SELECT e.key, e.value FROM pgfleet.computer_detail c, jsonb_each(c.facts) e WHERE c.name = $1"
		" UNION ALL"
		" SELECT f.path || CASE WHEN jsonb_typeof(f.v) = 'array' THEN '[' || (a.o - 1) || ']'"
		"  ELSE '.' || a.k END, a.val"
		" FROM f CROSS JOIN LATERAL (SELECT x.key AS k, x.value AS val, 0::bigint AS o"
		"  FROM jsonb_each(CASE WHEN jsonb_typeof(f.v) = 'object' THEN f.v END) x"
		"  UNION ALL SELECT NULL, y.value, y.o FROM jsonb_array_elements(CASE WHEN jsonb_typeof(f.v) = 'array'"
		"  THEN f.v END) WITH ORDINALITY y(value, o)) a)"
		" SELECT path, v #>> '{}' FROM f WHERE jsonb_typeof(v) NOT IN ('object', 'array') ORDER BY path",
		1, p, err, errlen) == -1)
		return -1;
	if (db_ntuples(r) > 0)
		printf("\nfacts:\n");
	for (int i = 0; i < db_ntuples(r); i++)
		printf("  %s = %s\n", db_value(r, i, 0), db_value(r, i, 1));
	db_result_free(r);
	if (db_exec(db, &r,
		"SELECT e.event_id AS \"EVENT\", e.schedule_id AS \"SCHEDULE\", e.job AS \"JOB\","
		" e.state AS \"STATE\", coalesce(e.status_code::text, '-') AS \"CODE\","
		" coalesce(to_char(e.finished_at, 'YYYY-MM-DD HH24:MI:SS'), '-') AS \"FINISHED\""
		" FROM pgfleet.event_list e WHERE e.computer = $1 ORDER BY e.event_id DESC LIMIT 10",
		1, p, err, errlen) == -1)
		return -1;
	if (db_ntuples(r) > 0) {
		printf("\nlast events:\n");
		cmdutil_table(r, stdout);
	}
	db_result_free(r);
	return 0;
}

static int
computer_show(struct invopts *o)
{
	const char *cmd = "computer show";
	char err[1024];
	if (invopts_want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {o->pos[0]};
	int rc = cmdutil_exists(db, cmd, "SELECT 1 FROM pgfleet.computer_detail WHERE name = $1", o->pos[0],
	    "computer \"%s\" does not exist");
	if (rc == CLI_OK && o->fmt == REPORTFMT_CSV) {
		fprintf(stderr, "pgfleet %s: --format csv: show prints one computer; use table or json\n", cmd);
		rc = CLI_USAGE;
	} else if (rc == CLI_OK && o->fmt == REPORTFMT_JSON) {
		rc = cmdutil_print_json(db, cmd,
		    "SELECT to_jsonb(c) - 'running_event' - 'groups' || jsonb_build_object('running_event',"
		    " c.running_event, 'groups', coalesce((SELECT jsonb_agg(g.group_name ORDER BY g.group_name)"
		    "  FROM pgfleet.group_member_list g WHERE g.computer_id = c.computer_id), '[]'),"
		    " 'events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.event_id DESC) FROM"
		    "  (SELECT event_id, schedule_id, state, status_code, due_at, started_at, finished_at"
		    "   FROM pgfleet.event_list WHERE computer_id = c.computer_id ORDER BY event_id DESC LIMIT 10) e),"
		    "  '[]')) FROM pgfleet.computer_detail c WHERE c.name = $1",
		    1, p);
	} else if (rc == CLI_OK && show_text(db, p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		rc = CLI_ERROR;
	}
	db_close(db);
	return rc;
}

static int
computer_remove(struct invopts *o)
{
	const char *cmd = "computer remove";
	char err[1024];
	struct db_result *r = NULL;
	int rc = CLI_ERROR;
	if (invopts_want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	/* first the reasons to refuse, in the words of this command's options;
	 * pgfleet.computer_remove checks them again under a lock */
	const char *p[2] = {o->pos[0], o->force ? "true" : "false"};
	if (db_exec(db, &r,
		"SELECT (SELECT count(*) FROM pgfleet.event_list e WHERE e.computer_id = c.computer_id),"
		" (SELECT count(*) FROM pgfleet.event_list e WHERE e.computer_id = c.computer_id"
		"  AND e.state IN ('pending', 'running'))"
		" FROM pgfleet.computer_list c WHERE c.name = $1",
		1, p, err, sizeof(err)) == -1)
		goto dberr;
	if (db_ntuples(r) == 0) {
		fprintf(stderr, "pgfleet %s: computer \"%s\" does not exist\n", cmd, o->pos[0]);
		rc = CLI_USAGE;
		goto out;
	}
	long long events = atoll(db_value(r, 0, 0)), open = atoll(db_value(r, 0, 1));
	if (open > 0) {
		fprintf(stderr, "pgfleet %s: computer \"%s\" has %lld pending or running event(s); "
				"cancel their schedules first\n",
		    cmd, o->pos[0], open);
		rc = CLI_USAGE;
		goto out;
	}
	if (events > 0 && !o->force) {
		fprintf(stderr, "pgfleet %s: computer \"%s\" has %lld event(s) in its history; "
				"--force deletes them with it\n",
		    cmd, o->pos[0], events);
		rc = CLI_USAGE;
		goto out;
	}
	db_result_free(r);
	if (db_exec(db, &r, "SELECT pgfleet.computer_remove($1, $2::boolean)", 2, p, err,
		sizeof(err)) == -1) {
		r = NULL;
		goto dberr;
	}
	events = atoll(db_value(r, 0, 0));
	printf("computer %s removed%s\n", o->pos[0], events > 0 ? " with its events" : "");
	rc = CLI_OK;
	goto out;
dberr:
	rc = cmdutil_api_error(db, cmd, err);
out:
	db_result_free(r);
	db_close(db);
	return rc;
}

static int
computer_pending(struct invopts *o)
{
	if (invopts_want_pos("computer pending", o, 0, "") == -1)
		return CLI_USAGE;
	return enrol_cmd_pending(o->fmt);
}

static int
computer_accept(struct invopts *o)
{
	return invopts_want_pos("computer accept", o, 1, "NAME") == -1 ? CLI_USAGE : enrol_cmd_decide("accept", o->pos[0]);
}

static int
computer_reject(struct invopts *o)
{
	return invopts_want_pos("computer reject", o, 1, "NAME") == -1 ? CLI_USAGE : enrol_cmd_decide("reject", o->pos[0]);
}

static int
computer_revoke(struct invopts *o)
{
	return invopts_want_pos("computer revoke", o, 1, "NAME") == -1 ? CLI_USAGE : enrol_cmd_decide("revoke", o->pos[0]);
}

static int
computer_import(struct invopts *o)
{
	if (invopts_want_pos("computer import", o, 1, "FILE") == -1)
		return CLI_USAGE;
	return cmd_submit_file("computer import", o->pos[0], o->dry_run, 1);
}

int
cmd_computer(int argc, char **argv)
{
	static const struct invopts_sub subs[] = {
		{"add", "hpolg", computer_add},
		{"list", "jw", computer_list},
		{"show", "j", computer_show},
		{"remove", "f", computer_remove},
		{"import", "n", computer_import},
		{"pending", "j", computer_pending},
		{"accept", "", computer_accept},
		{"reject", "", computer_reject},
		{"revoke", "", computer_revoke},
	};
	return invopts_dispatch("computer", subs, sizeof(subs) / sizeof(subs[0]), usage_computer,
	    "add, list, show, remove, import, pending, accept, reject, revoke", argc, argv);
}
