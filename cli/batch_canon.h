/*
 * batch_canon: the canonical text of a job and of its plan, and their sha256, which
 * say whether a submitted job or schedule differs from what the database holds
 * (`pgfleet submit` twice changes nothing). Independent of YAML layout, comments and
 * key order; works on any filled struct batch_job, loaded or built from the database.
 * Who frees what: batch_job_canon and batch_job_plan_canon return malloc'd text the
 * caller frees; the hashes are written into the caller's buffer.
 */
#ifndef PGFLEET_BATCH_CANON_H
#define PGFLEET_BATCH_CANON_H

#include "cli/batch.h"

/* Name and tasks, defaults filled in. */
char *batch_job_canon(const struct batch_job *job);
/* Targets, schedule and rollout (what a schedule row holds). */
char *batch_job_plan_canon(const struct batch_job *job);
/* sha256 of batch_job_canon, lower-case hex. Returns 0, -1 when OpenSSL fails. */
int batch_job_hash(const struct batch_job *job, char hex[65]) __attribute__((warn_unused_result));
/* sha256 of batch_job_plan_canon. */
int batch_job_plan_hash(const struct batch_job *job, char hex[65])
    __attribute__((warn_unused_result));

#endif
