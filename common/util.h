/*
 * util: the small helpers every part of pgfleet needs once: hex, base64 and
 * sha256-to-hex, a growable string buffer, the control-character check, the
 * items of a separated list (the clock is common/clock.h).
 * Who frees what: a struct util_buf's text (b->p) belongs to the buffer and is
 * freed by util_buf_free; nothing else here allocates.
 */
#ifndef PGFLEET_UTIL_H
#define PGFLEET_UTIL_H

#include <stddef.h>

/* n bytes as 2n lower-case hex digits and a NUL: out holds 2n + 1 bytes. */
void util_hex(const void *in, size_t n, char *out);
/* sha256 of data as 64 lower-case hex digits and a NUL. Returns 0, or -1 when OpenSSL fails. */
int util_sha256_hex(const void *data, size_t len, char out[65])
    __attribute__((warn_unused_result));

/* A hex digit's value (either case), or -1. */
int util_hexval(char c);
/*
 * 2n hex digits (either case) into n bytes at out. 0, or -1 when one is no hex digit
 * (out then partly written).
 */
int util_unhex(const char *in, size_t n, unsigned char *out) __attribute__((warn_unused_result));
/* n bytes as base64 (RFC 4648, padded, no line breaks), malloc'd and NUL-terminated. */
char *util_base64(const void *in, size_t n);
/*
 * base64 of len chars (padded; blanks and line breaks anywhere are skipped) into *out
 * (malloc'd, with a NUL after the bytes, the caller frees) and *outlen. 0, or -1 with *out
 * NULL when it is not base64.
 */
int util_unbase64(const char *in, size_t len, unsigned char **out, size_t *outlen)
    __attribute__((warn_unused_result));

/* 1 when s holds a control character (a byte below 0x20, or 0x7f). */
int util_has_ctl(const char *s);

/*
 * Lists such as "a, b" or a Cookie header's "x=1; y=2": the next item of *s up to sep,
 * with the blanks (space, tab) around it dropped. Returns where it starts (its length in
 * *len) and moves *s past the separator, to NULL after the last item; returns NULL once
 * *s is NULL. "" is one empty item; "a,,b" three.
 */
const char *util_next_item(const char **s, char sep, size_t *len);

/*
 * A growable, always NUL-terminated string: zero it before first use ({0}).
 * max 0 means no limit; otherwise an append that would pass max bytes is refused
 * (-1, nothing appended). Out of memory is fatal.
 */
struct util_buf {
	char *p;    /* NULL until the first append */
	size_t len, cap;
	size_t max;
};

int util_buf_add(struct util_buf *b, const void *s, size_t n);
int util_buf_puts(struct util_buf *b, const char *s);
int util_buf_fmt(struct util_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (malloc'd, "" for an empty buffer) and empties b. */
char *util_buf_take(struct util_buf *b);
void util_buf_free(struct util_buf *b);

#endif
