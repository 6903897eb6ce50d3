/*
 * field: one place for the limits of the values that reach the control
 * protocol, so that the batch parser, the CLI, the worker and the agent cannot
 * drift apart (docs/security.md lists where each is checked).
 */
#include "common/field.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define FIELD_SHOW_MAX 60

static const struct {
	const char *name;
	size_t min, max;
} fields[] = {
	[FIELD_RUN_AS] = {"run_as", 1, FIELD_RUN_AS_MAX},
	[FIELD_INTERPRETER] = {"interpreter", 1, FIELD_INTERPRETER_MAX},
	[FIELD_OS_REQUIRED] = {"os_required", 0, FIELD_OS_MAX},
	[FIELD_BOOT_ENV] = {"boot_env", 0, FIELD_BOOT_ENV_MAX},
	[FIELD_OS] = {"os", 0, FIELD_OS_MAX},
	[FIELD_HOST] = {"host", 1, FIELD_HOST_MAX},
	[FIELD_IP] = {"ip", 1, 45},
	[FIELD_MAC] = {"mac", 1, 17},
	[FIELD_DOMAIN] = {"domain", 1, FIELD_HOST_MAX},
	[FIELD_EMAIL] = {"email", 3, FIELD_EMAIL_MAX},
	[FIELD_TEXT] = {"text", 0, FIELD_TEXT_MAX},
};

/* Dot-separated labels of 1-63 bytes of [A-Za-z0-9-] (and '_' when underscore), no label
 * starting or ending with '-', an optional final dot. */
static int
dns_name_ok(const char *s, int underscore)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > FIELD_HOST_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c == '_' && underscore) || (c == '-' && label > 0);
		if (!ok || ++label > 63)
			return 0;
	}
	return s[len - 1] != '-';
}

int
field_hostname_ok(const char *s)
{
	return s != NULL && dns_name_ok(s, 0);
}

int
field_computer_name(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);
	int ok = len > 0 && len <= FIELD_COMPUTER_MAX && isalnum((unsigned char)s[0]);
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-';
	if (!ok) {
		snprintf(err, errlen, "computer name \"%.60s\": use 1 to %d letters, digits, '.', '_' "
				      "or '-', starting with a letter or digit",
		    s, FIELD_COMPUTER_MAX);
		return -1;
	}
	return 0;
}

static int
ip_ok(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int
mac_ok(const char *s)
{
	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i % 3 == 2) {
			if (c != (unsigned char)s[2] || (c != ':' && c != '-'))
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

/* RFC 5322 dot-atom local part (at most 64 bytes) @ a DNS name. */
static int
email_ok(const char *s)
{
	const char *at = strrchr(s, '@');
	size_t n;
	if (at == NULL || (n = (size_t)(at - s)) == 0 || n > 64 || s[0] == '.' || at[-1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL)))
			return 0;
	}
	return dns_name_ok(at + 1, 0) && strchr(at + 1, '.') != NULL && s[strlen(s) - 1] != '.';
}

const char *
field_name(enum field f)
{
	return fields[f].name;
}

void
field_show(const char *s, char *out, size_t outlen)
{
	size_t o = 0, i;
	if (outlen == 0)
		return;
	for (i = 0; s[i] != '\0' && i < FIELD_SHOW_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		else
			snprintf(esc, sizeof(esc), "%c", c);
		size_t n = strlen(esc);
		if (o + n + 4 > outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	if (s[i] != '\0' && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int
field_check(enum field f, const char *s, char *err, size_t errlen)
{
	return field_check_as(f, fields[f].name, s, err, errlen);
}

int
field_check_as(enum field f, const char *name, const char *s, char *err, size_t errlen)
{
	char show[FIELD_SHOW_MAX * 4 + 4];
	if (s == NULL) {
		snprintf(err, errlen, "%s is missing", name);
		return -1;
	}
	size_t len = strlen(s);
	field_show(s, show, sizeof(show));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			char one[8];
			char b[2] = {(char)c, '\0'};
			field_show(b, one, sizeof(one));
			snprintf(err, errlen, "%s \"%s\" holds a control character (%s)", name, show, one);
			return -1;
		}
	}
	if (len < fields[f].min) {
		snprintf(err, errlen, "%s is empty", name);
		return -1;
	}
	if (len > fields[f].max) {
		snprintf(err, errlen, "%s \"%s\" is %zu bytes long, more than %zu", name, show, len,
		    fields[f].max);
		return -1;
	}
	if ((f == FIELD_HOST && !dns_name_ok(s, 0) && !ip_ok(s)) || (f == FIELD_IP && !ip_ok(s))) {
		snprintf(err, errlen, "%s \"%s\" is %s", name, show,
		    f == FIELD_IP ? "not an IPv4 or IPv6 address" : "neither a host name (RFC 1123: "
		    "letters, digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 "
		    "address");
		return -1;
	}
	if (f == FIELD_MAC && !mac_ok(s)) {
		snprintf(err, errlen, "%s \"%s\" is not a MAC address (example: 52:54:00:12:34:56)",
		    name, show);
		return -1;
	}
	if (f == FIELD_DOMAIN && !dns_name_ok(s, 1)) {
		snprintf(err, errlen, "%s \"%s\" is not a DNS name (letters, digits, '-' and '_' "
		    "in dot-separated labels of 1 to 63)", name, show);
		return -1;
	}
	if (f == FIELD_EMAIL && !email_ok(s)) {
		snprintf(err, errlen, "%s \"%s\" is not an e-mail address (example: "
		    "ann@corp.example)", name, show);
		return -1;
	}
	if (f == FIELD_INTERPRETER) {
		char buf[FIELD_INTERPRETER_MAX + 1], *argv[FIELD_INTERPRETER_WORDS + 1];
		int argc;
		return field_interpreter_split(s, buf, sizeof(buf), argv, &argc, err, errlen);
	}
	return 0;
}

int
field_interpreter_split(const char *s, char *buf, size_t buflen,
    char *argv[FIELD_INTERPRETER_WORDS + 1], int *argc, char *err, size_t errlen)
{
	char show[FIELD_SHOW_MAX * 4 + 4];
	size_t len = strlen(s);
	*argc = 0;
	argv[0] = NULL;
	field_show(s, show, sizeof(show));
	if (len + 1 > buflen) {
		snprintf(err, errlen, "interpreter \"%s\" is %zu bytes long, more than %zu", show, len,
		    buflen - 1);
		return -1;
	}
	memcpy(buf, s, len + 1);
	int n = 0;
	char *p = buf;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n == FIELD_INTERPRETER_WORDS) {
			snprintf(err, errlen, "interpreter \"%s\" has more than %d words", show,
			    FIELD_INTERPRETER_WORDS);
			argv[0] = NULL;
			return -1;
		}
		argv[n++] = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
	argv[n] = NULL;
	if (n == 0) {
		snprintf(err, errlen, "interpreter is empty");
		return -1;
	}
	if (argv[0][0] != '/') {
		snprintf(err, errlen, "interpreter \"%s\" must start with an absolute path (example: "
				      "/usr/bin/env python3)",
		    show);
		argv[0] = NULL;
		return -1;
	}
	*argc = n;
	return 0;
}

int
field_file_path_ok(const char *d)
{
	size_t len = strlen(d);
	if (len < 2 || len > FIELD_PATH_MAX || d[0] != '/' || d[len - 1] == '/' || util_has_ctl(d) ||
	    strstr(d, "//") != NULL)
		return 0;
	for (const char *p = d + 1;; p += strcspn(p, "/") + 1) {
		size_t part = strcspn(p, "/");
		if ((part == 1 && p[0] == '.') || (part == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (p[part] == '\0')
			return 1;
	}
}
