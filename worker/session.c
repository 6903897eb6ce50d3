/*
 * session: the worker's side of the control protocol (docs/protocol.md) for
 * one event. States: LOAD -> CONNECT -> WAIT (replies of one task) -> ADVANCE
 * (the result and NEXT_TASK_SEQ being written) -> next task, or END; any
 * connection failure goes to BACKOFF and back to CONNECT, pushing the same
 * (event, seq) again: the agent's journal makes that safe. A next task is
 * pushed only once the database took the previous result under our lease.
 */
#include "worker/session.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/conf.h"
#include "common/db.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/tls.h"
#include "common/wire.h"
#include "transfer/keys.h"
#include "worker/outcome.h"
#include "worker/record.h"
#include "worker/sendfile.h"

#define MAX_REPLY_BODY (64 * 1024 * 1024)

enum state { S_INIT, S_CONNECT, S_WAIT, S_ADVANCE, S_BACKOFF, S_END };

struct task {
	int seq;
	char *script;
	char *interpreter;
	char *run_as;
	long long timeout_ms;
	int *success;
	size_t nsuccess;
	struct outcome_map *on_code;
	size_t non_code;
	int on_failure_continue;
	char *os_required;
	char *boot_env;
};

struct computer {
	char *name, *host, *os, *ip, *mac, *serial, *asset_tag, *domain, *domain_ou, *dept,
	    *contact, *email;
	int port;
};

struct session {
	struct session_env *env;
	struct ipc_event ev;
	char sid[24], eid[24], cid[24];
	enum state state;
	char *job_name, *job_user;
	struct computer comp;
	struct task *tasks;
	int ntasks;
	int cur;             /* index into tasks */
	int failed;          /* some task failed: the event ends failed */
	int first_fail;      /* the code of the first task that failed: the event's code when it fails */
	int has_fail;
	int got_started;     /* 2501 seen for the current task */
	int retries;
	int fail_code;       /* code to end with when retries run out */
	int cancelled;
	char peer[NI_MAXHOST]; /* the agent's address on the control connection: %AGENTIPADDR% */
	char *rendered;      /* the current task's script, rendered */
	long long token_deadline; /* monotonic ms: the current render's custom tokens end by then */
	size_t rendered_len;
	struct bufferevent *bev;
	struct wire_parser *parser;
	struct event *timer;
	struct event *deadline; /* whole connect + handshake, then whole reply message */
	int msg_open;           /* part of a reply has arrived, not all of it */
	struct bufferevent *cancel_bev;
	struct metrics_task mt; /* due time, task start: the scheduler's metrics */
};

static void session_connect(struct session *s);
static void session_next_task(struct session *s);
static void session_end(struct session *s, const char *state, int code);

int64_t
session_event_id(const struct session *s)
{
	return s->ev.event_id;
}

int
session_attempt(const struct session *s)
{
	return s->ev.attempt;
}

static char *
xstrdup(const char *v)
{
	char *p = strdup(v != NULL ? v : "");
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

/* NULL for SQL NULL, else a copy. */
static char *
field(const struct db_result *r, int row, int col)
{
	return db_isnull(r, row, col) ? NULL : xstrdup(db_value(r, row, col));
}

static void
task_clear(struct task *t)
{
	free(t->script);
	free(t->interpreter);
	free(t->run_as);
	free(t->success);
	free(t->on_code);
	free(t->os_required);
	free(t->boot_env);
}

static void
computer_clear(struct computer *c)
{
	char **f[] = {&c->name, &c->host, &c->os, &c->ip, &c->mac, &c->serial, &c->asset_tag,
	    &c->domain, &c->domain_ou, &c->dept, &c->contact, &c->email};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(*f[i]);
}

static void
session_close_conn(struct session *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	wire_parser_free(s->parser);
	s->parser = NULL;
	s->msg_open = 0;
	if (s->deadline != NULL)
		evtimer_del(s->deadline);
}

static void
session_deadline_arm(struct session *s, long long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(s->deadline, &tv);
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	metrics_sessions(-1);
	session_close_conn(s);
	if (s->cancel_bev != NULL)
		bufferevent_free(s->cancel_bev);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->deadline != NULL)
		event_free(s->deadline);
	for (int i = 0; i < s->ntasks; i++)
		task_clear(&s->tasks[i]);
	free(s->tasks);
	computer_clear(&s->comp);
	free(s->job_name);
	free(s->job_user);
	free(s->rendered);
	free(s);
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
    const char *module, const char *message, const char *output, size_t output_len,
    long long output_size, int replayed)
{
	struct record_row row = {
	    .event_id = s->ev.event_id, .schedule_id = s->ev.schedule_id,
	    .computer_id = s->ev.computer_id,
	    .task_seq = s->cur < s->ntasks ? s->tasks[s->cur].seq : s->ev.next_task_seq,
	    .attempt = s->ev.attempt, .status_code = code, .result = result, .outcome = outcome,
	    .module = module, .message = message, .output = output, .output_len = output_len,
	    .output_size = output_size, .replayed = replayed};
	if (record_status(s->env->rec, &row) == -1)
		fatalx("out of memory");
	metrics_task_status(&s->mt, code, outcome);
}

/* A progress row (result NULL) or one the scheduler wrote itself: its result is its verdict. */
static void
session_status(struct session *s, int code, const char *result, const char *module,
    const char *message, const char *output, size_t output_len)
{
	session_status_row(s, code, result, result, module, message, output, output_len, -1, 0);
}

/* The agent answered: computer.last_seen, written with the next flush. */
static void
session_seen(struct session *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (record_seen(s->env->rec, s->ev.computer_id,
		(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) == -1)
		fatalx("out of memory");
}

/* Ours only in the attempt we were handed; NEXT_TASK_SEQ is read here, not taken from
 * the hand-over, which still says what the claim said after a worker died. */
static const char SQL_LOAD_EVENT[] =
    "SELECT s.job_id, s.job_version, j.name, coalesce(s.created_by, ''), c.name, c.host,"
    " coalesce(c.port, $3::int), c.os, c.ip, c.mac, c.serial, c.asset_tag, c.domain,"
    " c.domain_ou, c.dept, c.contact, c.email, e.next_task_seq,"
    " (extract(epoch FROM e.due_at) * 1000)::bigint"
    " FROM pgfleet.event e JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id"
    " JOIN pgfleet.job j ON j.job_id = s.job_id"
    " JOIN pgfleet.computer c ON c.computer_id = e.computer_id"
    " WHERE e.event_id = $1::bigint AND e.lease_owner = $2 AND e.state = 'running'"
    " AND e.attempt = $4::int";

static const char SQL_LOAD_TASKS[] =
    "SELECT seq, script, interpreter, coalesce(run_as, ''), coalesce(timeout_ms, 0),"
    " array_to_string(success_codes, ','), on_failure, coalesce(os_required, ''),"
    " coalesce(boot_env, '')"
    " FROM pgfleet.task WHERE job_id = $1::bigint AND version = $2::int ORDER BY seq";

static const char SQL_LOAD_ON_CODE[] =
    "SELECT t.seq, m.key, m.value FROM pgfleet.task t, jsonb_each_text(t.on_code) m"
    " WHERE t.job_id = $1::bigint AND t.version = $2::int ORDER BY t.seq";

static int
parse_codes(const char *list, int **out, size_t *n)
{
	*n = 0;
	*out = NULL;
	if (list[0] == '\0')
		return 0;
	size_t cap = 1;
	for (const char *p = list; *p; p++)
		cap += *p == ',';
	*out = calloc(cap, sizeof(int));
	if (*out == NULL)
		return -1;
	for (const char *p = list; *p;) {
		char *end;
		(*out)[(*n)++] = (int)strtol(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p != '\0')
			break;
	}
	return 0;
}

static int
session_load(struct session *s, char *err, size_t errlen)
{
	struct session_env *env = s->env;
	char port[16], attempt[16];
	snprintf(port, sizeof(port), "%d", env->conf->agent_port);
	snprintf(attempt, sizeof(attempt), "%d", s->ev.attempt);
	const char *p1[] = {s->eid, env->owner, port, attempt};
	struct db_result *r;
	if (db_exec(env->db, &r, SQL_LOAD_EVENT, 4, p1, err, errlen) == -1)
		return -1;
	if (db_ntuples(r) != 1) {
		db_result_free(r);
		snprintf(err, errlen, "attempt %d not running under our lease any more", s->ev.attempt);
		return 1;
	}
	char job_id[24], version[16];
	snprintf(job_id, sizeof(job_id), "%s", db_value(r, 0, 0));
	snprintf(version, sizeof(version), "%s", db_value(r, 0, 1));
	s->mt.due_ms = strtoll(db_value(r, 0, 18), NULL, 10);
	s->job_name = field(r, 0, 2);
	s->job_user = field(r, 0, 3);
	struct computer *c = &s->comp;
	c->name = field(r, 0, 4);
	c->host = field(r, 0, 5);
	c->port = atoi(db_value(r, 0, 6));
	c->os = field(r, 0, 7);
	c->ip = field(r, 0, 8);
	c->mac = field(r, 0, 9);
	c->serial = field(r, 0, 10);
	c->asset_tag = field(r, 0, 11);
	c->domain = field(r, 0, 12);
	c->domain_ou = field(r, 0, 13);
	c->dept = field(r, 0, 14);
	c->contact = field(r, 0, 15);
	c->email = field(r, 0, 16);
	s->ev.next_task_seq = atoi(db_value(r, 0, 17));
	db_result_free(r);

	const char *p2[] = {job_id, version};
	if (db_exec(env->db, &r, SQL_LOAD_TASKS, 2, p2, err, errlen) == -1)
		return -1;
	s->ntasks = db_ntuples(r);
	s->tasks = calloc((size_t)(s->ntasks > 0 ? s->ntasks : 1), sizeof(*s->tasks));
	if (s->tasks == NULL)
		fatalx("out of memory");
	for (int i = 0; i < s->ntasks; i++) {
		struct task *t = &s->tasks[i];
		t->seq = atoi(db_value(r, i, 0));
		t->script = field(r, i, 1);
		t->interpreter = field(r, i, 2);
		t->run_as = field(r, i, 3);
		t->timeout_ms = strtoll(db_value(r, i, 4), NULL, 10);
		if (parse_codes(db_value(r, i, 5), &t->success, &t->nsuccess) == -1)
			fatalx("out of memory");
		t->on_failure_continue = strcmp(db_value(r, i, 6), "continue") == 0;
		t->os_required = field(r, i, 7);
		t->boot_env = field(r, i, 8);
	}
	db_result_free(r);

	if (db_exec(env->db, &r, SQL_LOAD_ON_CODE, 2, p2, err, errlen) == -1)
		return -1;
	for (int i = 0; i < db_ntuples(r); i++) {
		int seq = atoi(db_value(r, i, 0));
		for (int k = 0; k < s->ntasks; k++) {
			struct task *t = &s->tasks[k];
			enum outcome o;
			if (t->seq != seq || outcome_parse(db_value(r, i, 2), &o) == -1)
				continue;
			struct outcome_map *m = realloc(t->on_code, (t->non_code + 1) * sizeof(*m));
			if (m == NULL)
				fatalx("out of memory");
			t->on_code = m;
			t->on_code[t->non_code].code = atoi(db_value(r, i, 1));
			t->on_code[t->non_code].action = o;
			t->non_code++;
		}
	}
	db_result_free(r);
	return 0;
}

/* Custom tokens: a read-only transaction with a statement timeout. Table and
 * column names (allow-listed, [a-z_][a-z0-9_]*) go as parameters to
 * pgfleet.token_value(), which quotes them with %I: only constant SQL is sent.
 * A %#*"SQL"% token's query goes as a parameter to pgfleet.token_sql()
 * (migrations/0010_token_role.sql), run as the role pgfleet_token. */
static const char SQL_TOKEN_TABLE[] = "SELECT pgfleet.token_value($1, $2, $3::bigint)";
static const char SQL_TOKEN_QUERY[] = "SELECT pgfleet.token_sql($1, $2::bigint)";

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The lookups run on the worker's loop (synchronous libpq): the custom
 * tokens of one task share tokens.sql_timeout in all, so a script of slow
 * tokens holds the loop no longer than that.
 */
static int
session_lookup(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	struct session *s = arg;
	struct db *db = s->env->db;
	char timeout[24];
	const char *stmt = SQL_TOKEN_TABLE;
	int nparams = 3;
	const char *tparams[] = {table, column, kind == RENDER_FIRST_ROW ? NULL : s->cid};
	const char *sparams[] = {sql, s->cid};
	const char *const *params = tparams;
	if (kind == RENDER_SQL) {
		stmt = SQL_TOKEN_QUERY;
		nparams = 2;
		params = sparams;
	}
	long long left = s->token_deadline - mono_ms();
	if (left <= 0) {
		snprintf(err, errlen, "custom tokens of this task took longer than tokens.sql_timeout "
		    "(%lld ms) in all", s->env->conf->tokens_sql_timeout_ms);
		return -1;
	}
	snprintf(timeout, sizeof(timeout), "%lld", left);
	const char *tp[] = {timeout};
	struct db_result *r = NULL;
	*value = NULL;
	if (db_exec(db, NULL, "BEGIN READ ONLY", 0, NULL, err, errlen) == -1)
		return -1;
	int rc = db_exec(db, NULL, "SELECT set_config('search_path', 'pgfleet, public', true),"
			       " set_config('statement_timeout', $1, true)", 1, tp, err, errlen);
	if (rc == 0 && kind == RENDER_SQL &&
	    db_exec(db, NULL, "SET LOCAL ROLE pgfleet_token", 0, NULL, err, errlen) == -1) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; the scheduler's database user must be a member of "
		    "pgfleet_token");
		rc = -1;
	}
	if (rc == 0)
		rc = db_exec(db, &r, stmt, nparams, params, err, errlen);
	if (rc == 0 && db_ntuples(r) > 0 && db_nfields(r) > 0 && !db_isnull(r, 0, 0))
		*value = xstrdup(db_value(r, 0, 0));
	db_result_free(r);
	char why[256];
	if (db_rollback(db, why, sizeof(why)) == -1)
		log_event(LL_WARNING, s->ev.event_id, "token lookup: rollback: %s", why);
	/* a session-level advisory lock outlives the rollback: none may stay */
	if (kind == RENDER_SQL &&
	    db_exec(db, NULL, "SELECT pg_advisory_unlock_all()", 0, NULL, why, sizeof(why)) == -1)
		log_event(LL_WARNING, s->ev.event_id, "token lookup: advisory unlock: %s", why);
	return rc;
}

static int
session_render(struct session *s, char *err, size_t errlen)
{
	struct task *t = &s->tasks[s->cur];
	char date[11], sched[24], seq[16];
	render_date(time(NULL), date);
	snprintf(sched, sizeof(sched), "%" PRId64, s->ev.schedule_id);
	snprintf(seq, sizeof(seq), "%d", t->seq);
	struct computer *c = &s->comp;
	struct render_vars v = {
	    .compname = c->name, .name = c->name, .id = s->cid,
	    .agentipaddr = s->peer[0] != '\0' ? s->peer : c->ip, .ipname = c->host, .mac = c->mac,
	    .serialnum = c->serial, .assettag = c->asset_tag, .domain = c->domain,
	    .domainou = c->domain_ou, .dept = c->dept, .contact = c->contact, .email = c->email,
	    .os = c->os, .date = date, .dsserver = s->env->conf->name, .jobname = s->job_name,
	    .callingjobname = s->job_name, .jobuser = s->job_user, .scheduleid = sched,
	    .eventid = s->eid, .taskseq = seq, .interpreter = t->interpreter};
	struct render_report rep = {0};
	s->token_deadline = mono_ms() + s->env->conf->tokens_sql_timeout_ms;
	free(s->rendered);
	s->rendered = NULL;
	log_debug("CRxDatabase::ReplaceTokens - Entered.");
	int rc = render_script(t->script, strlen(t->script), &v, &s->env->policy, session_lookup, s,
	    16 * 1024 * 1024, &s->rendered, &s->rendered_len, &rep, err, errlen);
	log_debug("CRxDatabase::ReplaceTokens - Exited.");
	for (size_t i = 0; i < rep.nmissing; i++)
		log_task(LL_DETAIL, s->ev.event_id, t->seq, "token %s has no value, replaced by nothing",
		    rep.missing[i]);
	render_report_free(&rep);
	return rc;
}

/* Write spool/<computer_id>.sh atomically, as the seed writes Temp\<id>.bat. */
static int
session_spool(struct session *s, char *path, size_t pathlen, char *err, size_t errlen)
{
	char tmp[300];
	if ((size_t)snprintf(path, pathlen, "%s/%s.sh", s->env->conf->spool, s->cid) >= pathlen ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "spool path %s is too long", s->env->conf->spool);
		return -1;
	}
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

static void
sha256_hex(const char *data, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Send a built message; -1 with err when it cannot be serialized. */
static int
session_send(struct session *s, struct wire_msg *m, char *err, size_t errlen)
{
	size_t len;
	char *buf = wire_build(m, &len);
	if (buf == NULL) {
		snprintf(err, errlen, "header over %d bytes", WIRE_MAX_HEADER);
		return -1;
	}
	char *dump = log_enabled(LL_TRACE) ? wire_dump(m) : NULL;
	bufferevent_write(s->bev, buf, len);
	log_trace("Socket: Sent data to computer %s (%s), %zu chars sent.\n%s", s->cid,
	    s->comp.host, len, dump != NULL ? dump : "");
	free(dump);
	wire_buf_free(buf, len);
	return 0;
}

/* The current task failed before anything reached the agent: record code and go on as on_failure says. */
static void
session_task_failed(struct session *s, int code, const char *why)
{
	struct task *t = &s->tasks[s->cur];
	log_task(LL_WARNING, s->ev.event_id, t->seq, "%s", why);
	session_status(s, code, "Failed", "Scheduler", why, NULL, 0);
	session_note_failure(s, code);
	if (outcome_next(OUTCOME_FAILURE, t->on_failure_continue, &s->failed) && s->cur + 1 < s->ntasks) {
		s->cur++;
		session_next_task(s);
	} else {
		session_end(s, "failed", s->first_fail);
	}
}

/* Render, spool and push the current task on the open connection. */
static void
session_push(struct session *s)
{
	struct task *t = &s->tasks[s->cur];
	char err[512], why[600], path[256], sum[72], key[TRANSFER_KEY_HEX + 1];
	s->got_started = 0;
	if (s->rendered == NULL && session_render(s, err, sizeof(err)) == -1) {
		session_task_failed(s, STATUS_RENDER_FAILED, err);
		return;
	}
	if (session_spool(s, path, sizeof(path), err, sizeof(err)) == -1) {
		log_event(LL_WARNING, s->ev.event_id, "spool: %s", err);
		session_status(s, STATUS_TRANSFER_FAILED, "Failed", "Scheduler", err, NULL, 0);
		session_end(s, "failed", STATUS_TRANSFER_FAILED);
		return;
	}
	sha256_hex(s->rendered, s->rendered_len, sum);
	log_debug("CFileTxSession::SetTransferInfo () - Entered.");
	if (transfer_keys_add(s->env->keys, s->ev.event_id, t->seq, path, s->rendered_len, sum, key,
		err, sizeof(err)) == -1)
		fatalx("event %s: transfer key: %s", s->eid, err);
	log_debug("CFileTxSession::OpenFile(): Got file size %zu, high 32 bits = 0", s->rendered_len);
	log_debug("CFileTxSession::SetTransferInfo () - Exited.");
	struct sendfile_req req = {
	    .now = (long long)time(NULL), .size = s->rendered_len, .port = s->env->transfer_port,
	    .transfer_host = s->env->conf->transfer_advertise, .key = key, .checksum = sum,
	    .interpreter = t->interpreter, .os_required = t->os_required, .boot_env = t->boot_env,
	    .run_as = t->run_as, .timeout_ms = t->timeout_ms, .schedule_id = s->ev.schedule_id,
	    .event_id = s->ev.event_id, .seq = t->seq, .attempt = s->ev.attempt,
	    .computer_id = s->ev.computer_id};
	struct wire_msg *m = NULL;
	int rc = sendfile_build(&req, &m, err, sizeof(err));
	if (rc == 0) {
		log_debug("CRxCtrlServer::SendReply - Entered.");
		rc = session_send(s, m, err, sizeof(err));
	}
	wire_msg_free(m);
	if (rc == -1) {
		/* nothing was sent: spend the key so that it cannot fetch the file */
		struct transfer_key_grant g;
		char ignored[128];
		if (transfer_keys_take(s->env->keys, key, s->ev.event_id, t->seq, &g, ignored,
			sizeof(ignored)) == 0)
			transfer_key_grant_clear(&g);
		OPENSSL_cleanse(key, sizeof(key));
		snprintf(why, sizeof(why), "message could not be built: %s", err);
		session_task_failed(s, STATUS_MESSAGE_NOT_BUILT, why);
		return;
	}
	OPENSSL_cleanse(key, sizeof(key));
	/* until the agent says the file arrived, only the idle timeout applies */
	struct timeval idle = {s->env->conf->timeout_idle_ms / 1000,
	    (s->env->conf->timeout_idle_ms % 1000) * 1000};
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	s->state = S_WAIT;
}

static void
session_next_task(struct session *s)
{
	free(s->rendered);
	s->rendered = NULL;
	/* NEXT_TASK_SEQ advances as the next task starts */
	if (record_advance(s->env->rec, s->ev.event_id, s->ev.schedule_id, s->ev.attempt,
		s->tasks[s->cur].seq) == -1)
		fatalx("out of memory");
	s->ev.next_task_seq = s->tasks[s->cur].seq;
	/* pushed by session_advanced once that is written: should the lease have moved on,
	 * the session is abandoned instead, and the next task never reaches the agent */
	s->state = S_ADVANCE;
	if (s->bev != NULL) {
		struct timeval idle = {s->env->conf->timeout_idle_ms / 1000,
		    (s->env->conf->timeout_idle_ms % 1000) * 1000};
		bufferevent_set_timeouts(s->bev, &idle, &idle);
	}
}

void
session_advanced(struct session *s, int next_task_seq)
{
	if (s->state != S_ADVANCE || s->cur >= s->ntasks || s->tasks[s->cur].seq != next_task_seq)
		return;
	if (s->bev != NULL) {
		s->state = S_WAIT;
		session_push(s);
	} else {
		session_connect(s);
	}
}

static void
session_end(struct session *s, const char *state, int code)
{
	if (s->state == S_END)
		return;
	s->state = S_END;
	session_close_conn(s);
	if (s->timer != NULL)
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
	session_close_conn(s);
	if (s->cancel_bev != NULL) {
		bufferevent_free(s->cancel_bev);
		s->cancel_bev = NULL;
	}
	if (s->timer != NULL)
		evtimer_del(s->timer);
	log_event(LL_WARNING, s->ev.event_id, "attempt %d no longer holds the lease; abandoned %s task %d",
	    s->ev.attempt, s->state == S_ADVANCE ? "before" : "at",
	    s->cur < s->ntasks ? s->tasks[s->cur].seq : s->ev.next_task_seq);
	s->state = S_END;
	s->env->on_end(s, 0, s->env->arg);
}

static void session_begin(struct session *s);

/* The session's one timer: its first step, then each retry after a backoff. */
static void
session_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->state == S_INIT)
		session_begin(s);
	else
		session_connect(s);
}

/* The connection failed: try again later, or give up with fail_code. */
static void
session_retry(struct session *s, int code, const char *why)
{
	const struct conf_scheduler *c = s->env->conf;
	session_close_conn(s);
	s->fail_code = code;
	if (s->cancelled) {
		session_status(s, STATUS_CANCELLED, "Failed", "Scheduler", "cancelled", NULL, 0);
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	if (s->retries >= c->retry_max) {
		log_event(LL_WARNING, s->ev.event_id, "computer %s (%s:%d): %s; giving up after %d retries",
		    s->cid, s->comp.host, s->comp.port, why, s->retries);
		session_status(s, code, "Failed", "Scheduler", why, NULL, 0);
		session_end(s, "failed", code);
		return;
	}
	/* exponential backoff with full jitter in [delay/2, delay] */
	long long delay = c->retry_backoff_ms;
	for (int i = 0; i < s->retries && delay < c->retry_max_backoff_ms; i++)
		delay *= 2;
	if (delay > c->retry_max_backoff_ms)
		delay = c->retry_max_backoff_ms;
	unsigned r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	delay = delay / 2 + (delay > 1 ? (long long)(r % (unsigned)(delay / 2 + 1)) : 0);
	s->retries++;
	log_event(LL_DETAIL, s->ev.event_id, "computer %s (%s:%d): %s; retry %d in %lld ms", s->cid,
	    s->comp.host, s->comp.port, why, s->retries, delay);
	s->state = S_BACKOFF;
	struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
	evtimer_add(s->timer, &tv);
}

/* Replayed=1: the agent answered from its journal; nothing ran for this push. */
static int
session_replayed(const struct wire_msg *m)
{
	const char *v = wire_get(m, "Replayed");
	return v != NULL && strcmp(v, "1") == 0;
}

/* The result of the current task: record it and decide what comes next. */
static void
session_result(struct session *s, struct wire_msg *m)
{
	struct task *t = &s->tasks[s->cur];
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
	    wire_get(m, "Error"), m->body, m->body_len,
	    record_parse_output_size(wire_get(m, "Output-Size"), m->body_len), session_replayed(m));
	s->retries = 0;
	log_task(LL_INFO, s->ev.event_id, t->seq, "ended with code %d (%s; agent said %s)", code,
	    verdict, result != NULL ? result : "nothing");
	if (s->cancelled && (code == STATUS_CANCELLED || s->cur + 1 < s->ntasks)) {
		/* the operator's cancel wins over whatever tasks are left */
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	if (o != OUTCOME_SUCCESS)
		session_note_failure(s, code);
	int go_on = outcome_next(o, t->on_failure_continue, &s->failed);
	if (go_on && s->cur + 1 < s->ntasks) {
		s->cur++;
		session_next_task(s);
		return;
	}
	/* a failed event carries the code that failed it, a done one its last code */
	session_end(s, s->failed ? "failed" : "done", s->failed ? s->first_fail : code);
}

static void
session_message(struct session *s, struct wire_msg *m)
{
	if (log_enabled(LL_TRACE)) {
		char *dump = wire_dump(m);
		log_trace("Socket: Received from computer %s:\n%s", s->cid, dump != NULL ? dump : "");
		free(dump);
	}
	session_seen(s);
	const char *reply = wire_get(m, "Reply");
	const char *code_s = wire_get(m, "Status-Code");
	if (reply != NULL && strcmp(reply, "StatusUpdate") == 0 && code_s != NULL) {
		int code = atoi(code_s);
		session_status_row(s, code, NULL, NULL, "Agent", NULL, NULL, 0, -1, session_replayed(m));
		if (code == STATUS_STARTED) {
			/* the script runs: allow its timeout (or the agent's default hour) */
			struct task *t = &s->tasks[s->cur];
			long long ms = (t->timeout_ms > 0 ? t->timeout_ms : 3600000LL) + 60000 +
			    s->env->conf->timeout_idle_ms;
			struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
			bufferevent_set_timeouts(s->bev, &tv, NULL);
			s->got_started = 1;
		}
		return;
	}
	if (reply != NULL && strcmp(reply, "SendFile") == 0) {
		session_result(s, m);
		return;
	}
	const char *why = wire_get(m, "Error");
	log_event(LL_WARNING, s->ev.event_id, "computer %s: unexpected reply %s: %s", s->cid,
	    reply != NULL ? reply : "(none)", why != NULL ? why : "");
	session_close_conn(s);
	session_status(s, STATUS_PROTOCOL, "Failed", "Agent", why, NULL, 0);
	session_end(s, "failed", STATUS_PROTOCOL);
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;
	while (s->state == S_WAIT && s->bev == bev && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n && s->state == S_WAIT && s->bev == bev) {
			size_t used = 0;
			enum wire_status st = wire_feed(s->parser, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == WIRE_MORE) {
				/* a reply has begun: all of it must come within timeouts.message,
				 * however often a byte arrives to keep the idle timeout away */
				if (used > 0 && !s->msg_open) {
					s->msg_open = 1;
					session_deadline_arm(s, s->env->conf->timeout_message_ms);
				}
				break;
			}
			if (st == WIRE_ERROR) {
				char why[256];
				snprintf(why, sizeof(why), "bad message from agent: %s",
				    wire_parser_error(s->parser));
				log_event(LL_WARNING, s->ev.event_id, "%s", why);
				session_close_conn(s);
				session_status(s, STATUS_PROTOCOL, "Failed", "Agent", why, NULL, 0);
				session_end(s, "failed", STATUS_PROTOCOL);
				return;
			}
			s->msg_open = 0;
			evtimer_del(s->deadline);
			struct wire_msg *m = wire_parser_take(s->parser);
			session_message(s, m);
			wire_msg_free(m);
		}
	}
}

/* The numeric address the control connection reached (no DNS); on failure the registered ip stands in. */
static void
session_peer(struct session *s, evutil_socket_t fd)
{
	char err[256];
	size_t errlen = sizeof(err);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int gai;
	s->peer[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
	} else if ((gai = getnameinfo((struct sockaddr *)&ss, len, s->peer, sizeof(s->peer), NULL, 0,
			NI_NUMERICHOST)) != 0) {
		snprintf(err, errlen, "%s", gai_strerror(gai));
		s->peer[0] = '\0';
	} else {
		return;
	}
	log_detail("event %s: computer %s: peer address unknown (%s); %%AGENTIPADDR%% is the registered ip",
	    s->eid, s->cid, err);
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		log_event(LL_DETAIL, s->ev.event_id, "connected to computer %s (%s:%d)", s->cid, s->comp.host,
		    s->comp.port);
		session_seen(s);
		evtimer_del(s->deadline);
		s->parser = wire_parser_new(MAX_REPLY_BODY);
		if (s->parser == NULL)
			fatalx("out of memory");
		session_peer(s, bufferevent_getfd(bev));
		s->state = S_WAIT;
		session_push(s);
		return;
	}
	if (s->state == S_ADVANCE) {
		/* between two tasks: session_advanced connects again */
		log_event(LL_DETAIL, s->ev.event_id, "connection to computer %s closed between tasks", s->cid);
		while (ERR_get_error() != 0)
			;
		session_close_conn(s);
		return;
	}
	char why[300];
	unsigned long ssl_err = bufferevent_get_openssl_error(bev);
	int code;
	/* libevent also reports a refused TCP connect through this slot, as a
	 * system-library error: only errors of the TLS layer itself are TLS refusals */
	if (ssl_err != 0 && ERR_GET_LIB(ssl_err) != ERR_LIB_SYS && ERR_GET_LIB(ssl_err) != 0) {
		char e[200];
		ERR_error_string_n(ssl_err, e, sizeof(e));
		snprintf(why, sizeof(why), "TLS refused: %s", e);
		code = STATUS_TLS_REFUSED;
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why), "%s", s->state == S_CONNECT ? "connect timed out" :
		    "agent silent past the idle timeout");
		code = s->state == S_CONNECT ? STATUS_UNREACHABLE : STATUS_IDLE_TIMEOUT;
	} else if (what & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "agent closed the connection");
		code = STATUS_UNREACHABLE;
	} else {
		snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		code = STATUS_UNREACHABLE;
	}
	while (ERR_get_error() != 0)
		;
	session_retry(s, code, why);
}

/* A TLS connection to the agent that must present the computer's name: the
 * bufferevent, connecting, or NULL with the reason in why. */
static struct bufferevent *
session_dial(struct session *s, bufferevent_data_cb readcb, bufferevent_event_cb eventcb,
    long long timeout_ms, char *why, size_t whylen)
{
	char port[16];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	snprintf(port, sizeof(port), "%d", s->comp.port);
	int gai = getaddrinfo(s->comp.host, port, &hints, &ai);
	if (gai != 0) {
		snprintf(why, whylen, "host %s: %s", s->comp.host, gai_strerror(gai));
		return NULL;
	}
	SSL *ssl = SSL_new(s->env->client_ctx);
	if (ssl == NULL)
		fatalx("SSL_new failed");
	/* the agent's certificate must name the computer we mean to reach */
	SSL_set1_host(ssl, s->comp.name);
	SSL_set_tlsext_host_name(ssl, s->comp.name);
	struct bufferevent *bev = bufferevent_openssl_socket_new(s->env->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		fatalx("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, readcb, NULL, eventcb, s);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	int rc = bufferevent_socket_connect(bev, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc == -1) {
		bufferevent_free(bev);
		snprintf(why, whylen, "connect failed");
		return NULL;
	}
	/* small request/reply messages: no Nagle wait for the peer's delayed ACK */
	(void)tls_set_nodelay(bufferevent_getfd(bev));
	return bev;
}

static void
session_connect(struct session *s)
{
	const struct conf_scheduler *c = s->env->conf;
	char why[300];
	s->state = S_CONNECT;
	log_debug("CRxCtrlServer::CopyFileToComputer (CSession) - Entered.");
	s->bev = session_dial(s, session_read, session_event,
	    c->timeout_connect_ms + c->timeout_handshake_ms, why, sizeof(why));
	if (s->bev == NULL)
		session_retry(s, STATUS_UNREACHABLE, why);
	else /* the per-read timeouts alone would let a peer trickle the handshake */
		session_deadline_arm(s, c->timeout_connect_ms + c->timeout_handshake_ms);
}

/* The connection or the reply under way took longer than its whole deadline. */
static void
session_deadline_fire(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct conf_scheduler *c = s->env->conf;
	char why[200];
	(void)fd;
	(void)what;
	if (s->state == S_CONNECT) {
		snprintf(why, sizeof(why), "connect and tls handshake not done within %lld ms",
		    c->timeout_connect_ms + c->timeout_handshake_ms);
		session_retry(s, STATUS_UNREACHABLE, why);
	} else if (s->state == S_WAIT && s->msg_open) {
		snprintf(why, sizeof(why), "reply from agent not complete within %lld ms of its first "
		    "byte (timeouts.message)", c->timeout_message_ms);
		log_event(LL_WARNING, s->ev.event_id, "computer %s: %s", s->cid, why);
		session_retry(s, STATUS_MESSAGE_TIMEOUT, why);
	}
}

static void
session_begin(struct session *s)
{
	struct session_env *env = s->env;
	char err[512];
	int rc = session_load(s, err, sizeof(err));
	if (rc != 0) {
		log_event(LL_WARNING, s->ev.event_id, "%s", err);
		if (rc == 1) {
			/* not ours any more: nothing to record, just report it ended */
			s->state = S_END;
			env->on_end(s, 0, env->arg);
			return;
		}
		session_status(s, STATUS_AGENT_ERROR, "Failed", "Scheduler", err, NULL, 0);
		session_end(s, "failed", STATUS_AGENT_ERROR);
		return;
	}
	/* resume where the event stands: NEXT_TASK_SEQ is the task in progress */
	s->cur = 0;
	while (s->cur < s->ntasks && s->tasks[s->cur].seq < s->ev.next_task_seq)
		s->cur++;
	if (s->cur >= s->ntasks) {
		session_end(s, "done", 0);
		return;
	}
	if (s->cancelled) {
		session_status(s, STATUS_CANCELLED, "Failed", "Scheduler", "cancelled", NULL, 0);
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	session_connect(s);
}

struct session *
session_start(struct session_env *env, const struct ipc_event *ev)
{
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->env = env;
	s->ev = *ev;
	s->state = S_INIT;
	snprintf(s->eid, sizeof(s->eid), "%" PRId64, ev->event_id);
	snprintf(s->sid, sizeof(s->sid), "%" PRId64, ev->schedule_id);
	snprintf(s->cid, sizeof(s->cid), "%" PRId64, ev->computer_id);
	s->timer = evtimer_new(env->base, session_timer_fire, s);
	s->deadline = evtimer_new(env->base, session_deadline_fire, s);
	if (s->timer == NULL || s->deadline == NULL) {
		if (s->timer != NULL)
			event_free(s->timer);
		if (s->deadline != NULL)
			event_free(s->deadline);
		free(s);
		return NULL;
	}
	/* the first step runs from the loop, so on_end never fires inside this call */
	struct timeval zero = {0, 0};
	evtimer_add(s->timer, &zero);
	metrics_sessions(1);
	return s;
}

static void
cancel_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	char buf[512];
	size_t n = evbuffer_remove(bufferevent_get_input(bev), buf, sizeof(buf) - 1);
	buf[n] = '\0';
	log_event(LL_DETAIL, s->ev.event_id, "cancel answered: %s", strtok(buf, "\n") ? buf : "");
	bufferevent_free(bev);
	s->cancel_bev = NULL;
}

static void
cancel_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		char err[256] = "";
		struct wire_msg *m = wire_msg_new();
		size_t len = 0;
		char *buf = NULL;
		if (wire_add(m, "Request", "Cancel", err, sizeof(err)) == -1 ||
		    wire_add(m, "Event-ID", s->eid, err, sizeof(err)) == -1 ||
		    wire_addf(m, err, sizeof(err), "Task-Sequence-ID", "%d", s->tasks[s->cur].seq) == -1 ||
		    (buf = wire_build(m, &len)) == NULL) {
			/* cannot happen with these values; said plainly if it does */
			log_event(LL_WARNING, s->ev.event_id, "cancel message could not be built: %s",
			    err[0] != '\0' ? err : "header too long");
			wire_msg_free(m);
			bufferevent_free(bev);
			s->cancel_bev = NULL;
			return;
		}
		bufferevent_write(bev, buf, len);
		wire_buf_free(buf, len);
		wire_msg_free(m);
		return;
	}
	log_event(LL_WARNING, s->ev.event_id, "cancel could not reach computer %s", s->cid);
	bufferevent_free(bev);
	s->cancel_bev = NULL;
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
		session_close_conn(s);
		evtimer_del(s->timer);
		session_status(s, STATUS_CANCELLED, "Failed", "Scheduler", "cancelled", NULL, 0);
		session_end(s, "cancelled", STATUS_CANCELLED);
		return;
	}
	char why[300];
	s->cancel_bev = session_dial(s, cancel_read, cancel_event, 10000, why, sizeof(why));
	if (s->cancel_bev == NULL)
		log_event(LL_WARNING, s->ev.event_id, "cancel could not reach computer %s: %s", s->cid, why);
}
