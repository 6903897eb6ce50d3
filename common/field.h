/*
 * field: the limits on the values that reach the control protocol (a task's run_as,
 * interpreter, os_required and boot_env; a computer's host, os and boot_env) or a
 * script through its tokens (a computer's ip, mac, email, domain and free-text
 * inventory), checked where they enter: the job batch parser, the CLI, the worker
 * before it builds a SendFile, and the agent. Migrations 0006 and 0009 hold the same
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
#define FIELD_TEXT_MAX 256          /* serial, asset_tag, domain_ou, dept, contact */
#define FIELD_EMAIL_MAX 254         /* RFC 5321's path limit */
#define FIELD_COMPUTER_MAX 253      /* a computer's name */

enum field {
	FIELD_RUN_AS,       /* 1..32 bytes */
	FIELD_INTERPRETER,  /* 1..1024 bytes, words as field_interpreter_split says */
	FIELD_OS_REQUIRED,  /* 0..128 bytes; empty: no requirement */
	FIELD_BOOT_ENV,     /* 0..128 bytes; empty: no requirement */
	FIELD_OS,           /* 0..128 bytes */
	FIELD_HOST,         /* an RFC 1123 host name or an IPv4/IPv6 address, 1..253 bytes */
	FIELD_IP,           /* an IPv4 or IPv6 address */
	FIELD_MAC,          /* aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff, hex of either case */
	FIELD_DOMAIN,       /* a DNS name: labels of letters, digits, '-' and '_', 1..253 bytes */
	FIELD_EMAIL,        /* local@domain: RFC 5322 dot-atom local part, FIELD_DOMAIN domain */
	FIELD_TEXT,         /* free text (serial, asset_tag, domain_ou, dept, contact): 0..256 */
};

/* The field's name in messages: "run_as", "interpreter", ... */
const char *field_name(enum field f);

/*
 * Check s as a value of f: no control character (bytes below 0x20, and 0x7f),
 * within the length limit, and of its grammar where it has one (host, ip, mac,
 * domain, email). Returns 0, or -1 with the reason in err naming the value,
 * escaped: run_as "nobody\nx" holds a control character (\n).
 */
int field_check(enum field f, const char *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same, naming the value name in err (FIELD_TEXT holds dept, contact, ...). */
int field_check_as(enum field f, const char *name, const char *s, char *err, size_t errlen)
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

/* 1 when s is an RFC 1123 host name: dot-separated labels of 1-63 letters, digits and '-'
 * (not first or last), at most 253 bytes, an optional final dot. */
int field_hostname_ok(const char *s);
/* A copy-file destination: absolute, no "." or ".." part, no "//", no trailing "/", no
 * control character, at most FIELD_PATH_MAX bytes. 1 or 0. */
#define FIELD_PATH_MAX 1024
int field_file_path_ok(const char *s);

/*
 * A computer's name, as in certificates and tokens: 1..FIELD_COMPUTER_MAX letters, digits,
 * '.', '_' or '-', starting with a letter or digit. Returns 0, or -1 with the reason in err.
 */
int field_computer_name(const char *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* s escaped for a message (\n, \t, \xNN), cut at 60 bytes with "..."; out gets at most outlen bytes. */
void field_show(const char *s, char *out, size_t outlen);

#endif
