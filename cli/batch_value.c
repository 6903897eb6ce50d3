/*
 * batch_value: typed access to the nodes of a job batch's YAML tree (cli/batch_value.h).
 * Every check adds its error at the node's line:col and the load goes on, so that the
 * user sees every error of the file at once.
 */
#include "cli/batch_value.h"
#include "common/rule.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/units.h"
#include "common/util.h"

void
bv_err(struct batch_ld *l, struct yt_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	yt_errors_vadd(l->errs, pos, fmt, ap);
	va_end(ap);
}

int
bv_is_null(const struct yt_node *n)
{
	return n == NULL || n->null;
}

/* Describe what a node is, for "expected X, found Y". */
const char *
bv_found(struct batch_ld *l, const struct yt_node *n)
{
	char buf[64];
	if (bv_is_null(n))
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

int
bv_want(struct batch_ld *l, const char *key, const struct yt_node *n, enum yt_type t)
{
	static const char *const names[] = {"a string", "a list", "a mapping"};
	if (n->type == YT_BAD)
		return -1;
	if (n->type == t && !(t == YT_SCALAR && bv_is_null(n)))
		return 0;
	bv_err(l, n->pos, "%s: expected %s, found %s", key, names[t], bv_found(l, n));
	return -1;
}

int
bv_str(struct batch_ld *l, const char *key, const struct yt_node *n, char **out)
{
	if (bv_want(l, key, n, YT_SCALAR) == -1)
		return -1;
	*out = arena_strndup(&l->b->arena, n->s, n->len);
	return 0;
}

/* A string that reaches the control protocol: common/field.h's limits, the value named in the error. */
int
bv_field(struct batch_ld *l, enum field f, const struct yt_node *n, char **out)
{
	char err[512];
	if (bv_str(l, field_name(f), n, out) == -1)
		return -1;
	if (field_check(f, *out, err, sizeof(err)) == -1) {
		bv_err(l, n->pos, "%s", err);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
bv_int(struct batch_ld *l, const char *key, const struct yt_node *n, long long min, long long max,
       long long *out)
{
	char err[256];
	if (bv_want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (units_int(n->s, min, max, out, err, sizeof(err)) == -1) {
		bv_err(l, n->pos, "%s: %s", key, err);
		return -1;
	}
	return 0;
}

int
bv_bool(struct batch_ld *l, const char *key, const struct yt_node *n, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	if (bv_want(l, key, n, YT_SCALAR) == -1)
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
	bv_err(l, n->pos, "%s: \"%s\" is not true or false", key, n->s);
	return -1;
}

int
bv_duration(struct batch_ld *l, const char *key, const struct yt_node *n, long long min_ms, long long *out)
{
	char err[256];
	if (bv_want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (units_duration_ms(n->s, out, err, sizeof(err)) == -1) {
		bv_err(l, n->pos, "%s: %s", key, err);
		return -1;
	}
	if (*out < min_ms) {
		char buf[32];
		units_format_duration(min_ms, buf, sizeof(buf));
		bv_err(l, n->pos, "%s: %s is shorter than %s", key, n->s, buf);
		return -1;
	}
	return 0;
}

int
bv_time(struct batch_ld *l, const char *key, const struct yt_node *n, time_t *out)
{
	struct units_time ut;
	if (bv_time_spec(l, key, n, &ut) == -1)
		return -1;
	if (!ut.has_offset) {
		bv_err(l, n->pos, "%s: \"%s\" names no offset (add Z, +01:00 or a zone: "
		       "2026-12-01T02:00:00Z)", key, n->s);
		return -1;
	}
	*out = ut.t;
	return 0;
}

int
bv_time_spec(struct batch_ld *l, const char *key, const struct yt_node *n, struct units_time *out)
{
	char err[256];
	if (bv_want(l, key, n, YT_SCALAR) == -1)
		return -1;
	if (units_time(n->s, out, err, sizeof(err)) == -1) {
		bv_err(l, n->pos, "%s: %s", key, err);
		return -1;
	}
	/* 1970 to 9999 in UTC: what export writes back as four-digit years */
	if (out->t < 0 || out->t >= (time_t)253402300800LL) {
		bv_err(l, n->pos, "%s: \"%s\" is outside 1970-9999", key, n->s);
		return -1;
	}
	return 0;
}

/*
 * Check a mapping's keys against names: vals[i] gets the value of names[i]
 * (NULL when absent). Unknown and duplicate keys are errors. Returns -1 when
 * n is not a mapping.
 */
int
bv_keys(struct batch_ld *l, const char *what, const struct yt_node *n, const char *const *names,
	 struct yt_node **vals)
{
	size_t nnames = 0;
	while (names[nnames] != NULL)
		vals[nnames++] = NULL;
	if (bv_want(l, what, n, YT_MAP) == -1)
		return -1;
	for (const struct yt_node *k = n->first; k != NULL && k->next != NULL; k = k->next->next) {
		size_t i;
		if (k->type == YT_BAD)
			continue;
		if (k->type != YT_SCALAR) {
			bv_err(l, k->pos, "%s: a key must be a string, found %s", what, bv_found(l, k));
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
			bv_err(l, k->pos, "unknown key \"%.60s\" in %s (known: %s)", k->s, what, known);
			continue;
		}
		if (vals[i] != NULL) {
			bv_err(l, k->pos, "duplicate key \"%s\" in %s", k->s, what);
			continue;
		}
		vals[i] = k->next;
	}
	for (size_t i = 0; i < nnames; i++)
		if (vals[i] != NULL && bv_is_null(vals[i]))
			vals[i] = NULL;
	return 0;
}

/*
 * The attrs with a column of their own feed tokens (%SERIALNUM%, %DEPT%, ...): each is
 * checked by its grammar (common/field.h); "" means none. Other keys are free.
 */
static int
check_attr(struct batch_ld *l, const struct yt_node *n, const char *key, const char *value)
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
			bv_err(l, n->pos, "attrs: %s", err);
			return -1;
		}
	return 0;
}

/* A mapping of strings to strings (labels, attrs), sorted by key. */
int
bv_kv(struct batch_ld *l, const char *key, const struct yt_node *n, struct batch_kv **out, size_t *nout)
{
	if (bv_want(l, key, n, YT_MAP) == -1)
		return -1;
	struct batch_kv *v = arena_alloc(&l->b->arena, (n->n / 2 + 1) * sizeof(*v));
	size_t cnt = 0;
	int bad = 0;
	for (const struct yt_node *k = n->first; k != NULL && k->next != NULL; k = k->next->next) {
		const struct yt_node *val = k->next;
		char *ks, *vs = NULL;
		if (bv_str(l, key, k, &ks) == -1) {
			bad = 1;
			continue;
		}
		if (bv_is_null(val))
			vs = arena_strndup(&l->b->arena, "", 0);
		else if (bv_str(l, key, val, &vs) == -1) {
			bad = 1;
			continue;
		}
		size_t j;
		for (j = 0; j < cnt && strcmp(v[j].key, ks) != 0; j++)
			;
		if (j < cnt) {
			bv_err(l, k->pos, "duplicate key \"%s\" in %s", ks, key);
			bad = 1;
			continue;
		}
		if (strlen(ks) == 0 || strlen(ks) > BV_NAME_MAX) {
			bv_err(l, k->pos, "%s: a key must be 1 to %d characters long", key, BV_NAME_MAX);
			bad = 1;
			continue;
		}
		if (strcmp(key, "attrs") == 0 && check_attr(l, val, ks, vs) == -1) {
			bad = 1;
			continue;
		}
		char why[300];
		if (strcmp(key, "facts") == 0 && (rule_fact_path_ok(ks, why, sizeof(why)) == -1 ||
		    rule_cond_ok(vs, why, sizeof(why)) == -1)) {
			bv_err(l, k->pos, "facts: %s", why);
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
int
bv_computer_name(struct batch_ld *l, const struct yt_node *n, const char *s)
{
	char err[512];
	if (field_computer_name(s, err, sizeof(err)) == -1) {
		bv_err(l, n->pos, "%s", err);
		return -1;
	}
	return 0;
}

/* Group and job names: printable, at most BV_NAME_MAX; job names are folder paths. */
int
bv_name(struct batch_ld *l, const char *what, const struct yt_node *n, const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > BV_NAME_MAX) {
		bv_err(l, n->pos, "%s name must be 1 to %d characters long", what, BV_NAME_MAX);
		return -1;
	}
	if (util_has_ctl(s)) {
		bv_err(l, n->pos, "%s name \"%.60s\" holds a control character", what, s);
		return -1;
	}
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])) {
		bv_err(l, n->pos, "%s name \"%.60s\" begins or ends with a space", what, s);
		return -1;
	}
	if (strcmp(what, "job") == 0 && (s[0] == '/' || s[len - 1] == '/' || strstr(s, "//"))) {
		bv_err(l, n->pos, "job name \"%.60s\": folders are separated by single '/', not at "
				  "the start or the end",
		       s);
		return -1;
	}
	return 0;
}

static void
pend(struct batch_ld *l, enum bv_pend kind, const char *name, struct yt_pos pos, size_t job)
{
	if (l->npend == l->cappend) {
		size_t cap = l->cappend ? l->cappend * 2 : 64;
		struct bv_pending *v = realloc(l->pend, cap * sizeof(*v));
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
int
bv_names(struct batch_ld *l, const char *key, const struct yt_node *n, enum bv_pend kind, size_t job, char ***out,
	 size_t *nout)
{
	if (bv_want(l, key, n, YT_SEQ) == -1)
		return -1;
	char **v = arena_alloc(&l->b->arena, (n->n + 1) * sizeof(*v));
	size_t cnt = 0;
	int bad = 0;
	for (const struct yt_node *it = n->first; it != NULL; it = it->next) {
		char *s;
		if (bv_str(l, key, it, &s) == -1) {
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

int
batch_is_text(const char *s, size_t len)
{
	return memchr(s, '\0', len) == NULL && utf8_valid((const unsigned char *)s, len);
}

int
batch_fd_read(int fd, const char *name, char **out, size_t *outlen, char *why, size_t whylen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	struct stat st;

	*out = NULL;
	if (fstat(fd, &st) == -1)
		goto syserr;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", name);
		return -1;
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
			snprintf(why, whylen, "larger than %d MiB", BATCH_MAX_SCRIPT >> 20);
			free(buf);
			return -1;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
syserr:
	snprintf(why, whylen, "cannot read %s: %s", name, strerror(errno));
	free(buf);
	return -1;
}

int
batch_file_read(const char *path, char **out, size_t *outlen, char *why, size_t whylen)
{
	/* non-blocking: a FIFO or a device would hang or never end (batch_fd_read refuses it) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		*out = NULL;
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = batch_fd_read(fd, path, out, outlen, why, whylen);
	close(fd);
	return rc;
}

int
batch_script_read(const char *path, char **out, size_t *outlen, char *why, size_t whylen)
{
	if (batch_file_read(path, out, outlen, why, whylen) == -1)
		return -1;
	if (*outlen == 0)
		snprintf(why, whylen, "the file is empty");
	else if (memchr(*out, '\0', *outlen) != NULL)
		snprintf(why, whylen, "holds a NUL byte (a script is text)");
	else if (!utf8_valid((const unsigned char *)*out, *outlen))
		snprintf(why, whylen, "not UTF-8 text");
	else
		return 0;
	free(*out);
	*out = NULL;
	return -1;
}
