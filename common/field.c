/*
 * field: one place for the limits of the values that reach the control
 * protocol, so that the batch parser, the CLI, the worker and the agent cannot
 * drift apart (docs/security.md lists where each is checked).
 */
#include "common/field.h"

#include <stdio.h>
#include <string.h>

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
};

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
	char show[FIELD_SHOW_MAX * 4 + 4];
	const char *name = fields[f].name;
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
