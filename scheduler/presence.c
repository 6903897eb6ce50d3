/*
 * presence: routes in memory (an idmap of computer id -> worker and
 * connection), the writes queued between two flushes, and the flush itself:
 * three constant statements calling the functions of
 * migrations/0012_presence.sql, each fed with arrays.
 */
#include "scheduler/presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/gate.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/pgarray.h"

static const char SQL_CONNECT[] =
    "SELECT name, computer_id, refusal, want_facts FROM pgfleet.presence_connect($1, $2::text[],"
    " $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])";
static const char SQL_DISCONNECT[] =
    "SELECT pgfleet.presence_disconnect($1, $2::bigint[], $3::bigint[])";
static const char SQL_SEEN[] = "SELECT pgfleet.presence_seen($1, $2::bigint[])";
static const char SQL_CLEAR[] = "SELECT pgfleet.presence_clear($1, $2)";

struct route {
	pid_t pid;
	int64_t link_id;
};

struct hello {
	int slot;
	pid_t pid;
	struct ipc_agent_hello h;
};

struct gone {
	int64_t computer_id, link_id;
};

struct presence {
	char owner[160];
	struct gate *refusals;
	struct idmap *routes;
	struct hello *hellos;
	int nhellos, caphellos;
	struct gone *gones;
	int ngones, capgones;
	int64_t *seen;
	int nseen, capseen;
};

static int
grow(void **v, int *cap, int need, size_t size)
{
	if (need <= *cap)
		return 0;
	int cap2 = *cap > 0 ? *cap * 2 : 64;
	while (cap2 < need)
		cap2 *= 2;
	void *p = realloc(*v, (size_t)cap2 * size);
	if (p == NULL)
		return -1;
	*v = p;
	*cap = cap2;
	return 0;
}

struct presence *
presence_new(const char *owner, struct gate *refusals)
{
	struct presence *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	snprintf(p->owner, sizeof(p->owner), "%s", owner);
	p->refusals = refusals;
	p->routes = idmap_new();
	if (p->routes == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
presence_free(struct presence *p)
{
	if (p == NULL)
		return;
	size_t pos = 0;
	int64_t id;
	void *v;
	while (idmap_next(p->routes, &pos, &id, &v))
		free(v);
	idmap_free(p->routes);
	free(p->hellos);
	free(p->gones);
	free(p->seen);
	free(p);
}

int
presence_hello(struct presence *p, int slot, pid_t pid, const struct ipc_agent_hello *h)
{
	if (grow((void **)&p->hellos, &p->caphellos, p->nhellos + 1, sizeof(*p->hellos)) == -1)
		return -1;
	struct hello *x = &p->hellos[p->nhellos++];
	x->slot = slot;
	x->pid = pid;
	x->h = *h;
	x->h.name[sizeof(x->h.name) - 1] = '\0';
	x->h.peer[sizeof(x->h.peer) - 1] = '\0';
	x->h.version[sizeof(x->h.version) - 1] = '\0';
	x->h.serial[sizeof(x->h.serial) - 1] = '\0';
	x->h.facts_hash[sizeof(x->h.facts_hash) - 1] = '\0';
	return 0;
}

static void
queue_gone(struct presence *p, int64_t computer_id, int64_t link_id)
{
	if (grow((void **)&p->gones, &p->capgones, p->ngones + 1, sizeof(*p->gones)) == -1) {
		/* the row stays until a newer connection or a restart replaces it */
		log_warnx("presence: out of memory; computer %lld stays listed as connected",
		    (long long)computer_id);
		return;
	}
	p->gones[p->ngones].computer_id = computer_id;
	p->gones[p->ngones++].link_id = link_id;
}

void
presence_gone(struct presence *p, pid_t pid, int64_t link_id, int64_t computer_id)
{
	struct route *r = idmap_get(p->routes, computer_id);
	if (r != NULL && r->pid == pid && r->link_id == link_id)
		free(idmap_del(p->routes, computer_id));
	queue_gone(p, computer_id, link_id);
}

void
presence_worker_gone(struct presence *p, pid_t pid)
{
	size_t pos = 0, n = 0, cap = idmap_count(p->routes);
	int64_t id, *ids = cap > 0 ? malloc(cap * sizeof(*ids)) : NULL;
	void *v;
	if (cap > 0 && ids == NULL)
		fatalx("out of memory");
	while (idmap_next(p->routes, &pos, &id, &v))
		if (((struct route *)v)->pid == pid)
			ids[n++] = id;
	for (size_t i = 0; i < n; i++) {
		struct route *r = idmap_del(p->routes, ids[i]);
		queue_gone(p, ids[i], r->link_id);
		free(r);
	}
	/* Hellos of that worker still waiting are moot: its connections are gone */
	int k = 0;
	for (int i = 0; i < p->nhellos; i++)
		if (p->hellos[i].pid != pid)
			p->hellos[k++] = p->hellos[i];
	p->nhellos = k;
	free(ids);
}

void
presence_seen(struct presence *p, const int64_t *ids, int n)
{
	if (grow((void **)&p->seen, &p->capseen, p->nseen + n, sizeof(*p->seen)) == -1) {
		log_warnx("presence: out of memory; %d last_message_at writes dropped", n);
		return;
	}
	memcpy(p->seen + p->nseen, ids, (size_t)n * sizeof(*ids));
	p->nseen += n;
}

int
presence_route(const struct presence *p, int64_t computer_id, pid_t *pid, int64_t *link_id)
{
	const struct route *r = idmap_get(p->routes, computer_id);
	if (r == NULL)
		return -1;
	*pid = r->pid;
	*link_id = r->link_id;
	return 0;
}

size_t presence_connected(const struct presence *p) { return idmap_count(p->routes); }

int
presence_list(const struct presence *p, int64_t *ids, int max)
{
	if (idmap_count(p->routes) > (size_t)max)
		return -1;
	size_t pos = 0;
	int64_t id;
	void *value;
	int n = 0;
	while (n < max && idmap_next(p->routes, &pos, &id, &value))
		ids[n++] = id;
	return n;
}
int presence_waiting(const struct presence *p) { return p->nhellos; }

int
presence_dirty(const struct presence *p, int seen)
{
	return p->nhellos > 0 || p->ngones > 0 || (seen && p->nseen > 0);
}

static int
flush_gones(struct presence *p, struct db *db, char *err, size_t errlen)
{
	if (p->ngones == 0)
		return 0;
	struct pgarray ids = {0}, links = {0};
	for (int i = 0; i < p->ngones; i++) {
		pgarray_int(&ids, p->gones[i].computer_id);
		pgarray_int(&links, p->gones[i].link_id);
	}
	const char *params[] = {p->owner, pgarray_end(&ids), pgarray_end(&links)};
	int rc = -1;
	if (params[1] == NULL || params[2] == NULL)
		snprintf(err, errlen, "out of memory");
	else
		rc = db_exec(db, NULL, SQL_DISCONNECT, 3, params, err, errlen);
	free(ids.p);
	free(links.p);
	if (rc == 0)
		p->ngones = 0;
	return rc;
}

/* One Hello against the computers the database knew. */
static void
decide(struct presence *p, const struct hello *x, const struct db_result *r,
    presence_verdict_fn *verdict, void *arg)
{
	char why[200];
	struct presence_verdict v = {.pid = x->pid, .link_id = x->h.link_id};
	const char *refusal = NULL;
	for (int k = 0; k < db_ntuples(r) && v.computer_id == 0; k++) {
		if (strcmp(db_value(r, k, 0), x->h.name) != 0)
			continue;
		v.computer_id = strtoll(db_value(r, k, 1), NULL, 10);
		refusal = db_isnull(r, k, 2) ? NULL : db_value(r, k, 2);
		v.want_facts = strcmp(db_value(r, k, 3), "t") == 0;
	}
	if (refusal != NULL) {
		/* revoked (docs/enrolment.md): refused like an unknown name, said why */
		snprintf(why, sizeof(why), "%s", refusal);
		log_warnx("agents: computer %s from %s refused: %s", x->h.name, x->h.peer, refusal);
		gate_refused(p->refusals, x->h.peer, why);
		v.computer_id = 0;
		v.why = why;
		verdict(&v, arg);
		return;
	}
	if (v.computer_id == 0) {
		snprintf(why, sizeof(why), "no computer named \"%s\" is registered", x->h.name);
		gate_refused(p->refusals, x->h.peer, why);
		v.why = why;
		verdict(&v, arg);
		return;
	}
	struct route *nr = malloc(sizeof(*nr)), *old = NULL;
	if (nr == NULL || idmap_put(p->routes, v.computer_id, nr, (void **)&old) == -1)
		fatalx("out of memory");
	nr->pid = x->pid;
	nr->link_id = x->h.link_id;
	if (old != NULL) {
		log_notice("agents: computer %s reconnected from %s, its previous connection "
		    "closed", x->h.name, x->h.peer);
		v.old_pid = old->pid;
		v.old_link = old->link_id;
		free(old);
	}
	verdict(&v, arg);
}

static int
flush_hellos(struct presence *p, struct db *db, presence_verdict_fn *verdict, void *arg,
    char *err, size_t errlen)
{
	if (p->nhellos == 0)
		return 0;
	struct pgarray names = {0}, slots = {0}, links = {0}, peers = {0}, versions = {0}, serials = {0},
	    hashes = {0};
	for (int i = 0; i < p->nhellos; i++) {
		const struct hello *x = &p->hellos[i];
		pgarray_text(&names, x->h.name);
		pgarray_int(&slots, x->slot);
		pgarray_int(&links, x->h.link_id);
		pgarray_text(&peers, x->h.peer);
		pgarray_text(&versions, x->h.version[0] != '\0' ? x->h.version : NULL);
		pgarray_text(&serials, x->h.serial[0] != '\0' ? x->h.serial : NULL);
		pgarray_text(&hashes, x->h.facts_hash);
	}
	const char *params[] = {p->owner, pgarray_end(&names), pgarray_end(&slots),
	    pgarray_end(&links), pgarray_end(&peers), pgarray_end(&versions), pgarray_end(&serials),
	    pgarray_end(&hashes)};
	struct db_result *r = NULL;
	int rc = -1;
	if (params[1] == NULL || params[2] == NULL || params[3] == NULL || params[4] == NULL ||
	    params[5] == NULL || params[6] == NULL || params[7] == NULL)
		snprintf(err, errlen, "out of memory");
	else
		rc = db_exec(db, &r, SQL_CONNECT, 8, params, err, errlen);
	free(names.p);
	free(slots.p);
	free(links.p);
	free(peers.p);
	free(versions.p);
	free(serials.p);
	free(hashes.p);
	if (rc == -1)
		return -1;
	int n = p->nhellos;
	p->nhellos = 0; /* the callbacks may queue more */
	for (int i = 0; i < n; i++)
		decide(p, &p->hellos[i], r, verdict, arg);
	db_result_free(r);
	return 0;
}

static int
flush_seen(struct presence *p, struct db *db, char *err, size_t errlen)
{
	if (p->nseen == 0)
		return 0;
	struct pgarray ids = {0};
	for (int i = 0; i < p->nseen; i++)
		pgarray_int(&ids, p->seen[i]);
	const char *params[] = {p->owner, pgarray_end(&ids)};
	int rc = -1;
	if (params[1] == NULL)
		snprintf(err, errlen, "out of memory");
	else
		rc = db_exec(db, NULL, SQL_SEEN, 2, params, err, errlen);
	free(ids.p);
	if (rc == 0)
		p->nseen = 0;
	return rc;
}

int
presence_flush(struct presence *p, struct db *db, int seen, presence_verdict_fn *verdict,
    void *arg, char *err, size_t errlen)
{
	/* closes first: a computer that reconnected in the meantime gets its new row after */
	if (flush_gones(p, db, err, errlen) == -1 ||
	    flush_hellos(p, db, verdict, arg, err, errlen) == -1)
		return -1;
	return seen ? flush_seen(p, db, err, errlen) : 0;
}

int
presence_clear(struct db *db, const char *name, const char *keep, char *err, size_t errlen)
{
	const char *params[] = {name, keep};
	struct db_result *r = NULL;
	if (db_exec(db, &r, SQL_CLEAR, 2, params, err, errlen) == -1)
		return -1;
	int n = atoi(db_value(r, 0, 0));
	db_result_free(r);
	return n;
}
