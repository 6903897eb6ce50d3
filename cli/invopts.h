/*
 * invopts: the options of the inventory commands (pgfleet computer, pgfleet group),
 * one table (cli/invopts.c) read by cli/opts.c: each subcommand names the options it
 * takes by their letters, and invopts_dispatch finds the subcommand, scans its options
 * and runs it. The strings a struct invopts holds point into argv; invopts_free frees
 * its lists.
 */
#ifndef PGFLEET_INVOPTS_H
#define PGFLEET_INVOPTS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/reportfmt.h"

struct invopts {
	const char *pos[4];     /* positional arguments */
	int npos;
	enum reportfmt_format fmt;      /* j: --format, --json */
	int force, dry_run;             /* f: --force, n: --dry-run */
	const char *host, *port, *os, *description; /* h, p, o, d */
	char **labels, **groups, **wheres;          /* l, g, w: repeatable */
	int nlabels, ngroups, nwheres;
};

/*
 * Scan argv[1..argc-1] for a subcommand taking the options whose letters are in
 * allowed. 0 (*help set for -h/--help), or -1 with the message printed. Call
 * invopts_free afterwards either way.
 */
int invopts_scan(const char *cmd, int argc, char **argv, const char *allowed, struct invopts *o,
    int *help) __attribute__((warn_unused_result));
void invopts_free(struct invopts *o);
/* The options part of a noun's --help: those whose letters are in letters. */
void invopts_help(FILE *f, const char *letters);

/* Exactly n positional arguments, named in what ("NAME"); -1 with the message printed. */
int invopts_want_pos(const char *cmd, const struct invopts *o, int n, const char *what);

/*
 * The --where conditions as a rule {"FIELD": "CONDITION", ...} (common/rule.h), NULL with
 * the message printed when one is not valid. Malloc'd.
 */
char *invopts_where_rule(const char *cmd, const struct invopts *o);

/* One subcommand of a noun: its name, the letters of its options, what runs it. */
struct invopts_sub {
	const char *name, *allowed;
	int (*fn)(struct invopts *);
};

/* "pgfleet NOUN SUB [options]": find SUB, scan its options, run it; an exit code. */
int invopts_dispatch(const char *noun, const struct invopts_sub *subs, size_t nsubs,
    void (*usage)(FILE *), const char *names, int argc, char **argv);

#endif
