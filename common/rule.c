/*
 * rule: the grammar of rule fields and conditions, and "FIELD OP VALUE".
 */
#include "common/rule.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

static const char *const columns[] = {"name", "host", "os", "boot_env", "ip", "mac", "serial",
    "asset_tag", "domain", "domain_ou", "dept", "contact", "email", "agent_version", "enabled",
    "computer_id", "port", NULL};

int
rule_fact_path_ok(const char *path, char *err, size_t errlen)
{
	int segs = 0;
	size_t seglen = 0;
	for (const char *p = path;; p++) {
		if (*p == '.' || *p == '\0') {
			if (seglen == 0 || seglen > 64) {
				snprintf(err, errlen, "fact path \"%.80s\": empty or long segment", path);
				return -1;
			}
			segs++;
			seglen = 0;
			if (*p == '\0')
				break;
			continue;
		}
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '-')) {
			snprintf(err, errlen, "fact path \"%.80s\": letters, digits, _ and - between dots", path);
			return -1;
		}
		seglen++;
	}
	if (segs > 8) {
		snprintf(err, errlen, "fact path \"%.80s\": at most 8 segments", path);
		return -1;
	}
	return 0;
}

int
rule_field_ok(const char *field, char *err, size_t errlen)
{
	for (int i = 0; columns[i] != NULL; i++)
		if (strcmp(field, columns[i]) == 0)
			return 0;
	if (strncmp(field, "facts.", 6) == 0)
		return rule_fact_path_ok(field + 6, err, errlen);
	if (strncmp(field, "labels.", 7) == 0 && field[7] != '\0' && strlen(field) <= 207 &&
	    !util_has_ctl(field) && strpbrk(field, " \t") == NULL)
		return 0;
	snprintf(err, errlen, "field \"%.80s\" is not allowed (a computer column such as name, os, ip, "
	    "serial, agent_version; facts.PATH; labels.KEY)", field);
	return -1;
}

static int
is_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	size_t d = strspn(p, "0123456789");
	if (d == 0 || d > 18)
		return 0;
	p += d;
	if (*p == '.') {
		size_t f = strspn(p + 1, "0123456789");
		if (f == 0 || f > 18)
			return 0;
		p += 1 + f;
	}
	return *p == '\0';
}

int
rule_cond_ok(const char *cond, char *err, size_t errlen)
{
	if (strlen(cond) > RULE_MAX_COND || util_has_ctl(cond)) {
		snprintf(err, errlen, "condition: at most %d bytes, no control character", RULE_MAX_COND);
		return -1;
	}
	const char *v = cond;
	int numeric = 0;
	if (strncmp(v, ">=", 2) == 0 || strncmp(v, "<=", 2) == 0) {
		v += 2;
		numeric = 1;
	} else if (strncmp(v, "!=", 2) == 0) {
		v += 2;
	} else if (*v == '>' || *v == '<') {
		v++;
		numeric = 1;
	} else if (*v == '=') {
		v++;
	}
	if (numeric && !is_number(v)) {
		snprintf(err, errlen, "condition \"%.80s\": %.*s needs a number", cond, (int)(v - cond), cond);
		return -1;
	}
	return 0;
}

int
rule_parse(const char *s, char *field, size_t fieldlen, char *cond, size_t condlen, char *err,
    size_t errlen)
{
	size_t f = strcspn(s, "=!<>");
	if (s[f] == '\0') {
		snprintf(err, errlen, "\"%.80s\" is not FIELD=VALUE (or != >= <= > <)", s);
		return -1;
	}
	size_t fl = f;
	while (fl > 0 && (s[fl - 1] == ' ' || s[fl - 1] == '\t'))
		fl--;
	const char *op = s + f;
	size_t ol = (op[0] == '!' || op[0] == '<' || op[0] == '>') && op[1] == '=' ? 2 : 1;
	if (op[0] == '!' && op[1] != '=') {
		snprintf(err, errlen, "\"%.80s\": ! must be !=", s);
		return -1;
	}
	const char *v = op + ol;
	while (*v == ' ' || *v == '\t')
		v++;
	if (fl == 0 || fl >= fieldlen) {
		snprintf(err, errlen, "\"%.80s\": no field before the operator", s);
		return -1;
	}
	memcpy(field, s, fl);
	field[fl] = '\0';
	int eq = ol == 1 && op[0] == '=';
	if ((size_t)snprintf(cond, condlen, "%.*s%s", eq ? 0 : (int)ol, op, v) >= condlen) {
		snprintf(err, errlen, "\"%.80s\": value too long", s);
		return -1;
	}
	if (rule_field_ok(field, err, errlen) == -1 || rule_cond_ok(cond, err, errlen) == -1)
		return -1;
	/* a value that itself begins with an operator stays a value: written "=>x" it would not */
	if (eq && (v[0] == '=' || v[0] == '!' || v[0] == '<' || v[0] == '>')) {
		snprintf(err, errlen, "\"%.80s\": a value may not begin with an operator", s);
		return -1;
	}
	return 0;
}
