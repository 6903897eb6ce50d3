/*
 * svg: progress bars and charts as inline SVG.
 */
#include "web/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "web/html.h"

static const char *const states[5] = {"done", "failed", "cancelled", "running", "pending"};

void
svg_progress_widths(const struct progress_counts *c, double w[5])
{
	long long n[5] = {c->done, c->failed, c->cancelled, c->running, c->pending};
	for (int i = 0; i < 5; i++)
		w[i] = c->total > 0 && n[i] > 0 ? 100.0 * (double)n[i] / (double)c->total : 0.0;
}

void
svg_progress(struct evbuffer *b, long long schedule_id, const struct progress_counts *c)
{
	double w[5], x = 0;
	svg_progress_widths(c, w);
	html_put(b, "<svg class=\"bar\" data-schedule=\"%D\" viewBox=\"0 0 100 10\" "
		    "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"%D of %D ended\">",
	    schedule_id, progress_ended(c), c->total);
	for (int i = 0; i < 5; i++) {
		evbuffer_add_printf(b, "<rect class=\"s-%s\" data-state=\"%s\" x=\"%.2f\" y=\"0\" "
				       "width=\"%.2f\" height=\"10\"/>", states[i], states[i], x, w[i]);
		x += w[i];
	}
	evbuffer_add_printf(b, "</svg>");
}

double
svg_nice_max(double max)
{
	static const double steps[] = {1, 2, 2.5, 5, 10};
	if (!(max > 0))
		return 1;
	double p = pow(10, floor(log10(max)));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * p >= max * (1 - 1e-12))
			return steps[i] * p;
	return 10 * p;
}

static void
fmt_value(enum svg_unit unit, double v, char *buf, size_t size)
{
	if (unit == SVG_MS)
		html_duration((long long)llround(v), buf, size);
	else if (unit == SVG_PCT)
		snprintf(buf, size, "%g%%", v);
	else
		snprintf(buf, size, "%g", v);
}

/* Values of the chart's y axis: its top. 0 when there is no value at all. */
static double
chart_max(const struct svg_chart *ch, int *any)
{
	double max = 0;
	*any = 0;
	for (int i = 0; i < ch->npoints; i++) {
		double sum = 0;
		for (int s = 0; s < ch->nseries; s++) {
			double v = ch->series[s].v[i];
			if (isnan(v))
				continue;
			*any = 1;
			if (ch->kind == SVG_BARS)
				sum += v;
			else if (v > max)
				max = v;
		}
		if (ch->kind == SVG_BARS && sum > max)
			max = sum;
	}
	return max;
}

enum { ML = 64, MR = 12, MT = 34, MB = 30 };

static void
axes(struct evbuffer *b, const struct svg_chart *ch, double top, double pw, double ph)
{
	char label[32];
	for (int t = 0; t <= 4; t++) {
		double y = MT + ph - ph * t / 4.0;
		fmt_value(ch->unit, top * t / 4.0, label, sizeof(label));
		evbuffer_add_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		    ML, y, ML + pw, y);
		html_put(b, "<text class=\"ylab\" x=\"%d\" y=\"", ML - 6);
		evbuffer_add_printf(b, "%.1f", y + 4);
		html_put(b, "\" text-anchor=\"end\">%s</text>", label);
	}
	int every = ch->npoints > 10 ? (ch->npoints + 9) / 10 : 1;
	double sw = pw / ch->npoints;
	for (int i = 0; i < ch->npoints; i += every) {
		evbuffer_add_printf(b, "<text class=\"xlab\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
		    ML + (i + 0.5) * sw, MT + ph + 18);
		html_esc(b, ch->x[i]);
		evbuffer_add_printf(b, "</text>");
	}
	evbuffer_add_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
	    ML, MT + ph, ML + pw, MT + ph);
}

static void
legend(struct evbuffer *b, const struct svg_chart *ch)
{
	double x = ch->width - MR;
	/* right-aligned, last series rightmost; about 7 units per character */
	for (int s = ch->nseries - 1; s >= 0; s--) {
		const char *name = ch->series[s].name;
		x -= 16 + 7.0 * (double)(name != NULL ? strlen(name) : 0) + 12;
		html_put(b, "<rect class=\"%s\" x=\"", ch->series[s].cls);
		evbuffer_add_printf(b, "%.1f\" y=\"10\" width=\"10\" height=\"10\"/>", x);
		evbuffer_add_printf(b, "<text class=\"legend\" x=\"%.1f\" y=\"19\">", x + 14);
		html_esc(b, name);
		evbuffer_add_printf(b, "</text>");
	}
}

static void
bars(struct evbuffer *b, const struct svg_chart *ch, double top, double pw, double ph)
{
	double sw = pw / ch->npoints;
	char label[32];
	for (int i = 0; i < ch->npoints; i++) {
		double base = 0;
		for (int s = 0; s < ch->nseries; s++) {
			double v = ch->series[s].v[i];
			if (isnan(v) || v <= 0)
				continue;
			double h = ph * v / top, y = MT + ph - ph * (base + v) / top;
			base += v;
			fmt_value(ch->unit, v, label, sizeof(label));
			html_put(b, "<rect class=\"%s\" x=\"", ch->series[s].cls);
			evbuffer_add_printf(b, "%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
			    ML + i * sw + sw * 0.15, y, sw * 0.7, h);
			html_put(b, "<title>%s %s: %s</title></rect>", ch->x[i], ch->series[s].name, label);
		}
	}
}

static void
lines(struct evbuffer *b, const struct svg_chart *ch, double top, double pw, double ph)
{
	double sw = pw / ch->npoints;
	char label[32];
	for (int s = 0; s < ch->nseries; s++) {
		const double *v = ch->series[s].v;
		int open = 0;
		html_put(b, "<path class=\"line %s\" fill=\"none\" d=\"", ch->series[s].cls);
		for (int i = 0; i < ch->npoints; i++) {
			if (isnan(v[i])) {
				open = 0;
				continue;
			}
			evbuffer_add_printf(b, "%s%.1f %.1f ", open ? "L" : "M", ML + (i + 0.5) * sw,
			    MT + ph - ph * v[i] / top);
			open = 1;
		}
		evbuffer_add_printf(b, "\"/>");
		for (int i = 0; i < ch->npoints; i++) {
			if (isnan(v[i]))
				continue;
			fmt_value(ch->unit, v[i], label, sizeof(label));
			html_put(b, "<circle class=\"%s\" cx=\"", ch->series[s].cls);
			evbuffer_add_printf(b, "%.1f\" cy=\"%.1f\" r=\"2.5\">", ML + (i + 0.5) * sw,
			    MT + ph - ph * v[i] / top);
			html_put(b, "<title>%s %s: %s</title></circle>", ch->x[i], ch->series[s].name, label);
		}
	}
}

void
svg_chart(struct evbuffer *b, const struct svg_chart *ch)
{
	int any;
	double max = chart_max(ch, &any);
	double pw = ch->width - ML - MR, ph = ch->height - MT - MB;

	html_put(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">",
	    ch->width, ch->height, ch->title);
	html_put(b, "<title>%s</title><text class=\"ctitle\" x=\"%d\" y=\"19\">%s</text>", ch->title,
	    ML, ch->title);
	if (!any || ch->npoints <= 0 || pw <= 0 || ph <= 0) {
		html_put(b, "<text class=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data"
			    "</text></svg>\n", ch->width / 2, ch->height / 2);
		return;
	}
	double top = ch->unit == SVG_PCT ? 100 : svg_nice_max(max);
	if (ch->unit == SVG_COUNT) {
		/* whole numbers on each of the four grid lines */
		double step = svg_nice_max(max / 4);
		if (step < 1)
			step = 1;
		else if (step != floor(step))
			step = svg_nice_max(step * 1.01);
		top = 4 * step;
	}
	axes(b, ch, top, pw, ph);
	if (ch->kind == SVG_BARS)
		bars(b, ch, top, pw, ph);
	else
		lines(b, ch, top, pw, ph);
	legend(b, ch);
	evbuffer_add_printf(b, "</svg>\n");
}
