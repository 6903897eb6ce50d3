/*
 * rule: the conditions of targets.facts, dynamic groups and computer list --where
 * (migrations/0019_targeting.sql evaluates them): a FIELD (an allow-listed computer
 * column, facts.PATH or labels.KEY) and a CONDITION ("VALUE", "!=VALUE", ">N", ">=N",
 * "<N", "<=N"). Checked here where they enter, so that the database never sees a bad
 * one; the database checks again. Nothing here allocates.
 */
#ifndef PGFLEET_RULE_H
#define PGFLEET_RULE_H

#include <stddef.h>

#define RULE_MAX_COND 512

/* A field of a rule: 0, or -1 with err. */
int rule_field_ok(const char *field, char *err, size_t errlen) __attribute__((warn_unused_result));
/* A fact path (os.id, memory_mb, dmi.model): 1..8 segments of [A-Za-z0-9_-]. */
int rule_fact_path_ok(const char *path, char *err, size_t errlen) __attribute__((warn_unused_result));
/* A condition: 0, or -1 with err. */
int rule_cond_ok(const char *cond, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * "FIELD OP VALUE" (op one of = != >= <= > <, spaces around it allowed) into field
 * and cond (cond keeps the operator unless it is =): 0, or -1 with err.
 */
int rule_parse(const char *s, char *field, size_t fieldlen, char *cond, size_t condlen, char *err,
    size_t errlen) __attribute__((warn_unused_result));

#endif
