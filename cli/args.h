/*
 * args: the pgfleet command's argument values, checked without a database:
 * run's TARGETS list, --at times, ids, names, KEY=VALUE labels, and JSON strings.
 * args_targets_parse fills a struct args_targets that args_targets_free empties;
 * args_targets_json returns a malloc'd string the caller frees. Nothing else allocates.
 */
#ifndef PGFLEET_ARGS_H
#define PGFLEET_ARGS_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define ARGS_NAME_MAX 200  /* group and job names */

struct args_label {
	char *key;
	char *value;
};

/* What `run --on` selects: computer names, groups, and labels a computer must all have. */
struct args_targets {
	char **computers;
	size_t ncomputers;
	char **groups;
	size_t ngroups;
	struct args_label *labels;
	size_t nlabels;
	struct args_label *facts;  /* fact:PATH=VALUE (key the path, value the condition) */
	size_t nfacts;
};

/*
 * Parse "web-01,group:web,label:env=prod,fact:os.id=debian,fact:memory_mb>=4096"
 * (duplicates dropped, order kept). Returns 0,
 * or -1 with err naming the offending item; t is then empty. Free with args_targets_free.
 */
int args_targets_parse(const char *s, struct args_targets *t, char *err, size_t errlen);
void args_targets_free(struct args_targets *t);
/* {"computers":[...],"groups":[...],"labels":{...}}: what schedule.targets holds; NULL on ENOMEM. */
char *args_targets_json(const struct args_targets *t);

/* Group and job names ("group", "job" in what): 1..200 characters, no control character. */
int args_name(const char *what, const char *s, char *err, size_t errlen);
/* "KEY=VALUE" into key and value (pointers into buf, a copy of s of size bufsize). */
int args_label(const char *s, char *buf, size_t bufsize, char **key, char **value, char *err,
    size_t errlen);
/* A positive id (schedule, event): 1..2^63-1. what names it in the message. */
int args_id(const char *what, const char *s, long long *out, char *err, size_t errlen);
/*
 * A rollout's max_failures: a count "5" (0..1000000) or a percentage "5%" (0..100) of the
 * schedule's events. *pct is set for a percentage. what names it in the message.
 */
int args_max_failures(const char *what, const char *s, int *n, int *pct, char *err,
    size_t errlen);
/* One rollout wave: a count "5" (1..1000000) or a percentage "10%" (1..100). */
int args_wave(const char *what, const char *s, int *n, int *pct, char *err, size_t errlen);
/* "1,10%,100%": up to max waves into n[] and pct[], *count set; each must grow (a count
 * after a smaller count, a percentage after a smaller percentage). */
int args_waves(const char *what, const char *list, int *n, int *pct, int max, int *count,
    char *err, size_t errlen);
/* The growth check of args_waves, on waves already read. */
int args_waves_ascending(const char *what, const int *n, const int *pct, int count, char *err,
    size_t errlen);
/* A rollout's max_concurrent: 1..1000000. */
int args_max_concurrent(const char *what, const char *s, int *n, char *err, size_t errlen);
/*
 * A point in time: "now", "+DURATION" (from now: +10m, +2h) or RFC 3339
 * ("2026-12-01T02:00:00Z", "2026-12-01 02:00:00+02:00", fraction ignored).
 */
int args_time(const char *s, time_t now, time_t *out, char *err, size_t errlen);
/*
 * The CLI's "now", from which relative times (--at +10m, --since 36h) count: the
 * system clock, or the RFC 3339 instant in PGFLEET_NOW when it is set (a report
 * as of that moment; tests use it to run as if it were another time of day).
 * -1 with err when PGFLEET_NOW is not a time.
 */
int args_now(time_t *now, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Write s as a JSON string, quotes included; NULL writes null. */
void args_json_str(FILE *fp, const char *s);

#endif
