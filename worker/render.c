/*
 * render: one left-to-right pass over the script. A '%' starts a token only when the text
 * after it is a known built-in name and '%', or one of the custom prefixes %#!, %#^!, %#*;
 * anything else (%PATH%, 100%, %%) is copied as it is, except Deployment Server's aliased
 * %#Alias!...% form, refused. Values go straight to the output and are never scanned again.
 * Each distinct custom token is looked up once per render.
 */
#include "worker/render.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define IDENT_MAX 63      /* PostgreSQL's NAMEDATALEN - 1 */
#define SHOW_MAX 80       /* bytes of a token quoted in messages and reports */
#define MAX_LOOKUPS 256   /* distinct custom tokens per script */
#define NAME_MAX_LEN 14   /* the longest built-in name, CALLINGJOBNAME */

struct buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max; /* 0: no cap */
};

struct cached {
	const char *key; /* the token's text in the input, keylen bytes */
	size_t keylen;
	char *value;     /* NULL: missing */
};

struct render {
	const char *in;
	size_t inlen;
	const struct render_vars *vars;
	const struct render_policy *policy;
	render_lookup_fn *lookup;
	void *arg;
	struct buf out;
	struct render_report *rep;
	struct cached cache[MAX_LOOKUPS];
	size_t ncache;
	char *err;
	size_t errlen;
};

static const struct builtin {
	const char *name;
	size_t off;
} builtins[] = {
	{ "COMPNAME", offsetof(struct render_vars, compname) },
	{ "NAME", offsetof(struct render_vars, name) },
	{ "ID", offsetof(struct render_vars, id) },
	{ "AGENTIPADDR", offsetof(struct render_vars, agentipaddr) },
	{ "IPNAME", offsetof(struct render_vars, ipname) },
	{ "MAC", offsetof(struct render_vars, mac) },
	{ "SERIALNUM", offsetof(struct render_vars, serialnum) },
	{ "ASSETTAG", offsetof(struct render_vars, assettag) },
	{ "DOMAIN", offsetof(struct render_vars, domain) },
	{ "DOMAINOU", offsetof(struct render_vars, domainou) },
	{ "DEPT", offsetof(struct render_vars, dept) },
	{ "CONTACT", offsetof(struct render_vars, contact) },
	{ "EMAIL", offsetof(struct render_vars, email) },
	{ "OS", offsetof(struct render_vars, os) },
	{ "DATE", offsetof(struct render_vars, date) },
	{ "DSSERVER", offsetof(struct render_vars, dsserver) },
	{ "JOBNAME", offsetof(struct render_vars, jobname) },
	{ "CALLINGJOBNAME", offsetof(struct render_vars, callingjobname) },
	{ "JOBUSER", offsetof(struct render_vars, jobuser) },
	{ "SCHEDULEID", offsetof(struct render_vars, scheduleid) },
	{ "EVENTID", offsetof(struct render_vars, eventid) },
	{ "TASKSEQ", offsetof(struct render_vars, taskseq) },
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* Append; -1 when the cap would be passed. Out of memory is fatal (STYLE). */
static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->max != 0 && (n > b->max || b->len > b->max - n))
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			fatal("render: realloc %zu bytes", cap);
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		fatal("render: malloc");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* s[0..n) made printable for a message: controls shown as '?', cut at SHOW_MAX with "...". */
static void
show(const char *s, size_t n, char *dst, size_t size)
{
	size_t i, j = 0;
	for (i = 0; i < n && i < SHOW_MAX && j + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n && j + 3 < size) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

static int
line_of(const struct render *r, size_t pos)
{
	int line = 1;
	for (size_t i = 0; i < pos; i++)
		if (r->in[i] == '\n')
			line++;
	return line;
}

/* "line N: token T: <reason>", T being in[pos..pos+n). Returns -1. */
static int
tokerr(struct render *r, size_t pos, size_t n, const char *fmt, ...)
{
	char tok[SHOW_MAX + 4], why[512];
	va_list ap;

	show(r->in + pos, n, tok, sizeof(tok));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "line %d: token %s: %s", line_of(r, pos), tok, why);
	return -1;
}

static int
ident_ok(const char *s, size_t n)
{
	if (n == 0 || n > IDENT_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int
render_identifier_ok(const char *s)
{
	return s != NULL && ident_ok(s, strnlen(s, IDENT_MAX + 1));
}

static int
report_missing(struct render *r, const char *tok, size_t n)
{
	struct render_report *rep = r->rep;
	char shown[SHOW_MAX + 4];

	if (rep == NULL)
		return 0;
	show(tok, n, shown, sizeof(shown));
	for (size_t i = 0; i < rep->nmissing; i++)
		if (strcmp(rep->missing[i], shown) == 0)
			return 0;
	char **m = realloc(rep->missing, (rep->nmissing + 1) * sizeof(*m));
	if (m == NULL)
		fatal("render: realloc");
	rep->missing = m;
	rep->missing[rep->nmissing++] = xstrndup(shown, strlen(shown));
	return 0;
}

/* Put the value of the token in[pos..pos+n) (NULL: missing) into the output. */
static int
emit(struct render *r, size_t pos, size_t n, const char *value)
{
	if (r->rep != NULL)
		r->rep->replaced++;
	if (value == NULL)
		return report_missing(r, r->in + pos, n);
	if (buf_add(&r->out, value, strlen(value)) == -1) {
		snprintf(r->err, r->errlen, "rendered script is larger than %zu bytes", r->out.max);
		return -1;
	}
	return 0;
}

/* Look up (or find in the cache) the custom token in[pos..pos+n); *value is the cache's. */
static int
lookup(struct render *r, size_t pos, size_t n, enum render_lookup kind, const char *table,
    const char *column, const char *sql, const char **value)
{
	char why[256];
	char *v = NULL;

	for (size_t i = 0; i < r->ncache; i++)
		if (r->cache[i].keylen == n && memcmp(r->cache[i].key, r->in + pos, n) == 0) {
			*value = r->cache[i].value;
			return 0;
		}
	if (r->lookup == NULL)
		return tokerr(r, pos, n, "no database lookup available");
	if (r->ncache == MAX_LOOKUPS)
		return tokerr(r, pos, n, "more than %d distinct custom tokens in one script",
		    MAX_LOOKUPS);
	why[0] = '\0';
	if (r->lookup(r->arg, kind, table, column, sql, &v, why, sizeof(why)) == -1) {
		free(v);
		return tokerr(r, pos, n, "%s", why[0] ? why : "lookup failed");
	}
	r->cache[r->ncache].key = r->in + pos;
	r->cache[r->ncache].keylen = n;
	r->cache[r->ncache].value = v;
	r->ncache++;
	*value = v;
	return 0;
}

static const struct render_table *
find_table(const struct render_policy *p, const char *name)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < p->ntables; i++)
		if (p->tables[i].name != NULL && strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	return NULL;
}

static int
has_column(const struct render_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (t->columns[i] != NULL && strcmp(t->columns[i], name) == 0)
			return 1;
	return 0;
}

/* %#!table@column% or %#^!table@column% at pos, body from pos+skip; *end past the '%'. */
static int
table_token(struct render *r, size_t pos, size_t skip, enum render_lookup kind, size_t *end)
{
	const char *in = r->in;
	size_t k = pos + skip, e = k;
	char table[IDENT_MAX + 1], column[IDENT_MAX + 1], shown[SHOW_MAX + 4];
	const char *value;

	while (e < r->inlen && in[e] != '%' && in[e] != '\n')
		e++;
	if (e == r->inlen || in[e] != '%')
		return tokerr(r, pos, e - pos, "not closed by %%");
	*end = e + 1;
	const char *at = memchr(in + k, '@', e - k);
	if (at == NULL)
		return tokerr(r, pos, *end - pos, "expected table@column");
	size_t tlen = (size_t)(at - (in + k)), clen = e - k - tlen - 1;
	if (!ident_ok(in + k, tlen)) {
		show(in + k, tlen, shown, sizeof(shown));
		return tokerr(r, pos, *end - pos, "table name \"%s\" is not a valid identifier "
		    "([a-z_][a-z0-9_]*, at most %d bytes)", shown, IDENT_MAX);
	}
	if (!ident_ok(at + 1, clen)) {
		show(at + 1, clen, shown, sizeof(shown));
		return tokerr(r, pos, *end - pos, "column name \"%s\" is not a valid identifier "
		    "([a-z_][a-z0-9_]*, at most %d bytes)", shown, IDENT_MAX);
	}
	memcpy(table, in + k, tlen);
	table[tlen] = '\0';
	memcpy(column, at + 1, clen);
	column[clen] = '\0';
	const struct render_table *t = find_table(r->policy, table);
	if (t == NULL)
		return tokerr(r, pos, *end - pos, "table \"%s\" is not in tokens.tables", table);
	if (!has_column(t, column))
		return tokerr(r, pos, *end - pos, "column \"%s\" of table \"%s\" is not in "
		    "tokens.tables", column, table);
	if (lookup(r, pos, *end - pos, kind, table, column, NULL, &value) == -1)
		return -1;
	return emit(r, pos, *end - pos, value);
}

/* %#*"SQL"% at pos; \" and \\ inside the quotes stand for " and \. */
static int
sql_token(struct render *r, size_t pos, size_t *end)
{
	const char *in = r->in;
	size_t k = pos + 3, eol = pos;
	struct buf sql = { NULL, 0, 0, 0 };
	const char *value;
	int rc = -1;

	while (eol < r->inlen && in[eol] != '\n')
		eol++;
	if (k >= r->inlen || in[k] != '"')
		return tokerr(r, pos, eol - pos, "expected a quoted query after %%#*");
	buf_add(&sql, "", 0);
	for (k++;; k++) {
		if (k >= r->inlen) {
			tokerr(r, pos, r->inlen - pos, "quoted query not closed by \"");
			goto done;
		}
		if (in[k] == '"')
			break;
		if (in[k] == '\0') {
			tokerr(r, pos, k - pos, "query contains a NUL byte");
			goto done;
		}
		if (in[k] == '\\' && k + 1 < r->inlen && (in[k + 1] == '"' || in[k + 1] == '\\'))
			k++;
		buf_add(&sql, in + k, 1);
	}
	k++;
	if (k >= r->inlen || in[k] != '%') {
		tokerr(r, pos, k - pos, "expected %% after the closing quote");
		goto done;
	}
	*end = k + 1;
	if (r->policy == NULL || !r->policy->sql_enabled) {
		tokerr(r, pos, *end - pos, "sql tokens are off (tokens.sql: false)");
		goto done;
	}
	if (sql.len == 0) {
		tokerr(r, pos, *end - pos, "empty query");
		goto done;
	}
	if (lookup(r, pos, *end - pos, RENDER_SQL, NULL, NULL, sql.p, &value) == -1)
		goto done;
	rc = emit(r, pos, *end - pos, value);
done:
	free(sql.p);
	return rc;
}

/* A built-in at pos? *end past its closing '%'; 0 when not one (the '%' is then text). */
static int
builtin_token(struct render *r, size_t pos, size_t *end, int *found)
{
	const char *in = r->in;
	size_t j = pos + 1;

	*found = 0;
	while (j < r->inlen && j - pos <= NAME_MAX_LEN && in[j] >= 'A' && in[j] <= 'Z')
		j++;
	if (j == pos + 1 || j >= r->inlen || in[j] != '%')
		return 0;
	for (size_t i = 0; i < NBUILTINS; i++) {
		const char *name = builtins[i].name;
		if (strlen(name) == j - pos - 1 && memcmp(name, in + pos + 1, j - pos - 1) == 0) {
			const char *value = NULL;
			if (r->vars != NULL)
				value = *(const char *const *)((const char *)r->vars + builtins[i].off);
			*found = 1;
			*end = j + 1;
			return emit(r, pos, *end - pos, value);
		}
	}
	return 0;
}

/*
 * Deployment Server's %#Alias!t@c%, %#Alias^!t@c% and %#Alias*"SQL"% read another database;
 * pgfleet has no such aliases, and silently leaving the token in would hide the mistake.
 */
static int
alias_token(struct render *r, size_t pos)
{
	const char *in = r->in;
	size_t j = pos + 2;

	while (j < r->inlen && ((in[j] >= 'A' && in[j] <= 'Z') || (in[j] >= 'a' && in[j] <= 'z') ||
	    (in[j] >= '0' && in[j] <= '9') || in[j] == '_'))
		j++;
	if (j == pos + 2 || j >= r->inlen)
		return 0;
	if (in[j] == '!' || in[j] == '*' || (in[j] == '^' && j + 1 < r->inlen && in[j + 1] == '!'))
		return tokerr(r, pos, j + 1 - pos, "data source alias \"%.*s\" is not supported "
		    "(custom tokens read pgfleet's own database)", (int)(j - pos - 2), in + pos + 2);
	return 0;
}

static int
render_pass(struct render *r)
{
	const char *in = r->in;
	size_t i = 0;

	while (i < r->inlen) {
		const char *p = memchr(in + i, '%', r->inlen - i);
		size_t pos = p ? (size_t)(p - in) : r->inlen, end = 0, left;
		int found;

		if (buf_add(&r->out, in + i, pos - i) == -1)
			goto toolarge;
		if (p == NULL)
			break;
		left = r->inlen - pos;
		if (left >= 3 && in[pos + 1] == '#') {
			if (in[pos + 2] == '!') {
				if (table_token(r, pos, 3, RENDER_ROW_OF_COMPUTER, &end) == -1)
					return -1;
				i = end;
				continue;
			}
			if (left >= 4 && in[pos + 2] == '^' && in[pos + 3] == '!') {
				if (table_token(r, pos, 4, RENDER_FIRST_ROW, &end) == -1)
					return -1;
				i = end;
				continue;
			}
			if (in[pos + 2] == '*') {
				if (sql_token(r, pos, &end) == -1)
					return -1;
				i = end;
				continue;
			}
		}
		if (left >= 3 && in[pos + 1] == '#' && alias_token(r, pos) == -1)
			return -1;
		if (builtin_token(r, pos, &end, &found) == -1)
			return -1;
		if (found) {
			i = end;
			continue;
		}
		if (buf_add(&r->out, "%", 1) == -1)
			goto toolarge;
		i = pos + 1;
	}
	return 0;
toolarge:
	snprintf(r->err, r->errlen, "rendered script is larger than %zu bytes", r->out.max);
	return -1;
}

int
render_script(const char *in, size_t inlen, const struct render_vars *vars,
    const struct render_policy *policy, render_lookup_fn *lookup_fn, void *arg, size_t max_out,
    char **out, size_t *outlen, struct render_report *rep, char *err, size_t errlen)
{
	struct render *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		fatal("render: calloc");
	*out = NULL;
	*outlen = 0;
	if (rep != NULL)
		memset(rep, 0, sizeof(*rep));
	r->in = in;
	r->inlen = in == NULL ? 0 : inlen;
	r->vars = vars;
	r->policy = policy;
	r->lookup = lookup_fn;
	r->arg = arg;
	r->out.max = max_out;
	r->rep = rep;
	r->err = err;
	r->errlen = errlen;

	buf_add(&r->out, "", 0);
	rc = render_pass(r);
	if (rc == 0) {
		*out = r->out.p;
		*outlen = r->out.len;
	} else {
		free(r->out.p);
		render_report_free(rep);
	}
	for (size_t i = 0; i < r->ncache; i++)
		free(r->cache[i].value);
	free(r);
	return rc;
}

void
render_report_free(struct render_report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; i < rep->nmissing; i++)
		free(rep->missing[i]);
	free(rep->missing);
	memset(rep, 0, sizeof(*rep));
}

int
render_date(time_t t, char buf[11])
{
	struct tm tm;
	char tmp[64];

	buf[0] = '\0';
	if (localtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -1;
	snprintf(tmp, sizeof(tmp), "%02d/%02d/%04d", tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900);
	memcpy(buf, tmp, 11);
	buf[10] = '\0';
	return 0;
}
