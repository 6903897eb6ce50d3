/*
 * json: the little JSON pgfleet writes and checks itself: a string quoted into
 * a growable buffer, and a strict checker for a document that came from the
 * network (an agent's facts) before it reaches a jsonb column. Nothing here
 * allocates for the caller (the buffer is the caller's, common/util.h).
 */
#ifndef PGFLEET_JSON_H
#define PGFLEET_JSON_H

#include <stddef.h>

struct util_buf;

/* s as a JSON string, quotes included (NULL: null). Bytes that are not UTF-8 become '?'. */
void json_quote(struct util_buf *b, const char *s);
/*
 * 0 when s[0..len) is exactly one JSON object (RFC 8259), valid UTF-8, nested at
 * most max_depth deep, with no \u0000 (which jsonb refuses); -1 with err.
 */
int json_check_object(const char *s, size_t len, int max_depth, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
