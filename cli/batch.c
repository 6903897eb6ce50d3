/*
 * batch: YAML job batches. common/yamltree.c reads the file into a tree (its one
 * policy: aliases, anchors and tags refused, size and depth bounded, positions on
 * every node); cli/batch_schema.c reads each section against the schema, value by
 * value through cli/batch_value.c; then this file checks names across sections and
 * fills each job's canonical text (cli/batch_canon.c). Errors are collected, never
 * returned early: the user sees them all. Everything a loaded batch holds lives in
 * one arena freed by batch_free.
 */
#include "cli/batch.h"

#include <stdlib.h>
#include <string.h>

#include "cli/batch_canon.h"
#include "cli/batch_schema.h"
#include "common/log.h"

const char *
batch_action_name(enum batch_action a)
{
	static const char *const names[] = {"success", "failure", "continue", "stop"};
	return a >= BATCH_SUCCESS && a <= BATCH_STOP ? names[a] : "?";
}

/* ---- checks across sections ---------------------------------------------- */

struct named {
	const char *name;
	struct yt_pos pos;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

/* Sort names; report each one declared twice at its second place. */
static void
check_dups(struct batch_ld *l, const char *what, struct named *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_named);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i].name, v[i - 1].name) == 0)
			bv_err(l, v[i].pos, "duplicate %s name \"%.60s\" (first at %d:%d)", what,
			       v[i].name, v[i - 1].pos.line, v[i - 1].pos.col);
}

static int
known(const struct named *v, size_t n, const char *name)
{
	struct named key = {name, {0, 0}};
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid].name, key.name);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
cmp_ref(const void *a, const void *b)
{
	const struct batch_ref *x = a, *y = b;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

static int
cmp_wref(const void *a, const void *b)
{
	const struct batch_wref *x = a, *y = b;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

static void
cross_check(struct batch_ld *l)
{
	struct batch *b = l->b;
	struct named *g = arena_alloc(&l->tmp, (b->ngroups + 1) * sizeof(*g));
	struct named *c = arena_alloc(&l->tmp, (b->ncomputers + 1) * sizeof(*c));
	struct named *j = arena_alloc(&l->tmp, (b->njobs + 1) * sizeof(*j));
	struct named *w = arena_alloc(&l->tmp, (b->nwindows + 1) * sizeof(*w));
	size_t nj = 0;

	for (size_t i = 0; i < b->ngroups; i++)
		g[i] = (struct named){b->groups[i].name, b->groups[i].pos};
	for (size_t i = 0; i < b->ncomputers; i++)
		c[i] = (struct named){b->computers[i].name, b->computers[i].pos};
	for (size_t i = 0; i < b->njobs; i++)
		if (b->jobs[i].name != NULL)
			j[nj++] = (struct named){b->jobs[i].name, b->jobs[i].pos};
	check_dups(l, "group", g, b->ngroups);
	check_dups(l, "computer", c, b->ncomputers);
	check_dups(l, "job", j, nj);
	for (size_t i = 0; i < b->nwindows; i++)
		w[i] = (struct named){b->windows[i].name, b->windows[i].pos};
	check_dups(l, "window", w, b->nwindows);

	b->refs = arena_alloc(&b->arena, (l->npend + 1) * sizeof(*b->refs));
	b->wrefs = arena_alloc(&b->arena, (l->npend + 1) * sizeof(*b->wrefs));
	for (size_t i = 0; i < l->npend; i++) {
		const struct bv_pending *p = &l->pend[i];
		if (p->kind == BV_TARGET_COMPUTER) {
			if (!known(c, b->ncomputers, p->name)) {
				struct batch_ref *r = &b->refs[b->nrefs++];
				r->name = (char *)p->name;
				r->job = p->job;
				r->pos = p->pos;
			}
		} else if (p->kind == BV_WINDOW) {
			if (!known(w, b->nwindows, p->name)) {
				struct batch_wref *r = &b->wrefs[b->nwrefs++];
				r->name = (char *)p->name;
				r->pos = p->pos;
			}
		} else if (!known(g, b->ngroups, p->name))
			bv_err(l, p->pos, "group \"%.60s\" is not declared in groups: of this file",
			       p->name);
	}
	qsort(b->refs, b->nrefs, sizeof(*b->refs), cmp_ref);
	qsort(b->wrefs, b->nwrefs, sizeof(*b->wrefs), cmp_wref);
}

/* ---- load ----------------------------------------------------------------- */

static void
load_root(struct batch_ld *l, const struct yt_node *root)
{
	static const char *const keys[] = {"computers", "groups", "jobs", "windows", NULL};
	struct yt_node *v[4];

	if (bv_is_null(root)) {
		bv_err(l, (struct yt_pos){1, 1},
		       "the batch is empty (expected computers:, groups:, jobs: or windows:)");
		return;
	}
	if (root->type != YT_MAP) {
		if (root->type != YT_BAD)
			bv_err(l, root->pos, "the batch: expected a mapping of computers:, groups: "
					     "and jobs:, found %s",
			       bv_found(l, root));
		return;
	}
	if (bv_keys(l, "the batch", root, keys, v) == -1)
		return;
	/* the limits, before anything of a section is read */
	static const struct {
		int key, max;
		const char *what;
	} caps[] = {{0, BATCH_MAX_COMPUTERS, "computers"}, {1, BATCH_MAX_GROUPS, "groups"},
		    {2, BATCH_MAX_JOBS, "jobs"}, {3, BATCH_MAX_WINDOWS, "windows"}};
	int over = 0;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		const struct yt_node *s = v[caps[c].key];
		if (s == NULL || s->type != YT_SEQ || s->n <= (size_t)caps[c].max)
			continue;
		const struct yt_node *it = s->first;
		for (int i = 0; i < caps[c].max; i++)
			it = it->next;
		bv_err(l, it->pos, "%s: more than %d in one batch (the limit; split the batch)",
		       caps[c].what, caps[c].max);
		over = 1;
	}
	if (over)
		return;
	if (v[3] != NULL && bv_want(l, "windows", v[3], YT_SEQ) == 0) {
		l->b->windows = arena_alloc(&l->b->arena, (v[3]->n + 1) * sizeof(*l->b->windows));
		for (const struct yt_node *it = v[3]->first; it != NULL; it = it->next)
			batch_schema_window(l, it);
	}
	if (v[1] != NULL)
		batch_schema_groups(l, v[1]);
	if (v[0] != NULL && bv_want(l, "computers", v[0], YT_SEQ) == 0) {
		l->b->computers = arena_alloc(&l->b->arena, (v[0]->n + 1) * sizeof(*l->b->computers));
		for (const struct yt_node *it = v[0]->first; it != NULL; it = it->next)
			batch_schema_computer(l, it);
	}
	if (v[2] != NULL && bv_want(l, "jobs", v[2], YT_SEQ) == 0) {
		l->b->jobs = arena_alloc(&l->b->arena, (v[2]->n + 1) * sizeof(*l->b->jobs));
		for (const struct yt_node *it = v[2]->first; it != NULL; it = it->next)
			batch_schema_job(l, it);
	}
	cross_check(l);
}

int
batch_load(const char *path, struct batch **out, struct yt_errors *errs)
{
	static const struct yt_limits limits = {BATCH_MAX_FILE, BATCH_MAX_NODES};
	struct arena *arena = NULL;
	struct yt_doc doc;
	struct batch_ld l;

	yt_errors_free(errs);
	if ((errs->file = strdup(path)) == NULL)
		fatal("batch: path");
	*out = NULL;
	memset(&l, 0, sizeof(l));
	l.b = arena_alloc(&arena, sizeof(*l.b));
	l.b->arena = arena;
	l.errs = errs;
	l.b->path = arena_strndup(&l.b->arena, path, strlen(path));
	const char *slash = strrchr(path, '/');
	if (slash != NULL)
		l.dir = arena_strndup(&l.tmp, path, slash == path ? 1 : (size_t)(slash - path));
	if (yt_load(&l.tmp, path, &limits, &doc, errs) == 0)
		load_root(&l, doc.root);
	if (doc.src != NULL) {
		l.b->source = arena_strndup(&l.b->arena, doc.src, doc.len);
		l.b->source_len = doc.len;
	}
	if (yt_errors_count(errs) == 0) {
		for (size_t i = 0; i < l.b->njobs; i++) {
			struct batch_job *j = &l.b->jobs[i];
			char *c = batch_job_canon(j), *p = batch_job_plan_canon(j);
			j->canon = arena_strndup(&l.b->arena, c, strlen(c));
			j->plan_canon = arena_strndup(&l.b->arena, p, strlen(p));
			free(c);
			free(p);
		}
	}
	free(l.pend);
	arena_free(l.tmp);
	if (yt_errors_count(errs) > 0) {
		yt_errors_sort(errs);
		batch_free(l.b);
		return -1;
	}
	*out = l.b;
	return 0;
}

void
batch_free(struct batch *b)
{
	if (b != NULL)
		arena_free(b->arena); /* b itself lives in its arena */
}

const char *
batch_attr(const struct batch_computer *c, const char *key)
{
	for (size_t i = 0; i < c->nattrs; i++)
		if (strcmp(c->attrs[i].key, key) == 0)
			return c->attrs[i].value;
	return NULL;
}
