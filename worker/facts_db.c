/*
 * facts_db: a queue of documents, flushed by a timer (FLUSH_MS after the first
 * one), at FLUSH_COUNT documents or FLUSH_BYTES, whichever comes first.
 */
#include "worker/facts_db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/dbq.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pgarray.h"
#include "common/util.h"

#define FLUSH_MS 200
#define FLUSH_COUNT 200
#define FLUSH_BYTES (4 * 1024 * 1024)

static const char SQL_STORE[] = "SELECT pgfleet.facts_store($1::bigint[], $2::text[], $3::text[])";

struct facts_db {
	struct dbq *db;
	struct event *timer;
	struct pgarray ids, hashes, docs;
	int n;
	size_t bytes;
};

static void
facts_db_reset(struct facts_db *f)
{
	free(f->ids.p);
	free(f->hashes.p);
	free(f->docs.p);
	memset(&f->ids, 0, sizeof(f->ids));
	memset(&f->hashes, 0, sizeof(f->hashes));
	memset(&f->docs, 0, sizeof(f->docs));
	f->n = 0;
	f->bytes = 0;
}

static void
facts_db_written(const struct dbq_reply *r, void *arg)
{
	int n = (int)(intptr_t)arg;
	if (r->ok)
		log_debug("facts: %d documents written", n);
	else
		log_warnx("facts: %d documents not written: %s (sent again at the next connection)", n,
		    r->err);
}

/* The queue goes out as one unit on the worker's connection; its answer is logged. */
void
facts_db_flush(struct facts_db *f)
{
	if (f->n == 0)
		return;
	evtimer_del(f->timer);
	const char *p[] = {pgarray_end(&f->ids), pgarray_end(&f->hashes), pgarray_end(&f->docs)};
	struct dbq_unit *u = dbq_unit_new(facts_db_written, (void *)(intptr_t)f->n, 0);
	if (p[0] == NULL || p[1] == NULL || p[2] == NULL || u == NULL ||
	    dbq_add(u, SQL_STORE, 3, p) == -1) {
		dbq_unit_free(u);
		log_warnx("facts: out of memory; %d documents dropped (sent again at the next connection)", f->n);
	} else {
		dbq_submit(f->db, u);
	}
	facts_db_reset(f);
}

static void
facts_db_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	facts_db_flush(arg);
}

struct facts_db *
facts_db_new(struct event_base *base, struct dbq *db)
{
	struct facts_db *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->db = db;
	if ((f->timer = evtimer_new(base, facts_db_timer, f)) == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

void
facts_db_free(struct facts_db *f)
{
	if (f == NULL)
		return;
	facts_db_flush(f);
	event_free(f->timer);
	facts_db_reset(f);
	free(f);
}

int
facts_db_add(struct facts_db *f, int64_t computer_id, const char *hash, const char *doc, size_t len,
    char *err, size_t errlen)
{
	char hex[65], want[72];
	if (doc == NULL || len == 0 || len > FACTS_DB_MAX) {
		snprintf(err, errlen, "facts document missing or larger than %d bytes", FACTS_DB_MAX);
		return -1;
	}
	if (json_check_object(doc, len, FACTS_DB_DEPTH, err, errlen) == -1)
		return -1;
	if (util_sha256_hex(doc, len, hex) == -1) {
		snprintf(err, errlen, "sha256 failed");
		return -1;
	}
	snprintf(want, sizeof(want), "sha256:%s", hex);
	if (hash == NULL || strcmp(hash, want) != 0) {
		snprintf(err, errlen, "Facts-Hash does not match the document");
		return -1;
	}
	pgarray_int(&f->ids, computer_id);
	pgarray_text(&f->hashes, want);
	pgarray_text(&f->docs, doc);
	f->n++;
	f->bytes += len;
	if (f->n >= FLUSH_COUNT || f->bytes >= FLUSH_BYTES) {
		facts_db_flush(f);
	} else if (!evtimer_pending(f->timer, NULL)) {
		struct timeval tv = {0, FLUSH_MS * 1000};
		evtimer_add(f->timer, &tv);
	}
	return 0;
}
