/*
 * progress: the text of `run --wait` and `status --watch`: a one-line bar for a
 * terminal, a plain line otherwise, and the rate / ETA estimate. Pure: no I/O,
 * no allocation; every string goes into the caller's buffer.
 */
#ifndef PGFLEET_PROGRESS_H
#define PGFLEET_PROGRESS_H

#include <stddef.h>

/* Events of one schedule by state. */
struct progress_counts {
	long long total, done, failed, running, pending, cancelled;
	int halted; /* the schedule's rollout is halted (its waiting events wait for an operator) */
};

/* Rate of ended events since the first sample (the watch's start). */
struct progress_rate {
	int started;
	double t0;        /* seconds, monotonic */
	long long ended0; /* events ended at t0 */
	double rate;      /* events per second; 0 until one more has ended */
	double eta;       /* seconds left; < 0 when unknown */
};

/* 1 when a and b hold the same counts and halted (field by field: never memcmp, the
 * struct has padding). */
int progress_counts_equal(const struct progress_counts *a, const struct progress_counts *b);
/* Events no longer pending or running. */
long long progress_ended(const struct progress_counts *c);
/* 1 when every event has ended (also when there are none). */
int progress_finished(const struct progress_counts *c);

/* Feed a sample at time now (seconds): updates rate and eta. */
void progress_rate_sample(struct progress_rate *r, double now, const struct progress_counts *c);

/* "4s", "2m05s", "1h02m", "--" when eta < 0. */
void progress_format_eta(double eta, char *buf, size_t size);

/*
 * "[#####.....] 12/20 done 1 failed 3 running 4 pending  2.5/s  ETA 4s" with a bar
 * of width cells (1..200), "N cancelled" added when any. Returns snprintf's value.
 */
int progress_bar(const struct progress_counts *c, const struct progress_rate *r, int width,
    char *buf, size_t size);
/* "12/20 done 1 failed 3 running 4 pending 0 cancelled" for one line per change. */
int progress_line(const struct progress_counts *c, char *buf, size_t size);

/* 1 when a pgfleet_progress payload (comma-separated schedule ids) names schedule_id. */
int progress_payload_names(const char *payload, const char *schedule_id);

#endif
