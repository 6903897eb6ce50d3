/* outcome: the order of the rules is the task's on_code, success_codes, then return_codes. */
#include "worker/outcome.h"

#include <string.h>

int
outcome_parse(const char *word, enum outcome *out)
{
	static const struct { const char *word; enum outcome o; } words[] = {
		{"success", OUTCOME_SUCCESS}, {"failure", OUTCOME_FAILURE},
		{"continue", OUTCOME_CONTINUE}, {"stop", OUTCOME_STOP},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(word, words[i].word) == 0) {
			*out = words[i].o;
			return 0;
		}
	}
	return -1;
}

static int
map_find(const struct outcome_map *m, size_t n, int code, enum outcome *out)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].code == code) {
			*out = m[i].action;
			return 1;
		}
	}
	return 0;
}

enum outcome
outcome_of(int code, const struct outcome_rules *r)
{
	enum outcome o;
	if (map_find(r->on_code, r->non_code, code, &o))
		return o;
	if (r->nsuccess == 0) {
		if (code == 0)
			return OUTCOME_SUCCESS;
	} else {
		for (size_t i = 0; i < r->nsuccess; i++)
			if (r->success_codes[i] == code)
				return OUTCOME_SUCCESS;
	}
	if (map_find(r->global, r->nglobal, code, &o))
		return o;
	return OUTCOME_FAILURE;
}

int
outcome_next(enum outcome o, int on_failure_continue, int *failed)
{
	switch (o) {
	case OUTCOME_SUCCESS:
		return 1;
	case OUTCOME_CONTINUE:
		*failed = 1;
		return 1;
	case OUTCOME_FAILURE:
		*failed = 1;
		return on_failure_continue;
	case OUTCOME_STOP:
		*failed = 1;
		return 0;
	}
	return 0;
}
