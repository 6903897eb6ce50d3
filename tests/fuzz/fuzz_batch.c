/*
 * libFuzzer target for cli/batch (make fuzz): each input is written to a file
 * in a private directory under $TMPDIR (which also holds s.sh, a script_file
 * the inputs may name) and loaded. A batch that loads is also exported job
 * by job and loaded again: the hashes must not change (abort otherwise).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/batch_canon.h"
#include "cli/batch_export.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096];
static char path[4200];
static char epath[4200];
static char spath[4200];

static void
write_file(const char *p, const void *data, size_t size)
{
	FILE *fp = fopen(p, "w");
	if (fp == NULL || fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
}

static void
roundtrip(const struct batch_job *j)
{
	char *buf = NULL;
	size_t len = 0;
	char h1[65], p1[65], h2[65], p2[65];
	struct batch *b2 = NULL;
	struct yt_errors e = {0};
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL || batch_job_export(j, fp) != 0)
		abort();
	fclose(fp);
	write_file(epath, buf, len);
	if (batch_load(epath, &b2, &e) != 0) {
		fprintf(stderr, "export does not load:\n%s\n", buf);
		yt_errors_print(&e, stderr);
		abort();
	}
	if (batch_job_hash(j, h1) || batch_job_plan_hash(j, p1) ||
	    batch_job_hash(&b2->jobs[0], h2) || batch_job_plan_hash(&b2->jobs[0], p2) ||
	    strcmp(h1, h2) != 0 || strcmp(p1, p2) != 0) {
		fprintf(stderr, "export changes the hash:\n%s\n", buf);
		abort();
	}
	batch_free(b2);
	yt_errors_free(&e);
	free(buf);
}

static void
cleanup(void)
{
	unlink(path);
	unlink(epath);
	unlink(spath);
	rmdir(dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/pgfleet-fuzz-batch-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/in.yaml", dir);
	snprintf(epath, sizeof(epath), "%s/export.yaml", dir);
	snprintf(spath, sizeof(spath), "%s/s.sh", dir);
	write_file(spath, "echo hi\n", 8);
	atexit(cleanup);
	log_setlevel(LL_ERROR);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch *b = NULL;
	struct yt_errors e = {0};

	if (dir[0] == '\0')
		setup();
	write_file(path, data, size);
	if (batch_load(path, &b, &e) == 0) {
		for (size_t i = 0; i < b->njobs; i++)
			roundtrip(&b->jobs[i]);
		batch_free(b);
	} else {
		FILE *null = fopen("/dev/null", "w");
		yt_errors_print(&e, null);
		fclose(null);
	}
	yt_errors_free(&e);
	return 0;
}
