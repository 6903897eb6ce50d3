/*
 * http: evhttp set-up, the router (and for a POST the checks that it came from our own
 * form), the headers every answer carries, the page frame, and web_fetch: a request's
 * statements run on the pool while the loop serves others.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "cli/args.h"
#include "cli/reportfmt.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/units.h"
#include "common/utf8.h"
#include "common/util.h"
#include "web/html.h"
#include "web/live.h"
#include "web/svg.h"
#include "web/web.h"

/* No script but our own file, no style but our sheet, nothing from anywhere else. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct slot {
	struct web_req *r;
	int i;
};

struct web_req_full {
	struct web_req r;
	struct slot slots[WEB_MAX_QUERIES];
	long long t0; /* clock_mono_us */
};

void
web_req_free(struct web_req *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < WEB_MAX_QUERIES; i++)
		db_result_free(r->res[i]);
	evhttp_clear_headers(&r->args);
	evhttp_clear_headers(&r->form);
	free(r);
}

void
web_headers(struct evhttp_request *req, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

static const char *
reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void
web_send(struct web_req *r, int code, const char *ctype, struct evbuffer *b)
{
	struct web_req_full *f = (struct web_req_full *)r;
	char timing[64];
	snprintf(timing, sizeof(timing), "total;dur=%.1f", (double)(clock_mono_us() - f->t0) / 1e3);
	web_headers(r->req, ctype);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Server-Timing", timing);
	if (evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD)
		evbuffer_drain(b, evbuffer_get_length(b));
	evhttp_send_reply(r->req, code, reason(code), b);
	evbuffer_free(b);
	web_req_free(r);
}

struct evbuffer *
web_page_begin(struct web_req *r, const char *title)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL)
		return NULL;
	(void)r;
	html_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		    "<title>%s \xC2\xB7 pgfleet</title>"
		    "<link rel=\"stylesheet\" href=\"/static/style.css\">"
		    "<script src=\"/static/live.js\" defer></script></head>\n<body>"
		    "<header><a class=\"brand\" href=\"/\">pgfleet</a><nav>"
		    "<a href=\"/schedules\">Schedules</a><a href=\"/computers\">Computers</a>"
		    "<a href=\"/jobs\">Jobs</a><a href=\"/history\">History</a>"
		    "<a href=\"/failures\">Failures</a></nav></header>\n<main>\n", title);
	return b;
}

void
web_page_end(struct web_req *r, struct evbuffer *b)
{
	if (r->w->apool != NULL)
		html_put(b, "</main>\n<footer>database role %s \xC2\xB7 actions as %s \xC2\xB7 "
			    "times in UTC</footer>\n</body></html>\n", r->w->role, r->w->conf.action_role);
	else
		html_put(b, "</main>\n<footer>read-only console \xC2\xB7 database role %s \xC2\xB7 "
			    "times in UTC</footer>\n</body></html>\n", r->w->role);
	web_send(r, 200, "text/html; charset=utf-8", b);
}

void
web_redirect(struct web_req *r, const char *path)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", path);
	html_put(b, "<!DOCTYPE html>\n<p><a href=\"%s\">%s</a></p>\n", path, path);
	web_send(r, 303, "text/html; charset=utf-8", b);
}

void
web_action_form(struct evbuffer *b, struct web_req *r, const char *path, const char *label,
    int targets)
{
	if (r->w->apool == NULL || r->csrf[0] == '\0')
		return;
	html_put(b, "<form class=\"action\" method=\"post\" action=\"%s\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", path, r->csrf);
	if (targets)
		html_put(b, "<label>on <input name=\"on\" required maxlength=\"2000\" size=\"40\" "
			    "placeholder=\"group:web, web-01, label:env=prod\"></label> ");
	html_put(b, "<button type=\"submit\">%s</button></form>\n", label);
}

void
web_error(struct web_req *r, int code, const char *msg)
{
	char title[32];
	snprintf(title, sizeof(title), "Error %d", code);
	struct evbuffer *b = web_page_begin(r, title);
	if (b == NULL) {
		evhttp_send_error(r->req, 500, NULL);
		web_req_free(r);
		return;
	}
	html_put(b, "<h1>%s</h1><p class=\"error\">%s</p>", title, msg);
	html_put(b, "</main></body></html>\n");
	web_send(r, code, "text/html; charset=utf-8", b);
}

static void
finish(struct web_req *r)
{
	if (r->failed) {
		int code, len = action_refused(r, r->err, &code);
		if (len >= 0) {
			r->err[len] = '\0';
			web_error(r, code, r->err);
			return;
		}
		int down = strstr(r->err, "unavailable") != NULL;
		web_error(r, down ? 503 : 500, r->err);
		return;
	}
	r->render(r);
}

static void
on_result(void *arg, struct db_result *res, const char *err)
{
	struct slot *s = arg;
	struct web_req *r = s->r;
	r->res[s->i] = res;
	if (err != NULL && !r->failed) {
		r->failed = 1;
		snprintf(r->err, sizeof(r->err), "%s", err);
	}
	if (--r->pending == 0)
		finish(r);
}

void
web_fetch(struct web_req *r, int n, const struct web_query *q, void (*render)(struct web_req *r))
{
	struct web_req_full *f = (struct web_req_full *)r;
	char err[256];

	struct dbpool *pool = r->action ? r->w->apool : r->w->pool;

	r->render = render;
	r->nq = n;
	r->pending = n;
	for (int i = 0; i < n; i++) {
		f->slots[i].r = r;
		f->slots[i].i = i;
		if (dbpool_query(pool, q[i].sql, q[i].nparams, q[i].params, on_result, &f->slots[i],
			err, sizeof(err)) == -1) {
			r->failed = 1;
			snprintf(r->err, sizeof(r->err), "%s", err);
			r->pending -= n - i;
			if (r->pending == 0)
				finish(r);
			return;
		}
	}
}

const char *
web_arg(struct web_req *r, const char *name)
{
	const char *v = evhttp_find_header(&r->args, name);
	return v != NULL && *v != '\0' ? v : NULL;
}

int
web_arg_ll(struct web_req *r, const char *name, long long min, long long max, long long def,
    long long *out)
{
	const char *v = web_arg(r, name);
	char *end;
	char msg[128];
	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (*end != '\0' || errno != 0 || x < min || x > max || !isdigit((unsigned char)v[v[0] == '-'])) {
		snprintf(msg, sizeof(msg), "%s: not a number between %lld and %lld", name, min, max);
		web_error(r, 400, msg);
		return -1;
	}
	*out = x;
	return 0;
}

const char *
web_val(const struct db_result *res, int row, const char *col)
{
	return db_value(res, row, db_fnumber(res, col));
}

int
web_null(const struct db_result *res, int row, const char *col)
{
	return db_isnull(res, row, db_fnumber(res, col));
}

long long
web_ll(const struct db_result *res, int row, const char *col)
{
	return atoll(web_val(res, row, col));
}

void
web_export(struct web_req *r, const struct db_result *res, int ncols, const char *filename)
{
	int nc = ncols >= 0 && ncols < db_nfields(res) ? ncols : db_nfields(res), nr = db_ntuples(res);
	struct reportfmt_col *cols = calloc((size_t)nc + 1, sizeof(*cols));
	const char **cells = calloc((size_t)nc * (size_t)nr + 1, sizeof(*cells));
	char *text = NULL, err[256] = "out of memory";
	size_t len = 0;
	FILE *f = NULL;
	int ok = cols != NULL && cells != NULL;

	for (int c = 0; ok && c < nc; c++) {
		cols[c].name = db_fname(res, c);
		char k = db_fkind(res, c);
		cols[c].kind = k == 'n' ? REPORTFMT_NUMBER : k == 'b' ? REPORTFMT_BOOL : REPORTFMT_TEXT;
		for (int row = 0; row < nr; row++)
			cells[(size_t)row * (size_t)nc + (size_t)c] =
			    db_isnull(res, row, c) ? NULL : db_value(res, row, c);
	}
	if (ok && (f = open_memstream(&text, &len)) == NULL)
		ok = 0;
	if (ok && reportfmt_write(f, r->fmt == WEB_CSV ? REPORTFMT_CSV : REPORTFMT_JSON, cols, nc,
		cells, nr, err, sizeof(err)) == -1)
		ok = 0;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	free(cols);
	free(cells);
	struct evbuffer *b = evbuffer_new();
	if (!ok || b == NULL) {
		free(text);
		if (b != NULL)
			evbuffer_free(b);
		web_error(r, 500, err);
		return;
	}
	evbuffer_add(b, text, len);
	free(text);
	char disp[160];
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"", filename,
	    r->fmt == WEB_CSV ? "csv" : "json");
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Disposition", disp);
	web_send(r, 200, r->fmt == WEB_CSV ? "text/csv; charset=utf-8" :
	    "application/json; charset=utf-8", b);
}

void
web_state(struct evbuffer *b, const char *state)
{
	html_put(b, "<span class=\"state st-%s\" data-field=\"state\">%s</span>", state, state);
}

void
web_cell_time(struct evbuffer *b, const char *ts)
{
	html_put(b, "<td class=\"time\">%s</td>", ts != NULL && *ts ? ts : "-");
}

void
web_cell_ms(struct evbuffer *b, const struct db_result *res, int row, const char *col)
{
	char d[32];
	html_duration(web_null(res, row, col) ? -1 : web_ll(res, row, col), d, sizeof(d));
	html_put(b, "<td class=\"num\">%s</td>", d);
}

/* The path is PREFIX followed by a number: *id, and *tail what follows it. */
static int
match_id(const char *path, const char *prefix, long long *id, const char **tail)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0 || !isdigit((unsigned char)path[n]))
		return 0;
	long long v = 0;
	const char *p = path + n;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	*id = v;
	*tail = p;
	return 1;
}

/* The Host header names this server (a browser tricked by DNS rebinding names another). */
static int
host_ok(const struct web *w, const char *host)
{
	char name[256];
	if (host == NULL)
		return 1; /* HTTP/1.0 */
	snprintf(name, sizeof(name), "%s", host);
	char *colon = name[0] == '[' ? strstr(name, "]:") : strrchr(name, ':');
	if (colon != NULL && name[0] == '[')
		colon[1] = '\0';
	else if (colon != NULL && strchr(name, ':') == colon)
		*colon = '\0';
	if (strcasecmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 ||
	    strcmp(name, "[::1]") == 0 || strcasecmp(name, w->conf.listen_host) == 0)
		return 1;
	for (int i = 0; i < w->conf.nallow_host; i++)
		if (strcasecmp(name, w->conf.allow_host[i]) == 0)
			return 1;
	return 0;
}

/* The client's certificate (the handshake checked it against the CA) names an allowed client. */
static int
client_ok(const struct web *w, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	return ssl != NULL && tls_peer_allowed(ssl, w->conf.tls_allow, w->conf.ntls_allow);
}

/* Each accepted connection of an HTTPS console: TLS first. */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct web *w = arg;
	SSL *ssl = SSL_new(w->tls);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
}

static void
serve_static(struct web_req *r, const char *name)
{
	const char *ctype, *body = web_static(name, &ctype);
	if (body == NULL) {
		web_error(r, 404, "no such file");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	evbuffer_add_reference(b, body, strlen(body), NULL, NULL);
	web_send(r, 200, ctype, b);
}

static void
healthz(struct web_req *r)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	int up = dbpool_up(r->w->pool);
	evbuffer_add_printf(b, "%s\ndatabase connections up: %d\nlive streams: %d\n",
	    up > 0 ? "ok" : "database unavailable", up, live_count(r->w->live));
	web_send(r, up > 0 ? 200 : 503, "text/plain; charset=utf-8", b);
}

/* ".csv", ".json" or "" after a page's path: the format; 0, or -1 when not one of them. */
static int
format_of(struct web_req *r, const char *tail, const char *rest)
{
	size_t n = strlen(rest);
	if (strncmp(tail, rest, n) != 0)
		return -1;
	tail += n;
	if (*tail == '\0')
		r->fmt = WEB_HTML;
	else if (strcmp(tail, ".csv") == 0)
		r->fmt = WEB_CSV;
	else if (strcmp(tail, ".json") == 0)
		r->fmt = WEB_JSON;
	else
		return -1;
	return 0;
}

/*
 * A POST: an action, once its form proves it came from one of our pages (the token of
 * the browser's cookie, and Origin and Sec-Fetch-Site when sent); 403 otherwise.
 */
static void
route_post(struct web_req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	const char *p = r->path, *tail;
	void (*action)(struct web_req *) = NULL;

	if (match_id(p, "/schedule/", &r->id, &tail) && strcmp(tail, "/cancel") == 0)
		action = action_cancel;
	else if (match_id(p, "/schedule/", &r->id, &tail) && strcmp(tail, "/retry") == 0)
		action = action_retry;
	else if (match_id(p, "/schedule/", &r->id, &tail) && strcmp(tail, "/resume") == 0)
		action = action_resume;
	else if (match_id(p, "/schedule/", &r->id, &tail) && strcmp(tail, "/abort") == 0)
		action = action_abort;
	else if (match_id(p, "/job/", &r->id, &tail) && strcmp(tail, "/run") == 0)
		action = action_run;
	if (action == NULL) {
		web_error(r, 405, "only the actions' forms post here");
		return;
	}
	if (!csrf_same_origin(evhttp_find_header(in, "Origin"), evhttp_find_header(in, "Sec-Fetch-Site"),
		evhttp_find_header(in, "Host"), r->w->tls != NULL)) {
		web_error(r, 403, "this form was not sent from this console's own pages");
		return;
	}
	const char *ctype = evhttp_find_header(in, "Content-Type");
	if (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		web_error(r, 415, "a form is sent as application/x-www-form-urlencoded");
		return;
	}
	struct evbuffer *body = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(body);
	char *text = malloc(len + 1);
	if (text == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	int bad = evbuffer_copyout(body, text, len) != (ev_ssize_t)len;
	text[len] = '\0';
	bad = bad || strlen(text) != len || evhttp_parse_query_str(text, &r->form) == -1;
	free(text);
	if (bad) {
		web_error(r, 400, "malformed form");
		return;
	}
	if (csrf_check(r->w->csrf_key, r->cookie, evhttp_find_header(&r->form, "csrf")) == -1) {
		web_error(r, 403, "this form has expired or was not made for this browser (the console "
				  "restarted, or cookies are off): reload the page and try again");
		return;
	}
	r->action = 1;
	action(r);
}

static void
route(struct web_req *r)
{
	const char *p = r->path, *tail;

	if (evhttp_request_get_command(r->req) == EVHTTP_REQ_POST) {
		route_post(r);
		return;
	}

	if (strcmp(p, "/") == 0 || format_of(r, p, "/schedules") == 0)
		page_schedules(r);
	else if (strncmp(p, "/static/", 8) == 0)
		serve_static(r, p + 8);
	else if (strcmp(p, "/healthz") == 0)
		healthz(r);
	else if (strcmp(p, "/live") == 0)
		live_stream(r->w->live, r);
	else if (match_id(p, "/schedule/", &r->id, &tail) && format_of(r, tail, "") == 0)
		page_schedule(r);
	else if (match_id(p, "/event/", &r->id, &tail) && strcmp(tail, "") == 0)
		page_event(r);
	else if (match_id(p, "/event/", &r->id, &tail) && strcmp(tail, "/output") == 0)
		page_output(r);
	else if (format_of(r, p, "/computers") == 0)
		page_computers(r);
	else if (match_id(p, "/computer/", &r->id, &tail) && format_of(r, tail, "") == 0)
		page_computer(r);
	else if (format_of(r, p, "/jobs") == 0)
		page_jobs(r);
	else if (match_id(p, "/job/", &r->id, &tail) && strcmp(tail, "") == 0)
		page_job(r);
	else if (match_id(p, "/job/", &r->id, &tail) && strcmp(tail, "/diff") == 0)
		page_job_diff(r);
	else if (format_of(r, p, "/history") == 0)
		page_history(r);
	else if (format_of(r, p, "/failures") == 0)
		page_failures(r);
	else
		web_error(r, 404, "no such page");
}

/*
 * With actions: the browser's CSRF_COOKIE (a new one sent with this answer when it has
 * none) and the token forms carry. 0, or -1 when OpenSSL fails.
 */
static int
csrf_setup(struct web_req *r)
{
	const char *hdr = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Cookie");
	char *c = r->cookie;
	if (csrf_cookie_get(hdr, c) == -1) {
		char set[160];
		if (csrf_cookie_new(c) == -1)
			return -1;
		/* HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it */
		snprintf(set, sizeof(set), CSRF_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", c,
		    r->w->tls != NULL ? "; Secure" : "");
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie", set);
		/* a POST's check must not pass with the cookie made for its own answer */
		if (evhttp_request_get_command(r->req) == EVHTTP_REQ_POST)
			c[0] = '\0';
	}
	return c[0] == '\0' ? 0 : csrf_token(r->w->csrf_key, c, r->csrf);
}

/* The query string holds %00: decoded, an argument would end there, the rest unseen. */
static int
has_nul(const char *query)
{
	for (const char *p = strchr(query, '%'); p != NULL; p = strchr(p + 1, '%'))
		if (p[1] == '0' && p[2] == '0')
			return 1;
	return 0;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct web *w = arg;
	struct web_req_full *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	struct web_req *r = &f->r;
	f->t0 = clock_mono_us();
	TAILQ_INIT(&r->args);
	TAILQ_INIT(&r->form);
	r->w = w;
	r->req = req;
	r->tail = "";

	if (w->tls != NULL && !client_ok(w, req)) {
		web_error(r, 403, "this client certificate is not one of --tls-allow");
		return;
	}
	if (!host_ok(w, evhttp_find_header(evhttp_request_get_input_headers(req), "Host"))) {
		web_error(r, 421, "this server does not answer to that host name (see --allow-host)");
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	size_t len = 0;
	char *dec = path != NULL ? evhttp_uridecode(path, 0, &len) : NULL;
	if (dec == NULL || len != strlen(dec) || len >= sizeof(r->path) ||
	    (query != NULL && (has_nul(query) || evhttp_parse_query_str(query, &r->args) == -1))) {
		free(dec);
		web_error(r, 400, "malformed request path or query");
		return;
	}
	memcpy(r->path, dec, len + 1);
	free(dec);
	if (w->apool != NULL && csrf_setup(r) == -1) {
		web_error(r, 500, "out of random bytes");
		return;
	}
	route(r);
}

int
web_http_start(struct web *w, char *err, size_t errlen)
{
	w->http = evhttp_new(w->base);
	if (w->http == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		return -1;
	}
	/* a body only for the actions' forms, and small */
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    (w->apool != NULL ? EVHTTP_REQ_POST : 0));
	evhttp_set_max_headers_size(w->http, 16 * 1024);
	evhttp_set_max_body_size(w->http, w->apool != NULL ? 4096 : 0);
	evhttp_set_timeout(w->http, 60);
	evhttp_set_gencb(w->http, on_request, w);
	if (w->conf.tls_cert != NULL) {
		w->tls = tls_server_ctx(w->conf.tls_ca, w->conf.tls_cert, w->conf.tls_key, err, errlen);
		if (w->tls == NULL)
			return -1;
		evhttp_set_bevcb(w->http, tls_bev, w);
	}
	struct evhttp_bound_socket *s =
	    evhttp_bind_socket_with_handle(w->http, w->conf.listen_host, (ev_uint16_t)w->conf.listen_port);
	if (s == NULL) {
		snprintf(err, errlen, "listen %s:%d: %s", w->conf.listen_host, w->conf.listen_port,
		    strerror(errno));
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl) == 0)
		w->conf.listen_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void
add_args(struct evbuffer *b, struct web_req *r, const char *key, const char *value)
{
	struct evkeyval *kv;
	char sep = '?';
	TAILQ_FOREACH(kv, &r->args, next) {
		if ((key != NULL && strcmp(kv->key, key) == 0) || kv->value[0] == '\0')
			continue;
		html_put(b, "%R%u=%u", sep == '?' ? "?" : "&amp;", kv->key, kv->value);
		sep = '&';
	}
	if (key != NULL && value != NULL)
		html_put(b, "%R%u=%u", sep == '?' ? "?" : "&amp;", key, value);
}

void
web_link(struct evbuffer *b, struct web_req *r, const char *key, const char *value,
    const char *label)
{
	html_put(b, "<a href=\"%s", r->path);
	add_args(b, r, key, value);
	html_put(b, "\">%s</a>", label);
}

void
web_href_fmt(struct evbuffer *b, struct web_req *r, const char *base, const char *ext)
{
	html_put(b, "%s%s", base, ext);
	add_args(b, r, NULL, NULL);
}

int
web_since(struct web_req *r, const char *name, const char *def, char *ts, size_t tslen)
{
	const char *v = web_arg(r, name);
	char err[256], msg[300];
	time_t now;
	if (args_now(&now, err, sizeof(err)) == -1 ||
	    reportfmt_since_at(v != NULL ? v : def, now, ts, tslen, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "%s: %s", name, err);
		web_error(r, 400, msg);
		return -1;
	}
	return 0;
}

void
web_counts(const struct db_result *res, int i, struct progress_counts *c)
{
	/* every field set: halted (the schedule's state tells it here) is 0 */
	*c = (struct progress_counts){.total = web_ll(res, i, "total"), .done = web_ll(res, i, "done"),
	    .failed = web_ll(res, i, "failed"), .running = web_ll(res, i, "running"),
	    .pending = web_ll(res, i, "pending"), .cancelled = web_ll(res, i, "cancelled")};
}

void
web_progress(struct evbuffer *b, const struct db_result *res, int i)
{
	struct progress_counts c;
	web_counts(res, i, &c);
	svg_progress(b, web_ll(res, i, "schedule_id"), &c);
	html_put(b, " <span class=\"counts\"><span data-field=\"done\">%D</span>/"
		    "<span data-field=\"total\">%D</span> done \xC2\xB7 <span data-field=\"failed\">%D"
		    "</span> failed \xC2\xB7 <span data-field=\"running\">%D</span> running \xC2\xB7 "
		    "<span data-field=\"pending\">%D</span> pending",
	    c.done, c.total, c.failed, c.running, c.pending);
	if (c.cancelled > 0)
		html_put(b, " \xC2\xB7 <span data-field=\"cancelled\">%D</span> cancelled", c.cancelled);
	/* a rollout in waves (columns wave and waves, null without one) */
	if (!web_null(res, i, "wave"))
		html_put(b, " \xC2\xB7 wave <span data-field=\"wave\">%s</span> of %s",
		    web_val(res, i, "wave"), web_val(res, i, "waves"));
	html_put(b, "</span>");
}

int
web_keyset(struct web_req *r, char *ts, size_t tslen, char *id, size_t idlen)
{
	const char *before = web_arg(r, "before");
	struct units_time t;
	char err[256];
	ts[0] = id[0] = '\0';
	if (before == NULL)
		return 0;
	const char *comma = strrchr(before, ',');
	size_t n = comma != NULL ? (size_t)(comma - before) : 0;
	char *end;
	if (comma == NULL || n == 0 || n >= tslen || strtoll(comma + 1, &end, 10) <= 0 || *end != '\0' ||
	    strlen(comma + 1) >= idlen)
		goto bad;
	memcpy(ts, before, n);
	ts[n] = '\0';
	/* an instant the database reads back in any DateStyle, never an error of its own (500) */
	if (strchr(ts, '[') != NULL || units_time(ts, &t, err, sizeof(err)) == -1 || !t.has_offset)
		goto bad;
	snprintf(id, idlen, "%s", comma + 1);
	return 0;
bad:
	ts[0] = id[0] = '\0';
	web_error(r, 400, "before: not a position in this list");
	return -1;
}

int
web_after(struct web_req *r, const char **after)
{
	const char *v = web_arg(r, "after");
	*after = v;
	if (v == NULL)
		return 0;
	size_t len = strlen(v);
	for (size_t i = 0, k; i < len; i += k)
		if ((k = utf8_seq_len((const unsigned char *)v + i, len - i)) == 0)
			goto bad;
	if (!util_has_ctl(v))
		return 0;
bad:
	web_error(r, 400, "after: not a name (UTF-8 without control characters)");
	return -1;
}

void
web_pager(struct evbuffer *b, struct web_req *r, const char *key, const char *next,
    const char *first, const char *more, const char *exports)
{
	html_put(b, "<p class=\"pager\">");
	if (web_arg(r, key) != NULL)
		web_link(b, r, key, NULL, first);
	if (next != NULL)
		web_link(b, r, key, next, more);
	if (exports != NULL) {
		html_put(b, " <span class=\"muted\">as <a href=\"");
		web_href_fmt(b, r, exports, ".csv");
		html_put(b, "\">CSV</a> or <a href=\"");
		web_href_fmt(b, r, exports, ".json");
		html_put(b, "\">JSON</a></span>");
	}
	html_put(b, "</p>\n");
}
