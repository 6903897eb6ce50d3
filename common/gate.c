/*
 * gate: the pre-TLS budget shared by the worker's transfer port and agent
 * listener (docs/protocol.md), and its rate-limited refusal log.
 */
#include "common/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/evloop.h"
#include "common/log.h"

#define REFUSAL_SOURCES 64      /* addresses whose refusals are counted between reports */
#define REFUSAL_REPORT_MS 60000
#define PAUSE_RECHECK_MS 50     /* while paused: how often to look for room again */

struct gate {
	char label[32];
	struct gate_entry *head, *tail;
	int n, max, per_source;
	long long stale_ms;
	struct refusals {
		char host[INET6_ADDRSTRLEN];
		int count; /* since the last report */
	} refused[REFUSAL_SOURCES];
	int refused_other; /* from addresses the table had no room for */
	struct event *report_timer;
	void (*pause)(void *arg, int paused); /* NULL: never paused, newcomers refused */
	void *pause_arg;
	int paused;
	struct event *recheck;  /* while paused */
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

void
gate_report_refusals(struct gate *g)
{
	for (int i = 0; i < REFUSAL_SOURCES; i++) {
		struct refusals *r = &g->refused[i];
		if (r->host[0] != '\0' && r->count > 0)
			log_warnx("%s: %d connection%s refused from %s in the last minute", g->label,
			    r->count, r->count == 1 ? "" : "s", r->host);
		if (r->count == 0)
			r->host[0] = '\0'; /* quiet for a minute: the next refusal is logged at once */
		r->count = 0;
	}
	if (g->refused_other > 1)
		log_warnx("%s: %d connection%s refused from other addresses in the last minute",
		    g->label, g->refused_other - 1, g->refused_other == 2 ? "" : "s");
	g->refused_other = 0;
}

/* The once-a-minute timer: the report itself is gate_report_refusals, which tests call. */
static void
report_refusals(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gate_report_refusals(arg);
}

static void
gate_resume(struct gate *g)
{
	g->paused = 0;
	evtimer_del(g->recheck);
	g->pause(g->pause_arg, 0);
}

static struct gate_entry *victim(const struct gate *g, long long now_ms);

/* Paused: room again (a slot free, or an idle or stale connection to close for a newcomer)? */
static void
gate_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	(void)fd;
	(void)what;
	if (!g->paused)
		return;
	if (g->n < g->max || victim(g, clock_mono_ms()) != NULL) {
		gate_resume(g);
		return;
	}
	struct timeval tv = clock_tv(PAUSE_RECHECK_MS);
	evtimer_add(g->recheck, &tv);
}

/* Full of handshakes under way, none to close for a newcomer: stop accepting until there is room. */
static void
gate_maybe_pause(struct gate *g, long long now_ms)
{
	if (g->pause == NULL || g->paused || g->n < g->max || victim(g, now_ms) != NULL)
		return;
	g->paused = 1;
	g->pause(g->pause_arg, 1);
	struct timeval tv = clock_tv(PAUSE_RECHECK_MS);
	evtimer_add(g->recheck, &tv);
}

void
gate_set_pause(struct gate *g, void (*pause)(void *arg, int paused), void *arg)
{
	g->pause = pause;
	g->pause_arg = arg;
}

int
gate_paused(const struct gate *g)
{
	return g->paused;
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
	g->stale_ms = GATE_STALE_MS;
	g->report_timer = event_new(base, -1, EV_PERSIST, report_refusals, g);
	g->recheck = evtimer_new(base, gate_recheck, g);
	struct timeval every = {REFUSAL_REPORT_MS / 1000, 0};
	if (g->report_timer == NULL || g->recheck == NULL ||
	    event_add(g->report_timer, &every) == -1) {
		evloop_event_free(g->report_timer);
		evloop_event_free(g->recheck);
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
	event_free(g->recheck);
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
gate_set_stale(struct gate *g, long long stale_ms)
{
	if (stale_ms >= 0)
		g->stale_ms = stale_ms;
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
	if (g->paused && g->n < g->max)
		gate_resume(g);
}

/* Who makes room for a newcomer in a full budget: see gate.h. NULL: nobody. */
static struct gate_entry *
victim(const struct gate *g, long long now_ms)
{
	/* oldest first: the newer ones after an entry too young are younger still */
	for (struct gate_entry *o = g->tail; o != NULL && now_ms - o->entered_ms >= GATE_IDLE_MIN_MS;
	    o = o->prev)
		if (o->started == NULL || !o->started(o))
			return o;
	/* a paused owner lets handshakes run to their deadline: under load, closing slow ones
	 * for newcomers throws away work that the newcomers then have to redo */
	if (g->pause == NULL && g->tail != NULL && now_ms - g->tail->entered_ms >= g->stale_ms)
		return g->tail;
	return NULL;
}

int
gate_enter_at(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why), long long now_ms)
{
	char why[120];
	/* per address first (a flood's own), then in all */
	int from_host = 0;
	for (const struct gate_entry *o = g->head; o != NULL; o = o->next)
		from_host += strcmp(o->host, host) == 0;
	if (from_host >= g->per_source) {
		snprintf(why, sizeof(why), "%d connection%s without tls from it (limit %d)", from_host,
		    from_host == 1 ? "" : "s", g->per_source);
		gate_refused(g, host, why);
		return -1;
	}
	if (g->n >= g->max) {
		struct gate_entry *old = victim(g, now_ms);
		if (old == NULL) {
			snprintf(why, sizeof(why), "%d tls handshakes under way (limit %d), none idle "
			    "or stale: try again", g->n, g->max);
			gate_refused(g, host, why);
			return -1;
		}
		snprintf(why, sizeof(why), "%d connections without tls (limit %d), %s closed", g->n,
		    g->max, old->started != NULL && old->started(old) ? "a stale handshake" :
		    "an idle one");
		gate_refused(g, old->host, why);
		gate_leave(g, old);
		old->evict(old, why);
	}
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->evict = evict;
	e->entered_ms = now_ms;
	e->prev = NULL;
	e->next = g->head;
	if (g->head != NULL)
		g->head->prev = e;
	else
		g->tail = e;
	g->head = e;
	e->in = 1;
	g->n++;
	gate_maybe_pause(g, now_ms);
	return 0;
}

int
gate_enter(struct gate *g, struct gate_entry *e, const char *host,
    void (*evict)(struct gate_entry *e, const char *why))
{
	return gate_enter_at(g, e, host, evict, clock_mono_ms());
}

int
gate_count(const struct gate *g)
{
	return g->n;
}
