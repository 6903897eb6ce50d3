/*
 * batch_export: a job written back as a batch, which `pgfleet submit` stores as the
 * job's source and `pgfleet job export` prints: the groups its targets name, then the
 * job, which loads back to the same hashes (cli/batch_canon.h). Who frees what: it writes to the caller's FILE and keeps nothing.
 */
#ifndef PGFLEET_BATCH_EXPORT_H
#define PGFLEET_BATCH_EXPORT_H

#include <stdio.h>

#include "cli/batch.h"

/* Returns 0, or -1 on a write error. */
int batch_job_export(const struct batch_job *job, FILE *fp) __attribute__((warn_unused_result));

#endif
