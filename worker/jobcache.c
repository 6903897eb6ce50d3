/*
 * jobcache: a small array searched linearly (a worker runs a few job versions
 * at a time), each entry with its reference count and when it was last
 * released.
 */
#include "worker/jobcache.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct jobdef def;
	struct job_task *tasks;
	int refs;
	long long last_ms; /* released last (or stored) */
};

struct jobcache {
	struct entry **v;
	int n, cap;
	int max_unused;
	long long idle_ms;
};

struct jobcache *
jobcache_new(int max_unused, long long idle_ms)
{
	struct jobcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->max_unused = max_unused < 0 ? 0 : max_unused;
	c->idle_ms = idle_ms;
	return c;
}

void
job_task_clear(struct job_task *t)
{
	free(t->script);
	free(t->interpreter);
	free(t->run_as);
	free(t->success);
	free(t->on_code);
	free(t->os_required);
	free(t->boot_env);
	free(t->copy_dest);
	free(t->copy_owner);
	memset(t, 0, sizeof(*t));
}

static void tasks_free(struct job_task *tasks, int ntasks);

static void
entry_free(struct entry *e)
{
	tasks_free(e->tasks, e->def.ntasks);
	free(e);
}

void
jobcache_free(struct jobcache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->n; i++)
		entry_free(c->v[i]);
	free(c->v);
	free(c);
}

static void
drop(struct jobcache *c, int i)
{
	entry_free(c->v[i]);
	c->v[i] = c->v[--c->n];
}

static int
find(const struct jobcache *c, int64_t job_id, int version)
{
	for (int i = 0; i < c->n; i++)
		if (c->v[i]->def.job_id == job_id && c->v[i]->def.version == version)
			return i;
	return -1;
}

int
jobcache_unused(const struct jobcache *c)
{
	int n = 0;
	for (int i = 0; i < c->n; i++)
		n += c->v[i]->refs == 0;
	return n;
}

int
jobcache_size(const struct jobcache *c)
{
	return c->n;
}

/* Unused entries idle too long go; then the least recently used, down to max_unused. */
static void
trim(struct jobcache *c, long long now_ms)
{
	for (int i = c->n - 1; i >= 0; i--)
		if (c->v[i]->refs == 0 && now_ms - c->v[i]->last_ms >= c->idle_ms)
			drop(c, i);
	while (jobcache_unused(c) > c->max_unused) {
		int oldest = -1;
		for (int i = 0; i < c->n; i++)
			if (c->v[i]->refs == 0 && (oldest < 0 || c->v[i]->last_ms < c->v[oldest]->last_ms))
				oldest = i;
		drop(c, oldest);
	}
}

const struct jobdef *
jobcache_get(struct jobcache *c, int64_t job_id, int version, long long now_ms)
{
	int i = find(c, job_id, version);
	if (i < 0)
		return NULL;
	struct entry *e = c->v[i];
	if (e->refs == 0 && now_ms - e->last_ms >= c->idle_ms) {
		drop(c, i);
		return NULL;
	}
	e->refs++;
	return &e->def;
}

static void
tasks_free(struct job_task *tasks, int ntasks)
{
	for (int k = 0; k < ntasks; k++)
		job_task_clear(&tasks[k]);
	free(tasks);
}

const struct jobdef *
jobcache_put(struct jobcache *c, int64_t job_id, int version, struct job_task *tasks, int ntasks,
    long long now_ms)
{
	int i = find(c, job_id, version);
	if (i >= 0 && c->v[i]->refs > 0) {
		/* loaded twice: the version is the same, keep the one sessions hold */
		tasks_free(tasks, ntasks);
		c->v[i]->refs++;
		return &c->v[i]->def;
	}
	if (i >= 0)
		drop(c, i);
	if (c->n == c->cap) {
		int cap = c->cap > 0 ? c->cap * 2 : 8;
		struct entry **v = realloc(c->v, (size_t)cap * sizeof(*v));
		if (v == NULL) {
			tasks_free(tasks, ntasks);
			return NULL;
		}
		c->v = v;
		c->cap = cap;
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		tasks_free(tasks, ntasks);
		return NULL;
	}
	e->tasks = tasks;
	e->def.job_id = job_id;
	e->def.version = version;
	e->def.tasks = tasks;
	e->def.ntasks = ntasks;
	e->refs = 1;
	e->last_ms = now_ms;
	c->v[c->n++] = e;
	trim(c, now_ms);
	return &e->def;
}

void
jobcache_release(struct jobcache *c, const struct jobdef *d, long long now_ms)
{
	if (d == NULL)
		return;
	for (int i = 0; i < c->n; i++) {
		if (&c->v[i]->def != d)
			continue;
		c->v[i]->refs--;
		c->v[i]->last_ms = now_ms;
		break;
	}
	trim(c, now_ms);
}
