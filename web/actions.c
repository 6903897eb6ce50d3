/*
 * actions: what pgfleet-web changes when started with --action-role: cancel a schedule,
 * retry its failed events, run a job now, resume or abort a halted rollout. Each is one
 * call of the SQL API (pgfleet.cancel, retry, run, resume, abort, as the CLI's commands
 * of the same names), so the login's
 * team scopes apply and the change is audited; on the actions' own connection, as the
 * action role, never sent twice; the router has already checked the form's CSRF token.
 * Who asked (the console and the name of an HTTPS client's certificate) goes to the API
 * as the setting pgfleet.client_user, for the audit row and schedule.client_user. An
 * action that did something is logged with who asked and from where, and answered with a
 * redirect to the schedule it changed or made; one the API refused gets its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "cli/args.h"
#include "common/db.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "web/web.h"

/*
 * Each statement sets pgfleet.client_user (for its own transaction) in a subquery that
 * yields one row and that OFFSET 0 keeps whole; the API function takes an argument from
 * that row (LATERAL), so the setting is made before the function runs.
 */
#define AS_CLIENT(param) "set_config('pgfleet.client_user', " param ", true) AS client"

static const char SQL_CANCEL[] =
    "SELECT c.was, c.cancelled, c.still_running"
    " FROM (SELECT $1::bigint AS id, " AS_CLIENT("$2") " OFFSET 0) a,"
    " LATERAL pgfleet.cancel(a.id) c";
static const char SQL_RESUME[] =
    "SELECT c.was, c.resumed"
    " FROM (SELECT $1::bigint AS id, " AS_CLIENT("$2") " OFFSET 0) a,"
    " LATERAL pgfleet.resume(a.id) c";
static const char SQL_ABORT[] =
    "SELECT c.was, c.aborted"
    " FROM (SELECT $1::bigint AS id, " AS_CLIENT("$2") " OFFSET 0) a,"
    " LATERAL pgfleet.abort(a.id) c";
/* the job and its version as the retry finds them, for the log line */
static const char SQL_RETRY[] =
    "SELECT r.new_schedule_id, a.job, a.version"
    " FROM (SELECT x.id, s.job, j.version, " AS_CLIENT("$2")
    "  FROM (VALUES ($1::bigint)) x(id)"
    "  LEFT JOIN pgfleet.schedule_list s ON s.schedule_id = x.id"
    "  LEFT JOIN pgfleet.job_list j ON j.job_id = s.job_id OFFSET 0) a,"
    " LATERAL pgfleet.retry(a.id, true) r(new_schedule_id)";
/* no row: no such job (or one a read scope hides) */
static const char SQL_RUN[] =
    "SELECT r.new_schedule_id, a.job, a.version"
    " FROM (SELECT j.name AS job, j.version, " AS_CLIENT("$3")
    "  FROM pgfleet.job_list j WHERE j.job_id = $1 OFFSET 0) a,"
    " LATERAL pgfleet.run(a.job, $2::jsonb) r(new_schedule_id)";

/*
 * Who asked, as pgfleet.client_user (the audit row's and schedule.client_user):
 * "pgfleet-web", or "pgfleet-web:NAME" with the name of an HTTPS client's certificate;
 * the log line also names the peer address.
 */
static void
who(struct web_req *r, char *client, size_t clen, char *peer, size_t plen)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = r->w->tls != NULL && bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	char name[128];
	if (ssl != NULL && tls_peer_name(ssl, name, sizeof(name)) == 0)
		snprintf(client, clen, "pgfleet-web:%s", name);
	else
		snprintf(client, clen, "pgfleet-web");
	char *addr = NULL;
	ev_uint16_t port = 0;
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(peer, plen, "%s", addr != NULL ? addr : "?");
}

static void
done_cancel(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[160], path[64];
	const char *was = web_val(res, 0, "was");
	if (strcmp(was, "pending") != 0 && strcmp(was, "running") != 0 && strcmp(was, "halted") != 0) {
		snprintf(msg, sizeof(msg), "schedule %lld already ended (%s): nothing to cancel", r->id, was);
		web_error(r, 409, msg);
		return;
	}
	char peer[64];
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	log_notice("schedule %lld cancelled by %s from %s: %s pending event(s) cancelled, %s "
		   "running", r->id, r->client, peer, web_val(res, 0, "cancelled"),
	    web_val(res, 0, "still_running"));
	snprintf(path, sizeof(path), "/schedule/%lld", r->id);
	web_redirect(r, path);
}

/* One call of sql on schedule r->id as who asked, answered by done. */
static void
schedule_call(struct web_req *r, const char *sql, void (*done)(struct web_req *))
{
	char *id = r->scratch[0], peer[64];
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	r->missing = 404;
	struct web_query q[1] = {{sql, 2, {id, r->client}}};
	web_fetch(r, 1, q, done);
}

void
action_cancel(struct web_req *r)
{
	schedule_call(r, SQL_CANCEL, done_cancel);
}

/* The rollout changed: logged with who asked, and the browser goes back to it. */
static void
rollout_changed(struct web_req *r, const char *what)
{
	char peer[64], path[64];
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	log_notice("schedule %lld %s by %s from %s", r->id, what, r->client, peer);
	snprintf(path, sizeof(path), "/schedule/%lld", r->id);
	web_redirect(r, path);
}

static void
done_resume(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[160];
	if (strcmp(web_val(res, 0, "resumed"), "t") != 0) {
		snprintf(msg, sizeof(msg), "schedule %lld is %s, not halted: nothing to resume", r->id,
		    web_val(res, 0, "was"));
		web_error(r, 409, msg);
		return;
	}
	rollout_changed(r, "resumed");
}

void
action_resume(struct web_req *r)
{
	schedule_call(r, SQL_RESUME, done_resume);
}

static void
done_abort(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[160];
	if (web_ll(res, 0, "aborted") < 0) {
		snprintf(msg, sizeof(msg), "schedule %lld already ended (%s): nothing to abort", r->id,
		    web_val(res, 0, "was"));
		web_error(r, 409, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "aborted: %s waiting event(s) ended (-33)", web_val(res, 0, "aborted"));
	rollout_changed(r, msg);
}

void
action_abort(struct web_req *r)
{
	schedule_call(r, SQL_ABORT, done_abort);
}

/* A new schedule made by retry or run: logged, then the browser is sent to it. */
static void
made(struct web_req *r, const char *what, const struct db_result *res)
{
	char peer[64], path[64];
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	log_notice("%s: schedule %s of job %s version %s, by %s from %s", what,
	    web_val(res, 0, "new_schedule_id"), web_val(res, 0, "job"), web_val(res, 0, "version"),
	    r->client, peer);
	snprintf(path, sizeof(path), "/schedule/%s", web_val(res, 0, "new_schedule_id"));
	web_redirect(r, path);
}

static void
done_retry(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[160], what[64];
	if (web_null(res, 0, "new_schedule_id")) {
		snprintf(msg, sizeof(msg), "schedule %lld has no failed event: nothing to retry", r->id);
		web_error(r, 409, msg);
		return;
	}
	snprintf(what, sizeof(what), "retry of schedule %lld's failed events", r->id);
	made(r, what, res);
}

void
action_retry(struct web_req *r)
{
	schedule_call(r, SQL_RETRY, done_retry);
}

static void
done_run(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	if (db_ntuples(res) == 0) {
		web_error(r, 404, "no such job");
		return;
	}
	made(r, "run now", res);
}

/*
 * The form's targets with the blanks around each item dropped ("group:web, db-01" as
 * typed, "group:web,db-01" as pgfleet run --on takes it). 0, or -1 when too long.
 */
static int
targets_text(const char *in, char *out, size_t size)
{
	const char *rest = in, *item;
	size_t n = 0, len;
	int first = 1;
	while ((item = util_next_item(&rest, ',', &len)) != NULL) {
		if (n + len + 2 > size)
			return -1;
		if (!first)
			out[n++] = ',';
		first = 0;
		memcpy(out + n, item, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

/* Run now on the form's targets, read as pgfleet run --on reads them. */
void
action_run(struct web_req *r)
{
	const char *form_on = evhttp_find_header(&r->form, "on");
	char err[300], msg[400], peer[64], *id = r->scratch[0], on[2048];
	struct args_targets t;
	if (form_on == NULL || targets_text(form_on, on, sizeof(on)) == -1) {
		web_error(r, 400, form_on == NULL ? "on: which computers?" : "on: too long");
		return;
	}
	if (*on == '\0') {
		web_error(r, 400, "on: which computers? (NAME, group:NAME, label:KEY=VALUE, comma-separated)");
		return;
	}
	if (args_targets_parse(on, &t, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "on: %s", err);
		web_error(r, 400, msg);
		return;
	}
	char *json = args_targets_json(&t);
	args_targets_free(&t);
	if (json == NULL) {
		web_error(r, 500, "out of memory");
		return;
	}
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	/* names the targets do not know are a bad request here: the job was found */
	r->missing = 400;
	/* dbpool_query copies its parameters: json may go at once */
	struct web_query q[1] = {{SQL_RUN, 3, {id, json, r->client}}};
	web_fetch(r, 1, q, done_run);
	free(json);
}

int
action_refused(const struct web_req *r, const char *err, int *code)
{
	char state[6];
	int len = db_err_split(err, state);
	if (!r->action || !db_api_refused(state))
		return -1;
	*code = strcmp(state, "42501") == 0 ? 403
	    : strcmp(state, "42704") == 0   ? r->missing
	    : strcmp(state, "42710") == 0 || strcmp(state, "55000") == 0 ? 409
									 : 400;
	return len;
}
