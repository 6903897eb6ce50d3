/*
 * live: Server-Sent Events streams of schedule progress. Which schedules to count again
 * gathers in a dirty set (from NOTIFY payloads, or all watched ones on the refresh timer,
 * a wakeup or a reconnect of the LISTEN connection); one statement at a time counts them
 * and each stream gets, per schedule, only what changed since its last event.
 */
#include "web/live.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "common/evloop.h"
#include "web/html.h"

enum {
	LIVE_MAX_DIRTY = 1000,          /* schedules counted by one statement */
	LIVE_FLUSH_MS = 50,             /* notifications this close together share a count */
	LIVE_MAX_BACKLOG = 256 * 1024   /* a client reading slower than this is dropped */
};

static const char SQL_COUNTS[] =
    "SELECT schedule_id, state, total, pending, running, done, failed, cancelled,"
    " CASE WHEN rollout_waves IS NOT NULL THEN wave + 1 ELSE 0 END AS wave"
    " FROM pgfleet.schedule_list WHERE schedule_id = ANY ($1::bigint[])";

struct seen {
	long long id;
	int known;
	struct progress_counts c;
	long long wave;         /* the open wave of a rollout (1, 2, ...); 0 without waves */
	char state[16];
};

struct stream {
	struct live *l;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int nids;
	struct seen seen[LIVE_MAX_IDS];
	struct stream *next;
};

struct live {
	struct web *w;
	struct stream *streams;
	int nstreams;
	long long dirty[LIVE_MAX_DIRTY];
	int ndirty;
	int all_dirty;
	int busy, again;
	struct event *flush, *refresh, *keepalive;
};

int
live_parse_ids(const char *s, long long *ids, int max)
{
	int n = 0;
	if (s == NULL || *s == '\0')
		return 0;
	for (const char *p = s;;) {
		long long v = 0;
		int digits = 0;
		for (; isdigit((unsigned char)*p); p++) {
			if (++digits > 18)
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (digits == 0 || (*p != ',' && *p != '\0'))
			return -1;
		int dup = 0;
		for (int i = 0; i < n && !dup; i++)
			dup = ids[i] == v;
		if (!dup) {
			if (n == max)
				return -1;
			ids[n++] = v;
		}
		if (*p == '\0')
			return n;
		p++;
	}
}

int
live_count(const struct live *l)
{
	return l->nstreams;
}

static void
stream_free(struct stream *s)
{
	struct live *l = s->l;
	for (struct stream **pp = &l->streams; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			l->nstreams--;
			break;
		}
	free(s);
}

/* End s from our side: the reply is closed and the stream forgotten. */
static void
stream_end(struct stream *s)
{
	if (s->evcon != NULL)
		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
	if (s->req != NULL)
		evhttp_send_reply_end(s->req); /* frees the request, attached or not */
	stream_free(s);
}

/* The client went away (or the server is closing the connection). */
static void
on_close(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;
	(void)evcon;
	/* a request libevent detached when the connection failed is ours to free; one still
	 * attached goes with the connection */
	if (s->req != NULL && evhttp_request_get_connection(s->req) == NULL)
		evhttp_send_reply_end(s->req);
	stream_free(s);
}

/* 0 sent, -1 when the stream was ended (gone or too far behind). */
static int
stream_send(struct stream *s, const char *text, size_t len)
{
	if (evhttp_request_get_connection(s->req) == NULL) {
		s->evcon = NULL;
		stream_end(s);
		return -1;
	}
	struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
	if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) > LIVE_MAX_BACKLOG) {
		stream_end(s);
		return -1;
	}
	struct evbuffer *b = evbuffer_new();
	if (b == NULL)
		return 0;
	evbuffer_add(b, text, len);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	return 0;
}

static int
watched(const struct live *l, long long id)
{
	for (const struct stream *s = l->streams; s != NULL; s = s->next)
		for (int i = 0; i < s->nids; i++)
			if (s->seen[i].id == id)
				return 1;
	return 0;
}

static void
mark(struct live *l, long long id)
{
	for (int i = 0; i < l->ndirty; i++)
		if (l->dirty[i] == id)
			return;
	if (l->ndirty < LIVE_MAX_DIRTY)
		l->dirty[l->ndirty++] = id;
	else
		l->all_dirty = 1;
}

static void
schedule_flush(struct live *l)
{
	struct timeval tv = {0, LIVE_FLUSH_MS * 1000};
	if (!evtimer_pending(l->flush, NULL))
		evtimer_add(l->flush, &tv);
}

static void
deliver(struct live *l, long long id, const char *state, const struct progress_counts *c,
    long long wave)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "event: progress\ndata: {\"id\":%lld,\"state\":\"%s\","
					   "\"total\":%lld,\"done\":%lld,\"failed\":%lld,\"running\":%lld,"
					   "\"pending\":%lld,\"cancelled\":%lld,\"wave\":%lld}\n\n",
	    id, state, c->total, c->done, c->failed, c->running, c->pending, c->cancelled, wave);
	struct stream *next;
	for (struct stream *s = l->streams; s != NULL; s = next) {
		next = s->next;
		for (int i = 0; i < s->nids; i++) {
			struct seen *v = &s->seen[i];
			if (v->id != id)
				continue;
			if (v->known && progress_counts_equal(&v->c, c) && v->wave == wave &&
			    strcmp(v->state, state) == 0)
				break;
			v->known = 1;
			v->c = *c;
			v->wave = wave;
			snprintf(v->state, sizeof(v->state), "%s", state);
			(void)stream_send(s, msg, (size_t)n);
			break;
		}
	}
}

static void flush_now(struct live *l);

static void
on_counts(void *arg, struct db_result *res, const char *err)
{
	struct live *l = arg;
	l->busy = 0;
	if (err == NULL) {
		for (int i = 0; i < db_ntuples(res); i++) {
			struct progress_counts c;
			const char *state = web_val(res, i, "state");
			int ok = *state != '\0' && strlen(state) < 16;
			for (const char *p = state; ok && *p; p++)
				ok = *p >= 'a' && *p <= 'z';
			web_counts(res, i, &c);
			deliver(l, web_ll(res, i, "schedule_id"), ok ? state : "unknown", &c,
			    web_ll(res, i, "wave"));
		}
	}
	db_result_free(res);
	if (l->again) {
		l->again = 0;
		flush_now(l);
	}
}

static void
flush_now(struct live *l)
{
	char err[256];
	if (l->busy) {
		l->again = 1;
		return;
	}
	if (l->all_dirty) {
		l->ndirty = 0;
		for (struct stream *s = l->streams; s != NULL; s = s->next)
			for (int i = 0; i < s->nids; i++)
				mark(l, s->seen[i].id);
		l->all_dirty = 0;
	}
	if (l->ndirty == 0)
		return;
	/* "{1,2,3}": an array literal of numbers, given as a parameter */
	size_t cap = (size_t)l->ndirty * 21 + 3, len = 0;
	char *arr = malloc(cap);
	if (arr == NULL)
		return;
	arr[len++] = '{';
	for (int i = 0; i < l->ndirty; i++)
		len += (size_t)snprintf(arr + len, cap - len, "%s%lld", i ? "," : "", l->dirty[i]);
	snprintf(arr + len, cap - len, "}");
	l->ndirty = 0;
	const char *params[1] = {arr};
	if (dbpool_query(l->w->pool, SQL_COUNTS, 1, params, on_counts, l, err, sizeof(err)) == 0)
		l->busy = 1;
	free(arr);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_now(arg);
}

static void
on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct live *l = arg;
	(void)fd;
	(void)what;
	if (l->streams != NULL) {
		l->all_dirty = 1;
		schedule_flush(l);
	}
}

static void
on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct live *l = arg;
	struct stream *next;
	(void)fd;
	(void)what;
	for (struct stream *s = l->streams; s != NULL; s = next) {
		next = s->next;
		(void)stream_send(s, ": keepalive\n\n", 13);
	}
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct live *l = arg;
	if (strcmp(channel, "pgfleet_progress") != 0) {
		l->all_dirty = 1; /* pgfleet_wakeup: a cancel, a new run */
		schedule_flush(l);
		return;
	}
	for (const char *p = payload; p != NULL && *p != '\0';) {
		char *end;
		long long id = strtoll(p, &end, 10);
		if (end != p && id > 0 && watched(l, id))
			mark(l, id);
		p = strchr(end, ',');
		if (p != NULL)
			p++;
	}
	if (l->ndirty > 0 || l->all_dirty)
		schedule_flush(l);
}

static void
on_up(void *arg)
{
	struct live *l = arg;
	/* notifications sent while it was away are lost: count everything again */
	l->all_dirty = 1;
	schedule_flush(l);
}

struct live *
live_new(struct web *w)
{
	static const char *const channels[] = {"pgfleet_progress", "pgfleet_wakeup"};
	char err[256];
	struct live *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->w = w;
	l->flush = evtimer_new(w->base, on_flush, l);
	l->refresh = event_new(w->base, -1, EV_PERSIST, on_refresh, l);
	l->keepalive = event_new(w->base, -1, EV_PERSIST, on_keepalive, l);
	struct timeval rt = {w->conf.refresh_ms / 1000, (w->conf.refresh_ms % 1000) * 1000};
	struct timeval kt = {LIVE_KEEPALIVE_MS / 1000, 0};
	if (l->flush == NULL || l->refresh == NULL || l->keepalive == NULL ||
	    event_add(l->refresh, &rt) == -1 || event_add(l->keepalive, &kt) == -1 ||
	    dbpool_listen(w->pool, channels, 2, on_notify, on_up, l, err, sizeof(err)) == -1) {
		live_free(l);
		return NULL;
	}
	return l;
}

void
live_free(struct live *l)
{
	if (l == NULL)
		return;
	while (l->streams != NULL)
		stream_end(l->streams);
	evloop_event_free(l->flush);
	evloop_event_free(l->refresh);
	evloop_event_free(l->keepalive);
	free(l);
}

void
live_stream(struct live *l, struct web_req *r)
{
	long long ids[LIVE_MAX_IDS];
	int n = live_parse_ids(web_arg(r, "s"), ids, LIVE_MAX_IDS);
	if (n <= 0) {
		web_error(r, 400, "s: one to 200 schedule ids, separated by commas");
		return;
	}
	if (l->nstreams >= l->w->conf.max_live) {
		web_error(r, 503, "too many live streams open");
		return;
	}
	struct stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		web_error(r, 503, "out of memory");
		return;
	}
	s->l = l;
	s->req = r->req;
	s->evcon = evhttp_request_get_connection(r->req);
	s->nids = n;
	for (int i = 0; i < n; i++)
		s->seen[i].id = ids[i];
	s->next = l->streams;
	l->streams = s;
	l->nstreams++;
	web_req_free(r);

	web_headers(s->req, "text/event-stream; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(s->req), "X-Accel-Buffering", "no");
	evhttp_send_reply_start(s->req, 200, "OK");
	evhttp_connection_set_closecb(s->evcon, on_close, s);
	(void)stream_send(s, "retry: 3000\n\n", 13);
	/* the page may be older than this stream: send each schedule as it is now */
	for (int i = 0; i < n; i++)
		mark(l, ids[i]);
	schedule_flush(l);
}
