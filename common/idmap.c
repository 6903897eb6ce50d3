/* idmap: open addressing, capacity a power of two, load at most 1/2. */
#include "common/idmap.h"

#include <stdlib.h>

struct slot {
	int64_t id;   /* 0: empty */
	void *value;
};

struct idmap {
	struct slot *v;
	size_t cap, n;
};

static size_t
hash(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 17) & (cap - 1);
}

struct idmap *
idmap_new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->cap = 64;
	m->v = calloc(m->cap, sizeof(*m->v));
	if (m->v == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->v);
	free(m);
}

static struct slot *
find(const struct idmap *m, int64_t id)
{
	for (size_t i = hash(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].id == id || m->v[i].id == 0)
			return &m->v[i];
	}
}

void *
idmap_get(const struct idmap *m, int64_t id)
{
	if (id <= 0)
		return NULL;
	struct slot *s = find(m, id);
	return s->id == id ? s->value : NULL;
}

static int
grow(struct idmap *m)
{
	struct idmap bigger = {.cap = m->cap * 2};
	bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
	if (bigger.v == NULL)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->v[i].id != 0) {
			*find(&bigger, m->v[i].id) = m->v[i];
			bigger.n++;
		}
	}
	free(m->v);
	*m = bigger;
	return 0;
}

int
idmap_put(struct idmap *m, int64_t id, void *value, void **old)
{
	if (old != NULL)
		*old = NULL;
	if (id <= 0)
		return -1;
	if ((m->n + 1) * 2 > m->cap && grow(m) == -1)
		return -1;
	struct slot *s = find(m, id);
	if (s->id == id) {
		if (old != NULL)
			*old = s->value;
	} else {
		s->id = id;
		m->n++;
	}
	s->value = value;
	return 0;
}

void *
idmap_del(struct idmap *m, int64_t id)
{
	if (id <= 0)
		return NULL;
	struct slot *s = find(m, id);
	if (s->id != id)
		return NULL;
	void *value = s->value;
	size_t i = (size_t)(s - m->v), mask = m->cap - 1;
	/* backward shift: pull later members of the run into the hole when they may live there */
	for (size_t j = (i + 1) & mask; m->v[j].id != 0; j = (j + 1) & mask) {
		size_t home = hash(m->v[j].id, m->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->v[i] = m->v[j];
			i = j;
		}
	}
	m->v[i].id = 0;
	m->v[i].value = NULL;
	m->n--;
	return value;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->n;
}

int
idmap_next(const struct idmap *m, size_t *pos, int64_t *id, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->v[*pos].id != 0) {
			*id = m->v[*pos].id;
			*value = m->v[*pos].value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
