/*
 * outcome: what a task's status code means for its event, from the task's
 * on_code map, its success_codes, then the scheduler's global return_codes
 * (Deployment Server's per-task Return Codes page and master return codes).
 * Pure; nothing allocated.
 */
#ifndef PGFLEET_OUTCOME_H
#define PGFLEET_OUTCOME_H

#include <stddef.h>

enum outcome {
	OUTCOME_SUCCESS,  /* the task succeeded: go on */
	OUTCOME_FAILURE,  /* the task failed: the task's on_failure decides */
	OUTCOME_CONTINUE, /* the task failed but the event goes on (on_code: continue) */
	OUTCOME_STOP      /* the event ends now, failed (on_code: stop) */
};

struct outcome_map {
	int code;
	enum outcome action;
};

struct outcome_rules {
	const int *success_codes; /* NULL/0: [0] */
	size_t nsuccess;
	const struct outcome_map *on_code; /* the task's map, checked first */
	size_t non_code;
	const struct outcome_map *global; /* return_codes: SUCCESS or FAILURE entries */
	size_t nglobal;
};

/* Parse an on_code action word: success, failure, continue, stop. 0 or -1. */
int outcome_parse(const char *word, enum outcome *out);
/* What code means under the rules. */
enum outcome outcome_of(int code, const struct outcome_rules *rules);
/* After a task: 1 when the next task runs, 0 when the event ends. on_failure_continue is
 * the task's on_failure: continue; *failed is set when the event must end failed. */
int outcome_next(enum outcome o, int on_failure_continue, int *failed);

#endif
