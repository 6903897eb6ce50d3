/*
 * batch: YAML job batches. common/yamltree.c reads the file into a tree (its one
 * policy: aliases, anchors and tags refused, size and depth bounded, positions on
 * every node), then one pass per section checks keys, types and values, and a last
 * pass checks names across sections. Errors are collected, never returned early:
 * the user sees them all. Everything a loaded batch holds lives in one arena freed
 * by batch_free.
 */
#include "cli/batch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "cli/args.h"
#include "common/field.h"
#include "common/log.h"
#include "common/units.h"
#include "common/util.h"

#define NAME_MAX_LEN 200

/* ---- the loader's state ------------------------------------------------ */

struct ld {
	struct batch *b;
	struct yt_errors *errs;
	struct arena *tmp; /* the tree and scratch, freed at the end of the load */
	char *dir;               /* folder of the batch file, for script_file */
	/* names used before their section may have been read, checked at the end */
	struct pending {
		int kind;        /* P_COMPUTER_GROUP, P_TARGET_GROUP, P_TARGET_COMPUTER */
		const char *name;
		struct yt_pos pos;
		size_t job;
	} *pend;
	size_t npend, cappend;
	size_t ntasks;           /* tasks of the jobs read so far */
};

enum { P_COMPUTER_GROUP, P_TARGET_GROUP, P_TARGET_COMPUTER };

static void
err_at(struct ld *l, struct yt_pos pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
err_at(struct ld *l, struct yt_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	yt_errors_vadd(l->errs, pos, fmt, ap);
	va_end(ap);
}

/* ---- typed access to nodes ------------------------------------------------ */

static int
is_null(const struct yt_node *n)
{
	return n == NULL || n->null;
}

/* Describe what a node is, for "expected X, found Y". */
static const char *
found(struct ld *l, const struct yt_node *n)
{
	char buf[64];
	if (is_null(n))
		return "nothing";
	switch (n->type) {
	case YT_SEQ:
		return "a list";
	case YT_MAP:
		return "a mapping";
	default:
		snprintf(buf, sizeof(buf), "\"%.40s%s\"", n->s, n->len > 40 ? "..." : "");
		return arena_strndup(&l->tmp, buf, strlen(buf));
	}
}

static int
want(struct ld *l, const char *key, const struct yt_node *n, enum yt_type t)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->type == YT_BAD)
		return -1;
	if (n->type == t && !(t == YT_SCALAR && is_null(n)))
		return 0;
	err_at(l, n->pos, "%s: expected %s, found %s", key, names[t], found(l, n));
	return -1;
}

static int
as_str(struct ld *l, const char *key, const struct yt_node *n, char **out)
{
	if (want(l, key, n, YT_SCALAR) == -1)
		return -1;
	*out = arena_strndup(&l->b->arena, n->s, n->len);
	return 0;
}

/* A string that reaches the control protocol: common/field.h's limits, the value named in the error. */
static int
as_field(struct ld *l, enum field f, const struct yt_node *n, char **out)
{
	char err[512];
	if (as_str(l, field_name(f), n, out) == -1)
		return -1;
	if (field_check(f, *out, err, sizeof(err)) == -1) {
		err_at(l, n->pos, "%s", err);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int
as_int(struct ld *l, const char *key, const struct yt_node *n, long long min, long long max,
       long long *out)
{
	char err[256];
	if (want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (units_int(n->s, min, max, out, err, sizeof(err)) == -1) {
		err_at(l, n->pos, "%s: %s", key, err);
		return -1;
	}
	return 0;
}

static int
as_bool(struct ld *l, const char *key, const struct yt_node *n, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	if (want(l, key, n, YT_SCALAR) == -1)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(n->s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(n->s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	err_at(l, n->pos, "%s: \"%s\" is not true or false", key, n->s);
	return -1;
}

static int
as_duration(struct ld *l, const char *key, const struct yt_node *n, long long min_ms, long long *out)
{
	char err[256];
	if (want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (units_duration_ms(n->s, out, err, sizeof(err)) == -1) {
		err_at(l, n->pos, "%s: %s", key, err);
		return -1;
	}
	if (*out < min_ms) {
		char buf[32];
		units_format_duration(min_ms, buf, sizeof(buf));
		err_at(l, n->pos, "%s: %s is shorter than %s", key, n->s, buf);
		return -1;
	}
	return 0;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * RFC 3339: 2026-12-01T02:00:00Z, 2026-12-01 02:00:00.5+02:00; fractions of a
 * second are dropped, leap seconds refused.
 */
static int
parse_rfc3339(const char *s, time_t *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int v[6];
	const char *p = s;
	static const struct { int len; char after; } part[6] = {
		{4, '-'}, {2, '-'}, {2, 'T'}, {2, ':'}, {2, ':'}, {2, 0},
	};
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int k = 0; k < part[i].len; k++, p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			v[i] = v[i] * 10 + (*p - '0');
		}
		if (part[i].after == 'T') {
			if (*p != 'T' && *p != 't' && *p != ' ')
				return -1;
			p++;
		} else if (part[i].after != 0) {
			if (*p++ != part[i].after)
				return -1;
		}
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
			return -1;
		int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap(v[0])) || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -1;
	struct tm tm = {0};
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	time_t t = timegm(&tm) - off;
	/* 1970 to 9999 in UTC: what export writes back as four-digit years */
	if (t < 0 || t >= (time_t)253402300800LL)
		return -1;
	*out = t;
	return 0;
}

static int
as_time(struct ld *l, const char *key, const struct yt_node *n, time_t *out)
{
	if (want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (parse_rfc3339(n->s, out) == -1) {
		err_at(l, n->pos, "%s: \"%s\" is not an RFC 3339 timestamp (example: "
				  "2026-12-01T02:00:00Z)",
		       key, n->s);
		return -1;
	}
	return 0;
}

/*
 * Check a mapping's keys against names: vals[i] gets the value of names[i]
 * (NULL when absent). Unknown and duplicate keys are errors. Returns -1 when
 * n is not a mapping.
 */
static int
map_keys(struct ld *l, const char *what, const struct yt_node *n, const char *const *names,
	 struct yt_node **vals)
{
	size_t nnames = 0;
	while (names[nnames] != NULL)
		vals[nnames++] = NULL;
	if (want(l, what, n, YT_MAP) == -1)
		return -1;
	for (const struct yt_node *k = n->first; k != NULL && k->next != NULL; k = k->next->next) {
		size_t i;
		if (k->type == YT_BAD)
			continue;
		if (k->type != YT_SCALAR) {
			err_at(l, k->pos, "%s: a key must be a string, found %s", what, found(l, k));
			continue;
		}
		for (i = 0; i < nnames && strcmp(names[i], k->s) != 0; i++)
			;
		if (i == nnames) {
			char known[512] = "";
			for (size_t j = 0; j < nnames; j++) {
				if (j > 0)
					strncat(known, ", ", sizeof(known) - strlen(known) - 1);
				strncat(known, names[j], sizeof(known) - strlen(known) - 1);
			}
			err_at(l, k->pos, "unknown key \"%.60s\" in %s (known: %s)", k->s, what, known);
			continue;
		}
		if (vals[i] != NULL) {
			err_at(l, k->pos, "duplicate key \"%s\" in %s", k->s, what);
			continue;
		}
		vals[i] = k->next;
	}
	for (size_t i = 0; i < nnames; i++)
		if (vals[i] != NULL && is_null(vals[i]))
			vals[i] = NULL;
	return 0;
}

/*
 * The attrs with a column of their own feed tokens (%SERIALNUM%, %DEPT%, ...): each is
 * checked by its grammar (common/field.h); "" means none. Other keys are free.
 */
static int
check_attr(struct ld *l, const struct yt_node *n, const char *key, const char *value)
{
	static const struct {
		const char *key;
		enum field f;
	} attrs[] = {
		{"serial", FIELD_TEXT}, {"asset_tag", FIELD_TEXT}, {"domain", FIELD_DOMAIN},
		{"domain_ou", FIELD_TEXT}, {"dept", FIELD_TEXT}, {"contact", FIELD_TEXT},
		{"email", FIELD_EMAIL},
	};
	char err[512];
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcmp(key, attrs[i].key) == 0 && value[0] != '\0' &&
		    field_check_as(attrs[i].f, key, value, err, sizeof(err)) == -1) {
			err_at(l, n->pos, "attrs: %s", err);
			return -1;
		}
	return 0;
}

/* A mapping of strings to strings (labels, attrs), sorted by key. */
static int
as_kv(struct ld *l, const char *key, const struct yt_node *n, struct batch_kv **out, size_t *nout)
{
	if (want(l, key, n, YT_MAP) == -1)
		return -1;
	struct batch_kv *v = arena_alloc(&l->b->arena, (n->n / 2 + 1) * sizeof(*v));
	size_t cnt = 0;
	int bad = 0;
	for (const struct yt_node *k = n->first; k != NULL && k->next != NULL; k = k->next->next) {
		const struct yt_node *val = k->next;
		char *ks, *vs = NULL;
		if (as_str(l, key, k, &ks) == -1) {
			bad = 1;
			continue;
		}
		if (is_null(val))
			vs = arena_strndup(&l->b->arena, "", 0);
		else if (as_str(l, key, val, &vs) == -1) {
			bad = 1;
			continue;
		}
		size_t j;
		for (j = 0; j < cnt && strcmp(v[j].key, ks) != 0; j++)
			;
		if (j < cnt) {
			err_at(l, k->pos, "duplicate key \"%s\" in %s", ks, key);
			bad = 1;
			continue;
		}
		if (strlen(ks) == 0 || strlen(ks) > NAME_MAX_LEN) {
			err_at(l, k->pos, "%s: a key must be 1 to %d characters long", key, NAME_MAX_LEN);
			bad = 1;
			continue;
		}
		if (strcmp(key, "attrs") == 0 && check_attr(l, val, ks, vs) == -1) {
			bad = 1;
			continue;
		}
		v[cnt].key = ks;
		v[cnt].value = vs;
		cnt++;
	}
	/* insertion sort: these maps are small */
	for (size_t i = 1; i < cnt; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1].key, v[j].key) > 0; j--) {
			struct batch_kv t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*nout = cnt;
	return bad ? -1 : 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_unique(char **v, size_t *n)
{
	size_t k = 0;
	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), cmp_str);
	for (size_t i = 1; i < *n; i++)
		if (strcmp(v[i], v[k]) != 0)
			v[++k] = v[i];
	*n = k + 1;
}

/* Computer names: host-name-like, as in certificates and tokens. */
static int
check_computer_name(struct ld *l, const struct yt_node *n, const char *s)
{
	char err[512];
	if (field_computer_name(s, err, sizeof(err)) == -1) {
		err_at(l, n->pos, "%s", err);
		return -1;
	}
	return 0;
}

/* Group and job names: printable, at most NAME_MAX_LEN; job names are folder paths. */
static int
check_name(struct ld *l, const char *what, const struct yt_node *n, const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > NAME_MAX_LEN) {
		err_at(l, n->pos, "%s name must be 1 to %d characters long", what, NAME_MAX_LEN);
		return -1;
	}
	if (util_has_ctl(s)) {
		err_at(l, n->pos, "%s name \"%.60s\" holds a control character", what, s);
		return -1;
	}
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])) {
		err_at(l, n->pos, "%s name \"%.60s\" begins or ends with a space", what, s);
		return -1;
	}
	if (strcmp(what, "job") == 0 && (s[0] == '/' || s[len - 1] == '/' || strstr(s, "//"))) {
		err_at(l, n->pos, "job name \"%.60s\": folders are separated by single '/', not at "
				  "the start or the end",
		       s);
		return -1;
	}
	return 0;
}

static void
pend(struct ld *l, int kind, const char *name, struct yt_pos pos, size_t job)
{
	if (l->npend == l->cappend) {
		size_t cap = l->cappend ? l->cappend * 2 : 64;
		struct pending *v = realloc(l->pend, cap * sizeof(*v));
		if (v == NULL)
			fatal("batch: pending names");
		l->pend = v;
		l->cappend = cap;
	}
	l->pend[l->npend].kind = kind;
	l->pend[l->npend].name = name;
	l->pend[l->npend].pos = pos;
	l->pend[l->npend].job = job;
	l->npend++;
}

/* A list of names: each pended with its position for the last pass. */
static int
as_names(struct ld *l, const char *key, const struct yt_node *n, int kind, size_t job, char ***out,
	 size_t *nout)
{
	if (want(l, key, n, YT_SEQ) == -1)
		return -1;
	char **v = arena_alloc(&l->b->arena, (n->n + 1) * sizeof(*v));
	size_t cnt = 0;
	int bad = 0;
	for (const struct yt_node *it = n->first; it != NULL; it = it->next) {
		char *s;
		if (as_str(l, key, it, &s) == -1) {
			bad = 1;
			continue;
		}
		v[cnt++] = s;
		pend(l, kind, s, it->pos, job);
	}
	sort_unique(v, &cnt);
	*out = v;
	*nout = cnt;
	return bad ? -1 : 0;
}

/* ---- sections ------------------------------------------------------------- */

static void
load_groups(struct ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "description", NULL};
	if (want(l, "groups", n, YT_SEQ) == -1)
		return;
	l->b->groups = arena_alloc(&l->b->arena, (n->n + 1) * sizeof(*l->b->groups));
	for (const struct yt_node *it = n->first; it != NULL; it = it->next) {
		struct batch_group *g = &l->b->groups[l->b->ngroups];
		const struct yt_node *name = it;
		struct yt_node *v[2];
		if (it->type == YT_MAP) {
			if (map_keys(l, "a group", it, keys, v) == -1)
				continue;
			if (v[0] == NULL) {
				err_at(l, it->pos, "group: name is missing");
				continue;
			}
			name = v[0];
			if (v[1] != NULL)
				(void)as_str(l, "description", v[1], &g->description);
		} else if (it->type == YT_SEQ || is_null(it)) {
			err_at(l, it->pos, "groups: expected a group name or a mapping {name, "
					   "description}, found %s",
			       found(l, it));
			continue;
		}
		if (as_str(l, "name", name, &g->name) == -1 || check_name(l, "group", name, g->name) == -1)
			continue;
		g->pos = name->pos;
		l->b->ngroups++;
	}
}

static void
load_computer(struct ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "host", "port", "os", "boot_env", "ip", "mac",
					   "labels", "attrs", "groups", "enabled", NULL};
	enum { K_NAME, K_HOST, K_PORT, K_OS, K_BOOT, K_IP, K_MAC, K_LABELS, K_ATTRS, K_GROUPS, K_ENABLED };
	struct yt_node *v[11];
	struct batch_computer *c = &l->b->computers[l->b->ncomputers];
	int bad = 0, bad_name = 0;
	long long port;

	if (map_keys(l, "a computer", n, keys, v) == -1)
		return;
	c->enabled = 1;
	c->pos = n->pos;
	if (v[K_NAME] == NULL) {
		err_at(l, n->pos, "computer: name is missing");
		bad_name = 1;
	} else if (as_str(l, "name", v[K_NAME], &c->name) == -1 ||
		   check_computer_name(l, v[K_NAME], c->name) == -1)
		bad_name = 1;
	else
		c->pos = v[K_NAME]->pos;
	if (v[K_HOST] != NULL && as_field(l, FIELD_HOST, v[K_HOST], &c->host) == -1)
		bad = 1;
	else if (v[K_HOST] == NULL && c->name != NULL && !bad_name) {
		if (field_hostname_ok(c->name))
			c->host = c->name;
		else {
			err_at(l, c->pos, "computer \"%.60s\": host is missing and the name is no "
					  "host name (RFC 1123: letters, digits and '-'); give host:",
			       c->name);
			bad = 1;
		}
	}
	if (v[K_PORT] != NULL) {
		if (as_int(l, "port", v[K_PORT], 1, 65535, &port) == -1)
			bad = 1;
		else
			c->port = (int)port;
	}
	if (v[K_OS] != NULL && as_field(l, FIELD_OS, v[K_OS], &c->os) == -1)
		bad = 1;
	if (v[K_BOOT] != NULL && as_field(l, FIELD_BOOT_ENV, v[K_BOOT], &c->boot_env) == -1)
		bad = 1;
	if (v[K_IP] != NULL && as_field(l, FIELD_IP, v[K_IP], &c->ip) == -1)
		bad = 1;
	if (v[K_MAC] != NULL) {
		if (as_field(l, FIELD_MAC, v[K_MAC], &c->mac) == -1)
			bad = 1;
		else
			for (char *m = c->mac; *m != '\0'; m++)
				*m = *m == '-' ? ':' : (char)tolower((unsigned char)*m);
	}
	if (v[K_LABELS] != NULL && as_kv(l, "labels", v[K_LABELS], &c->labels, &c->nlabels) == -1)
		bad = 1;
	if (v[K_ATTRS] != NULL && as_kv(l, "attrs", v[K_ATTRS], &c->attrs, &c->nattrs) == -1)
		bad = 1;
	if (v[K_GROUPS] != NULL &&
	    as_names(l, "groups", v[K_GROUPS], P_COMPUTER_GROUP, 0, &c->groups, &c->ngroups) == -1)
		bad = 1;
	if (v[K_ENABLED] != NULL && as_bool(l, "enabled", v[K_ENABLED], &c->enabled) == -1)
		bad = 1;
	/* kept with other errors too, so that duplicates and references are still checked */
	if (c->name != NULL && !bad_name)
		l->b->ncomputers++;
	else
		memset(c, 0, sizeof(*c));
	(void)bad;
}

static int
parse_action(const char *s, enum batch_action *a)
{
	static const char *const names[] = {"success", "failure", "continue", "stop"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*a = (enum batch_action)i;
			return 0;
		}
	return -1;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

static int
cmp_code(const void *a, const void *b)
{
	return cmp_int(&((const struct batch_code *)a)->code, &((const struct batch_code *)b)->code);
}

/* Read a script file, relative to the batch's folder. */
static int
read_script(struct ld *l, const struct yt_node *n, const char *file, char **out)
{
	char *path = NULL;
	int fd = -1, rc = -1;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	struct stat st;

	if (file[0] == '\0') {
		err_at(l, n->pos, "script_file: the file name is empty");
		return -1;
	}
	if (file[0] == '/' || l->dir == NULL)
		path = strdup(file);
	else if (asprintf(&path, "%s/%s", l->dir, file) == -1)
		path = NULL;
	if (path == NULL)
		fatal("batch: script path");
	/* non-blocking and regular files only: a FIFO or a device would hang or never end */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 || fstat(fd, &st) == -1)
		goto syserr;
	if (!S_ISREG(st.st_mode)) {
		err_at(l, n->pos, "script_file \"%s\": %s is not a regular file", file, path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				fatal("batch: script");
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto syserr;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > BATCH_MAX_SCRIPT) {
			err_at(l, n->pos, "script_file \"%s\": larger than %d MiB", file,
			       BATCH_MAX_SCRIPT >> 20);
			goto out;
		}
	}
	if (len == 0) {
		err_at(l, n->pos, "script_file \"%s\": the file is empty", file);
		goto out;
	}
	if (memchr(buf, '\0', len) != NULL) {
		err_at(l, n->pos, "script_file \"%s\": holds a NUL byte (a script is text)", file);
		goto out;
	}
	*out = arena_strndup(&l->b->arena, buf, len);
	rc = 0;
	goto out;
syserr:
	err_at(l, n->pos, "script_file \"%s\": cannot read %s: %s", file, path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	free(buf);
	free(path);
	return rc;
}

/* Valid UTF-8, as PostgreSQL will want it: no overlongs, no surrogates, at most U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned min, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else
			return 0;
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static void
load_task(struct ld *l, const struct yt_node *n, struct batch_task *t, int *bad)
{
	static const char *const keys[] = {"name", "script", "script_file", "interpreter", "run_as",
					   "timeout", "success_codes", "on_code", "on_failure",
					   "os_required", "boot_env", NULL};
	enum { K_NAME, K_SCRIPT, K_FILE, K_INTERP, K_RUNAS, K_TIMEOUT, K_CODES, K_ONCODE, K_ONFAIL,
	       K_OS, K_BOOT };
	struct yt_node *v[11];
	long long x;

	t->pos = n->pos;
	if (map_keys(l, "a task", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[K_NAME] != NULL && as_str(l, "name", v[K_NAME], &t->name) == -1)
		*bad = 1;
	if (v[K_SCRIPT] != NULL && v[K_FILE] != NULL) {
		err_at(l, v[K_FILE]->pos, "task has both script and script_file (use one)");
		*bad = 1;
	} else if (v[K_SCRIPT] == NULL && v[K_FILE] == NULL) {
		err_at(l, n->pos, "task needs script or script_file");
		*bad = 1;
	} else if (v[K_SCRIPT] != NULL) {
		if (as_str(l, "script", v[K_SCRIPT], &t->script) == -1)
			*bad = 1;
		else if (t->script[0] == '\0') {
			err_at(l, v[K_SCRIPT]->pos, "script: the script is empty");
			*bad = 1;
		}
	} else {
		if (as_str(l, "script_file", v[K_FILE], &t->script_file) == -1 ||
		    read_script(l, v[K_FILE], t->script_file, &t->script) == -1)
			*bad = 1;
		else if (!utf8_valid((const unsigned char *)t->script, strlen(t->script))) {
			err_at(l, v[K_FILE]->pos, "script_file \"%s\": not UTF-8 text", t->script_file);
			*bad = 1;
		}
	}
	if (v[K_INTERP] != NULL && as_field(l, FIELD_INTERPRETER, v[K_INTERP], &t->interpreter) == -1)
		*bad = 1;
	if (t->interpreter == NULL)
		t->interpreter = arena_strndup(&l->b->arena, "/bin/sh", 7);
	if (v[K_RUNAS] != NULL && as_field(l, FIELD_RUN_AS, v[K_RUNAS], &t->run_as) == -1)
		*bad = 1;
	if (v[K_TIMEOUT] != NULL && as_duration(l, "timeout", v[K_TIMEOUT], 1, &t->timeout_ms) == -1)
		*bad = 1;
	if (v[K_CODES] != NULL) {
		const struct yt_node *c = v[K_CODES];
		if (want(l, "success_codes", c, YT_SEQ) == -1)
			*bad = 1;
		else if (c->n == 0) {
			err_at(l, c->pos, "success_codes: the list is empty (the default is [0])");
			*bad = 1;
		} else {
			t->success_codes = arena_alloc(&l->b->arena, c->n * sizeof(int));
			for (const struct yt_node *it = c->first; it != NULL; it = it->next) {
				if (as_int(l, "success_codes", it, 0, 255, &x) == -1)
					*bad = 1;
				else
					t->success_codes[t->nsuccess_codes++] = (int)x;
			}
		}
	}
	if (t->success_codes == NULL) {
		t->success_codes = arena_alloc(&l->b->arena, sizeof(int));
		t->nsuccess_codes = 1;
	}
	if (t->nsuccess_codes > 1) {
		size_t k = 0;
		qsort(t->success_codes, t->nsuccess_codes, sizeof(int), cmp_int);
		for (size_t i = 1; i < t->nsuccess_codes; i++)
			if (t->success_codes[i] != t->success_codes[k])
				t->success_codes[++k] = t->success_codes[i];
		t->nsuccess_codes = k + 1;
	}
	if (v[K_ONCODE] != NULL) {
		const struct yt_node *m = v[K_ONCODE];
		if (want(l, "on_code", m, YT_MAP) == -1)
			*bad = 1;
		else {
			t->on_code = arena_alloc(&l->b->arena, (m->n / 2 + 1) * sizeof(*t->on_code));
			for (const struct yt_node *k = m->first; k != NULL && k->next != NULL;
			     k = k->next->next) {
				enum batch_action a;
				if (as_int(l, "on_code", k, INT32_MIN, INT32_MAX, &x) == -1) {
					*bad = 1;
					continue;
				}
				if (want(l, "on_code", k->next, YT_SCALAR) == -1) {
					*bad = 1;
					continue;
				}
				if (parse_action(k->next->s, &a) == -1) {
					err_at(l, k->next->pos,
					       "on_code: \"%.60s\" is not an action (use success, failure, "
					       "continue or stop)",
					       k->next->s);
					*bad = 1;
					continue;
				}
				size_t j;
				for (j = 0; j < t->non_code && t->on_code[j].code != (int)x; j++)
					;
				if (j < t->non_code) {
					err_at(l, k->pos, "on_code: code %lld is given twice", x);
					*bad = 1;
					continue;
				}
				t->on_code[t->non_code].code = (int)x;
				t->on_code[t->non_code].action = a;
				t->non_code++;
			}
			qsort(t->on_code, t->non_code, sizeof(*t->on_code), cmp_code);
		}
	}
	t->on_failure = BATCH_STOP;
	if (v[K_ONFAIL] != NULL) {
		if (want(l, "on_failure", v[K_ONFAIL], YT_SCALAR) == -1)
			*bad = 1;
		else if (strcmp(v[K_ONFAIL]->s, "stop") == 0)
			t->on_failure = BATCH_STOP;
		else if (strcmp(v[K_ONFAIL]->s, "continue") == 0)
			t->on_failure = BATCH_CONTINUE;
		else {
			err_at(l, v[K_ONFAIL]->pos, "on_failure: \"%.60s\" is not stop or continue",
			       v[K_ONFAIL]->s);
			*bad = 1;
		}
	}
	if (v[K_OS] != NULL && as_field(l, FIELD_OS_REQUIRED, v[K_OS], &t->os_required) == -1)
		*bad = 1;
	if (v[K_BOOT] != NULL && as_field(l, FIELD_BOOT_ENV, v[K_BOOT], &t->boot_env) == -1)
		*bad = 1;
}

static void
load_targets(struct ld *l, const struct yt_node *n, struct batch_job *j, size_t ji, int *bad)
{
	static const char *const keys[] = {"computers", "groups", "labels", NULL};
	struct yt_node *v[3];
	struct batch_targets *t = &j->targets;

	if (map_keys(l, "targets", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[0] != NULL && as_names(l, "computers", v[0], P_TARGET_COMPUTER, ji, &t->computers,
				     &t->ncomputers) == -1)
		*bad = 1;
	if (v[1] != NULL &&
	    as_names(l, "groups", v[1], P_TARGET_GROUP, ji, &t->groups, &t->ngroups) == -1)
		*bad = 1;
	if (v[2] != NULL && as_kv(l, "labels", v[2], &t->labels, &t->nlabels) == -1)
		*bad = 1;
	if (!*bad && t->ncomputers == 0 && t->ngroups == 0 && t->nlabels == 0) {
		err_at(l, n->pos, "targets: name at least one computer, group or label");
		*bad = 1;
	}
	j->has_targets = 1;
}

static void
load_schedule(struct ld *l, const struct yt_node *n, struct batch_schedule *s, int *bad)
{
	static const char *const keys[] = {"at", "every", "cron", "until", NULL};
	enum { K_AT, K_EVERY, K_CRON, K_UNTIL };
	struct yt_node *v[4];
	char err[256];

	s->pos = n->pos;
	if (map_keys(l, "schedule", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[K_AT] != NULL) {
		if (want(l, "at", v[K_AT], YT_SCALAR) == -1)
			*bad = 1;
		else if (strcmp(v[K_AT]->s, "now") == 0)
			s->at_now = 1;
		else if (as_time(l, "at", v[K_AT], &s->at) == -1)
			*bad = 1;
		else
			s->at_now = 0;
	}
	if (v[K_EVERY] != NULL && v[K_CRON] != NULL) {
		err_at(l, v[K_CRON]->pos, "schedule: every and cron exclude each other (use one)");
		*bad = 1;
	}
	if (v[K_EVERY] != NULL && as_duration(l, "every", v[K_EVERY], 1000, &s->every_ms) == -1)
		*bad = 1;
	if (v[K_CRON] != NULL) {
		if (want(l, "cron", v[K_CRON], YT_SCALAR) == -1)
			*bad = 1;
		else if (cron_parse(v[K_CRON]->s, &s->cron, err, sizeof(err)) == -1) {
			err_at(l, v[K_CRON]->pos, "%s", err);
			*bad = 1;
		} else
			s->has_cron = 1;
	}
	if (v[K_UNTIL] != NULL) {
		if (as_time(l, "until", v[K_UNTIL], &s->until) == -1)
			*bad = 1;
		else if (v[K_EVERY] == NULL && v[K_CRON] == NULL) {
			err_at(l, v[K_UNTIL]->pos, "until: needs every or cron (a single run has no end)");
			*bad = 1;
		} else if (!s->at_now && s->until <= s->at) {
			err_at(l, v[K_UNTIL]->pos, "until: \"%s\" is not after at", v[K_UNTIL]->s);
			*bad = 1;
		} else
			s->has_until = 1;
	}
}

static void
load_rollout(struct ld *l, const struct yt_node *n, struct batch_rollout *r, int *bad)
{
	static const char *const keys[] = {"max_concurrent", "max_failures", NULL};
	struct yt_node *v[2];
	long long x;

	if (map_keys(l, "rollout", n, keys, v) == -1) {
		*bad = 1;
		return;
	}
	if (v[0] != NULL) {
		if (as_int(l, "max_concurrent", v[0], 1, 1000000, &x) == -1)
			*bad = 1;
		else
			r->max_concurrent = (int)x;
	}
	if (v[1] != NULL) {
		char err[256];
		const struct yt_node *m = v[1];
		if (want(l, "max_failures", m, YT_SCALAR) == -1) {
			*bad = 1;
			return;
		}
		if (strlen(m->s) != m->len) {
			err_at(l, m->pos, "max_failures: holds a NUL character");
			*bad = 1;
		} else if (args_max_failures("max_failures", m->s, &r->max_failures,
			       &r->max_failures_pct, err, sizeof(err)) == -1) {
			err_at(l, m->pos, "%s", err);
			*bad = 1;
		}
	}
}

static void
load_job(struct ld *l, const struct yt_node *n)
{
	static const char *const keys[] = {"name", "description", "tasks", "targets", "schedule",
					   "rollout", NULL};
	enum { K_NAME, K_DESC, K_TASKS, K_TARGETS, K_SCHEDULE, K_ROLLOUT };
	struct yt_node *v[6];
	size_t ji = l->b->njobs;
	struct batch_job *j = &l->b->jobs[ji];
	int bad = 0;

	j->pos = n->pos;
	j->schedule.at_now = 1;
	j->schedule.pos = n->pos;
	j->rollout.max_failures = -1;
	if (map_keys(l, "a job", n, keys, v) == -1)
		return;
	if (v[K_NAME] == NULL) {
		err_at(l, n->pos, "job: name is missing");
		bad = 1;
	} else if (as_str(l, "name", v[K_NAME], &j->name) == -1 ||
		   check_name(l, "job", v[K_NAME], j->name) == -1)
		bad = 1;
	else
		j->pos = v[K_NAME]->pos;
	if (v[K_DESC] != NULL && as_str(l, "description", v[K_DESC], &j->description) == -1)
		bad = 1;
	if (v[K_TASKS] == NULL) {
		err_at(l, n->pos, "job: tasks is missing (a job runs at least one task)");
		bad = 1;
	} else if (want(l, "tasks", v[K_TASKS], YT_SEQ) == -1)
		bad = 1;
	else if (v[K_TASKS]->n == 0) {
		err_at(l, v[K_TASKS]->pos, "tasks: the list is empty (a job runs at least one task)");
		bad = 1;
	} else if (v[K_TASKS]->n > BATCH_MAX_TASKS) {
		const struct yt_node *it = v[K_TASKS]->first;
		for (int i = 0; i < BATCH_MAX_TASKS; i++)
			it = it->next;
		err_at(l, it->pos, "tasks: more than %d tasks in one job (the limit; split the job)",
		       BATCH_MAX_TASKS);
		bad = 1;
	} else if (l->ntasks + v[K_TASKS]->n > BATCH_MAX_BATCH_TASKS) {
		err_at(l, v[K_TASKS]->pos, "tasks: more than %d tasks in one batch (the limit; "
					   "split the batch)", BATCH_MAX_BATCH_TASKS);
		l->ntasks += v[K_TASKS]->n;
		bad = 1;
	} else {
		size_t bytes = 0;
		l->ntasks += v[K_TASKS]->n;
		j->tasks = arena_alloc(&l->b->arena, v[K_TASKS]->n * sizeof(*j->tasks));
		for (const struct yt_node *it = v[K_TASKS]->first; it != NULL; it = it->next) {
			struct batch_task *t = &j->tasks[j->ntasks++];
			load_task(l, it, t, &bad);
			bytes += t->script != NULL ? strlen(t->script) : 0;
			if (bytes > BATCH_MAX_JOB_SCRIPT) {
				err_at(l, it->pos, "tasks: the scripts of this job pass %d MiB together "
						   "(the limit; split the job)", BATCH_MAX_JOB_SCRIPT >> 20);
				bad = 1;
				break;
			}
		}
	}
	if (v[K_TARGETS] != NULL)
		load_targets(l, v[K_TARGETS], j, ji, &bad);
	if (v[K_SCHEDULE] != NULL) {
		load_schedule(l, v[K_SCHEDULE], &j->schedule, &bad);
		if (v[K_TARGETS] == NULL) {
			err_at(l, v[K_SCHEDULE]->pos, "schedule: needs targets");
			bad = 1;
		}
	}
	if (v[K_ROLLOUT] != NULL) {
		load_rollout(l, v[K_ROLLOUT], &j->rollout, &bad);
		if (v[K_TARGETS] == NULL) {
			err_at(l, v[K_ROLLOUT]->pos, "rollout: needs targets");
			bad = 1;
		}
	}
	(void)bad; /* errors are in l->errs; the job is kept so that later checks see its name */
	l->b->njobs++;
}

/* ---- checks across sections ---------------------------------------------- */

struct named {
	const char *name;
	struct yt_pos pos;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

/* Sort names; report each one declared twice at its second place. */
static void
check_dups(struct ld *l, const char *what, struct named *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_named);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].name, v[i - 1].name) == 0)
			err_at(l, v[i].pos, "duplicate %s name \"%.60s\" (first at %d:%d)", what,
			       v[i].name, v[i - 1].pos.line, v[i - 1].pos.col);
}

static int
known(const struct named *v, size_t n, const char *name)
{
	struct named key = {name, {0, 0}};
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid].name, key.name);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
cmp_ref(const void *a, const void *b)
{
	const struct batch_ref *x = a, *y = b;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

static void
cross_check(struct ld *l)
{
	struct batch *b = l->b;
	struct named *g = arena_alloc(&l->tmp, (b->ngroups + 1) * sizeof(*g));
	struct named *c = arena_alloc(&l->tmp, (b->ncomputers + 1) * sizeof(*c));
	struct named *j = arena_alloc(&l->tmp, (b->njobs + 1) * sizeof(*j));
	size_t nj = 0;

	for (size_t i = 0; i < b->ngroups; i++)
		g[i] = (struct named){b->groups[i].name, b->groups[i].pos};
	for (size_t i = 0; i < b->ncomputers; i++)
		c[i] = (struct named){b->computers[i].name, b->computers[i].pos};
	for (size_t i = 0; i < b->njobs; i++)
		if (b->jobs[i].name != NULL)
			j[nj++] = (struct named){b->jobs[i].name, b->jobs[i].pos};
	check_dups(l, "group", g, b->ngroups);
	check_dups(l, "computer", c, b->ncomputers);
	check_dups(l, "job", j, nj);

	b->refs = arena_alloc(&b->arena, (l->npend + 1) * sizeof(*b->refs));
	for (size_t i = 0; i < l->npend; i++) {
		const struct pending *p = &l->pend[i];
		if (p->kind == P_TARGET_COMPUTER) {
			if (!known(c, b->ncomputers, p->name)) {
				struct batch_ref *r = &b->refs[b->nrefs++];
				r->name = (char *)p->name;
				r->job = p->job;
				r->pos = p->pos;
			}
		} else if (!known(g, b->ngroups, p->name))
			err_at(l, p->pos, "group \"%.60s\" is not declared in groups: of this file",
			       p->name);
	}
	qsort(b->refs, b->nrefs, sizeof(*b->refs), cmp_ref);
}

/* ---- load ----------------------------------------------------------------- */

static void
load_root(struct ld *l, const struct yt_node *root)
{
	static const char *const keys[] = {"computers", "groups", "jobs", NULL};
	struct yt_node *v[3];

	if (is_null(root)) {
		err_at(l, (struct yt_pos){1, 1},
		       "the batch is empty (expected computers:, groups: or jobs:)");
		return;
	}
	if (root->type != YT_MAP) {
		if (root->type != YT_BAD)
			err_at(l, root->pos, "the batch: expected a mapping of computers:, groups: "
					     "and jobs:, found %s",
			       found(l, root));
		return;
	}
	if (map_keys(l, "the batch", root, keys, v) == -1)
		return;
	/* the limits, before anything of a section is read */
	static const struct {
		int key, max;
		const char *what;
	} caps[] = {{0, BATCH_MAX_COMPUTERS, "computers"}, {1, BATCH_MAX_GROUPS, "groups"},
		    {2, BATCH_MAX_JOBS, "jobs"}};
	int over = 0;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		const struct yt_node *s = v[caps[c].key];
		if (s == NULL || s->type != YT_SEQ || s->n <= (size_t)caps[c].max)
			continue;
		const struct yt_node *it = s->first;
		for (int i = 0; i < caps[c].max; i++)
			it = it->next;
		err_at(l, it->pos, "%s: more than %d in one batch (the limit; split the batch)",
		       caps[c].what, caps[c].max);
		over = 1;
	}
	if (over)
		return;
	if (v[1] != NULL)
		load_groups(l, v[1]);
	if (v[0] != NULL && want(l, "computers", v[0], YT_SEQ) == 0) {
		l->b->computers = arena_alloc(&l->b->arena, (v[0]->n + 1) * sizeof(*l->b->computers));
		for (const struct yt_node *it = v[0]->first; it != NULL; it = it->next)
			load_computer(l, it);
	}
	if (v[2] != NULL && want(l, "jobs", v[2], YT_SEQ) == 0) {
		l->b->jobs = arena_alloc(&l->b->arena, (v[2]->n + 1) * sizeof(*l->b->jobs));
		for (const struct yt_node *it = v[2]->first; it != NULL; it = it->next)
			load_job(l, it);
	}
	cross_check(l);
}

int
batch_load(const char *path, struct batch **out, struct yt_errors *errs)
{
	static const struct yt_limits limits = {BATCH_MAX_FILE, BATCH_MAX_NODES};
	struct arena *arena = NULL;
	struct yt_doc doc;
	struct ld l;

	yt_errors_free(errs);
	if ((errs->file = strdup(path)) == NULL)
		fatal("batch: path");
	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.b = arena_alloc(&arena, sizeof(*l.b));
	l.b->arena = arena;
	l.errs = errs;
	l.b->path = arena_strndup(&l.b->arena, path, strlen(path));
	const char *slash = strrchr(path, '/');
	if (slash != NULL)
		l.dir = arena_strndup(&l.tmp, path, slash == path ? 1 : (size_t)(slash - path));
	if (yt_load(&l.tmp, path, &limits, &doc, errs) == 0)
		load_root(&l, doc.root);
	if (doc.src != NULL) {
		l.b->source = arena_strndup(&l.b->arena, doc.src, doc.len);
		l.b->source_len = doc.len;
	}
	if (yt_errors_count(errs) == 0) {
		for (size_t i = 0; i < l.b->njobs; i++) {
			struct batch_job *j = &l.b->jobs[i];
			char *c = batch_job_canon(j), *p = batch_job_plan_canon(j);
			j->canon = arena_strndup(&l.b->arena, c, strlen(c));
			j->plan_canon = arena_strndup(&l.b->arena, p, strlen(p));
			free(c);
			free(p);
		}
	}
	free(l.pend);
	arena_free(l.tmp);
	if (yt_errors_count(errs) > 0) {
		yt_errors_sort(errs);
		batch_free(l.b);
		return -1;
	}
	*out = l.b;
	return 0;
}

void
batch_free(struct batch *b)
{
	if (b != NULL)
		arena_free(b->arena); /* b itself lives in its arena */
}

const char *
batch_attr(const struct batch_computer *c, const char *key)
{
	for (size_t i = 0; i < c->nattrs; i++)
		if (strcmp(c->attrs[i].key, key) == 0)
			return c->attrs[i].value;
	return NULL;
}

/* ---- canonical text and hashes -------------------------------------------- */

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

static const char *const action_names[] = {"success", "failure", "continue", "stop"};

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
			util_buf_fmt(&b, " %d=%s", t->on_code[k].code, action_names[t->on_code[k].action]);
		util_buf_fmt(&b, "\non_failure %s\n", action_names[t->on_failure]);
		buf_str(&b, "os_required", t->os_required);
		buf_str(&b, "boot_env", t->boot_env);
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
	if (s->at_now)
		util_buf_puts(&b, "at now\n");
	else
		util_buf_fmt(&b, "at %lld\n", (long long)s->at);
	util_buf_fmt(&b, "every_ms %lld\n", s->every_ms);
	buf_str(&b, "cron", s->has_cron ? s->cron.text : NULL);
	if (s->has_until)
		util_buf_fmt(&b, "until %lld\n", (long long)s->until);
	else
		util_buf_puts(&b, "until -\n");
	util_buf_fmt(&b, "max_concurrent %d\n", j->rollout.max_concurrent);
	if (j->rollout.max_failures < 0)
		util_buf_puts(&b, "max_failures -\n");
	else
		util_buf_fmt(&b, "max_failures %d%s\n", j->rollout.max_failures,
			j->rollout.max_failures_pct ? "%" : "");
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

/* ---- export --------------------------------------------------------------- */

struct em {
	yaml_emitter_t e;
	yaml_event_t ev;
	int failed;
};

static void
em_emit(struct em *m)
{
	if (!m->failed && !yaml_emitter_emit(&m->e, &m->ev))
		m->failed = 1;
	else if (m->failed)
		yaml_event_delete(&m->ev);
}

/* A scalar: plain where libyaml allows it, quoted when it would read back as null. */
static void
em_str(struct em *m, const char *s)
{
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (s[0] == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
				     style);
	em_emit(m);
}

/* A script: a literal block when libyaml can keep it exact, else double quoted. */
static void
em_script(struct em *m, const char *s)
{
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
				     strchr(s, '\n') != NULL ? YAML_LITERAL_SCALAR_STYLE
							     : YAML_ANY_SCALAR_STYLE);
	em_emit(m);
}

static void
em_int(struct em *m, long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	em_str(m, buf);
}

static void
em_kv(struct em *m, const char *key, const char *value)
{
	if (value == NULL)
		return;
	em_str(m, key);
	em_str(m, value);
}

static void
em_start(struct em *m, int map, int flow)
{
	if (map)
		yaml_mapping_start_event_initialize(&m->ev, NULL, NULL, 1,
						    flow ? YAML_FLOW_MAPPING_STYLE
							 : YAML_BLOCK_MAPPING_STYLE);
	else
		yaml_sequence_start_event_initialize(&m->ev, NULL, NULL, 1,
						     flow ? YAML_FLOW_SEQUENCE_STYLE
							  : YAML_BLOCK_SEQUENCE_STYLE);
	em_emit(m);
}

static void
em_end(struct em *m, int map)
{
	if (map)
		yaml_mapping_end_event_initialize(&m->ev);
	else
		yaml_sequence_end_event_initialize(&m->ev);
	em_emit(m);
}

static void
em_names(struct em *m, const char *key, char *const *v, size_t n)
{
	if (n == 0)
		return;
	em_str(m, key);
	em_start(m, 0, 1);
	for (size_t i = 0; i < n; i++)
		em_str(m, v[i]);
	em_end(m, 0);
}

static void
em_time(struct em *m, const char *key, time_t t)
{
	char buf[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	em_str(m, key);
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)buf, (int)strlen(buf), 1, 1,
				     YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	em_emit(m);
}

static void
em_task(struct em *m, const struct batch_task *t)
{
	char buf[32];
	em_start(m, 1, 0);
	em_kv(m, "name", t->name);
	em_str(m, "script");
	em_script(m, t->script != NULL ? t->script : "");
	em_kv(m, "interpreter", t->interpreter != NULL ? t->interpreter : "/bin/sh");
	em_kv(m, "run_as", t->run_as);
	if (t->timeout_ms > 0) {
		units_format_duration(t->timeout_ms, buf, sizeof(buf));
		em_kv(m, "timeout", buf);
	}
	em_str(m, "success_codes");
	em_start(m, 0, 1);
	if (t->nsuccess_codes == 0)
		em_int(m, 0);
	for (size_t i = 0; i < t->nsuccess_codes; i++)
		em_int(m, t->success_codes[i]);
	em_end(m, 0);
	if (t->non_code > 0) {
		em_str(m, "on_code");
		em_start(m, 1, 1);
		for (size_t i = 0; i < t->non_code; i++) {
			em_int(m, t->on_code[i].code);
			em_str(m, action_names[t->on_code[i].action]);
		}
		em_end(m, 1);
	}
	em_kv(m, "on_failure", action_names[t->on_failure]);
	em_kv(m, "os_required", t->os_required);
	em_kv(m, "boot_env", t->boot_env);
	em_end(m, 1);
}

int
batch_job_export(const struct batch_job *j, FILE *fp)
{
	struct em m;
	char buf[32];
	const struct batch_schedule *s = &j->schedule;

	memset(&m, 0, sizeof(m));
	if (!yaml_emitter_initialize(&m.e))
		fatalx("batch: yaml emitter out of memory");
	yaml_emitter_set_output_file(&m.e, fp);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, 1 << 20);
	yaml_emitter_set_indent(&m.e, 2);
	yaml_stream_start_event_initialize(&m.ev, YAML_UTF8_ENCODING);
	em_emit(&m);
	yaml_document_start_event_initialize(&m.ev, NULL, NULL, NULL, 1);
	em_emit(&m);
	em_start(&m, 1, 0);
	em_names(&m, "groups", j->targets.groups, j->targets.ngroups);
	em_str(&m, "jobs");
	em_start(&m, 0, 0);
	em_start(&m, 1, 0);
	em_kv(&m, "name", j->name);
	em_kv(&m, "description", j->description);
	em_str(&m, "tasks");
	em_start(&m, 0, 0);
	for (size_t i = 0; i < j->ntasks; i++)
		em_task(&m, &j->tasks[i]);
	em_end(&m, 0);
	if (j->has_targets) {
		em_str(&m, "targets");
		em_start(&m, 1, 0);
		em_names(&m, "computers", j->targets.computers, j->targets.ncomputers);
		em_names(&m, "groups", j->targets.groups, j->targets.ngroups);
		if (j->targets.nlabels > 0) {
			em_str(&m, "labels");
			em_start(&m, 1, 1);
			for (size_t i = 0; i < j->targets.nlabels; i++)
				em_kv(&m, j->targets.labels[i].key, j->targets.labels[i].value);
			em_end(&m, 1);
		}
		em_end(&m, 1);
		em_str(&m, "schedule");
		em_start(&m, 1, 0);
		if (s->at_now)
			em_kv(&m, "at", "now");
		else
			em_time(&m, "at", s->at);
		if (s->every_ms > 0) {
			units_format_duration(s->every_ms, buf, sizeof(buf));
			em_kv(&m, "every", buf);
		}
		if (s->has_cron)
			em_kv(&m, "cron", s->cron.text);
		if (s->has_until)
			em_time(&m, "until", s->until);
		em_end(&m, 1);
		if (j->rollout.max_concurrent > 0 || j->rollout.max_failures >= 0) {
			em_str(&m, "rollout");
			em_start(&m, 1, 0);
			if (j->rollout.max_concurrent > 0) {
				em_str(&m, "max_concurrent");
				em_int(&m, j->rollout.max_concurrent);
			}
			if (j->rollout.max_failures >= 0) {
				snprintf(buf, sizeof(buf), "%d%s", j->rollout.max_failures,
					 j->rollout.max_failures_pct ? "%" : "");
				em_kv(&m, "max_failures", buf);
			}
			em_end(&m, 1);
		}
	}
	em_end(&m, 1);
	em_end(&m, 0);
	em_end(&m, 1);
	yaml_document_end_event_initialize(&m.ev, 1);
	em_emit(&m);
	yaml_stream_end_event_initialize(&m.ev);
	em_emit(&m);
	int rc = m.failed || !yaml_emitter_flush(&m.e) ? -1 : 0;
	yaml_emitter_delete(&m.e);
	return rc;
}
