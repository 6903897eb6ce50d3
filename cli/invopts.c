/*
 * invopts: one table of the inventory commands' options, read by cli/opts.c.
 */
#include "cli/invopts.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/json.h"
#include "common/rule.h"
#include "common/util.h"

/* The options' keys: a subcommand names those it takes by these letters (bit i: keys[i]). */
static const char keys[] = "fnhpolgdwj";

enum { K_F = 1, K_N = 2, K_H = 4, K_P = 8, K_O = 16, K_L = 32, K_G = 64, K_D = 128, K_W = 256, K_J = 512 };

/* What the parser fills: the struct invopts, and its lists as opts keeps them. */
struct scan {
	struct invopts o;
	struct opts_list labels, groups, wheres;
};

#define O(f) offsetof(struct scan, f)
static const struct opts_spec specs[] = {
	OPTS_ROW_STR("--host", O(o.host), "HOST", "where its agent listens (name or address)", .only = K_H),
	OPTS_ROW_STR("--port", O(o.port), "PORT", "its agent's port, 1-65535 (default: the\nscheduler's agent_port)",
	    .only = K_P),
	OPTS_ROW_STR("--os", O(o.os), "OS", "operating system, matched by a task's os_required", .only = K_O),
	OPTS_ROW_LIST("--label", O(labels), "KEY=VALUE", "a label (repeat for more); targets select on labels",
	    .only = K_L),
	OPTS_ROW_LIST("--group", O(groups), "GROUP", "a group it belongs to (repeat for more)", .only = K_G),
	OPTS_ROW_STR("--description", O(o.description), "TEXT", "what the group is for", .only = K_D),
	OPTS_ROW_LIST("--where", O(wheres), "COND", "a condition FIELD=VALUE (or != >= <= > <; repeatable:\n"
	    "all must hold)", .only = K_W),
	CMDUTIL_FORMAT_OPTS(O(o.fmt), CMDUTIL_FORMAT_HELP, K_J),
	OPTS_ROW_FLAG("--force", O(o.force), "remove: also delete its events", .only = K_F),
	OPTS_ROW_FLAG("--dry-run", O(o.dry_run), "import: print what would change, write nothing",
	    .only = K_N),
};

/* The bits of the keys in letters. */
static unsigned
mask(const char *letters)
{
	unsigned m = 0;
	for (const char *p = letters; *p != '\0'; p++)
		if (strchr(keys, *p) != NULL)
			m |= 1u << (strchr(keys, *p) - keys);
	return m;
}

int
invopts_scan(const char *cmd, int argc, char **argv, const char *allowed, struct invopts *o,
    int *help)
{
	struct scan s;
	struct opts_pos pos;
	/* no usage after a refusal: invopts_dispatch points to --help; bit 31, no key's, makes
	 * the mask of a subcommand without options other than 0 (which would take them all) */
	const struct opts_cmd c = {.cmd = cmd, OPTS_TABLE(specs),
	    .sub = mask(allowed) | (1u << 31), .maxpos = 4, .terse = 1, .extra = "%s: too many arguments"};
	memset(&s, 0, sizeof(s));
	int rc = opts_parse(&c, argc, argv, &s, &pos);
	*o = s.o;
	o->labels = s.labels.v;
	o->nlabels = s.labels.n;
	o->groups = s.groups.v;
	o->ngroups = s.groups.n;
	o->wheres = s.wheres.v;
	o->nwheres = s.wheres.n;
	for (int i = 0; rc == 0 && i < pos.n; i++)
		o->pos[o->npos++] = pos.v[i];
	*help = rc == 1;
	return rc == -1 ? -1 : 0;
}

void
invopts_help(FILE *f, const char *letters)
{
	const struct opts_cmd c = {.cmd = "", OPTS_TABLE(specs), .sub = mask(letters)};
	opts_help(f, &c);
}

void
invopts_free(struct invopts *o)
{
	free(o->labels);
	free(o->groups);
	free(o->wheres);
}

int
invopts_want_pos(const char *cmd, const struct invopts *o, int n, const char *what)
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

char *
invopts_where_rule(const char *cmd, const struct invopts *o)
{
	struct util_buf b = {0};
	char field[300], cond[RULE_MAX_COND + 8], err[400], (*seen)[300] = calloc((size_t)o->nwheres + 1,
	    300);
	if (seen == NULL)
		return NULL;
	util_buf_puts(&b, "{");
	for (int i = 0; i < o->nwheres; i++) {
		if (rule_parse(o->wheres[i], field, sizeof(field), cond, sizeof(cond), err, sizeof(err)) == -1) {
			fprintf(stderr, "pgfleet %s: --where: %s\n", cmd, err);
			goto bad;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(seen[j], field) == 0) {
				fprintf(stderr, "pgfleet %s: --where: %s given twice\n", cmd, field);
				goto bad;
			}
		snprintf(seen[i], 300, "%s", field);
		util_buf_puts(&b, i > 0 ? "," : "");
		json_quote(&b, field);
		util_buf_puts(&b, ":");
		json_quote(&b, cond);
	}
	util_buf_puts(&b, "}");
	free(seen);
	return util_buf_take(&b);
bad:
	free(seen);
	util_buf_free(&b);
	return NULL;
}

int
invopts_dispatch(const char *noun, const struct invopts_sub *subs, size_t nsubs,
    void (*usage)(FILE *), const char *names, int argc, char **argv)
{
	struct invopts o;
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
		if (invopts_scan(cmd, argc - 1, argv + 1, subs[i].allowed, &o, &help) == -1) {
			invopts_free(&o);
			fprintf(stderr, "pgfleet %s --help describes the options\n", noun);
			return CLI_USAGE;
		}
		rc = help ? (usage(stdout), CLI_OK) : subs[i].fn(&o);
		invopts_free(&o);
		return rc;
	}
	fprintf(stderr, "pgfleet %s: unknown subcommand \"%s\" (%s)\n", noun, argv[1], names);
	return CLI_USAGE;
}
