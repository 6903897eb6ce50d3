/*
 * stmtcache: see stmtcache.h. A handful of entries searched in order: a worker
 * sends about ten distinct statements, the scheduler's parent about thirty.
 */
#include "common/stmtcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum entry_state { ENTRY_NEW, ENTRY_PENDING, ENTRY_PREPARED, ENTRY_FAILED };

struct entry {
	const char *sql;    /* the caller's text, by address */
	char *copy;         /* its text when first seen */
	char name[24];
	enum entry_state state;
};

struct stmtcache {
	struct entry *e;
	int n, max;
	unsigned next_id;
};

struct stmtcache *
stmtcache_new(int max)
{
	struct stmtcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->max = max > 0 ? max : 0;
	if (c->max > 0 && (c->e = calloc((size_t)c->max, sizeof(*c->e))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
stmtcache_free(struct stmtcache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->e[i].copy);
	free(c->e);
	free(c);
}

static struct entry *
find(struct stmtcache *c, const char *sql)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].sql == sql)
			return &c->e[i];
	return NULL;
}

enum stmt_use
stmtcache_use(struct stmtcache *c, const char *sql, const char **name)
{
	*name = NULL;
	if (c == NULL || sql == NULL)
		return STMT_UNNAMED;
	struct entry *e = find(c, sql);
	if (e != NULL && strcmp(e->copy, sql) != 0)
		return STMT_UNNAMED; /* the same buffer holds other text now */
	if (e == NULL) {
		if (c->n >= c->max)
			return STMT_UNNAMED;
		char *copy = strdup(sql);
		if (copy == NULL)
			return STMT_UNNAMED;
		e = &c->e[c->n++];
		e->sql = sql;
		e->copy = copy;
		e->state = ENTRY_NEW;
		/* a name never used before on any connection of this cache */
		snprintf(e->name, sizeof(e->name), "pgfleet_%u", c->next_id++);
	}
	switch (e->state) {
	case ENTRY_PREPARED:
		*name = e->name;
		return STMT_PREPARED;
	case ENTRY_NEW:
		e->state = ENTRY_PENDING;
		*name = e->name;
		return STMT_PREPARE;
	default:
		return STMT_UNNAMED;
	}
}

void
stmtcache_prepared(struct stmtcache *c, const char *sql)
{
	struct entry *e = c != NULL ? find(c, sql) : NULL;
	if (e != NULL && e->state == ENTRY_PENDING)
		e->state = ENTRY_PREPARED;
}

void
stmtcache_failed(struct stmtcache *c, const char *sql)
{
	struct entry *e = c != NULL ? find(c, sql) : NULL;
	if (e != NULL)
		e->state = ENTRY_FAILED;
}

void
stmtcache_forget(struct stmtcache *c, const char *sql)
{
	struct entry *e = c != NULL ? find(c, sql) : NULL;
	if (e != NULL && (e->state == ENTRY_PENDING || e->state == ENTRY_PREPARED))
		e->state = ENTRY_NEW;
}

void
stmtcache_reset(struct stmtcache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->n; i++)
		c->e[i].state = ENTRY_NEW;
}

int
stmtcache_count(const struct stmtcache *c, int *prepared)
{
	int p = 0;
	if (c != NULL)
		for (int i = 0; i < c->n; i++)
			p += c->e[i].state == ENTRY_PREPARED || c->e[i].state == ENTRY_PENDING;
	if (prepared != NULL)
		*prepared = p;
	return c != NULL ? c->n : 0;
}
