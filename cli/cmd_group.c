/*
 * pgfleet group add|list|members: computer groups, static or dynamic (--where).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "cli/invopts.h"
#include "common/db.h"

static void
usage_group(FILE *f)
{
	fprintf(f, "usage: pgfleet group add NAME [--description TEXT] [--where COND ...]\n"
		   "       pgfleet group list [--format table|csv|json]\n"
		   "       pgfleet group members NAME [--format table|csv|json]\n\n"
		   "  add      create a group (computers join it with computer add --group or a batch);\n"
		   "           with --where it is dynamic: it also holds every computer the conditions\n"
		   "           match when a schedule is expanded (FIELD=VALUE as computer list --where)\n"
		   "  list     every group with its number of members (a dynamic one's: with those\n"
		   "           its rule matches now) and its rule\n"
		   "  members  the computers of one group, each a static member or one by its rule\n\n"
		   "Options:\n");
	invopts_help(f, "dwj");
}

/* ---- groups ------------------------------------------------------------- */

static int
group_add(struct invopts *o)
{
	const char *cmd = "group add";
	char err[1024];
	struct db_result *r;
	if (invopts_want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	if (args_name("group", o->pos[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "pgfleet %s: %s\n", cmd, err);
		return CLI_USAGE;
	}
	char *rule = o->nwheres > 0 ? invopts_where_rule(cmd, o) : NULL;
	if (o->nwheres > 0 && rule == NULL)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL) {
		free(rule);
		return CLI_ERROR;
	}
	const char *p[3] = {o->pos[0], o->description, rule};
	int dbrc = db_exec(db, &r, "SELECT pgfleet.group_add($1, $2, $3::jsonb)", 3, p, err, sizeof(err));
	free(rule);
	if (dbrc == -1) {
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
group_list(struct invopts *o)
{
	const char *cmd = "group list";
	if (invopts_want_pos(cmd, o, 0, "") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	int rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT g.name AS \"NAME\", g.members AS \"MEMBERS\", coalesce(g.rule::text, '') AS \"RULE\","
		  " coalesce(g.description, '') AS \"DESCRIPTION\""
		  " FROM pgfleet.group_list g ORDER BY g.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT g.name, g.description, g.members, g.rule FROM pgfleet.group_list g) x",
		  0, NULL);
	db_close(db);
	return rc;
}

static int
group_members(struct invopts *o)
{
	const char *cmd = "group members";
	if (invopts_want_pos(cmd, o, 1, "NAME") == -1)
		return CLI_USAGE;
	struct db *db = cmdutil_open(cmd);
	if (db == NULL)
		return CLI_ERROR;
	const char *p[1] = {o->pos[0]};
	int rc = cmdutil_exists(db, cmd, "SELECT 1 FROM pgfleet.group_list WHERE name = $1", o->pos[0],
	    "group \"%s\" does not exist");
	if (rc != CLI_OK) {
		db_close(db);
		return rc;
	}
	rc = cmdutil_print_list(db, cmd, o->fmt,
		  "SELECT c.computer_id AS \"ID\", c.name AS \"NAME\", c.host AS \"HOST\","
		  " coalesce(c.port::text, '-') AS \"PORT\","
		  " CASE WHEN c.enabled THEN 'yes' ELSE 'no' END AS \"ENABLED\","
		  " CASE WHEN m.by_rule THEN 'rule' ELSE 'static' END AS \"BY\""
		  " FROM pgfleet.group_member_list m JOIN pgfleet.computer_list c ON c.computer_id = m.computer_id"
		  " WHERE m.group_name = $1 ORDER BY c.name",
		  "SELECT coalesce(json_agg(x ORDER BY x.name), '[]') FROM ("
		  " SELECT c.computer_id AS id, c.name, c.host, c.port, c.enabled, m.by_rule"
		  " FROM pgfleet.group_member_list m JOIN pgfleet.computer_list c ON c.computer_id = m.computer_id"
		  " WHERE m.group_name = $1) x",
		  1, p);
	db_close(db);
	return rc;
}

int
cmd_group(int argc, char **argv)
{
	static const struct invopts_sub subs[] = {
		{"add", "dw", group_add},
		{"list", "j", group_list},
		{"members", "j", group_members},
	};
	return invopts_dispatch("group", subs, sizeof(subs) / sizeof(subs[0]), usage_group,
	    "add, list, members", argc, argv);
}
