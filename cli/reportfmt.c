/*
 * reportfmt: the three output formats of `pgfleet report` and its option parsers.
 * Widths count UTF-8 code points (continuation bytes are skipped), which is what a
 * terminal shows for the text reports hold.
 */
#include "cli/reportfmt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "common/utf8.h"

int
reportfmt_format_parse(const char *s, enum reportfmt_format *fmt, char *err, size_t errlen)
{
	if (strcmp(s, "table") == 0)
		*fmt = REPORTFMT_TABLE;
	else if (strcmp(s, "csv") == 0)
		*fmt = REPORTFMT_CSV;
	else if (strcmp(s, "json") == 0)
		*fmt = REPORTFMT_JSON;
	else {
		snprintf(err, errlen, "format \"%s\" is unknown (use table, csv or json)", s);
		return -1;
	}
	return 0;
}

/* n decimal digits at s into *v; 0 when any is not a digit. */
static int
fixed_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
reportfmt_since_parse(const char *s, long long *ms, char *ts, size_t tslen, char *err,
    size_t errlen)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t len = strlen(s);

	/* A date starts with four digits and a dash; anything else must be a duration. */
	if (len >= 5 && fixed_digits(s, 4, &y) && s[4] == '-') {
		int shape = len >= 10 && s[7] == '-' && fixed_digits(s + 5, 2, &mo) &&
		    fixed_digits(s + 8, 2, &d);
		if (shape && len > 10)
			shape = (len == 19 || (len == 20 && s[19] == 'Z')) &&
			    (s[10] == 'T' || s[10] == ' ') && s[13] == ':' && s[16] == ':' &&
			    fixed_digits(s + 11, 2, &h) && fixed_digits(s + 14, 2, &mi) &&
			    fixed_digits(s + 17, 2, &sec);
		if (!shape) {
			snprintf(err, errlen, "\"%s\" is not a date (YYYY-MM-DD or "
					      "YYYY-MM-DDTHH:MM:SSZ, UTC)", s);
			return -1;
		}
		if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
		    mi > 59 || sec > 59) {
			snprintf(err, errlen, "\"%s\" is not a valid date", s);
			return -1;
		}
		if (tslen < 26) {
			snprintf(err, errlen, "date buffer too small");
			return -1;
		}
		snprintf(ts, tslen, "%04d-%02d-%02d %02d:%02d:%02d+00", y, mo, d, h, mi, sec);
		*ms = -1;
		return 0;
	}
	char why[256];
	if (units_duration_ms(s, ms, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "\"%s\" is neither a duration (30d, 12h) nor a date "
				      "(YYYY-MM-DD)", s);
		return -1;
	}
	if (tslen > 0)
		ts[0] = '\0';
	return 0;
}

int
reportfmt_since_at(const char *s, time_t now, char *ts, size_t tslen, char *err, size_t errlen)
{
	long long ms;
	if (reportfmt_since_parse(s, &ms, ts, tslen, err, errlen) == -1)
		return -1;
	if (ms < 0)
		return 0;
	long long from_ms = (long long)now * 1000 - ms;
	time_t from = (time_t)(from_ms / 1000);
	struct tm tm;
	if (from_ms < 0 || gmtime_r(&from, &tm) == NULL || tm.tm_year + 1900 < 1) {
		snprintf(err, errlen, "\"%s\" reaches before year 1", s);
		return -1;
	}
	char day[32];
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(ts, tslen, "%.19s.%03d+00", day, (int)(from_ms % 1000));
	return 0;
}

/* Code points of s. */
static size_t
text_width(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}

static size_t
cell_width(const char *s)
{
	if (s == NULL)
		return 0;
	size_t w = text_width(s);
	return w > REPORTFMT_TABLE_MAX_WIDTH ? REPORTFMT_TABLE_MAX_WIDTH : w;
}

/* Print s as a table cell: control characters as spaces, cut with "…" when too wide. */
static void
put_cell(FILE *f, const char *s, size_t width, int right, int last)
{
	size_t w = cell_width(s);
	size_t total = s != NULL ? text_width(s) : 0;
	size_t keep = total > REPORTFMT_TABLE_MAX_WIDTH ? REPORTFMT_TABLE_MAX_WIDTH - 1 : total;
	if (right)
		for (size_t i = w; i < width; i++)
			fputc(' ', f);
	size_t shown = 0;
	for (const unsigned char *p = (const unsigned char *)s; p != NULL && *p; p++) {
		if ((*p & 0xC0) != 0x80) {
			if (shown == keep)
				break;
			shown++;
		}
		fputc(*p < 0x20 || *p == 0x7F ? ' ' : *p, f);
	}
	if (keep < total)
		fputs("\xE2\x80\xA6", f);
	if (!right && !last)
		for (size_t i = w; i < width; i++)
			fputc(' ', f);
}

static int
write_table(FILE *f, const struct reportfmt_col *cols, int ncols, const char *const *cells,
    int nrows, char *err, size_t errlen)
{
	size_t *width = calloc((size_t)ncols + 1, sizeof(*width));
	if (width == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int c = 0; c < ncols; c++) {
		width[c] = cell_width(cols[c].name);
		for (int r = 0; r < nrows; r++) {
			size_t w = cell_width(cells[(size_t)r * ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < ncols; c++) {
		fputs(c ? "  " : "", f);
		put_cell(f, cols[c].name, width[c], cols[c].kind == REPORTFMT_NUMBER, c == ncols - 1);
	}
	fputc('\n', f);
	for (int c = 0; c < ncols; c++) {
		fputs(c ? "  " : "", f);
		for (size_t i = 0; i < width[c]; i++)
			fputc('-', f);
	}
	fputc('\n', f);
	for (int r = 0; r < nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			fputs(c ? "  " : "", f);
			put_cell(f, cells[(size_t)r * ncols + c], width[c],
			    cols[c].kind == REPORTFMT_NUMBER, c == ncols - 1);
		}
		fputc('\n', f);
	}
	fprintf(f, "(%d row%s)\n", nrows, nrows == 1 ? "" : "s");
	free(width);
	return 0;
}

static void
put_csv_field(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	size_t len = strlen(s);
	int quote = len == 0 || s[0] == ' ' || s[len - 1] == ' ' || strpbrk(s, ",\"\r\n") != NULL;
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void
write_csv(FILE *f, const struct reportfmt_col *cols, int ncols, const char *const *cells,
    int nrows)
{
	for (int c = 0; c < ncols; c++) {
		fputs(c ? "," : "", f);
		put_csv_field(f, cols[c].name);
	}
	fputs("\r\n", f);
	for (int r = 0; r < nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			fputs(c ? "," : "", f);
			put_csv_field(f, cells[(size_t)r * ncols + c]);
		}
		fputs("\r\n", f);
	}
}

static void
put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);
	while (*p) {
		size_t n = utf8_seq_len(p, (size_t)(end - p));
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
		p++;
	}
	fputc('"', f);
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
is_json_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

static void
write_json(FILE *f, const struct reportfmt_col *cols, int ncols, const char *const *cells,
    int nrows)
{
	fputc('[', f);
	for (int r = 0; r < nrows; r++) {
		fputs(r ? ",\n  {" : "\n  {", f);
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[(size_t)r * ncols + c];
			fputs(c ? ", " : "", f);
			put_json_string(f, cols[c].name);
			fputs(": ", f);
			if (v == NULL)
				fputs("null", f);
			else if (cols[c].kind == REPORTFMT_NUMBER && is_json_number(v))
				fputs(v, f);
			else if (cols[c].kind == REPORTFMT_BOOL && (strcmp(v, "t") == 0 ||
				     strcmp(v, "f") == 0))
				fputs(v[0] == 't' ? "true" : "false", f);
			else
				put_json_string(f, v);
		}
		fputc('}', f);
	}
	fputs(nrows ? "\n]\n" : "]\n", f);
}

int
reportfmt_write(FILE *f, enum reportfmt_format fmt, const struct reportfmt_col *cols,
    int ncols, const char *const *cells, int nrows, char *err, size_t errlen)
{
	switch (fmt) {
	case REPORTFMT_TABLE:
		if (write_table(f, cols, ncols, cells, nrows, err, errlen) == -1)
			return -1;
		break;
	case REPORTFMT_CSV:
		write_csv(f, cols, ncols, cells, nrows);
		break;
	case REPORTFMT_JSON:
		write_json(f, cols, ncols, cells, nrows);
		break;
	}
	if (fflush(f) == EOF || ferror(f)) {
		snprintf(err, errlen, "writing the report failed");
		return -1;
	}
	return 0;
}
