/*
 * opts: the table-driven option parser of the pgfleet subcommands, and their
 * generated --help.
 */
#include "cli/opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/units.h"

/* The help text starts in this column at the most; a longer option has its own line. */
#define HELP_COL 28

static int
allowed(const struct opts_cmd *c, const struct opts_spec *s)
{
	return c->sub == 0 || s->only == 0 || (s->only & c->sub) != 0;
}

/* "pgfleet CMD: " before every message ("pgfleet: " for the command line's own options). */
static void
prefix(const struct opts_cmd *c)
{
	fprintf(stderr, "pgfleet%s%s: ", c->cmd[0] != '\0' ? " " : "", c->cmd);
}

static void
say(const struct opts_cmd *c, const char *fmt, const char *dflt, const char *arg)
{
	prefix(c);
	fprintf(stderr, fmt != NULL ? fmt : dflt, arg);
	fputc('\n', stderr);
}

/* Is a[0..len-1] the name of s: "--name", or "-x" for its letter? */
static int
named(const struct opts_spec *s, const char *a, size_t len)
{
	if (a[1] != '-')
		return s->letter != 0 && len == 2 && a[1] == s->letter;
	return strlen(s->name) == len && strncmp(s->name, a, len) == 0;
}

/*
 * The spec of option a ("--name", "--name=VALUE", "-x"): this subcommand's first, then
 * another's (*elsewhere set); NULL when none has that name.
 */
static const struct opts_spec *
lookup(const struct opts_cmd *c, const char *a, int *elsewhere)
{
	const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
	size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
	*elsewhere = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->nspecs; i++)
			if (allowed(c, &c->specs[i]) == !pass && named(&c->specs[i], a, len)) {
				*elsewhere = pass;
				return &c->specs[i];
			}
	return NULL;
}

static int
takes_value(const struct opts_spec *s)
{
	return s->kind != OPTS_FLAG && (s->kind != OPTS_CALL || s->vname != NULL);
}

/* Store value (NULL for a flag) where s says; 0, or -1 with err. */
static int
store(const struct opts_spec *s, void *dst, char *value, char *err, size_t errlen)
{
	void *field = (char *)dst + s->off;
	struct opts_list *l = field;
	switch (s->kind) {
	case OPTS_FLAG:
		*(int *)field = 1;
		return 0;
	case OPTS_STR:
		*(const char **)field = value;
		return 0;
	case OPTS_INT:
		return units_int(value, s->min, s->max, (long long *)field, err, errlen);
	case OPTS_LIST: {
		char **v = realloc(l->v, ((size_t)l->n + 1) * sizeof(*v));
		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		l->v = v;
		l->v[l->n++] = value;
		return 0;
	}
	default:
		return s->fn(field, value, err, errlen);
	}
}

/* The spec of option a, or NULL after the message. */
static const struct opts_spec *
known(const struct opts_cmd *c, const char *a)
{
	int elsewhere;
	const struct opts_spec *s = lookup(c, a, &elsewhere);
	if (s == NULL || elsewhere) {
		if (s != NULL)
			say(c, c->elsewhere, "%s: not an option of this command", s->name);
		else
			say(c, c->unknown, "%s: unknown option", a);
		if (s == NULL && !c->terse)
			opts_usage(stderr, c);
		return NULL;
	}
	return s;
}

/*
 * "-xyz" run together: each letter's flag in turn until one takes a value, which is the
 * rest ("-p5432"). *value set to that rest, or NULL when every letter was a flag; the spec
 * of the last letter, or NULL after the message.
 */
static const struct opts_spec *
cluster(const struct opts_cmd *c, char *a, void *dst, char **value)
{
	char one[3] = {'-', 0, 0}, err[512];
	*value = NULL;
	for (char *p = a + 1; *p != '\0'; p++) {
		one[1] = *p;
		const struct opts_spec *s = known(c, one);
		if (s == NULL)
			return NULL;
		if (takes_value(s)) {
			*value = p[1] != '\0' ? p + 1 : NULL;
			return s;
		}
		if (p[1] == '\0')
			return s;
		if (store(s, dst, NULL, err, sizeof(err)) == -1) {
			prefix(c);
			fprintf(stderr, "%s: %s\n", s->name, err);
			return NULL;
		}
	}
	return NULL;
}

/* Option argv[*i] with its value (moving *i past it): 0, or -1 after the message. */
static int
option(const struct opts_cmd *c, int argc, char **argv, int *i, void *dst)
{
	char *a = argv[*i], *eq = a[1] == '-' ? strchr(a, '=') : NULL, err[512];
	char *value = eq != NULL ? eq + 1 : NULL;
	const struct opts_spec *s = a[1] != '-' && a[2] != '\0' ? cluster(c, a, dst, &value) :
	    known(c, a);
	if (s == NULL)
		return -1;
	if (!takes_value(s) && value != NULL) {
		say(c, "%s takes no value", NULL, s->name);
		return -1;
	}
	if (takes_value(s) && value == NULL) {
		if (*i + 1 >= argc) {
			say(c, "%s needs a value", NULL, a);
			return -1;
		}
		value = argv[++*i];
	}
	if (store(s, dst, value, err, sizeof(err)) == -1) {
		prefix(c);
		fprintf(stderr, "%s: %s\n", s->name, err);
		return -1;
	}
	return 0;
}

static int
positional(const struct opts_cmd *c, struct opts_pos *pos, const char *a)
{
	if (pos == NULL || pos->n >= c->maxpos || pos->n >= OPTS_MAXPOS) {
		say(c, c->extra, "%s: unexpected argument", a);
		return -1;
	}
	pos->v[pos->n++] = a;
	return 0;
}

int
opts_parse(const struct opts_cmd *c, int argc, char **argv, void *dst, struct opts_pos *pos)
{
	int dashdash = 0;
	if (pos != NULL) {
		pos->n = 0;
		pos->at = argc;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc;
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (c->head && pos != NULL) {
				pos->v[pos->n++] = a;
				pos->at = i;
				return 0;
			}
			rc = positional(c, pos, a);
		} else if (strcmp(a, "--") == 0) {
			dashdash = 1;
			rc = 0;
		} else if (strcmp(a, c->help_short != NULL ? c->help_short : "-h") == 0 ||
		    strcmp(a, "--help") == 0) {
			opts_usage(stdout, c);
			return 1;
		} else {
			rc = option(c, argc, argv, &i, dst);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
opts_exit(int rc)
{
	return rc == 1 ? CLI_OK : CLI_USAGE;
}

void
opts_free(const struct opts_cmd *c, void *dst)
{
	for (size_t i = 0; i < c->nspecs; i++) {
		if (c->specs[i].kind != OPTS_LIST)
			continue;
		struct opts_list *l = (struct opts_list *)((char *)dst + c->specs[i].off);
		free(l->v);
		l->v = NULL;
		l->n = 0;
	}
}

/* "-x, --name VALUE" (or "--name VALUE") into buf; its length. */
static int
left(const struct opts_spec *s, char *buf, size_t buflen)
{
	char letter[8] = "";
	if (s->letter != 0)
		snprintf(letter, sizeof(letter), "-%c, ", s->letter);
	return snprintf(buf, buflen, "%s%s%s%s", letter, s->name, s->vname != NULL ? " " : "",
	    s->vname != NULL ? s->vname : "");
}

/* The column the help texts start in: after the widest option that fits before HELP_COL. */
static int
help_column(const struct opts_cmd *c)
{
	char buf[128];
	int col = (int)strlen("  -h, --help  ");
	for (size_t i = 0; i < c->nspecs; i++) {
		if (c->specs[i].help == NULL || !allowed(c, &c->specs[i]))
			continue;
		int w = 2 + left(&c->specs[i], buf, sizeof(buf)) + 2;
		if (w > col && w <= HELP_COL)
			col = w;
	}
	return col;
}

/* One option's lines: its text, each line after the first (\n) aligned at col. */
static void
help_lines(FILE *f, const char *opt, const char *text, int col)
{
	int w = fprintf(f, "  %s", opt);
	if (w + 2 > col) {
		fputc('\n', f);
		w = 0;
	}
	for (const char *p = text;;) {
		const char *nl = strchr(p, '\n');
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		fprintf(f, "%*s%.*s\n", col - w, "", n, p);
		if (nl == NULL)
			break;
		p = nl + 1;
		w = 0;
	}
}

void
opts_usage(FILE *f, const struct opts_cmd *c)
{
	if (c->usage != NULL) {
		c->usage(f);
	} else if (c->about != NULL) {
		fprintf(f, "%sOptions:\n", c->about);
		opts_help(f, c);
		if (c->epilog != NULL)
			fputs(c->epilog, f);
	}
}

void
opts_help(FILE *f, const struct opts_cmd *c)
{
	char buf[128];
	int col = help_column(c);
	for (size_t i = 0; i < c->nspecs; i++) {
		if (c->specs[i].help == NULL || !allowed(c, &c->specs[i]))
			continue;
		left(&c->specs[i], buf, sizeof(buf));
		help_lines(f, buf, c->specs[i].help, col);
	}
	char help[16];
	snprintf(help, sizeof(help), "%s, --help", c->help_short != NULL ? c->help_short : "-h");
	help_lines(f, help, "this help", col);
}
