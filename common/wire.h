/*
 * wire: the Key=Value message codec of the control and transfer protocols.
 * A message is "Key=Value\n" lines ended by an empty line, then an optional
 * body of Content-Length bytes. Limits: 16 KiB of header, 64 keys, keys
 * [A-Za-z][A-Za-z0-9-]*, no duplicate keys, no CR, LF or NUL in values.
 * The parser is incremental (fed bytes as they arrive) and does no I/O.
 * Messages and built buffers are malloc'd; the caller frees them.
 */
#ifndef PGFLEET_WIRE_H
#define PGFLEET_WIRE_H

#include <stddef.h>

#define WIRE_MAX_HEADER (16 * 1024) /* bytes of header, final empty line included */
#define WIRE_MAX_KEYS 64
#define WIRE_MAX_KEYLEN 64

struct wire_msg {
	int nkeys;
	char *keys[WIRE_MAX_KEYS];
	char *values[WIRE_MAX_KEYS];
	char *body; /* NULL when there is none; NUL-terminated for convenience */
	size_t body_len;
};

struct wire_msg *wire_msg_new(void);
void wire_msg_free(struct wire_msg *m);
/* The value of key (exact, case-sensitive), or NULL when absent. */
const char *wire_get(const struct wire_msg *m, const char *key);
/* Add a key; -1 with a reason in err on a bad key or value, a duplicate, or too many keys. */
/*
 * A message missing a key can change what the peer does (a missing Run-As once
 * meant the agent's default user): every result below must be checked.
 */
int wire_add(struct wire_msg *m, const char *key, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int wire_addf(struct wire_msg *m, char *err, size_t errlen, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), warn_unused_result));
/* Attach a body (copied); Content-Length is added by wire_build. */
int wire_set_body(struct wire_msg *m, const void *body, size_t len) __attribute__((warn_unused_result));
/* Serialize; returns a malloc'd buffer of *len bytes, or NULL when over the header limit. */
char *wire_build(const struct wire_msg *m, size_t *len) __attribute__((warn_unused_result));
/* Wipe (the buffer may hold the one-time "Key") and free a wire_build buffer; NULL is fine. */
void wire_buf_free(char *buf, size_t len);
/* Header as text for a trace log line, with secrets ("Key") masked; malloc'd. */
char *wire_dump(const struct wire_msg *m);

enum wire_status { WIRE_MORE, WIRE_DONE, WIRE_ERROR };

struct wire_parser;
/* max_body: the largest Content-Length accepted. */
struct wire_parser *wire_parser_new(size_t max_body);
void wire_parser_free(struct wire_parser *p);
/*
 * Feed len bytes. *used says how many were consumed: after WIRE_DONE the
 * rest belong to the next message. After WIRE_ERROR the parser stays failed.
 */
enum wire_status wire_feed(struct wire_parser *p, const char *buf, size_t len, size_t *used)
    __attribute__((warn_unused_result));
/* After WIRE_DONE: the message (caller frees); the parser is ready for the next. */
struct wire_msg *wire_parser_take(struct wire_parser *p);
/* After WIRE_ERROR: why, e.g. "line 3: duplicate key \"Size\"". */
const char *wire_parser_error(const struct wire_parser *p);

#endif
