/*
 * opts: the one option parser of the pgfleet subcommands. A command describes its
 * options in a table (struct opts_spec: name, letter, kind, where the value goes, help)
 * and opts_parse reads argv with it: --opt VALUE, --opt=VALUE, -x VALUE, -h/--help, --
 * (everything after it is positional), and the positional arguments up to a maximum;
 * opts_help prints the options part of the command's --help from the same table.
 * The strings it stores point into argv; the arrays of OPTS_LIST options are malloc'd
 * and freed by opts_free.
 */
#ifndef PGFLEET_OPTS_H
#define PGFLEET_OPTS_H

#include <stddef.h>
#include <stdio.h>

enum opts_kind {
	OPTS_FLAG,  /* int set to 1; takes no value */
	OPTS_STR,   /* const char *: the value (the last one given wins) */
	OPTS_INT,   /* long long within [min, max] (units_int) */
	OPTS_LIST,  /* struct opts_list: every value, in order (repeatable) */
	OPTS_CALL,  /* fn(field, value): takes a value when vname is set, else fn gets NULL */
};

struct opts_spec {
	const char *name;   /* "--since" */
	char letter;        /* 's' for -s, or 0 */
	enum opts_kind kind;
	size_t off;         /* offsetof the field in the struct opts_parse fills */
	const char *vname;  /* the value's name in the help ("DURATION"); NULL: no value */
	const char *help;   /* its text in --help (a \n continues it aligned); NULL: not listed */
	long long min, max; /* OPTS_INT */
	/* OPTS_CALL: store value into field; 0, or -1 with err ("pgfleet CMD: --opt: err") */
	int (*fn)(void *field, const char *value, char *err, size_t errlen);
	unsigned only;      /* the subcommands (bits) that take it; 0: all of them */
};

/*
 * Table rows: N the name, OFF the field's offsetof, V the value's name; the last
 * arguments are the help text, then any other field (.letter = 'x', .only = 2).
 */
#define OPTS_ROW_FLAG(N, OFF, ...) {.name = (N), .kind = OPTS_FLAG, .off = (OFF), .help = __VA_ARGS__}
#define OPTS_ROW_STR(N, OFF, V, ...) \
	{.name = (N), .kind = OPTS_STR, .off = (OFF), .vname = (V), .help = __VA_ARGS__}
#define OPTS_ROW_INT(N, OFF, V, LO, HI, ...) \
	{.name = (N), .kind = OPTS_INT, .off = (OFF), .vname = (V), .min = (LO), .max = (HI), \
	    .help = __VA_ARGS__}
#define OPTS_ROW_LIST(N, OFF, V, ...) \
	{.name = (N), .kind = OPTS_LIST, .off = (OFF), .vname = (V), .help = __VA_ARGS__}
#define OPTS_ROW_CALL(N, OFF, V, FN, ...) \
	{.name = (N), .kind = OPTS_CALL, .off = (OFF), .vname = (V), .fn = (FN), .help = __VA_ARGS__}

/* An OPTS_LIST field: v[0..n-1] point into argv; v is malloc'd (opts_free). */
struct opts_list {
	char **v;
	int n;
};

#define OPTS_MAXPOS 8

/* The positional arguments, in order. */
struct opts_pos {
	const char *v[OPTS_MAXPOS];
	int n;
	int at;   /* with opts_cmd.head: argv's index of the first positional (argc: none) */
};

/* One command's parse: its name for the messages, its table and its rules. */
struct opts_cmd {
	const char *cmd;               /* "report history": messages are "pgfleet CMD: ..." */
	const struct opts_spec *specs;
	size_t nspecs;
	unsigned sub;                  /* this subcommand's bit (spec.only); 0: every option */
	int maxpos;                    /* positional arguments at most (<= OPTS_MAXPOS) */
	void (*usage)(FILE *);         /* the whole --help; also on stderr after an unknown option */
	int terse;                     /* no usage after an unknown option (the caller says more) */
	/* message formats, each with one %s (the argument); NULL for the default */
	const char *unknown;           /* "%s: unknown option" */
	const char *extra;             /* "%s: unexpected argument" (one positional too many) */
	const char *elsewhere;         /* "%s: not an option of this command" (another sub's) */
	/* without usage: --help is about (the synopsis and what it does), "Options:", the
	 * options from the table, then epilog (may be NULL) */
	const char *about, *epilog;
	/* options only before the first positional argument, which ends the parse there and
	 * is left with what follows it (pos->at): a command line's options before its command,
	 * as "pgfleet -d db computer list" */
	int head;
	/* the short form of --help: "-h" when NULL; another (pgfleet's "-?") where -h is an
	 * option of the table */
	const char *help_short;
};

/* The table of an opts_cmd: .specs and .nspecs. */
#define OPTS_TABLE(a) .specs = (a), .nspecs = OPTS_N(a)

#define OPTS_N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Short options may be run together as getopt allows: "-vv" for two flags, "-p5432" for
 * "-p 5432".
 *
 * Read argv[1..argc-1] (argv[0] is the command's name) into dst (the struct the specs'
 * offsets are of; its fields keep their defaults unless given) and pos (may be NULL when
 * maxpos is 0). 0: go on; 1: --help printed (on stdout, by c->usage); -1: refused, after
 * "pgfleet CMD: ..." on stderr. Call opts_free(c, dst) afterwards in every case.
 */
int opts_parse(const struct opts_cmd *c, int argc, char **argv, void *dst, struct opts_pos *pos)
    __attribute__((warn_unused_result));
/* The exit code after opts_parse returned rc != 0: CLI_OK for --help, else CLI_USAGE. */
int opts_exit(int rc);
/* Free the arrays of dst's OPTS_LIST options (and leave them empty). */
void opts_free(const struct opts_cmd *c, void *dst);

/* The whole --help of c: its usage function's, else its about, options and epilog. */
void opts_usage(FILE *f, const struct opts_cmd *c);
/*
 * The options part of --help: one line (or more) per option of this subcommand that
 * has a help text, "  -x, --name VALUE  help", aligned, then "  -h, --help  this help".
 */
void opts_help(FILE *f, const struct opts_cmd *c);

#endif
