/*
 * args: checks of the pgfleet command's argument values, before any database work,
 * so that a bad value exits 2 with a message naming it.
 */
#include "cli/args.h"
#include "common/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/field.h"
#include "common/rule.h"
#include "common/units.h"
#include "common/util.h"

int
args_name(const char *what, const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);
	if (len == 0 || len > ARGS_NAME_MAX) {
		snprintf(err, errlen, "%s name must be 1 to %d characters long", what, ARGS_NAME_MAX);
		return -1;
	}
	if (util_has_ctl(s)) {
		char show[256];
		field_show(s, show, sizeof(show));
		snprintf(err, errlen, "%s name \"%s\" holds a control character", what, show);
		return -1;
	}
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])) {
		snprintf(err, errlen, "%s name \"%.60s\" begins or ends with a space", what, s);
		return -1;
	}
	return 0;
}

int
args_label(const char *s, char *buf, size_t bufsize, char **key, char **value, char *err,
    size_t errlen)
{
	size_t len = strlen(s);
	char *eq;
	if (len >= bufsize) {
		snprintf(err, errlen, "label \"%.60s...\" is too long", s);
		return -1;
	}
	memcpy(buf, s, len + 1);
	if ((eq = strchr(buf, '=')) == NULL || eq == buf) {
		snprintf(err, errlen, "label \"%.200s\": expected KEY=VALUE", s);
		return -1;
	}
	if (util_has_ctl(buf)) {
		char show[256];
		field_show(s, show, sizeof(show));
		snprintf(err, errlen, "label \"%s\" holds a control character", show);
		return -1;
	}
	*eq = '\0';
	if (strlen(buf) > ARGS_NAME_MAX) {
		snprintf(err, errlen, "label \"%.60s...\": a key must be 1 to %d characters long", s,
		    ARGS_NAME_MAX);
		return -1;
	}
	*key = buf;
	*value = eq + 1;
	return 0;
}

int
args_id(const char *what, const char *s, long long *out, char *err, size_t errlen)
{
	char msg[128];
	if (units_int(s, 1, 9223372036854775807LL, out, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s \"%.60s\" is not an id (a positive integer)", what, s);
		return -1;
	}
	return 0;
}

/* "5" (min..1000000) or "5%" (min..100) into *n and *pct: 0, or -1. */
static int
count_or_pct(const char *s, long long min, int *n, int *pct)
{
	char num[32], msg[128];
	long long x;
	size_t len = strlen(s);
	int p = len > 1 && s[len - 1] == '%';
	if (len >= sizeof(num))
		return -1;
	snprintf(num, sizeof(num), "%.*s", (int)(len - (size_t)p), s);
	if (units_int(num, min, p ? 100 : 1000000, &x, msg, sizeof(msg)) == -1)
		return -1;
	*n = (int)x;
	*pct = p;
	return 0;
}

int
args_max_failures(const char *what, const char *s, int *n, int *pct, char *err, size_t errlen)
{
	if (count_or_pct(s, 0, n, pct) == -1) {
		snprintf(err, errlen, "%s: \"%.60s\" is not a count (0-1000000) or a percentage "
				      "(0%%-100%%)", what, s);
		return -1;
	}
	return 0;
}

int
args_wave(const char *what, const char *s, int *n, int *pct, char *err, size_t errlen)
{
	if (count_or_pct(s, 1, n, pct) == -1) {
		snprintf(err, errlen, "%s: wave \"%.60s\" is not a count (1-1000000) or a percentage "
				      "(1%%-100%%)", what, s);
		return -1;
	}
	return 0;
}

int
args_waves(const char *what, const char *list, int *n, int *pct, int max, int *count, char *err,
    size_t errlen)
{
	char buf[512];
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: too long", what);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	*count = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (*count == max) {
			snprintf(err, errlen, "%s: more than %d waves", what, max);
			return -1;
		}
		if (args_wave(what, t, &n[*count], &pct[*count], err, errlen) == -1)
			return -1;
		(*count)++;
	}
	if (*count == 0) {
		snprintf(err, errlen, "%s: no wave given (example: 1,10%%,100%%)", what);
		return -1;
	}
	return args_waves_ascending(what, n, pct, *count, err, errlen);
}

int
args_waves_ascending(const char *what, const int *n, const int *pct, int count, char *err,
    size_t errlen)
{
	/* a count and a percentage cannot be compared before the schedule is expanded */
	for (int i = 1; i < count; i++)
		for (int k = 0; k < i; k++)
			if (pct[k] == pct[i] && n[i] <= n[k]) {
				snprintf(err, errlen, "%s: each wave counts the computers reached so far: "
				    "%d%s after %d%s does not grow", what, n[i], pct[i] ? "%" : "", n[k],
				    pct[k] ? "%" : "");
				return -1;
			}
	return 0;
}

int
args_max_concurrent(const char *what, const char *s, int *n, char *err, size_t errlen)
{
	char msg[128];
	long long x;
	if (units_int(s, 1, 1000000, &x, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s: \"%.60s\" is not a count (1-1000000)", what, s);
		return -1;
	}
	*n = (int)x;
	return 0;
}

/* ---- targets ------------------------------------------------------------- */

static int
push_str(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

void
args_targets_free(struct args_targets *t)
{
	for (size_t i = 0; i < t->ncomputers; i++)
		free(t->computers[i]);
	for (size_t i = 0; i < t->ngroups; i++)
		free(t->groups[i]);
	for (size_t i = 0; i < t->nlabels; i++) {
		free(t->labels[i].key);
		free(t->labels[i].value);
	}
	for (size_t i = 0; i < t->nfacts; i++) {
		free(t->facts[i].key);
		free(t->facts[i].value);
	}
	free(t->computers);
	free(t->groups);
	free(t->labels);
	free(t->facts);
	memset(t, 0, sizeof(*t));
}

static int
add_label(struct args_targets *t, const char *item, const char *key, const char *value,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < t->nlabels; i++) {
		if (strcmp(t->labels[i].key, key) != 0)
			continue;
		if (strcmp(t->labels[i].value, value) == 0)
			return 0;
		snprintf(err, errlen, "\"%.200s\": label %s is already %s=%s (a computer has one "
				      "value per label)",
		    item, key, key, t->labels[i].value);
		return -1;
	}
	struct args_label *nv = realloc(t->labels, (t->nlabels + 1) * sizeof(*nv));
	if (nv == NULL)
		goto oom;
	t->labels = nv;
	nv[t->nlabels].key = strdup(key);
	nv[t->nlabels].value = strdup(value);
	t->nlabels++;
	if (nv[t->nlabels - 1].key == NULL || nv[t->nlabels - 1].value == NULL)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* fact:PATH=VALUE, fact:PATH>=N ...: one condition per path. */
static int
add_fact(struct args_targets *t, const char *item, char *err, size_t errlen)
{
	char field[300], cond[RULE_MAX_COND + 8], full[320], msg[300];
	if (snprintf(full, sizeof(full), "facts.%s", item + 5) >= (int)sizeof(full) ||
	    rule_parse(full, field, sizeof(field), cond, sizeof(cond), msg, sizeof(msg)) == -1 ||
	    strncmp(field, "facts.", 6) != 0) {
		snprintf(err, errlen, "\"%.200s\": %s", item, msg);
		return -1;
	}
	for (size_t i = 0; i < t->nfacts; i++)
		if (strcmp(t->facts[i].key, field + 6) == 0) {
			snprintf(err, errlen, "\"%.200s\": fact %s given twice", item, field + 6);
			return -1;
		}
	struct args_label *nv = realloc(t->facts, (t->nfacts + 1) * sizeof(*nv));
	if (nv == NULL)
		goto oom;
	t->facts = nv;
	nv[t->nfacts].key = strdup(field + 6);
	nv[t->nfacts].value = strdup(cond);
	t->nfacts++;
	if (nv[t->nfacts - 1].key == NULL || nv[t->nfacts - 1].value == NULL)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
target_item(struct args_targets *t, const char *item, char *err, size_t errlen)
{
	char msg[512], show[256];
	if (*item == '\0') {
		snprintf(err, errlen, "empty item (targets are separated by single commas)");
		return -1;
	}
	if (strncmp(item, "group:", 6) == 0) {
		if (args_name("group", item + 6, msg, sizeof(msg)) == -1) {
			field_show(item, show, sizeof(show));
			snprintf(err, errlen, "\"%s\": %s", show, msg);
			return -1;
		}
		if (push_str(&t->groups, &t->ngroups, item + 6) == -1)
			goto oom;
		return 0;
	}
	if (strncmp(item, "label:", 6) == 0) {
		char buf[512], *key, *value;
		if (args_label(item + 6, buf, sizeof(buf), &key, &value, msg, sizeof(msg)) == -1) {
			field_show(item, show, sizeof(show));
			snprintf(err, errlen, "\"%s\": %s", show, msg);
			return -1;
		}
		return add_label(t, item, key, value, err, errlen);
	}
	if (strncmp(item, "fact:", 5) == 0)
		return add_fact(t, item, err, errlen);
	if (strchr(item, ':') != NULL) {
		snprintf(err, errlen, "\"%.200s\": unknown kind (use NAME, group:NAME, label:KEY=VALUE or "
		    "fact:PATH=VALUE)", item);
		return -1;
	}
	if (field_computer_name(item, err, errlen) == -1)
		return -1;
	if (push_str(&t->computers, &t->ncomputers, item) == -1)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
args_targets_parse(const char *s, struct args_targets *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	char *copy = strdup(s), *p = copy;
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (target_item(t, p, err, errlen) == -1) {
			free(copy);
			args_targets_free(t);
			return -1;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	free(copy);
	return 0;
}

void
args_json_str(FILE *fp, const char *s)
{
	struct util_buf b = {0};
	json_quote(&b, s);
	fputs(b.p, fp);
	util_buf_free(&b);
}

static void
json_names(FILE *fp, const char *key, char **v, size_t n)
{
	fprintf(fp, "\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', fp);
		args_json_str(fp, v[i]);
	}
	fputc(']', fp);
}

char *
args_targets_json(const struct args_targets *t)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	if (fp == NULL)
		return NULL;
	fputc('{', fp);
	json_names(fp, "computers", t->computers, t->ncomputers);
	fputc(',', fp);
	json_names(fp, "groups", t->groups, t->ngroups);
	fputs(",\"labels\":{", fp);
	for (size_t i = 0; i < t->nlabels; i++) {
		if (i > 0)
			fputc(',', fp);
		args_json_str(fp, t->labels[i].key);
		fputc(':', fp);
		args_json_str(fp, t->labels[i].value);
	}
	fputc('}', fp);
	if (t->nfacts > 0) {
		fputs(",\"facts\":{", fp);
		for (size_t i = 0; i < t->nfacts; i++) {
			if (i > 0)
				fputc(',', fp);
			args_json_str(fp, t->facts[i].key);
			fputc(':', fp);
			args_json_str(fp, t->facts[i].value);
		}
		fputc('}', fp);
	}
	fputc('}', fp);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- times --------------------------------------------------------------- */

/* An instant: RFC 3339 with Z or an offset (a zone needs the database: args_time refuses it). */
static int
rfc3339(const char *s, time_t *out)
{
	struct units_time ut;
	char err[200];
	if (units_time(s, &ut, err, sizeof(err)) == -1 || !ut.has_offset)
		return -1;
	*out = ut.t;
	return 0;
}

int
args_time(const char *s, time_t now, time_t *out, char *err, size_t errlen)
{
	char msg[256];
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '+') {
		long long ms;
		if (units_duration_ms(s + 1, &ms, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "time \"%.60s\": %s", s, msg);
			return -1;
		}
		*out = now + (time_t)(ms / 1000);
		return 0;
	}
	if (rfc3339(s, out) == -1) {
		snprintf(err, errlen, "time \"%.60s\" is not now, +DURATION (+10m) or RFC 3339 "
				      "(2026-12-01T02:00:00Z)",
		    s);
		return -1;
	}
	return 0;
}

int
args_now(time_t *now, char *err, size_t errlen)
{
	const char *fake = getenv("PGFLEET_NOW");
	if (fake == NULL || fake[0] == '\0') {
		*now = time(NULL);
		return 0;
	}
	if (rfc3339(fake, now) == -1) {
		snprintf(err, errlen, "PGFLEET_NOW: \"%.60s\" is not an RFC 3339 time "
				      "(2026-12-01T02:00:00Z)", fake);
		return -1;
	}
	return 0;
}
