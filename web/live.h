/*
 * live: progress pushed to open pages as Server-Sent Events. One connection LISTENs on
 * pgfleet_progress (the workers' one NOTIFY per write batch, naming its schedules) and
 * pgfleet_wakeup; the schedules named, and every watched one each refresh_ms (changes
 * made without a NOTIFY), are counted again with one statement, and each stream gets
 * the rows that changed since it last heard. live_new/live_free pair; a stream is freed
 * when its client goes.
 */
#ifndef PGFLEET_WEB_LIVE_H
#define PGFLEET_WEB_LIVE_H

#include "web/web.h"

enum {
	LIVE_MAX_IDS = 200,        /* schedules one stream may watch */
	LIVE_KEEPALIVE_MS = 15000  /* a comment line this often keeps proxies from closing it */
};

struct live *live_new(struct web *w) __attribute__((warn_unused_result));
void live_free(struct live *l);
/* GET /live?s=ID,ID,...: answers with a stream (or 400/503) and owns r. */
void live_stream(struct live *l, struct web_req *r);
/* Streams open now. */
int live_count(const struct live *l);

/*
 * Parse "ID,ID,..." (decimal schedule ids, at most max, duplicates dropped) into ids.
 * Returns how many, or -1 when s is malformed or holds more than max.
 */
int live_parse_ids(const char *s, long long *ids, int max);

#endif
