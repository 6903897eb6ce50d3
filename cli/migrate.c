/*
 * migrate: loading migration files, their checksums, and comparing them with the
 * rows of schema_migrations. No database access here (cmd_migrate.c does that).
 */
#include "cli/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void __attribute__((format(printf, 3, 4)))
put(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

int
migrate_check_name(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);
	if (n < 5 || strcmp(name + n - 4, ".sql") != 0) {
		put(err, errlen, "migration file %s: the name must end in .sql", name);
		return -1;
	}
	if (name[0] < '0' || name[0] > '9' || n > 4 + 200) {
		put(err, errlen, "migration file %s: the name must start with its number (0001_init.sql)",
		    name);
		return -1;
	}
	for (size_t i = 0; i < n - 4; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-')) {
			put(err, errlen,
			    "migration file %s: the name may hold only letters, digits, _ and -", name);
			return -1;
		}
	}
	return 0;
}

/* Add a copy of name's contents to set; checksum computed. */
static int
add_file(struct migrate_set *set, const char *name, const char *data, size_t len, char *err,
    size_t errlen)
{
	if (migrate_check_name(name, err, errlen) == -1)
		return -1;
	if (memchr(data, '\0', len) != NULL) {
		put(err, errlen, "migration file %s: holds a NUL byte", name);
		return -1;
	}
	struct migrate_file *f = realloc(set->files, sizeof(*f) * (size_t)(set->n + 1));
	if (f == NULL)
		goto oom;
	set->files = f;
	f = &set->files[set->n];
	memset(f, 0, sizeof(*f));
	f->version = strndup(name, strlen(name) - 4);
	f->sql = malloc(len + 1);
	if (f->version == NULL || f->sql == NULL) {
		free(f->version);
		free(f->sql);
		goto oom;
	}
	memcpy(f->sql, data, len);
	f->sql[len] = '\0';
	f->len = len;
	if (util_sha256_hex(data, len, f->checksum) == -1) {
		/* Only when OpenSSL is broken; an impossible checksum never matches. */
		memset(f->checksum, '?', 64);
		f->checksum[64] = '\0';
	}
	set->n++;
	return 0;
oom:
	put(err, errlen, "migration file %s: out of memory", name);
	return -1;
}

static int
by_version(const void *a, const void *b)
{
	return strcmp(((const struct migrate_file *)a)->version,
	    ((const struct migrate_file *)b)->version);
}

int
migrate_load_embedded(struct migrate_set *set, char *err, size_t errlen)
{
	memset(set, 0, sizeof(*set));
	for (const struct migrate_embedded *e = migrate_embedded; e->name != NULL; e++) {
		if (add_file(set, e->name, (const char *)e->data, e->len, err, errlen) == -1) {
			migrate_set_free(set);
			return -1;
		}
	}
	qsort(set->files, (size_t)set->n, sizeof(*set->files), by_version);
	return 0;
}

static int
read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 8192, n = 0;
	char *buf = NULL;
	if (f == NULL) {
		put(err, errlen, "migration file %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (buf == NULL || n == cap) {
			char *nb = realloc(buf, buf == NULL ? cap : (cap *= 2));
			if (nb == NULL) {
				put(err, errlen, "migration file %s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		put(err, errlen, "migration file %s: read error", path);
		goto fail;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	fclose(f);
	return -1;
}

int
migrate_load_dir(const char *dir, struct migrate_set *set, char *err, size_t errlen)
{
	memset(set, 0, sizeof(*set));
	DIR *d = opendir(dir);
	if (d == NULL) {
		put(err, errlen, "migration folder %s: %s", dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 4 || strcmp(de->d_name + n - 4, ".sql") != 0)
			continue;
		char path[4096];
		char *data;
		size_t len;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
			put(err, errlen, "migration folder %s: path too long", dir);
			goto fail;
		}
		if (read_file(path, &data, &len, err, errlen) == -1)
			goto fail;
		int rc = add_file(set, de->d_name, data, len, err, errlen);
		free(data);
		if (rc == -1)
			goto fail;
	}
	closedir(d);
	if (set->n == 0) {
		put(err, errlen, "migration folder %s: no .sql file", dir);
		return -1;
	}
	qsort(set->files, (size_t)set->n, sizeof(*set->files), by_version);
	return 0;
fail:
	closedir(d);
	migrate_set_free(set);
	return -1;
}

void
migrate_set_free(struct migrate_set *set)
{
	if (set == NULL)
		return;
	for (int i = 0; i < set->n; i++) {
		free(set->files[i].version);
		free(set->files[i].sql);
	}
	free(set->files);
	set->files = NULL;
	set->n = 0;
}

int
migrate_plan(const struct migrate_set *set, const struct migrate_applied *applied,
    int napplied, struct migrate_step **steps)
{
	struct migrate_step *s = calloc((size_t)(set->n + napplied) + 1, sizeof(*s));
	int n = 0, i = 0, j = 0;
	if (s == NULL)
		return -1;
	/* Merge two sorted lists. */
	while (i < set->n || j < napplied) {
		int c = i == set->n ? 1 : j == napplied ? -1 :
		    strcmp(set->files[i].version, applied[j].version);
		if (c < 0) {
			s[n++] = (struct migrate_step){set->files[i].version, MIGRATE_PENDING,
			    &set->files[i], NULL};
			i++;
		} else if (c > 0) {
			s[n++] = (struct migrate_step){applied[j].version, MIGRATE_UNKNOWN, NULL,
			    &applied[j]};
			j++;
		} else {
			int same = strcmp(set->files[i].checksum, applied[j].checksum) == 0;
			s[n++] = (struct migrate_step){set->files[i].version,
			    same ? MIGRATE_APPLIED : MIGRATE_CHANGED, &set->files[i], &applied[j]};
			i++;
			j++;
		}
	}
	/* A pending file before any applied one came too late to run in order. */
	int later_applied = 0;
	for (int k = n - 1; k >= 0; k--) {
		if (s[k].applied != NULL)
			later_applied = 1;
		else if (later_applied)
			s[k].state = MIGRATE_OUT_OF_ORDER;
	}
	*steps = s;
	return n;
}

int
migrate_step_problem(const struct migrate_step *step, char *msg, size_t len)
{
	switch (step->state) {
	case MIGRATE_CHANGED:
		put(msg, len,
		    "migration %s.sql changed since it was applied (applied checksum %s, file checksum %s): "
		    "never edit an applied migration, add a new one",
		    step->version, step->applied->checksum, step->file->checksum);
		return 1;
	case MIGRATE_OUT_OF_ORDER:
		put(msg, len, "migration %s.sql is pending but a later one is already applied: "
			      "renumber it after the last applied migration",
		    step->version);
		return 1;
	default:
		return 0;
	}
}

const char *
migrate_state_name(enum migrate_state state)
{
	switch (state) {
	case MIGRATE_PENDING:
		return "pending";
	case MIGRATE_APPLIED:
		return "applied";
	case MIGRATE_CHANGED:
		return "changed";
	case MIGRATE_OUT_OF_ORDER:
		return "out-of-order";
	case MIGRATE_UNKNOWN:
		return "unknown";
	}
	return "?";
}
