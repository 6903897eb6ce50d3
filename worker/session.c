/*
 * session: the worker's side of the control protocol (docs/protocol.md) for
 * one event. States: INIT (its rows and job loading, session_db.c) -> RENDER
 * (only while a task's custom tokens are looked up) -> WAIT (one task pushed,
 * its replies coming) -> ADVANCE (the result and NEXT_TASK_SEQ being written)
 * -> next task, or END. Nothing here waits for the database: each of those
 * states ends with a callback from the loop. A next task is pushed only once the database
 * took the previous result under our lease. The connection belongs to the
 * worker's links; when it closes, the event goes back to pending (a task in
 * flight costing an attempt), and whoever claims it next pushes the same
 * (event, seq) again: the agent's journal makes that safe.
 */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/evloop.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/util.h"
#include "common/wire.h"
#include "transfer/keys.h"
#include "worker/link.h"
#include "worker/outcome.h"
#include "worker/pushq.h"
#include "worker/record.h"
#include "worker/sendfile.h"
#include "worker/session_db.h"

#define DEFAULT_TASK_TIMEOUT_MS 3600000LL /* the agent's default timeout */
#define STARTED_SLACK_MS 60000LL

enum state { S_INIT, S_RENDER, S_QUEUED, S_WAIT, S_ADVANCE, S_END };

struct session {
	struct session_env *env;
	struct ipc_event ev;
	struct link *link;   /* NULL once it closed */
	char sid[24], eid[24], cid[24];
	enum state state;
	struct session_load *load; /* INIT: the load in progress */
	struct session_job job;
	struct session_lookups lk; /* RENDER: the current task's custom tokens */
	int cur;             /* index into job.tasks */
	int failed;          /* some task failed: the event ends failed */
	int first_fail;      /* the code of the first task that failed: the event's code when it fails */
	int has_fail;
	int cancelled;
	char *rendered;      /* the current task's script, rendered */
	size_t rendered_len;
	struct event *timer; /* the current task's reply deadline */
	struct metrics_task mt; /* due time, task start: the scheduler's metrics */
	struct pushq_item pq; /* QUEUED, then WAIT until the agent first answers: a push slot */
};

static void session_next_task(struct session *s);
static void session_end(struct session *s, const char *state, int code);
static void session_push(struct session *s);

int64_t session_event_id(const struct session *s) { return s->ev.event_id; }
int session_attempt(const struct session *s) { return s->ev.attempt; }
struct link *session_link(const struct session *s) { return s->link; }

static const struct job_task *
cur_task(struct session *s)
{
	return &s->job.tasks[s->cur];
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	metrics_sessions(-1);
	pushq_leave(s->env->pushq, &s->pq);
	evloop_event_free(s->timer);
	session_db_forget(s->env->sdb, s->load);
	session_lookups_clear(&s->lk);
	session_job_clear(s->env->sdb, &s->job);
	free(s->rendered);
	free(s);
}

static void
session_timer_ms(struct session *s, long long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(s->timer, &tv);
}

static void
session_note_failure(struct session *s, int code)
{
	if (!s->has_fail) {
		s->has_fail = 1;
		s->first_fail = code;
	}
}

/* A status row for the current task; outcome is pgfleet's verdict, result the agent's. */
static void
session_status_row(struct session *s, int code, const char *result, const char *outcome,
    const char *module, const char *message, const struct wire_msg *m)
{
	struct record_row row = {
	    .event_id = s->ev.event_id, .schedule_id = s->ev.schedule_id,
	    .computer_id = s->ev.computer_id,
	    .task_seq = s->cur < s->job.ntasks ? cur_task(s)->seq : s->job.next_task_seq,
	    .attempt = s->ev.attempt, .status_code = code, .result = result, .outcome = outcome,
	    .module = module, .message = message, .output_size = -1};
	if (m != NULL) {
		const char *rp = wire_get(m, "Replayed");
		row.output = m->body;
		row.output_len = m->body_len;
		row.output_size = record_parse_output_size(wire_get(m, "Output-Size"), m->body_len);
		row.replayed = rp != NULL && strcmp(rp, "1") == 0;
	}
	if (record_status(s->env->rec, &row) == -1)
		fatalx("out of memory");
	metrics_task_status(&s->mt, code, outcome);
}

/* A row the scheduler wrote itself: its result is its verdict. */
static void
session_status(struct session *s, int code, const char *message)
{
	session_status_row(s, code, "Failed", "Failed", "Scheduler", message, NULL);
}

static void
session_requeue(struct session *s, int bump)
{
	if (s->state == S_END)
		return;
	s->state = S_END;
	pushq_leave(s->env->pushq, &s->pq);
	evtimer_del(s->timer);
	if (record_requeue(s->env->rec, s->ev.event_id, s->ev.schedule_id, s->ev.attempt, bump) == -1)
		fatalx("out of memory");
	log_event(LL_INFO, s->ev.event_id, "handed back%s: computer %s is not connected here",
	    bump ? " for another attempt" : "", s->cid);
	s->env->on_end(s, 1, s->env->arg);
}

static void
session_end(struct session *s, const char *state, int code)
{
	if (s->state == S_END)
		return;
	s->state = S_END;
	pushq_leave(s->env->pushq, &s->pq);
	evtimer_del(s->timer);
	if (record_finish(s->env->rec, s->ev.event_id, s->ev.schedule_id, s->ev.attempt, state,
		code) == -1)
		fatalx("out of memory");
	log_event(LL_INFO, s->ev.event_id, "%s with code %d", state, code);
	s->env->on_end(s, 1, s->env->arg);
}

/* The lease is gone: stop without writing anything more; the owner hears it ended unrecorded. */
void
session_abandon(struct session *s)
{
	if (s->state == S_END)
		return;
	evtimer_del(s->timer);
	pushq_leave(s->env->pushq, &s->pq);
	log_event(LL_WARNING, s->ev.event_id, "attempt %d no longer holds the lease; abandoned %s task %d",
	    s->ev.attempt, s->state == S_ADVANCE ? "before" : "at",
	    s->cur < s->job.ntasks ? cur_task(s)->seq : s->job.next_task_seq);
	s->state = S_END;
	s->env->on_end(s, 0, s->env->arg);
}

/* The current task is over with outcome o: the next one, or the event's end. */
static void
session_after_task(struct session *s, enum outcome o, int code)
{
	if (o != OUTCOME_SUCCESS)
		session_note_failure(s, code);
	int go_on = outcome_next(o, cur_task(s)->on_failure_continue, &s->failed);
	if (go_on && s->cur + 1 < s->job.ntasks) {
		s->cur++;
		session_next_task(s);
		return;
	}
	/* a failed event carries the code that failed it, a done one its last code */
	session_end(s, s->failed ? "failed" : "done", s->failed ? s->first_fail : code);
}

/* The current task failed on our side (nothing, or no valid answer, came back). */
static void
session_task_failed(struct session *s, int code, const char *why)
{
	log_task(LL_WARNING, s->ev.event_id, cur_task(s)->seq, "%s", why);
	session_status(s, code, why);
	if (s->cancelled) {
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_after_task(s, OUTCOME_FAILURE, code);
}


#define SESSION_MAX_NICS 64

/* "a,,b" into v (pointers into buf, a copy of csv): the NICs' values in order, "" for none. */
static size_t
nic_split(const char *csv, char *buf, size_t size, const char **v)
{
	if (csv == NULL || csv[0] == '\0' || strlen(csv) >= size)
		return 0;
	strcpy(buf, csv);
	size_t n = 0;
	for (char *p = buf; n < SESSION_MAX_NICS;) {
		v[n++] = p;
		char *comma = strchr(p, ',');
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return n;
}

/* Render the current task with lookup giving the custom tokens' values. */
static int
session_render(struct session *s, render_lookup_fn *lookup, struct render_report *rep, char *err,
    size_t errlen)
{
	const struct job_task *t = cur_task(s);
	struct session_computer *c = &s->job.comp;
	char date[11], seq[16];
	render_date(time(NULL), date);
	snprintf(seq, sizeof(seq), "%d", t->seq);
	const char *peer = s->link != NULL ? link_peer(s->link) : "";
	struct render_vars v = {
	    .compname = c->name, .name = c->name, .id = s->cid,
	    .agentipaddr = peer[0] != '\0' ? peer : c->ip, .ipname = c->host, .mac = c->mac,
	    .serialnum = c->serial, .assettag = c->asset_tag, .domain = c->domain,
	    .domainou = c->domain_ou, .dept = c->dept, .contact = c->contact, .email = c->email,
	    .os = c->os, .date = date, .dsserver = s->env->conf->name, .jobname = s->job.job_name,
	    .callingjobname = s->job.job_name, .jobuser = s->job.job_user, .scheduleid = s->sid,
	    .eventid = s->eid, .taskseq = seq, .interpreter = t->interpreter};
	static char macbuf[4096], ipbuf[4096];
	static const char *macs[SESSION_MAX_NICS], *ips[SESSION_MAX_NICS];
	size_t nm = nic_split(c->nic_macs, macbuf, sizeof(macbuf), macs);
	size_t ni = nic_split(c->nic_ips, ipbuf, sizeof(ipbuf), ips);
	v.compname = c->compname != NULL ? c->compname : c->name;
	v.ip = c->ip;
	v.nicmacaddr = c->mac;
	v.model = c->model;
	v.nodename = c->nodename;
	v.bwipaddr = v.agentipaddr;
	v.dnssuffix = c->dns_search;
	v.nic_macs = macs;
	v.nic_ips = ips;
	v.nnics = nm < ni ? ni : nm;
	for (size_t i = nm; i < v.nnics; i++)
		macs[i] = NULL;
	for (size_t i = ni; i < v.nnics; i++)
		ips[i] = NULL;
	free(s->rendered);
	s->rendered = NULL;
	if (t->copy) {
		/* a file to copy is sent as it is: no tokens in it */
		s->rendered_len = t->script_len;
		if ((s->rendered = malloc(t->script_len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(s->rendered, t->script, t->script_len + 1);
		return 0;
	}
	log_debug("CRxDatabase::ReplaceTokens - Entered.");
	int rc = render_script(t->script, strlen(t->script), &v, &s->env->policy, lookup, &s->lk,
	    16 * 1024 * 1024, &s->rendered, &s->rendered_len, rep, err, errlen);
	log_debug("CRxDatabase::ReplaceTokens - Exited.");
	return rc;
}

static void
session_log_missing(struct session *s, struct render_report *rep)
{
	for (size_t i = 0; i < rep->nmissing; i++)
		log_task(LL_DETAIL, s->ev.event_id, cur_task(s)->seq, "token %s has no value, replaced "
		    "by nothing", rep->missing[i]);
	render_report_free(rep);
}

/*
 * Write spool/<computer_id>.sh atomically, as the seed writes Temp\<id>.bat. A file that
 * already holds the rendered script (the same job run on this computer again) is kept as
 * it is: reading it back costs far less than a new file, a rename and freeing the old one.
 */
static int
session_spool(struct session *s, char *path, size_t pathlen, char *err, size_t errlen)
{
	char tmp[300];
	if ((size_t)snprintf(path, pathlen, "%s/%s.sh", s->env->conf->spool, s->cid) >= pathlen ||
	    strlen(path) + sizeof(".tmp.") + 20 > sizeof(tmp)) {
		snprintf(err, errlen, "spool path %s is too long", s->env->conf->spool);
		return -1;
	}
	if (fsutil_same_content(path, s->rendered, s->rendered_len)) {
		log_detail("%s unchanged since the last push, kept", path);
		return 0;
	}
	/* (the process id, a system call, only for a file to write) */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < s->rendered_len) {
		ssize_t w = write(fd, s->rendered + off, s->rendered_len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	log_detail("%s created in first attempt", path);
	return 0;
}

/* The current task's retries so far: the claim's count applies to the task it was claimed at
 * (a later task starts at 0; retries of the database reset as the event moves on). */
static int
session_retry(struct session *s)
{
	return cur_task(s)->seq == s->ev.next_task_seq ? s->ev.retry : 0;
}

/* Build the task's SendFile with a fresh key and send it. 0, or -1 with err (nothing sent). */
static int
session_send_task(struct session *s, const char *path, const char *sum, char *err, size_t errlen)
{
	const struct job_task *t = cur_task(s);
	char key[TRANSFER_KEY_HEX + 1];
	log_debug("CFileTxSession::SetTransferInfo () - Entered.");
	if (transfer_keys_add(s->env->keys, s->ev.event_id, t->seq, path, s->rendered_len, sum, key,
		err, errlen) == -1)
		fatalx("event %s: transfer key: %s", s->eid, err);
	log_debug("CFileTxSession::OpenFile(): Got file size %zu, high 32 bits = 0", s->rendered_len);
	log_debug("CFileTxSession::SetTransferInfo () - Exited.");
	struct sendfile_req req = {
	    .now = (long long)time(NULL), .size = s->rendered_len, .port = s->env->transfer_port,
	    .transfer_host = s->env->conf->transfer_advertise, .key = key, .checksum = sum,
	    .interpreter = t->interpreter, .os_required = t->os_required, .boot_env = t->boot_env,
	    .run_as = t->run_as, .timeout_ms = t->timeout_ms, .schedule_id = s->ev.schedule_id,
	    .event_id = s->ev.event_id, .seq = t->seq, .attempt = s->ev.attempt,
	    .retry = session_retry(s), .computer_id = s->ev.computer_id,
	    .copy_dest = t->copy ? t->copy_dest : NULL, .copy_mode = t->copy_mode,
	    .copy_owner = t->copy ? t->copy_owner : NULL};
	struct wire_msg *m = NULL;
	int rc = sendfile_build(&req, &m, err, errlen);
	if (rc == 0) {
		log_debug("CRxCtrlServer::SendReply - Entered.");
		rc = link_send(s->link, m, err, errlen);
	}
	wire_msg_free(m);
	if (rc == -1) {
		/* nothing was sent: spend the key so that it cannot fetch the file */
		struct transfer_key_grant g;
		char ignored[128];
		if (transfer_keys_take(s->env->keys, key, s->ev.event_id, t->seq, &g, ignored,
			sizeof(ignored)) == 0)
			transfer_key_grant_clear(&g);
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* Spool and push the current task, rendered, on the connection. */
static void
session_send_rendered(struct session *s)
{
	char err[512], why[600], path[256], sum[72];
	if (s->link == NULL) {
		session_requeue(s, 0); /* gone while its tokens were looked up: nothing was sent */
		return;
	}
	if (!pushq_enter(s->env->pushq, &s->pq, s->env->conf->transfer_max_pending, s)) {
		/* every slot holds a file not fetched yet: session_dequeued sends it in turn */
		s->state = S_QUEUED;
		evtimer_del(s->timer);
		metrics_add(MC_PUSHES_WAITED, 1);
		return;
	}
	if (session_spool(s, path, sizeof(path), err, sizeof(err)) == -1) {
		log_event(LL_WARNING, s->ev.event_id, "spool: %s", err);
		session_status(s, STATUS_TRANSFER_FAILED, err);
		session_end(s, "failed", STATUS_TRANSFER_FAILED);
		return;
	}
	memcpy(sum, "sha256:", 7);
	if (util_sha256_hex(s->rendered, s->rendered_len, sum + 7) == -1) {
		session_status(s, STATUS_TRANSFER_FAILED, "sha256 of the script failed");
		session_end(s, "failed", STATUS_TRANSFER_FAILED);
		return;
	}
	if (session_send_task(s, path, sum, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "message could not be built: %s", err);
		session_task_failed(s, STATUS_MESSAGE_NOT_BUILT, why);
		return;
	}
	log_debug("Socket: Sent data to computer %s (%s).", s->cid, link_peer(s->link));
	/* until the agent says the file arrived, only the idle timeout applies */
	s->state = S_WAIT;
	session_timer_ms(s, s->env->conf->timeout_idle_ms);
}

/* A push waiting for a slot got one (from the loop). */
void
session_dequeued(void *owner)
{
	struct session *s = owner;
	if (s->state != S_QUEUED) {
		pushq_leave(s->env->pushq, &s->pq);
		return;
	}
	session_send_rendered(s);
}

/* The custom tokens are looked up (or one failed): render with their values. */
static void
session_tokens_in(void *arg)
{
	struct session *s = arg;
	char err[512];
	struct render_report rep = {0};
	if (s->state != S_RENDER)
		return;
	int rc = session_render(s, session_lookups_replay, &rep, err, sizeof(err));
	session_lookups_clear(&s->lk);
	if (rc == -1) {
		session_task_failed(s, STATUS_RENDER_FAILED, err);
		return;
	}
	session_log_missing(s, &rep);
	session_send_rendered(s);
}

/*
 * Render and push the current task: at once, or, when its script has custom tokens,
 * once they are looked up (RENDER; the loop goes on meanwhile).
 */
static void
session_push(struct session *s)
{
	char err[512];
	struct render_report rep = {0};
	session_lookups_clear(&s->lk);
	s->lk.computer_id = s->cid;
	s->lk.event_id = s->eid;
	if (session_render(s, session_lookups_collect, &rep, err, sizeof(err)) == -1) {
		session_lookups_clear(&s->lk);
		session_task_failed(s, STATUS_RENDER_FAILED, err);
		return;
	}
	if (s->lk.n == 0) {
		session_log_missing(s, &rep);
		session_send_rendered(s);
		return;
	}
	render_report_free(&rep);
	s->state = S_RENDER;
	evtimer_del(s->timer);
	session_lookups_start(s->env->sdb, &s->lk, s->env->conf->tokens_sql_timeout_ms,
	    session_tokens_in, s);
}

static void
session_next_task(struct session *s)
{
	free(s->rendered);
	s->rendered = NULL;
	pushq_leave(s->env->pushq, &s->pq); /* the last task is over: its slot too */
	/* NEXT_TASK_SEQ advances as the next task starts */
	if (record_advance(s->env->rec, s->ev.event_id, s->ev.schedule_id, s->ev.attempt,
		cur_task(s)->seq) == -1)
		fatalx("out of memory");
	s->job.next_task_seq = cur_task(s)->seq;
	/* pushed by session_advanced once that is written: should the lease have moved on,
	 * the session is abandoned instead, and the next task never reaches the agent */
	s->state = S_ADVANCE;
	evtimer_del(s->timer);
}

void
session_advanced(struct session *s, int next_task_seq)
{
	if (s->state != S_ADVANCE || s->cur >= s->job.ntasks || cur_task(s)->seq != next_task_seq)
		return;
	if (s->link == NULL) {
		session_requeue(s, 0); /* between tasks: nothing was in flight */
		return;
	}
	if (s->cancelled) {
		session_status(s, STATUS_CANCELLED, "cancelled");
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_push(s);
}

/* The result of the current task: record it and decide what comes next. */
static void
session_result(struct session *s, const struct wire_msg *m)
{
	const struct job_task *t = cur_task(s);
	const char *code_s = wire_get(m, "Status-Code");
	int code = code_s != NULL ? atoi(code_s) : STATUS_PROTOCOL;
	const char *result = wire_get(m, "Result");
	struct outcome_rules rules = {.success_codes = t->success, .nsuccess = t->nsuccess,
	    .on_code = t->on_code, .non_code = t->non_code};
	const struct conf_return_codes *g = &s->env->conf->return_codes;
	struct outcome_map global[64];
	size_t ng = 0;
	for (size_t i = 0; i < g->n && ng < 64; i++, ng++) {
		global[ng].code = (int)g->v[i].code;
		global[ng].action = g->v[i].success ? OUTCOME_SUCCESS : OUTCOME_FAILURE;
	}
	rules.global = global;
	rules.nglobal = ng;
	enum outcome o = outcome_of(code, &rules);
	const char *verdict = o == OUTCOME_SUCCESS ? "Success" : "Failed";
	session_status_row(s, code, result, verdict, wire_get(m, "Status-Module"),
	    wire_get(m, "Error"), m);
	evtimer_del(s->timer);
	log_task(LL_INFO, s->ev.event_id, t->seq, "ended with code %d (%s; agent said %s)", code,
	    verdict, result != NULL ? result : "nothing");
	if (s->cancelled && (code == STATUS_CANCELLED || s->cur + 1 < s->job.ntasks)) {
		/* the operator's cancel wins over whatever tasks are left */
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_after_task(s, o, code);
}

int
session_matches(const struct session *s, const struct link *link, int64_t event_id, int seq,
    long long attempt)
{
	return s->link == link && s->state == S_WAIT && s->ev.event_id == event_id &&
	    s->cur < s->job.ntasks && s->job.tasks[s->cur].seq == seq &&
	    (attempt == -1 || attempt == session_attempt(s));
}

void
session_reply(struct session *s, const struct wire_msg *m)
{
	const char *reply = wire_get(m, "Reply");
	const char *code_s = wire_get(m, "Status-Code");
	/* the agent answers about the task: its fetch is over, the slot goes to the next push */
	pushq_leave(s->env->pushq, &s->pq);
	if (strcmp(reply, "StatusUpdate") == 0 && code_s != NULL) {
		int code = atoi(code_s);
		session_status_row(s, code, NULL, NULL, "Agent", NULL, m);
		if (code == STATUS_STARTED) {
			/* the script runs: allow its timeout (or the agent's default hour) */
			long long to = cur_task(s)->timeout_ms;
			session_timer_ms(s, (to > 0 ? to : DEFAULT_TASK_TIMEOUT_MS) + STARTED_SLACK_MS +
			    s->env->conf->timeout_idle_ms);
		} else {
			session_timer_ms(s, s->env->conf->timeout_idle_ms);
		}
		return;
	}
	if (strcmp(reply, "SendFile") == 0) {
		session_result(s, m);
		return;
	}
	if (strcmp(reply, "Cancel") == 0) {
		const char *r = wire_get(m, "Result"), *e = wire_get(m, "Error");
		log_event(LL_DETAIL, s->ev.event_id, "cancel answered: %s%s%s", r != NULL ? r : "?",
		    e != NULL ? ": " : "", e != NULL ? e : "");
		return;
	}
	const char *why = wire_get(m, "Error");
	char text[600];
	snprintf(text, sizeof(text), "agent answered %s: %s", reply, why != NULL ? why : "");
	session_status_row(s, STATUS_PROTOCOL, "Failed", "Failed", "Agent", why, NULL);
	log_event(LL_WARNING, s->ev.event_id, "computer %s: %s", s->cid, text);
	if (s->cancelled) {
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_after_task(s, OUTCOME_FAILURE, STATUS_PROTOCOL);
}

void
session_link_gone(struct session *s, int code, const char *why)
{
	struct link *was = s->link;
	s->link = NULL;
	if (s->state == S_QUEUED) {
		session_requeue(s, 0); /* waiting for a push slot: nothing was sent */
		return;
	}
	if (was == NULL || s->state == S_END || s->state == S_INIT || s->state == S_ADVANCE ||
	    s->state == S_RENDER) {
		/* INIT, RENDER and ADVANCE see the missing link and hand the event back */
		return;
	}
	evtimer_del(s->timer);
	if (code != 0) {
		/* the agent broke the protocol: this task fails, the event goes on as it says */
		session_task_failed(s, code, why);
		return;
	}
	if (s->cancelled) {
		session_status(s, STATUS_CANCELLED, "cancelled; the agent's connection was lost");
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	/* max_attempts counts the attempts lost this way, not those a task's retries began */
	if (s->ev.lost + 1 >= s->env->conf->max_attempts) {
		char text[400];
		snprintf(text, sizeof(text), "connection to the agent lost with task %d in flight, in "
		    "attempt %d of %d: %s", cur_task(s)->seq, s->ev.lost + 1,
		    s->env->conf->max_attempts, why);
		session_status(s, STATUS_AGENT_DISCONNECTED, text);
		session_end(s, "failed", STATUS_AGENT_DISCONNECTED);
		return;
	}
	session_requeue(s, 1);
}

static void
session_send_cancel(struct session *s)
{
	char err[256] = "";
	struct wire_msg *m = wire_msg_new();
	if (m == NULL || wire_add(m, "Request", "Cancel", err, sizeof(err)) == -1 ||
	    wire_add(m, "Event-ID", s->eid, err, sizeof(err)) == -1 ||
	    wire_addf(m, err, sizeof(err), "Task-Sequence-ID", "%d", cur_task(s)->seq) == -1 ||
	    (session_retry(s) > 0 && wire_addf(m, err, sizeof(err), "Retry", "%d", session_retry(s)) == -1) ||
	    link_send(s->link, m, err, sizeof(err)) == -1)
		log_event(LL_WARNING, s->ev.event_id, "cancel could not be sent to computer %s: %s", s->cid,
		    err[0] != '\0' ? err : "out of memory");
	wire_msg_free(m);
}

void
session_cancel(struct session *s)
{
	if (s->cancelled || s->state == S_END)
		return;
	s->cancelled = 1;
	log_event(LL_INFO, s->ev.event_id, "cancel requested");
	if (s->state == S_INIT)
		return; /* the first step sees the flag once it has loaded the tasks */
	if (s->state != S_WAIT) {
		/* nothing runs on the agent: end now */
		evtimer_del(s->timer);
		session_status(s, STATUS_CANCELLED, "cancelled");
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_send_cancel(s); /* the task's final reply (-8) follows */
}

/* The event's rows and job are loaded (or not ours, or the database refused). */
static void
session_loaded(void *arg, int rc, struct session_job *job, const char *err)
{
	struct session *s = arg;
	struct session_env *env = s->env;
	s->load = NULL;
	if (rc == 0) {
		s->job = *job;
		memset(job, 0, sizeof(*job));
	}
	s->mt.due_ms = s->job.due_ms;
	if (rc != 0) {
		log_event(LL_WARNING, s->ev.event_id, "%s", err);
		if (rc == 1) {
			/* not ours any more: nothing to record, just report it ended */
			s->state = S_END;
			env->on_end(s, 0, env->arg);
			return;
		}
		session_status(s, STATUS_AGENT_ERROR, err);
		session_end(s, "failed", STATUS_AGENT_ERROR);
		return;
	}
	/* resume where the event stands: NEXT_TASK_SEQ is the task in progress */
	s->cur = 0;
	while (s->cur < s->job.ntasks && s->job.tasks[s->cur].seq < s->job.next_task_seq)
		s->cur++;
	if (s->cur >= s->job.ntasks) {
		session_end(s, "done", 0);
		return;
	}
	if (s->cancelled) {
		session_status(s, STATUS_CANCELLED, "cancelled");
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	if (s->link == NULL || !link_ready(s->link)) {
		session_requeue(s, 0);
		return;
	}
	log_event(LL_DETAIL, s->ev.event_id, "connected to computer %s (%s)", s->cid, link_peer(s->link));
	log_debug("CRxCtrlServer::CopyFileToComputer (CSession) - Entered.");
	session_push(s);
}

/* The session's one timer: the current task's reply deadline. */
static void
session_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char why[200];
	(void)fd;
	(void)what;
	if (s->state != S_WAIT)
		return;
	pushq_leave(s->env->pushq, &s->pq);
	snprintf(why, sizeof(why), "agent silent about task %d past the idle timeout",
	    cur_task(s)->seq);
	session_task_failed(s, STATUS_IDLE_TIMEOUT, why);
}

struct session *
session_start(struct session_env *env, const struct ipc_event *ev, struct link *link)
{
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->env = env;
	s->ev = *ev;
	s->link = link;
	s->state = S_INIT;
	snprintf(s->eid, sizeof(s->eid), "%" PRId64, ev->event_id);
	snprintf(s->sid, sizeof(s->sid), "%" PRId64, ev->schedule_id);
	snprintf(s->cid, sizeof(s->cid), "%" PRId64, ev->computer_id);
	s->timer = evtimer_new(env->base, session_timer_fire, s);
	if (s->timer == NULL) {
		free(s);
		return NULL;
	}
	/* its first step is the load's callback, from the loop: on_end never fires in here */
	s->load = session_db_load(env->sdb, ev->event_id, ev->attempt, session_loaded, s);
	if (s->load == NULL) {
		event_free(s->timer);
		free(s);
		return NULL;
	}
	metrics_sessions(1);
	return s;
}
