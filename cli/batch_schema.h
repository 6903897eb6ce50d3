/*
 * batch_schema: the sections of a job batch (windows:, groups:, computers:, jobs:) read
 * from the YAML tree into l->b, one item at a time, each checked against the batch's
 * schema. Internal to the batch loader (cli/batch.c).
 * Who frees what: everything read is copied into the batch's arena (l->b->arena, freed
 * by batch_free); errors are added to l->errs. Nothing to free here.
 */
#ifndef PGFLEET_BATCH_SCHEMA_H
#define PGFLEET_BATCH_SCHEMA_H

#include "cli/batch_value.h"

/* groups: a list of names or {name, description}; appended to l->b->groups (sized by the caller). */
void batch_schema_groups(struct batch_ld *l, const struct yt_node *n);
/* One item of computers:, appended to l->b->computers (sized by the caller). */
void batch_schema_computer(struct batch_ld *l, const struct yt_node *n);
/* One item of windows:, appended to l->b->windows (sized by the caller). */
void batch_schema_window(struct batch_ld *l, const struct yt_node *n);
/* One item of jobs:, appended to l->b->jobs (sized by the caller). */
void batch_schema_job(struct batch_ld *l, const struct yt_node *n);

#endif
