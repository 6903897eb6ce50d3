/*
 * observe: /metrics and /healthz over evhttp. Requests are answered from memory
 * in the parent's loop; a slow or hostile client costs one connection, bounded
 * by evhttp's timeout and header limits.
 */
#include "scheduler/observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"

#define HTTP_TIMEOUT_S 10
#define HTTP_MAX_HEADERS 8192

struct observe {
	struct evhttp *http;
	int port;
	observe_state_fn state;
	void *arg;
};

static long long
max_ll(long long a, long long b)
{
	return a > b ? a : b;
}

int
observe_healthy(const struct observe_state *st, long long now_ms, char *why, size_t whylen)
{
	long long db_max = max_ll(10000, 3 * st->poll_interval_ms);
	long long claim_max = max_ll(30000, 10 * st->poll_interval_ms);
	if (st->draining)
		snprintf(why, whylen, "draining: stopping");
	else if (st->workers_alive == 0)
		snprintf(why, whylen, "no worker alive (of %d)", st->workers);
	else if (st->last_db_ok_ms == 0 || now_ms - st->last_db_ok_ms > db_max)
		snprintf(why, whylen, "database: no answer for %lld ms%s%s",
		    st->last_db_ok_ms == 0 ? -1 : now_ms - st->last_db_ok_ms,
		    st->db_error != NULL ? ": " : "", st->db_error != NULL ? st->db_error : "");
	else if (st->last_claim_ms == 0 || now_ms - st->last_claim_ms > claim_max)
		snprintf(why, whylen, "no claim pass for %lld ms",
		    st->last_claim_ms == 0 ? -1 : now_ms - st->last_claim_ms);
	else {
		why[0] = '\0';
		return 1;
	}
	return 0;
}

/* s as a JSON string body (no quotes): only printable ASCII kept, quotes escaped. */
static void
json_text(char *dst, size_t size, const char *s)
{
	size_t n = 0;
	for (; s != NULL && *s != '\0' && n + 3 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			dst[n++] = '\\';
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

int
observe_health_json(const struct observe_state *st, long long now_ms, char *buf, size_t size)
{
	char why[512], esc[1100];
	int ok = observe_healthy(st, now_ms, why, sizeof(why));
	json_text(esc, sizeof(esc), why);
	double claim_age = st->last_claim_ms > 0 ? (double)(now_ms - st->last_claim_ms) / 1000.0 : -1;
	double db_age = st->last_db_ok_ms > 0 ? (double)(now_ms - st->last_db_ok_ms) / 1000.0 : -1;
	return snprintf(buf, size,
	    "{\"status\":\"%s\",\"reason\":\"%s\",\"database\":\"%s\",\"workers\":%d,"
	    "\"workers_alive\":%d,\"inflight\":%d,\"draining\":%s,"
	    "\"last_claim_age_seconds\":%.3f,\"last_database_answer_age_seconds\":%.3f,"
	    "\"version\":\"%s\"}\n",
	    ok ? "ok" : "fail", esc, st->db_error == NULL && st->last_db_ok_ms > 0 ? "ok" : "fail",
	    st->workers, st->workers_alive, st->inflight, st->draining ? "true" : "false", claim_age,
	    db_age, version_string());
}

static void
gauge(FILE *f, const char *name, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void
write_gauges(FILE *f, const struct observe_state *st, long long now_ms)
{
	char why[512];
	fprintf(f, "# HELP pgfleet_build_info The version of this scheduler.\n"
		   "# TYPE pgfleet_build_info gauge\npgfleet_build_info{version=\"%s\"} 1\n",
	    version_string());
	gauge(f, "pgfleet_start_time_seconds", "When this scheduler started (Unix time).",
	    (double)st->started_wall_ms / 1000.0);
	gauge(f, "pgfleet_healthy", "1 when /healthz answers 200.",
	    observe_healthy(st, now_ms, why, sizeof(why)));
	gauge(f, "pgfleet_database_up", "1 when the last statement of the parent worked.",
	    st->db_error == NULL && st->last_db_ok_ms > 0);
	gauge(f, "pgfleet_workers", "Worker processes configured.", st->workers);
	gauge(f, "pgfleet_workers_alive", "Worker processes running now.", st->workers_alive);
	gauge(f, "pgfleet_events_inflight", "Events its workers hold now.", st->inflight);
	gauge(f, "pgfleet_draining", "1 while it drains before stopping.", st->draining);
	gauge(f, "pgfleet_last_claim_age_seconds", "Seconds since the last claim pass that reached "
	    "the database (-1: none yet).",
	    st->last_claim_ms > 0 ? (double)(now_ms - st->last_claim_ms) / 1000.0 : -1);
}

static void
reply(struct evhttp_request *req, int code, const char *reason, const char *type, const char *body,
    size_t len)
{
	struct evbuffer *out = evbuffer_new();
	if (out == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static int
method_ok(struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
	evhttp_send_error(req, 405, "Method Not Allowed");
	return 0;
}

static void
on_metrics(struct evhttp_request *req, void *arg)
{
	struct observe *o = arg;
	struct observe_state st = {0};
	char *buf = NULL;
	size_t len = 0;
	if (!method_ok(req))
		return;
	o->state(o->arg, &st);
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	write_gauges(f, &st, clock_mono_ms());
	int rc = metrics_write(f);
	if (fclose(f) != 0 || rc == -1 || buf == NULL) {
		free(buf);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", buf, len);
	free(buf);
}

static void
on_healthz(struct evhttp_request *req, void *arg)
{
	struct observe *o = arg;
	struct observe_state st = {0};
	char body[2048], why[8];
	if (!method_ok(req))
		return;
	o->state(o->arg, &st);
	long long now = clock_mono_ms();
	int n = observe_health_json(&st, now, body, sizeof(body));
	int ok = observe_healthy(&st, now, why, sizeof(why));
	reply(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "application/json", body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : strlen(body));
}

static void
on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "Not Found: /metrics or /healthz");
}

struct observe *
observe_new(struct event_base *base, const char *host, int port, observe_state_fn state, void *arg,
    char *err, size_t errlen)
{
	struct observe *o = calloc(1, sizeof(*o));
	if (o == NULL || (o->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		free(o);
		return NULL;
	}
	o->state = state;
	o->arg = arg;
	evhttp_set_timeout(o->http, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(o->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(o->http, 0);
	evhttp_set_allowed_methods(o->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	if (evhttp_set_cb(o->http, "/metrics", on_metrics, o) != 0 ||
	    evhttp_set_cb(o->http, "/healthz", on_healthz, o) != 0) {
		snprintf(err, errlen, "metrics: out of memory");
		observe_free(o);
		return NULL;
	}
	evhttp_set_gencb(o->http, on_other, o);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(o->http, host, (ev_uint16_t)port);
	if (bs == NULL) {
		snprintf(err, errlen, "metrics.listen %s:%d: cannot listen there (in use, or not an "
				      "address of this machine)", host, port);
		observe_free(o);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
	o->port = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			o->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			o->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return o;
}

void
observe_free(struct observe *o)
{
	if (o == NULL)
		return;
	if (o->http != NULL)
		evhttp_free(o->http);
	free(o);
}

int
observe_port(const struct observe *o)
{
	return o->port;
}
