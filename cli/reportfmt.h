/*
 * reportfmt: writes a grid of text cells as an aligned table, RFC 4180 CSV or JSON,
 * and parses the report options (--format, --since). Pure: no database, no allocation
 * kept. The caller owns every cell and column it passes; nothing is retained.
 */
#ifndef PGFLEET_REPORTFMT_H
#define PGFLEET_REPORTFMT_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum reportfmt_format { REPORTFMT_TABLE, REPORTFMT_CSV, REPORTFMT_JSON };

/* How a column is written in JSON (and aligned in a table). */
enum reportfmt_kind {
	REPORTFMT_TEXT,   /* JSON string */
	REPORTFMT_NUMBER, /* JSON number when it looks like one, else a string; right-aligned */
	REPORTFMT_BOOL    /* "t"/"f" as JSON true/false */
};

struct reportfmt_col {
	const char *name;
	enum reportfmt_kind kind;
};

/* Table cells longer than this many characters are cut and end with "…". */
enum { REPORTFMT_TABLE_MAX_WIDTH = 60 };

/* "table", "csv" or "json"; 0, or -1 with the reason in err. */
int reportfmt_format_parse(const char *s, enum reportfmt_format *fmt, char *err, size_t errlen);

/*
 * --since: a duration ("30d", "12h", units_duration_ms) or a UTC date "YYYY-MM-DD" or
 * time "YYYY-MM-DDTHH:MM:SSZ". Sets exactly one: *ms (>= 0) with ts = "", or *ms = -1
 * with ts = "YYYY-MM-DD HH:MM:SS+00" (tslen >= 26). 0, or -1 with the reason in err.
 */
int reportfmt_since_parse(const char *s, long long *ms, char *ts, size_t tslen, char *err,
    size_t errlen);

/*
 * --since as one instant: a date or time as reportfmt_since_parse takes it, or a duration
 * counted back from now. ts = "YYYY-MM-DD HH:MM:SS[.mmm]+00" (tslen >= 32). 0, or -1
 * with the reason in err (also when a duration reaches before year 1).
 */
int reportfmt_since_at(const char *s, time_t now, char *ts, size_t tslen, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/*
 * Write nrows rows of ncols cells (row-major: cells[r * ncols + c]; NULL is SQL NULL)
 * with a header of column names. Table: aligned columns, control characters shown as
 * spaces, long cells cut, "(N rows)" last. CSV: header line, CRLF line ends, fields
 * quoted when they hold a comma, quote, CR, LF or edge space, or are empty (NULL is an
 * empty unquoted field). JSON: an array of objects, invalid UTF-8 written as U+FFFD.
 * 0, or -1 with the reason in err (write failure, out of memory).
 */
int reportfmt_write(FILE *f, enum reportfmt_format fmt, const struct reportfmt_col *cols,
    int ncols, const char *const *cells, int nrows, char *err, size_t errlen);

#endif
