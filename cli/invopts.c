/*
 * invopts: one table of the inventory commands' options and the scanner that reads it.
 */
#include "cli/invopts.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"
#include "common/json.h"
#include "common/rule.h"
#include "common/util.h"

/* Every option but --format/--json (cmdutil_format_option's): its letter, and whether a
 * value follows it. */
static const struct invopt {
	const char *name;
	char key;
	int value;
} options[] = {
	{"--force", 'f', 0},
	{"--dry-run", 'n', 0},
	{"--host", 'h', 1},
	{"--port", 'p', 1},
	{"--os", 'o', 1},
	{"--label", 'l', 1},
	{"--group", 'g', 1},
	{"--description", 'd', 1},
	{"--where", 'w', 1},
};

static const struct invopt *
lookup(const char *a)
{
	static const struct invopt format = {"--format", 'j', 0};
	if (strcmp(a, "--json") == 0 || strncmp(a, "--format", 8) == 0)
		return &format;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(a, options[i].name) == 0)
			return &options[i];
	return NULL;
}

static int
positional(const char *cmd, struct invopts *o, const char *a)
{
	if (o->npos == 4) {
		fprintf(stderr, "pgfleet %s: %s: too many arguments\n", cmd, a);
		return -1;
	}
	o->pos[o->npos++] = a;
	return 0;
}

/* The value v of option key, where it belongs in o. */
static void
store(struct invopts *o, char key, char *v)
{
	switch (key) {
	case 'f': o->force = 1; break;
	case 'n': o->dry_run = 1; break;
	case 'h': o->host = v; break;
	case 'p': o->port = v; break;
	case 'o': o->os = v; break;
	case 'd': o->description = v; break;
	case 'l': o->labels[o->nlabels++] = v; break;
	case 'w': o->wheres[o->nwheres++] = v; break;
	default: o->groups[o->ngroups++] = v; break;
	}
}

int
invopts_scan(const char *cmd, int argc, char **argv, const char *allowed, struct invopts *o,
    int *help)
{
	memset(o, 0, sizeof(*o));
	*help = 0;
	o->labels = calloc((size_t)argc, sizeof(char *));
	o->groups = calloc((size_t)argc, sizeof(char *));
	o->wheres = calloc((size_t)argc, sizeof(char *));
	if (o->labels == NULL || o->groups == NULL || o->wheres == NULL) {
		fprintf(stderr, "pgfleet %s: out of memory\n", cmd);
		return -1;
	}
	int dashdash = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || (a[0] != '-' || a[1] == '\0')) {
			if (positional(cmd, o, a) == -1)
				return -1;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
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
		const struct invopt *opt = lookup(a);
		if (opt == NULL) {
			fprintf(stderr, "pgfleet %s: %s: unknown option\n", cmd, a);
			return -1;
		}
		if (opt->key == 'j' && strchr(allowed, 'j') != NULL) {
			/* a spelling cmdutil_format_option did not take: --formatx */
			fprintf(stderr, "pgfleet %s: %s: unknown option\n", cmd, a);
			return -1;
		}
		if (strchr(allowed, opt->key) == NULL) {
			fprintf(stderr, "pgfleet %s: %s: not an option of this command\n", cmd, a);
			return -1;
		}
		if (opt->value && i + 1 >= argc) {
			fprintf(stderr, "pgfleet %s: %s needs a value\n", cmd, a);
			return -1;
		}
		store(o, opt->key, opt->value ? argv[++i] : NULL);
	}
	return 0;
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
