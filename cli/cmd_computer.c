/*
 * pgfleet computer add|list|show|remove|import and pgfleet group add|list|members:
 * the inventory by hand (job batches are the other way in: pgfleet submit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/db.h"
#include "common/field.h"
#include "common/units.h"

static void
usage_computer(FILE *f)
{
	fprintf(f, "usage: pgfleet computer add NAME --host HOST [--port PORT] [--os OS]\n"
		   "                            [--label KEY=VALUE ...] [--group GROUP ...]\n"
		   "       pgfleet computer list [--format table|csv|json]\n"
		   "       pgfleet computer show NAME [--format table|json]\n"
		   "       pgfleet computer remove NAME [--force]\n"
		   "       pgfleet computer import FILE.yaml [--dry-run]\n\n"
		   "  add      register a computer; each --group must exist (pgfleet group add)\n"
		   "  list     every computer with its groups and labels\n"
		   "  show     one computer: every column, its groups, its last 10 events\n"
		   "  remove   delete a computer; one with events in its history needs --force,\n"
		   "           which deletes those events too (status_log rows stay); refused while\n"
		   "           one of its events is pending or running\n"
		   "  import   apply the computers: and groups: of a job batch (see pgfleet submit);\n"
		   "           its jobs are ignored\n\n"
		   "Options:\n"
		   "  --host HOST        where its agent listens (name or address)\n"
		   "  --port PORT        its agent's port, 1-65535 (default: the scheduler's agent_port)\n"
		   "  --os OS            operating system, matched by a task's os_required\n"
		   "  --label KEY=VALUE  a label (repeat for more); targets select on labels\n"
		   "  --group GROUP      a group it belongs to (repeat for more)\n"
		   "  --format FORMAT    table (default), csv (RFC 4180) or json; --json is json\n"
		   "  --force            remove: also delete its events\n"
		   "  --dry-run          import: print what would change, write nothing\n"
		   "  -h, --help         this help\n");
}

static void
usage_group(FILE *f)
{
	fprintf(f, "usage: pgfleet group add NAME [--description TEXT]\n"
		   "       pgfleet group list [--format table|csv|json]\n"
		   "       pgfleet group members NAME [--format table|csv|json]\n\n"
		   "  add      create a group (computers join it with computer add --group or a batch)\n"
		   "  list     every group with its number of members\n"
		   "  members  the computers of one group\n\n"
		   "Options:\n"
		   "  --description TEXT  what the group is for\n"
		   "  --format FORMAT     table (default), csv (RFC 4180) or json; --json is json\n"
		   "  -h, --help          this help\n");
}

/* Shared option scanner: positional arguments, flags and valued options. */
struct opts {
	const char *pos[4];
	int npos;
	enum reportfmt_format fmt;
	int force, dry_run;
	const char *host, *port, *os, *description;
	char **labels, **groups;
	int nlabels, ngroups;
};

static int
take(const char *cmd, int argc, char **argv, int *i, const char **out)
{
	const char *opt = argv[*i];
	if (*i + 1 >= argc) {
		fprintf(stderr, "pgfleet %s: %s needs a value\n", cmd, opt);
		return -1;
	}
	*out = argv[++*i];
	return 0;
}

/* allowed: letters of the options this subcommand takes (j f n h p o l g d). */
static int
scan(const char *cmd, int argc, char **argv, const char *allowed, struct opts *o, int *help)
{
	memset(o, 0, sizeof(*o));
	*help = 0;
	o->labels = calloc((size_t)argc, sizeof(char *));
	o->groups = calloc((size_t)argc, sizeof(char *));
	if (o->labels == NULL || o->groups == NULL) {
		fprintf(stderr, "pgfleet %s: out of memory\n", cmd);
		return -1;
	}
	int dashdash = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		char k = 0;
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (dashdash) {
			if (o->npos == 4) {
				fprintf(stderr, "pgfleet %s: %s: too many arguments\n", cmd, a);
				return -1;
			}
			o->pos[o->npos++] = a;
			continue;
		}
		if (cmdutil_is_help(a)) {
			*help = 1;
			return 0;
		}
		int f = strchr(allowed, 'j') != NULL ? cmdutil_format_option(cmd, argc, argv, &i, &o->fmt) : 0;
		if (f == -1)
			return -1;
		if (f == 1)
			continue;
		if (strcmp(a, "--json") == 0 || strncmp(a, "--format", 8) == 0)
			k = 'j';
		else if (strcmp(a, "--force") == 0)
			k = 'f';
		else if (strcmp(a, "--dry-run") == 0)
			k = 'n';
		else if (strcmp(a, "--host") == 0)
			k = 'h';
		else if (strcmp(a, "--port") == 0)
			k = 'p';
		else if (strcmp(a, "--os") == 0)
			k = 'o';
		else if (strcmp(a, "--label") == 0)
			k = 'l';
		else if (strcmp(a, "--group") == 0)
			k = 'g';
		else if (strcmp(a, "--description") == 0)
			k = 'd';
		if (k == 0 && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "pgfleet %s: %s: unknown option\n", cmd, a);
			return -1;
		}
		if (k != 0 && strchr(allowed, k) == NULL) {
			fprintf(stderr, "pgfleet %s: %s: not an option of this command\n", cmd, a);
			return -1;
		}
		switch (k) {
		case 0:
			if (o->npos == 4) {
				fprintf(stderr, "pgfleet %s: %s: too many arguments\n", cmd, a);
				return -1;
			}
			o->pos[o->npos++] = a;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		default:
			if (take(cmd, argc, argv, &i, &v) == -1)
				return -1;
			if (k == 'h')
				o->host = v;
			else if (k == 'p')
				o->port = v;
			else if (k == 'o')
				o->os = v;
			else if (k == 'd')
				o->description = v;
			else if (k == 'l')
				o->labels[o->nlabels++] = argv[i];
			else
				o->groups[o->ngroups++] = argv[i];
		}
	}
	return 0;
}

static void
opts_free(struct opts *o)
{
	free(o->labels);
	free(o->groups);
}

/* Exactly n positional arguments, named in what ("NAME"). */
static int
want_pos(const char *cmd, const struct opts *o, int n, const char *what)
{
	if (o->npos < n) {
		fprintf(stderr, "pgfleet %s: missing %s\n", cmd, what);
		return -1;
	}
	if (o->npos > n) {
		fprintf(stderr, "pgfleet %s: %s: unexpected argument\n", cmd, o->pos[n]);
		return -1;
	}
	return 0;
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

static int
computer_add(struct opts *o)
{
	const char *cmd = "computer add";
	char err[1024], buf[512], *k, *v;
	long long port;
	if (want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	if (field_computer_name(o->pos[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_USAGE;
	}
	if (o->port != NULL && units_int(o->port, 1, 65535, &port, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: --port: %s\n", cmd, err);
		return CLI_USAGE;
	}
	if (o->host == NULL || *o->host == '\0') {
		fprintf(stderr, "pgfleet %s: --host HOST is required (where its agent listens)\n", cmd);
		return CLI_USAGE;
	}
	if (field_check(FIELD_HOST, o->host, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: --host: %s\n", cmd, err);
		return CLI_USAGE;
	}
	if (o->os != NULL && field_check(FIELD_OS, o->os, err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: --os: %s\n", cmd, err);
		return CLI_USAGE;
	}
	for (int i = 0; i < o->nlabels; i++) {
		if (args_label(o->labels[i], buf, sizeof(buf), &k, &v, err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet %s: --label: %s\n", cmd, err);
			return CLI_USAGE;
		}
		for (int j = 0; j < i; j++)
			if (strncmp(o->labels[j], o->labels[i], strlen(k) + 1) == 0) {
				fprintf(stderr, "pgfleet %s: --label %s: label %s given twice\n", cmd,
				    o->labels[i], k);
				return CLI_USAGE;
			}
	}
	for (int i = 0; i < o->ngroups; i++)
		if (args_name("group", o->groups[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet %s: --group: %s\n", cmd, err);
			return CLI_USAGE;
		}

	char *labels = to_json(o->labels, o->nlabels, 1), *groups = to_json(o->groups, o->ngroups, 0);
	struct db *db = NULL;
	struct db_result *r = NULL;
	int rc = CLI_ERROR;
	if (labels == NULL || groups == NULL) {
		fprintf(stderr, "pgfleet %s: out of memory\n", cmd);
		goto out;
	}
	if ((db = cmdutil_open(cmd)) == NULL)
		goto out;
	/* the groups first, for a message naming the option; pgfleet.computer_add checks again */
	const char *pg[1] = {groups};
	if (db_exec(db, &r,
		"SELECT string_agg(x, ', ') FROM jsonb_array_elements_text($1::jsonb) x "
		"WHERE x NOT IN (SELECT name FROM pgfleet.group_list)",
		1, pg, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
		goto out;
	}
	if (!db_isnull(r, 0, 0)) {
		fprintf(stderr, "pgfleet %s: --group: no such group: %s (pgfleet group add NAME)\n", cmd,
		    db_value(r, 0, 0));
		rc = CLI_USAGE;
		goto out;
	}
	db_result_free(r);
	r = NULL;
	const char *p[6] = {o->pos[0], o->host, o->port, o->os, labels, groups};
	if (db_exec(db, &r,
		"SELECT pgfleet.computer_add($1, $2, $3::int, $4, $5::jsonb,"
		" ARRAY(SELECT jsonb_array_elements_text($6::jsonb)))",
		6, p, err, sizeof(err)) == -1) {
		rc = cmdutil_api_error(db, cmd, err);
		goto out;
	}
	printf("computer %s added (id %s)\n", o->pos[0], db_value(r, 0, 0));
	rc = CLI_OK;
out:
	db_result_free(r);
	db_close(db);
	free(labels);
	free(groups);
	return rc;
}

static int
computer_list(struct opts *o)
{
	const char *cmd = "computer list";
	if (want_pos(cmd, o, 0, "") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	int rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT c.computer_id AS \"ID\", c.name AS \"NAME\", c.host AS \"HOST\","
		  " coalesce(c.port::text, '-') AS \"PORT\", coalesce(c.os, '-') AS \"OS\","
		  " CASE WHEN c.enabled THEN 'yes' ELSE 'no' END AS \"ENABLED\","
		  " coalesce((SELECT string_agg(m.group_name, ',' ORDER BY m.group_name)"
		  "  FROM pgfleet.group_member_list m WHERE m.computer_id = c.computer_id), '-')"
		  "  AS \"GROUPS\","
		  " coalesce((SELECT string_agg(key || '=' || value, ',' ORDER BY key)"
		  "  FROM jsonb_each_text(c.labels)), '-') AS \"LABELS\""
		  " FROM pgfleet.computer_list c ORDER BY c.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT c.computer_id AS id, c.name, c.host, c.port, c.os, c.enabled, c.labels,"
		  "  coalesce((SELECT json_agg(m.group_name ORDER BY m.group_name) FROM pgfleet.group_member_list m"
		  "   WHERE m.computer_id = c.computer_id), '[]') AS groups, c.last_seen"
		  " FROM pgfleet.computer_list c) x",
		  0, NULL);
	db_close(db);
	return rc;
}

static int
computer_show(struct opts *o)
{
	const char *cmd = "computer show";
	char err[1024];
	struct db_result *r;
	if (want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {o->pos[0]};
	int rc = CLI_ERROR;
	if (db_exec(db, &r, "SELECT 1 FROM pgfleet.computer_detail WHERE name = $1", 1, p, err,
		sizeof(err)) == -1)
		goto dberr;
	int found = db_ntuples(r) > 0;
	db_result_free(r);
	if (!found) {
		fprintf(stderr, "pgfleet %s: computer \"%s\" does not exist\n", cmd, o->pos[0]);
		db_close(db);
		return CLI_USAGE;
	}
	if (o->fmt == REPORTFMT_CSV) {
		fprintf(stderr, "pgfleet %s: --format csv: show prints one computer; use table or json\n",
		    cmd);
		db_close(db);
		return CLI_USAGE;
	}
	if (o->fmt == REPORTFMT_JSON) {
		rc = cmdutil_print_json(db, cmd,
		    "SELECT to_jsonb(c) - 'running_event' - 'groups' || jsonb_build_object('running_event',"
		    " c.running_event, 'groups', to_jsonb(c.groups),"
		    " 'events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.event_id DESC) FROM"
		    "  (SELECT event_id, schedule_id, state, status_code, due_at, started_at, finished_at"
		    "   FROM pgfleet.event_list WHERE computer_id = c.computer_id ORDER BY event_id DESC LIMIT 10) e),"
		    "  '[]')) FROM pgfleet.computer_detail c WHERE c.name = $1",
		    1, p);
		db_close(db);
		return rc;
	}
	if (db_exec(db, &r,
		"SELECT computer_id AS id, name, host, port, os, boot_env, ip, mac, serial, asset_tag,"
		" domain, domain_ou, dept, contact, email, labels, attrs, enabled,"
		" nullif(array_to_string(groups, ', '), '') AS groups,"
		" last_seen, running_event, created_at, updated_at"
		" FROM pgfleet.computer_detail c WHERE name = $1",
		1, p, err, sizeof(err)) == -1)
		goto dberr;
	for (int c = 0; c < db_nfields(r); c++)
		if (!db_isnull(r, 0, c))
			printf("%-14s %s\n", db_fname(r, c), db_value(r, 0, c));
	db_result_free(r);
	if (db_exec(db, &r,
		"SELECT e.event_id AS \"EVENT\", e.schedule_id AS \"SCHEDULE\", e.job AS \"JOB\","
		" e.state AS \"STATE\", coalesce(e.status_code::text, '-') AS \"CODE\","
		" coalesce(to_char(e.finished_at, 'YYYY-MM-DD HH24:MI:SS'), '-') AS \"FINISHED\""
		" FROM pgfleet.event_list e WHERE e.computer = $1 ORDER BY e.event_id DESC LIMIT 10",
		1, p, err, sizeof(err)) == -1)
		goto dberr;
	if (db_ntuples(r) > 0) {
		printf("\nlast events:\n");
		cmdutil_table(r, stdout);
	}
	db_result_free(r);
	db_close(db);
	return CLI_OK;
dberr:
	fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
	db_close(db);
	return rc;
}

static int
computer_remove(struct opts *o)
{
	const char *cmd = "computer remove";
	char err[1024];
	struct db_result *r = NULL;
	int rc = CLI_ERROR;
	if (want_pos(cmd, o, 1, "NAME") == -1)
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
computer_import(struct opts *o)
{
	if (want_pos("computer import", o, 1, "FILE") == -1)
		return CLI_USAGE;
	return cmd_submit_file("computer import", o->pos[0], o->dry_run, 1);
}

/* One subcommand of NOUN: its name, the options it takes, what runs it. */
struct sub {
	const char *name, *allowed;
	int (*fn)(struct opts *);
};

/* "pgfleet NOUN SUB [options]": find SUB, scan its options, run it. */
static int
dispatch(const char *noun, const struct sub *subs, size_t nsubs, void (*usage)(FILE *),
    const char *names, int argc, char **argv)
{
	struct opts o;
	int help, rc;
	char cmd[64];
	if (argc < 2 || cmdutil_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < nsubs; i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%s %s", noun, subs[i].name);
		if (scan(cmd, argc - 1, argv + 1, subs[i].allowed, &o, &help) == -1) {
			opts_free(&o);
			fprintf(stderr, "pgfleet %s --help describes the options\n", noun);
			return CLI_USAGE;
		}
		rc = help ? (usage(stdout), CLI_OK) : subs[i].fn(&o);
		opts_free(&o);
		return rc;
	}
	fprintf(stderr, "pgfleet %s: unknown subcommand \"%s\" (%s)\n", noun, argv[1], names);
	return CLI_USAGE;
}

int
cmd_computer(int argc, char **argv)
{
	static const struct sub subs[] = {
		{"add", "hpolg", computer_add},
		{"list", "j", computer_list},
		{"show", "j", computer_show},
		{"remove", "f", computer_remove},
		{"import", "n", computer_import},
	};
	return dispatch("computer", subs, sizeof(subs) / sizeof(subs[0]), usage_computer,
	    "add, list, show, remove, import", argc, argv);
}

/* ---- groups ------------------------------------------------------------- */

static int
group_add(struct opts *o)
{
	const char *cmd = "group add";
	char err[1024];
	struct db_result *r;
	if (want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	if (args_name("group", o->pos[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_USAGE;
	}
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[2] = {o->pos[0], o->description};
	if (db_exec(db, &r, "SELECT pgfleet.group_add($1, $2)", 2, p, err, sizeof(err)) == -1) {
		int rc = cmdutil_api_error(db, cmd, err);
		db_close(db);
		return rc;
	}
	printf("group %s added\n", o->pos[0]);
	db_result_free(r);
	db_close(db);
	return CLI_OK;
}

static int
group_list(struct opts *o)
{
	const char *cmd = "group list";
	if (want_pos(cmd, o, 0, "") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	int rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT g.name AS \"NAME\", g.members AS \"MEMBERS\","
		  " coalesce(g.description, '') AS \"DESCRIPTION\""
		  " FROM pgfleet.group_list g ORDER BY g.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT g.name, g.description, g.members FROM pgfleet.group_list g) x",
		  0, NULL);
	db_close(db);
	return rc;
}

static int
group_members(struct opts *o)
{
	const char *cmd = "group members";
	char err[1024];
	struct db_result *r;
	if (want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {o->pos[0]};
	if (db_exec(db, &r, "SELECT 1 FROM pgfleet.group_list WHERE name = $1", 1, p, err,
		sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		db_close(db);
		return CLI_ERROR;
	}
	int found = db_ntuples(r) > 0;
	db_result_free(r);
	if (!found) {
		fprintf(stderr, "pgfleet %s: group \"%s\" does not exist\n", cmd, o->pos[0]);
		db_close(db);
		return CLI_USAGE;
	}
	int rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT c.computer_id AS \"ID\", c.name AS \"NAME\", c.host AS \"HOST\","
		  " coalesce(c.port::text, '-') AS \"PORT\","
		  " CASE WHEN c.enabled THEN 'yes' ELSE 'no' END AS \"ENABLED\""
		  " FROM pgfleet.computer_list c JOIN pgfleet.group_member_list m USING (computer_id)"
		  " WHERE m.group_name = $1 ORDER BY c.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT c.computer_id AS id, c.name, c.host, c.port, c.enabled"
		  " FROM pgfleet.computer_list c JOIN pgfleet.group_member_list m USING (computer_id)"
		  " WHERE m.group_name = $1) x",
		  1, p);
	db_close(db);
	return rc;
}

int
cmd_group(int argc, char **argv)
{
	static const struct sub subs[] = {
		{"add", "d", group_add},
		{"list", "j", group_list},
		{"members", "j", group_members},
	};
	return dispatch("group", subs, sizeof(subs) / sizeof(subs[0]), usage_group,
	    "add, list, members", argc, argv);
}
