/*
 * gate: the pre-TLS budget shared by the worker's transfer port and agent
 * listener (docs/protocol.md), and its rate-limited refusal log.
 */
#include "common/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"

#define REFUSAL_SOURCES 64      /* addresses whose refusals are counted between reports */
#define REFUSAL_REPORT_MS 60000

struct gate {
	char label[32];
	struct gate_entry *head, *tail;
	int n, max, per_source;
	struct refusals {
		char host[INET6_ADDRSTRLEN];
		int count; /* since the last report */
	} refused[REFUSAL_SOURCES];
	int refused_other; /* from addresses the table had no room for */
	struct event *report_timer;
};

void
gate_refused(struct gate *g, const char *host, const char *why)
{
	struct refusals *free_slot = NULL;
	for (int i = 0; i < REFUSAL_SOURCES; i++) {
		if (g->refused[i].host[0] == '\0') {
			if (free_slot == NULL)
				free_slot = &g->refused[i];
		} else if (strcmp(g->refused[i].host, host) == 0) {
			g->refused[i].count++;
			return;
		}
	}
	if (free_slot == NULL) {
		if (g->refused_other++ == 0)
			log_warnx("%s: connection from %s refused: %s (refusals from more addresses "
			    "are counted)", g->label, host, why);
		return;
	}
	log_warnx("%s: connection from %s refused: %s", g->label, host, why);
	snprintf(free_slot->host, sizeof(free_slot->host), "%s", host);
}

static void
report_refusals(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	(void)fd;
	(void)what;
	for (int i = 0; i < REFUSAL_SOURCES; i++) {
		struct refusals *r = &g->refused[i];
		if (r->host[0] != '\0' && r->count > 0)
			log_warnx("%s: %d connections refused from %s in the last minute", g->label,
			    r->count, r->host);
		if (r->count == 0)
			r->host[0] = '\0'; /* quiet for a minute: the next refusal is logged at once */
		r->count = 0;
	}
	if (g->refused_other > 1)
		log_warnx("%s: %d connections refused from other addresses in the last minute",
		    g->label, g->refused_other - 1);
	g->refused_other = 0;
}

struct gate *
gate_new(struct event_base *base, const char *label, int max, int per_source)
{
	struct gate *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	snprintf(g->label, sizeof(g->label), "%s", label);
	g->max = max;
	g->per_source = per_source;
	g->report_timer = event_new(base, -1, EV_PERSIST, report_refusals, g);
	struct timeval every = {REFUSAL_REPORT_MS / 1000, 0};
	if (g->report_timer == NULL || event_add(g->report_timer, &every) == -1) {
		if (g->report_timer != NULL)
			event_free(g->report_timer);
		free(g);
		return NULL;
	}
	return g;
}

void
gate_free(struct gate *g)
{
	if (g == NULL)
		return;
	event_free(g->report_timer);
	free(g);
}

void
gate_set_limits(struct gate *g, int max, int per_source)
{
	if (max > 0)
		g->max = max;
	if (per_source > 0)
		g->per_source = per_source;
}

void
gate_leave(struct gate *g, struct gate_entry *e)
{
	if (!e->in)
		return;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		g->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		g->tail = e->prev;
	e->prev = e->next = NULL;
	e->in = 0;
	g->n--;
}

int
gate_enter(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why))
{
	char why[96];
	/* per address first (a flood's own), then in all */
	int from_host = 0;
	for (const struct gate_entry *o = g->head; o != NULL; o = o->next)
		from_host += strcmp(o->host, host) == 0;
	if (from_host >= g->per_source) {
		snprintf(why, sizeof(why), "%d connections without tls from it (limit %d)", from_host,
		    g->per_source);
		gate_refused(g, host, why);
		return -1;
	}
	if (g->n >= g->max && g->tail != NULL) {
		/* the oldest has had the longest to finish its handshake: it makes room */
		struct gate_entry *oldest = g->tail;
		snprintf(why, sizeof(why), "%d connections without tls (limit %d), the oldest closed",
		    g->n, g->max);
		gate_refused(g, oldest->host, why);
		gate_leave(g, oldest);
		oldest->evict(oldest, why);
	}
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->evict = evict;
	e->prev = NULL;
	e->next = g->head;
	if (g->head != NULL)
		g->head->prev = e;
	else
		g->tail = e;
	g->head = e;
	e->in = 1;
	g->n++;
	return 0;
}

int
gate_count(const struct gate *g)
{
	return g->n;
}
