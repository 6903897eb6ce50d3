/*
 * progress: bar and line texts, rate and ETA. The bar fills with ended events
 * (done, failed or cancelled); the rate counts only events ended while watching.
 */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>

int
progress_counts_equal(const struct progress_counts *a, const struct progress_counts *b)
{
	return a->total == b->total && a->done == b->done && a->failed == b->failed &&
	    a->running == b->running && a->pending == b->pending && a->cancelled == b->cancelled &&
	    a->halted == b->halted;
}

long long
progress_ended(const struct progress_counts *c)
{
	return c->done + c->failed + c->cancelled;
}

int
progress_finished(const struct progress_counts *c)
{
	return c->running == 0 && c->pending == 0;
}

void
progress_rate_sample(struct progress_rate *r, double now, const struct progress_counts *c)
{
	long long ended = progress_ended(c);
	if (!r->started) {
		r->started = 1;
		r->t0 = now;
		r->ended0 = ended;
	}
	double dt = now - r->t0;
	long long n = ended - r->ended0;
	r->rate = dt > 0 && n > 0 ? (double)n / dt : 0;
	r->eta = -1;
	if (progress_finished(c))
		r->eta = 0;
	else if (r->rate > 0)
		r->eta = (double)(c->total - ended) / r->rate;
}

void
progress_format_eta(double eta, char *buf, size_t size)
{
	if (eta < 0 || eta > 99.0 * 86400) {
		snprintf(buf, size, "--");
		return;
	}
	long long s = (long long)(eta + 0.5);
	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s % 3600 / 60);
}

int
progress_bar(const struct progress_counts *c, const struct progress_rate *r, int width,
    char *buf, size_t size)
{
	char bar[201], eta[32], cancelled[48] = "";
	if (width < 1)
		width = 1;
	if (width > 200)
		width = 200;
	long long ended = progress_ended(c);
	int fill = c->total > 0 ? (int)(ended * width / c->total) : width;
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	progress_format_eta(r != NULL ? r->eta : -1, eta, sizeof(eta));
	if (c->cancelled > 0)
		snprintf(cancelled, sizeof(cancelled), " %lld cancelled", c->cancelled);
	return snprintf(buf, size, "[%s] %lld/%lld done %lld failed %lld running %lld pending%s  "
				   "%.1f/s  ETA %s",
	    bar, c->done, c->total, c->failed, c->running, c->pending, cancelled,
	    r != NULL ? r->rate : 0.0, eta);
}

int
progress_line(const struct progress_counts *c, char *buf, size_t size)
{
	return snprintf(buf, size, "%lld/%lld done %lld failed %lld running %lld pending %lld cancelled",
	    c->done, c->total, c->failed, c->running, c->pending, c->cancelled);
}

int
progress_payload_names(const char *payload, const char *schedule_id)
{
	size_t n = strlen(schedule_id);
	for (const char *p = payload; p != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, schedule_id, n) == 0)
			return 1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}
