/*
 * web: pgfleet-web, a console over the report views, read-only unless given an action
 * role (cancel, retry failed, run now: actions.c). This header holds what
 * the modules of web/ share: the settings, the server, and one request as it waits for
 * its queries (struct web_req: created by the router, freed by the reply). Pages are
 * page_*.c, each a handler that queues its statements (web_fetch) and a renderer that
 * writes HTML, CSV or JSON from their results.
 */
#ifndef PGFLEET_WEB_WEB_H
#define PGFLEET_WEB_WEB_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli/progress.h"
#include "common/db.h"
#include "web/csrf.h"
#include "web/dbpool.h"

struct live;

struct web_conf {
	struct db_target target;     /* -d (conninfo; "" means the PG* variables) */
	const char *listen_host;     /* default 127.0.0.1 */
	int listen_port;             /* default 8080; 0 picks a free one */
	const char *port_file;       /* the port actually bound is written here */
	const char *role;            /* SET ROLE after connecting; "" keeps the login's own */
	int allow_write;             /* start even when the role can write (warns) */
	const char *action_role;     /* the actions' role (pgfleet_operator); NULL: no actions */
	long long stale_ms;          /* computers not seen for this long are stale */
	long long refresh_ms;        /* live pages re-read open schedules this often */
	long long statement_timeout_ms;
	int pool_size;
	int max_live;                /* Server-Sent Events streams at once */
	const char *const *allow_host; /* more names the Host header may give (a proxy's) */
	int nallow_host;
	const char *tls_cert, *tls_key, *tls_ca; /* HTTPS, client certificates of tls_ca required */
	const char *const *tls_allow;  /* names (CN or DNS name) of the client certificates let in */
	int ntls_allow;
};

struct web {
	struct web_conf conf;
	struct event_base *base;
	struct evhttp *http;
	struct dbpool *pool;
	struct dbpool *apool;   /* the actions' one connection, as action_role; or NULL */
	unsigned char csrf_key[CSRF_KEY_LEN];
	struct live *live;
	struct ssl_ctx_st *tls; /* the HTTPS server context (SSL_CTX), or NULL */
	char role[64];     /* current_user after the set-up: shown in the footer */
	int scripts;       /* the role may read task_list.script */
};

enum web_fmt { WEB_HTML, WEB_CSV, WEB_JSON, WEB_TEXT };
enum { WEB_MAX_QUERIES = 4, WEB_PAGE = 50 };

struct web_query {
	const char *sql;             /* a constant: kept by pointer */
	int nparams;
	const char *params[DBPOOL_MAX_PARAMS];
};

struct web_req {
	struct web *w;
	struct evhttp_request *req;
	struct evkeyvalq args;       /* the query string */
	char path[256];              /* decoded path without the query */
	long long id;                /* the number in /schedule/N and the like */
	long long id2;               /* a second number a handler keeps for its renderer */
	const char *tail;            /* what follows the number ("", "/output", ".csv") */
	enum web_fmt fmt;
	int action;                  /* a POST of an action: its statement runs on w->apool */
	struct evkeyvalq form;       /* a POST's fields */
	char csrf[CSRF_TOKEN_HEX + 1]; /* the token forms carry ("" without actions) */
	char cookie[CSRF_COOKIE_HEX + 1]; /* the browser's CSRF_COOKIE ("" when it sent none) */
	char client[160];            /* an action's pgfleet.client_user */
	int missing;                 /* an action's answer when the API says 42704 (no such …) */
	int nq, pending, failed;
	struct db_result *res[WEB_MAX_QUERIES];
	char err[512];
	void (*render)(struct web_req *r);
	char scratch[8][64];         /* room for the parameters a handler builds */
};

/* Start the server: routes, limits, headers. 0, or -1 with the reason in err. */
int web_http_start(struct web *w, char *err, size_t errlen);

/*
 * Run n statements at once (each on the first free connection) and call render when all
 * are back; a failure answers 500 (or 503 when the database is out of reach) instead.
 */
void web_fetch(struct web_req *r, int n, const struct web_query *q, void (*render)(struct web_req *r));

/* An argument of the query string; NULL when absent or empty. */
const char *web_arg(struct web_req *r, const char *name);
/*
 * A whole number argument in [min, max] into *out (def when absent). 0, or -1 after
 * answering 400 (the request is then gone).
 */
int web_arg_ll(struct web_req *r, const char *name, long long min, long long max, long long def,
    long long *out) __attribute__((warn_unused_result));

/* The page's start: doctype, head, navigation; title is escaped. */
struct evbuffer *web_page_begin(struct web_req *r, const char *title);
/* Footer, then send with 200 and free r. */
void web_page_end(struct web_req *r, struct evbuffer *b);
/* The headers every answer carries (Content-Security-Policy and the like), and its type. */
void web_headers(struct evhttp_request *req, const char *ctype);
/* Free r without answering (the handler keeps the evhttp_request for itself). */
void web_req_free(struct web_req *r);
/* Send b (freed) with code and content type, then free r. */
void web_send(struct web_req *r, int code, const char *ctype, struct evbuffer *b);
/* 303 See Other to path (a page of this server), then free r: after an action. */
void web_redirect(struct web_req *r, const char *path);
/* An error page (msg escaped), then free r. */
void web_error(struct web_req *r, int code, const char *msg);
/*
 * The rows of res as CSV or JSON (r->fmt) in the format of `pgfleet report`, columns as
 * the statement named them, numbers and booleans as such in JSON; only the first ncols
 * columns when ncols >= 0 (the others are the page's own, a paging key). Sends, frees r.
 */
void web_export(struct web_req *r, const struct db_result *res, int ncols, const char *filename);

/* Result helpers for renderers: a field by name ("" for NULL or no such column). */
const char *web_val(const struct db_result *res, int row, const char *col);
int web_null(const struct db_result *res, int row, const char *col);
long long web_ll(const struct db_result *res, int row, const char *col);

/* Handlers: each owns r from here on. */
void page_schedules(struct web_req *r);
void page_schedule(struct web_req *r);
void page_event(struct web_req *r);
void page_output(struct web_req *r);
void page_computers(struct web_req *r);
void page_computer(struct web_req *r);
void page_jobs(struct web_req *r);
void page_job(struct web_req *r);
void page_job_diff(struct web_req *r);
void page_history(struct web_req *r);
void page_failures(struct web_req *r);

/*
 * Actions (a POST whose token the router has checked): each owns r, runs one statement
 * as the action role, and answers with a redirect to the schedule it changed or made,
 * or an error page. web_action_form writes the form of one (nothing without actions):
 * a button named label that posts to path, with an input for targets when targets is set.
 */
void action_cancel(struct web_req *r);
void action_retry(struct web_req *r);
void action_run(struct web_req *r);
void action_resume(struct web_req *r);
void action_abort(struct web_req *r);
/*
 * An action's statement failed with err: when the SQL API refused it (db_api_refused),
 * the HTTP status to answer in *code (403 outside the login's scopes, 409 not in this
 * state, r->missing for something that does not exist, 400 otherwise) and the length of
 * its message; -1 when it is no refusal, or r no action.
 */
int action_refused(const struct web_req *r, const char *err, int *code);
void web_action_form(struct evbuffer *b, struct web_req *r, const char *path, const char *label,
    int targets);

/* The static files served under /static/ (live.js, style.css); NULL when unknown. */
const char *web_static(const char *name, const char **ctype);

/* A timestamptz column as the reports print it: 2026-11-24T10:02:00Z (the text of SQL). */
#define WEB_TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * A link to this page with the query string's arg key set to value (NULL removes it),
 * the other arguments kept: pagers and filters.
 */
void web_link(struct evbuffer *b, struct web_req *r, const char *key, const char *value,
    const char *label);
/*
 * A list's pager: a link back to the first page (label first) when arg key is set, one
 * to the next (label more, key=next) when next is not NULL, and the links of the same
 * list as CSV and JSON (exports: the path they hang off) when exports is not NULL.
 */
void web_pager(struct evbuffer *b, struct web_req *r, const char *key, const char *next,
    const char *first, const char *more, const char *exports);
/* The path of this page with its query string and another ending (".csv"). */
void web_href_fmt(struct evbuffer *b, struct web_req *r, const char *base, const char *ext);
/* "since": a date or a duration back from now (PGFLEET_NOW when set) into ts; 0, or -1 after 400. */
int web_since(struct web_req *r, const char *name, const char *def, char *ts, size_t tslen)
    __attribute__((warn_unused_result));
/*
 * A row's place in a list newest first (column finished_key, the argument "before" of the
 * next page's link): its finished_at to the microsecond in UTC, whatever the DateStyle,
 * and its event_id: 2026-11-24T10:02:00.123456Z,42.
 */
#define WEB_KEY "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" \
	" || ',' || event_id"
/*
 * The argument "before" of a page listed newest first: "TIMESTAMP,EVENT_ID" (a row's
 * finished_key; the time with Z or an offset, as units_time reads it) split into ts and
 * id. 0 (also when absent: both ""), or -1 after 400.
 */
int web_keyset(struct web_req *r, char *ts, size_t tslen, char *id, size_t idlen)
    __attribute__((warn_unused_result));
/*
 * The argument "after" of a page listed by name (the last name of the page before it)
 * into *after: NULL when absent. Names are UTF-8 without control characters; 0, or -1
 * after 400 (the database would refuse bad UTF-8 with an error of its own).
 */
int web_after(struct web_req *r, const char **after) __attribute__((warn_unused_result));
/* The events of row i by state, from columns total, done, failed, ...; halted is 0. */
void web_counts(const struct db_result *res, int i, struct progress_counts *c);
/*
 * The progress cell: bar and counts, both moved by live.js (data-schedule); with
 * columns wave and waves not null (a rollout in waves), "wave N of M" too.
 */
void web_progress(struct evbuffer *b, const struct db_result *res, int i);

/* Shared bits of pages: a state badge, a time cell ("" as "-"), a duration cell. */
void web_state(struct evbuffer *b, const char *state);
void web_cell_time(struct evbuffer *b, const char *ts);
void web_cell_ms(struct evbuffer *b, const struct db_result *res, int row, const char *col);

#endif
