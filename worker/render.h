/*
 * render: replaces the tokens of a script (%COMPNAME%, %#!table@column%, %#*"SQL"% ...) with
 * their values, quoted for where they stand in a POSIX shell script (docs/tokens.md); pure:
 * no database, no I/O, the custom tokens' values come from a callback.
 * render_script's *out is malloc'd (caller frees); render_report_free frees a report's contents.
 */
#ifndef PGFLEET_RENDER_H
#define PGFLEET_RENDER_H

#include <stddef.h>
#include <time.h>

/*
 * The built-in values of one task; each may be NULL (missing: the token becomes empty and
 * is listed in the report). Kept by pointer for the call only.
 */
struct render_vars {
	const char *compname;       /* %COMPNAME%: computer name */
	const char *name;           /* %NAME%: computer name as registered */
	const char *id;             /* %ID%: computer id */
	const char *agentipaddr;    /* %AGENTIPADDR%: the agent's IP address */
	const char *ipname;         /* %IPNAME%: host name the scheduler connects to */
	const char *mac;            /* %MAC% */
	const char *serialnum;      /* %SERIALNUM% */
	const char *assettag;       /* %ASSETTAG% */
	const char *domain;         /* %DOMAIN% */
	const char *domainou;       /* %DOMAINOU% */
	const char *dept;           /* %DEPT% */
	const char *contact;        /* %CONTACT% */
	const char *email;          /* %EMAIL% */
	const char *os;             /* %OS% */
	const char *date;           /* %DATE%: mm/dd/yyyy, see render_date */
	const char *dsserver;       /* %DSSERVER%: the scheduler's name */
	const char *jobname;        /* %JOBNAME% */
	const char *callingjobname; /* %CALLINGJOBNAME% */
	const char *jobuser;        /* %JOBUSER% */
	const char *scheduleid;     /* %SCHEDULEID% */
	const char *eventid;        /* %EVENTID% */
	const char *taskseq;        /* %TASKSEQ% */
	/*
	 * Not a token: the task's interpreter line (NULL: /bin/sh). A POSIX shell gets its
	 * values quoted for the place they stand in; any other interpreter takes only plain
	 * values (render_plain) unless the token says :raw.
	 */
	const char *interpreter;
};

/* One allowed table of %#!table@column% and %#^!table@column%, with its allowed columns. */
struct render_table {
	const char *name;
	const char *const *columns;
	size_t ncolumns;
};

/* The config's tokens: section. A NULL policy allows no custom token at all. */
struct render_policy {
	const struct render_table *tables; /* tokens.tables */
	size_t ntables;
	int sql_enabled;                   /* tokens.sql */
};

enum render_lookup {
	RENDER_ROW_OF_COMPUTER, /* %#!table@column%: the row whose computer_id is the target's */
	RENDER_FIRST_ROW,       /* %#^!table@column%: the first row of the table, global */
	RENDER_SQL              /* %#*"SQL"%: first column of the first row, $1 = computer id */
};

/*
 * The worker's database lookup. table and column (NULL for RENDER_SQL) have passed
 * render_identifier_ok and the allow-list, but are still data: the worker must quote them as
 * identifiers. sql (NULL unless RENDER_SQL) is the query text with \" and \\ unescaped. Set
 * *value to a malloc'd string (render frees it) or NULL when there is no row or it is SQL NULL,
 * and return 0; return -1 with a reason in err to fail the whole render.
 */
typedef int render_lookup_fn(void *arg, enum render_lookup kind, const char *table,
    const char *column, const char *sql, char **value, char *err, size_t errlen);

/* What render_script did, for the caller's level-5 log lines. */
struct render_report {
	size_t replaced;  /* tokens replaced, missing ones (replaced by nothing) included */
	char **missing;   /* distinct tokens whose value was missing, as "%COMPNAME%" */
	size_t nmissing;
};

/*
 * Replace every token of in[0..inlen) and return 0 with *out (malloc'd, NUL-terminated, *outlen
 * bytes without the NUL) and rep filled; or -1 with the reason in err (the task then fails
 * with STATUS_RENDER_FAILED), *out NULL and rep empty. Values are quoted for the shell context
 * the token stands in (a %TOKEN:raw% value is inserted verbatim) and never expanded again. max_out caps the output size (0: no cap). lookup may be NULL when no custom
 * token is expected (one found is then an error). rep may be NULL.
 */
int render_script(const char *in, size_t inlen, const struct render_vars *vars,
    const struct render_policy *policy, render_lookup_fn *lookup, void *arg, size_t max_out,
    char **out, size_t *outlen, struct render_report *rep, char *err, size_t errlen);

/* Free what a report holds and empty it; NULL and an empty report are fine. */
void render_report_free(struct render_report *rep);

/*
 * 1 when the interpreter line runs a POSIX shell (sh, bash, dash, ash, ksh, mksh, zsh, yash,
 * posh, lksh; also behind /usr/bin/env or busybox); NULL and "" mean /bin/sh.
 */
int render_interpreter_is_shell(const char *interpreter);

/*
 * 1 when every byte of s is plain: ASCII letters, digits, space, _ . , : / @ + - or a byte of
 * 0x80 and above (UTF-8 text). Plain values are the only ones a token takes where render
 * cannot quote (inside backquotes, ${...}, $'...', or for an interpreter that is no shell).
 */
int render_plain(const char *s);

/* Format t as %DATE% wants it, mm/dd/yyyy in local time; 0, or -1 (buf "") out of range. */
int render_date(time_t t, char buf[11]);

/*
 * 1 when s may be a table or column name of a custom token: [a-z_][a-z0-9_]*, at most 63 bytes
 * (PostgreSQL's limit); for the config loader. The worker still quotes it as an identifier.
 */
int render_identifier_ok(const char *s);

/*
 * Length of the token render_script would replace at s[0] (a '%'): a built-in %NAME% or
 * %NAME:raw%, %#!table@column%, %#^!table@column% or %#*"SQL"% (with or without :raw);
 * 0 when the '%' there is plain text (a shell or batch variable, a lone '%'). Only the
 * shape is checked, not the config's allow-lists. Pure; for showing scripts.
 */
size_t render_token_len(const char *s, size_t n);

#endif
