/*
 * field: the limits on the free-text values that reach the control protocol (a
 * task's run_as, interpreter, os_required and boot_env; a computer's host, os and
 * boot_env), checked where they enter: the job batch parser, the CLI, the worker
 * before it builds a SendFile, and the agent. Migration 0006 holds the same
 * limits as CHECK constraints. Nothing here allocates.
 */
#ifndef PGFLEET_FIELD_H
#define PGFLEET_FIELD_H

#include <stddef.h>

#define FIELD_RUN_AS_MAX 32         /* bytes; useradd's limit, as the agent's run_as names */
#define FIELD_INTERPRETER_MAX 1024  /* bytes of the whole interpreter line */
#define FIELD_INTERPRETER_WORDS 16  /* the program and its arguments */
#define FIELD_OS_MAX 128            /* os_required, a computer's os */
#define FIELD_BOOT_ENV_MAX 128      /* boot_env of a task or a computer */
#define FIELD_HOST_MAX 253          /* a computer's host: a DNS name or an address */

enum field {
	FIELD_RUN_AS,       /* 1..32 bytes */
	FIELD_INTERPRETER,  /* 1..1024 bytes, words as field_interpreter_split says */
	FIELD_OS_REQUIRED,  /* 0..128 bytes; empty: no requirement */
	FIELD_BOOT_ENV,     /* 0..128 bytes; empty: no requirement */
	FIELD_OS,           /* 0..128 bytes */
	FIELD_HOST,         /* 1..253 bytes */
};

/* The field's name in messages: "run_as", "interpreter", ... */
const char *field_name(enum field f);

/*
 * Check s as a value of f: no control character (bytes below 0x20, and 0x7f),
 * within the length limit. Returns 0, or -1 with the reason in err naming the
 * value, escaped: run_as "nobody\nx" holds a control character (\n).
 */
int field_check(enum field f, const char *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Split an interpreter line into argv without a shell: words separated by one or
 * more spaces, no quoting or escaping, the first word an absolute path, at most
 * FIELD_INTERPRETER_WORDS words. The words are copied into buf (buflen bytes)
 * and argv[0..*argc-1] point into it; argv[*argc] is NULL, so argv needs
 * FIELD_INTERPRETER_WORDS + 1 slots. Returns 0, or -1 with the reason in err.
 */
int field_interpreter_split(const char *s, char *buf, size_t buflen,
    char *argv[FIELD_INTERPRETER_WORDS + 1], int *argc, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* s escaped for a message (\n, \t, \xNN), cut at 60 bytes with "..."; out gets at most outlen bytes. */
void field_show(const char *s, char *out, size_t outlen);

#endif
