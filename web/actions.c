/*
 * actions: what pgfleet-web changes when started with --action-role: cancel a schedule,
 * retry its failed events, run a job now. Each is one call of a pgfleet.op_* function
 * (0014_web, the same the CLI's cancel, retry and run use) on the actions' own
 * connection, as the action role, never sent twice; the router has already checked the
 * form's CSRF token. An action that did something is logged with who asked and from
 * where, and answered with a redirect to the schedule it changed or made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "cli/args.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"
#include "web/web.h"

static const char SQL_CANCEL[] = "SELECT state, cancelled, running FROM pgfleet.op_cancel($1)";
static const char SQL_RETRY[] =
    "SELECT job, version, new_schedule_id, events FROM pgfleet.op_retry_failed($1, $2)";
static const char SQL_RUN[] =
    "SELECT job, version, unknown, new_schedule_id, events FROM pgfleet.op_run($1, $2::jsonb, $3)";

/*
 * Who asked: schedule.client_user gets "pgfleet-web", or "pgfleet-web:NAME" with the
 * name of an HTTPS client's certificate; the log line also names the peer address.
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
	if (web_null(res, 0, "state")) {
		web_error(r, 404, "no such schedule");
		return;
	}
	if (web_null(res, 0, "cancelled")) {
		snprintf(msg, sizeof(msg), "schedule %lld already ended (%s): nothing to cancel", r->id,
		    web_val(res, 0, "state"));
		web_error(r, 409, msg);
		return;
	}
	char client[160], peer[64];
	who(r, client, sizeof(client), peer, sizeof(peer));
	log_notice("schedule %lld cancelled by %s from %s: %s pending event(s) cancelled, %s "
		   "running", r->id, client, peer, web_val(res, 0, "cancelled"), web_val(res, 0, "running"));
	snprintf(path, sizeof(path), "/schedule/%lld", r->id);
	web_redirect(r, path);
}

void
action_cancel(struct web_req *r)
{
	char *id = r->scratch[0];
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	struct web_query q[1] = {{SQL_CANCEL, 1, {id}}};
	web_fetch(r, 1, q, done_cancel);
}

/* A new schedule made by retry or run: logged, then the browser is sent to it. */
static void
made(struct web_req *r, const char *what, const struct db_result *res)
{
	char client[160], peer[64], path[64];
	who(r, client, sizeof(client), peer, sizeof(peer));
	log_notice("%s: schedule %s of job %s version %s, %s event(s), by %s from %s", what,
	    web_val(res, 0, "new_schedule_id"), web_val(res, 0, "job"), web_val(res, 0, "version"),
	    web_val(res, 0, "events"), client, peer);
	snprintf(path, sizeof(path), "/schedule/%s", web_val(res, 0, "new_schedule_id"));
	web_redirect(r, path);
}

static void
done_retry(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[160], what[64];
	if (web_null(res, 0, "job")) {
		web_error(r, 404, "no such schedule");
		return;
	}
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
	char *id = r->scratch[0], peer[64];
	snprintf(id, sizeof(r->scratch[0]), "%lld", r->id);
	who(r, r->client, sizeof(r->client), peer, sizeof(peer));
	struct web_query q[1] = {{SQL_RETRY, 2, {id, r->client}}};
	web_fetch(r, 1, q, done_retry);
}

static void
done_run(struct web_req *r)
{
	const struct db_result *res = r->res[0];
	char msg[600];
	if (web_null(res, 0, "job")) {
		web_error(r, 404, "no such job");
		return;
	}
	if (!web_null(res, 0, "unknown")) {
		snprintf(msg, sizeof(msg), "on: %s; nothing scheduled", web_val(res, 0, "unknown"));
		web_error(r, 400, msg);
		return;
	}
	if (web_null(res, 0, "new_schedule_id")) {
		web_error(r, 400, "on: the targets match no enabled computer; nothing scheduled");
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
	/* dbpool_query copies its parameters: json may go at once */
	struct web_query q[1] = {{SQL_RUN, 3, {id, json, r->client}}};
	web_fetch(r, 1, q, done_run);
	free(json);
}
