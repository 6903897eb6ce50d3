/*
 * facts_db: the agents' facts documents (Request=Facts, docs/enrolment.md) a worker
 * receives, checked (one JSON object, at most FACTS_DB_MAX bytes) and written in
 * batches by one constant statement (pgfleet.facts_store), a unit on the worker's
 * asynchronous database connection (common/dbq.h), a moment after the first one of a
 * batch. facts_db_new returns a struct freed by facts_db_free (which queues what is
 * left; it is written if the connection outlives it).
 */
#ifndef PGFLEET_FACTS_DB_H
#define PGFLEET_FACTS_DB_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dbq;
struct facts_db;

#define FACTS_DB_MAX (256 * 1024)  /* the largest document taken */
#define FACTS_DB_DEPTH 16          /* and its deepest nesting */

struct facts_db *facts_db_new(struct event_base *base, struct dbq *db);
void facts_db_free(struct facts_db *f);
/*
 * Queue one document of computer_id (hash: "sha256:<hex>" the agent says it has).
 * 0, or -1 with err when it is refused (not JSON, too large, the hash does not match).
 */
int facts_db_add(struct facts_db *f, int64_t computer_id, const char *hash, const char *doc, size_t len,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* Write the queue now. */
void facts_db_flush(struct facts_db *f);

#endif
