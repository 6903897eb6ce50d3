/*
 * svg: pictures drawn on the server as inline SVG, so that pgfleet-web's pages need no
 * script and fetch nothing: a schedule's progress bar and the history charts (bars
 * stacked per day, lines with gaps). Colours come from CSS classes (the served
 * stylesheet), sizes from attributes. Pure: appends to the caller's evbuffer, nothing
 * kept; every label is escaped.
 */
#ifndef PGFLEET_WEB_SVG_H
#define PGFLEET_WEB_SVG_H

#include <event2/buffer.h>

#include "cli/progress.h"

/*
 * The progress bar of one schedule: one <rect> per state (classes s-done, s-failed,
 * s-cancelled, s-running, s-pending, in that order), widths in percent of a 100-wide
 * view box. data-schedule and the rects' data-state let live.js move it.
 */
void svg_progress(struct evbuffer *b, long long schedule_id, const struct progress_counts *c);
/* Widths (in a 0..100 box, summing to 100 when total > 0) for the five states above. */
void svg_progress_widths(const struct progress_counts *c, double w[5]);

enum svg_kind { SVG_BARS, SVG_LINE };
enum svg_unit { SVG_COUNT, SVG_MS, SVG_PCT };

struct svg_series {
	const char *name;   /* legend and tooltip */
	const char *cls;    /* CSS class of its shapes, [a-z0-9-] */
	const double *v;    /* npoints values; NAN: no value (a gap in a line, no bar) */
};

struct svg_chart {
	const char *title;
	enum svg_kind kind;     /* bars are stacked in series order */
	enum svg_unit unit;     /* of the y axis */
	int npoints;
	const char *const *x;   /* npoints labels (days) */
	int nseries;
	const struct svg_series *series;
	int width, height;      /* view box */
};

/* The whole chart (<svg role="img">…</svg>), or a note when it has no value at all. */
void svg_chart(struct evbuffer *b, const struct svg_chart *ch);

/* A "nice" top for an axis holding max (1, 2, 2.5 or 5 times a power of ten, >= max). */
double svg_nice_max(double max);

#endif
