/*
 * libFuzzer target for worker/render (make fuzz): any bytes as a script, the
 * first byte choosing the policy, vars, lookup behaviour and output cap.
 * Besides the sanitizers it checks: on success the output fits the cap, is NUL-terminated,
 * and equals the input when the input has no '%'; on failure there is a message, no output
 * and an empty report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/render.h"

static int
fuzz_lookup(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	unsigned mode = *(const unsigned *)arg;
	if (kind == RENDER_SQL ? (sql == NULL || table || column) : (!table || !column || sql))
		abort();
	if (kind != RENDER_SQL && (!render_identifier_ok(table) || !render_identifier_ok(column)))
		abort();
	const char *key = kind == RENDER_SQL ? sql : column;
	size_t h = strlen(key) + (table ? strlen(table) : 0) + (size_t)kind;
	switch ((h + mode) % 4) {
	case 0:
		*value = NULL;
		return 0;
	case 1:
		snprintf(err, errlen, "fake error");
		return -1;
	case 2:
		*value = strdup("%COMPNAME%%#!computer@name%");
		return 0;
	default:
		*value = strdup(key);
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cols[] = { "name", "serial", "a_1" };
	static const struct render_table tables[] = { { "computer", cols, 3 }, { "inv", cols, 1 } };
	struct render_policy policy = { tables, 2, 0 };
	struct render_vars vars = { .compname = "web-01", .name = "%NAME%", .id = "5000011",
		.date = "05/15/2017", .os = "", .dept = "$(id)'\"`\\\nEOF\n", .contact = "EOF",
		.email = "Ops, Team 2" };
	struct render_report rep;
	char err[256], *out = (char *)1;
	size_t outlen = 1, max = 0;
	unsigned flags, mode;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	mode = flags >> 5;
	if (mode == 7)
		vars.interpreter = "/usr/bin/python3";
	policy.sql_enabled = flags & 1;
	if (flags & 16)
		max = size / 2 + 1;
	err[0] = '\0';
	int rc = render_script((const char *)data, size, (flags & 2) ? NULL : &vars,
	    (flags & 4) ? NULL : &policy, (flags & 8) ? NULL : fuzz_lookup, &mode, max, &out,
	    &outlen, &rep, err, sizeof(err));
	if (rc == 0) {
		if (out == NULL || out[outlen] != '\0' || (max && outlen > max))
			abort();
		if (memchr(data, '%', size) == NULL &&
		    (outlen != size || memcmp(out, data, size) != 0))
			abort();
		free(out);
		render_report_free(&rep);
	} else {
		if (rc != -1 || out != NULL || outlen != 0 || err[0] == '\0' || rep.nmissing != 0 ||
		    rep.missing != NULL)
			abort();
	}
	return 0;
}
