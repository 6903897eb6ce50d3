/*
 * metrics: counters and histograms in shared memory, written by every process
 * of a scheduler with relaxed atomic adds, read and rendered by the parent.
 * A torn read across two counters is possible and harmless: each value is
 * itself atomic and only grows.
 */
#include "common/metrics.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/status.h"

#define MAX_BUCKETS 16
#define MAX_CELLS 1024
#define MAX_FINISHED 256
#define MICRO 1000000.0

struct hist {
	_Atomic unsigned long long bucket[MAX_BUCKETS]; /* not cumulative: the value's own bucket */
	_Atomic unsigned long long count;
	_Atomic unsigned long long sum_micro;
};

struct cell {
	_Atomic long pid;
	_Atomic long long value;
};

struct shm {
	_Atomic unsigned long long counter[MC_N];
	struct hist hist[MH_N];
	struct cell cell[MAX_CELLS];
};

static struct shm *shm;
static struct cell *my_cell;
static long my_pid;

struct finished {
	int failed, code;
	unsigned long long n;
};
static struct finished finished[MAX_FINISHED];
static int nfinished;

static const double db_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5, 5, 10, 0};
static const double task_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
    900, 3600, 0};
static const double batch_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0};

static const struct {
	const char *name, *help;
	const double *buckets; /* ends with 0 */
} hists[MH_N] = {
	[MH_DISPATCH] = {"pgfleet_dispatch_latency_seconds",
	    "From an event's due time to its first task starting on the agent (2501).", task_buckets},
	[MH_TASK] = {"pgfleet_task_duration_seconds",
	    "From a task starting on the agent (2501) to its result.", task_buckets},
	[MH_DB_FLUSH] = {"pgfleet_db_flush_seconds",
	    "One batched write of status rows by a worker (one transaction).", db_buckets},
	[MH_DB_ROUNDTRIP] = {"pgfleet_db_roundtrip_seconds",
	    "One single-statement round trip to the database (the heartbeat row).", db_buckets},
	[MH_CLAIM] = {"pgfleet_claim_seconds", "One claim transaction.", db_buckets},
	[MH_CLAIM_BATCH] = {"pgfleet_claim_batch_size", "Events per claim that got any.",
	    batch_buckets},
};

int
metrics_init(void)
{
	if (shm != NULL)
		return 0;
	void *p = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(struct shm));
	shm = p;
	return 0;
}

void
metrics_free(void)
{
	if (shm != NULL)
		munmap(shm, sizeof(struct shm));
	shm = NULL;
	my_cell = NULL;
	nfinished = 0;
}

void
metrics_add(enum metrics_counter c, unsigned long long n)
{
	if (shm != NULL && c < MC_N)
		atomic_fetch_add_explicit(&shm->counter[c], n, memory_order_relaxed);
}

unsigned long long
metrics_counter(enum metrics_counter c)
{
	return shm != NULL && c < MC_N ?
	    atomic_load_explicit(&shm->counter[c], memory_order_relaxed) : 0;
}

void
metrics_observe(enum metrics_hist h, double value)
{
	if (shm == NULL || h >= MH_N)
		return;
	if (value < 0)
		value = 0;
	struct hist *x = &shm->hist[h];
	int i = 0;
	while (hists[h].buckets[i] != 0 && value > hists[h].buckets[i])
		i++;
	atomic_fetch_add_explicit(&x->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->sum_micro, (unsigned long long)(value * MICRO + 0.5),
	    memory_order_relaxed);
}

static int
alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* This process's cell: a free one, or one of a process that is gone. */
static struct cell *
own_cell(void)
{
	long pid = (long)getpid();
	if (my_cell != NULL && my_pid == pid)
		return my_cell;
	my_cell = NULL;
	for (int i = 0; i < MAX_CELLS && my_cell == NULL; i++) {
		struct cell *c = &shm->cell[i];
		long was = atomic_load(&c->pid);
		if ((was == 0 || !alive(was)) && atomic_compare_exchange_strong(&c->pid, &was, pid)) {
			atomic_store(&c->value, 0);
			my_cell = c;
		}
	}
	my_pid = pid;
	return my_cell;
}

void
metrics_sessions(int delta)
{
	if (shm == NULL)
		return;
	struct cell *c = own_cell();
	if (c != NULL)
		atomic_fetch_add_explicit(&c->value, delta, memory_order_relaxed);
}

void
metrics_task_status(struct metrics_task *t, int code, const char *outcome)
{
	long long now = clock_mono_ms();
	if (code == STATUS_STARTED) {
		t->started_mono_ms = now;
		if (!t->dispatched && t->due_ms > 0) {
			t->dispatched = 1;
			metrics_observe(MH_DISPATCH, (double)(clock_wall_ms() - t->due_ms) / 1000.0);
		}
		return;
	}
	if (outcome == NULL || code == STATUS_DELIVERED)
		return;
	if (t->started_mono_ms > 0) {
		metrics_observe(MH_TASK, (double)(now - t->started_mono_ms) / 1000.0);
		t->started_mono_ms = 0;
	}
	if (strcmp(outcome, "Success") == 0)
		metrics_add(MC_TASKS_SUCCESS, 1);
	else if (code < 0)
		metrics_add(MC_TASKS_ERROR, 1);
	else
		metrics_add(MC_TASKS_FAILURE, 1);
}

void
metrics_event_finished(int failed, int code)
{
	failed = failed != 0;
	for (int i = 0; i < nfinished; i++)
		if (finished[i].failed == failed && finished[i].code == code) {
			finished[i].n++;
			return;
		}
	if (nfinished == MAX_FINISHED)
		return;
	finished[nfinished++] = (struct finished){failed, code, 1};
}

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(FILE *f, const char *name, const char *help, enum metrics_counter c)
{
	header(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, metrics_counter(c));
}

static void
histogram(FILE *f, enum metrics_hist h)
{
	const struct hist *x = &shm->hist[h];
	header(f, hists[h].name, "histogram", hists[h].help);
	unsigned long long cum = 0;
	int i = 0;
	for (; hists[h].buckets[i] != 0; i++) {
		cum += atomic_load_explicit(&x->bucket[i], memory_order_relaxed);
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", hists[h].name, hists[h].buckets[i], cum);
	}
	cum += atomic_load_explicit(&x->bucket[i], memory_order_relaxed);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", hists[h].name, cum);
	fprintf(f, "%s_sum %.6f\n", hists[h].name,
	    (double)atomic_load_explicit(&x->sum_micro, memory_order_relaxed) / MICRO);
	fprintf(f, "%s_count %llu\n", hists[h].name, cum);
}

int
metrics_write(FILE *f)
{
	if (shm == NULL)
		return 0;
	counter(f, "pgfleet_events_claimed_total", "Events this scheduler claimed and handed to its "
	    "workers.", MC_EVENTS_CLAIMED);
	header(f, "pgfleet_events_finished_total", "counter",
	    "Events its workers ended, by result (done, failed) and the event's final status code.");
	for (int i = 0; i < nfinished; i++)
		fprintf(f, "pgfleet_events_finished_total{result=\"%s\",code=\"%d\"} %llu\n",
		    finished[i].failed ? "failed" : "done", finished[i].code, finished[i].n);
	header(f, "pgfleet_tasks_total", "counter", "Final task results by outcome: success, "
	    "failure (the script's code), error (pgfleet's own negative codes).");
	fprintf(f, "pgfleet_tasks_total{outcome=\"success\"} %llu\n", metrics_counter(MC_TASKS_SUCCESS));
	fprintf(f, "pgfleet_tasks_total{outcome=\"failure\"} %llu\n", metrics_counter(MC_TASKS_FAILURE));
	fprintf(f, "pgfleet_tasks_total{outcome=\"error\"} %llu\n", metrics_counter(MC_TASKS_ERROR));
	counter(f, "pgfleet_transfer_bytes_total", "Script bytes sent to agents.", MC_TRANSFER_BYTES);
	counter(f, "pgfleet_worker_starts_total", "Worker processes started: the first start of "
	    "each, restarts after one died, and reload rolls.", MC_WORKER_STARTS);
	counter(f, "pgfleet_claim_errors_total", "Claim passes the database failed.", MC_CLAIM_ERRORS);
	counter(f, "pgfleet_pushes_waited_total",
	    "Tasks whose push waited for a worker's slot (transfer.max_pending).", MC_PUSHES_WAITED);
	long long open = 0;
	for (int i = 0; i < MAX_CELLS; i++) {
		long pid = atomic_load(&shm->cell[i].pid);
		if (pid != 0 && alive(pid))
			open += atomic_load_explicit(&shm->cell[i].value, memory_order_relaxed);
	}
	header(f, "pgfleet_sessions_open", "gauge", "Agent sessions its workers hold open now.");
	fprintf(f, "pgfleet_sessions_open %lld\n", open);
	for (int h = 0; h < MH_N; h++)
		histogram(f, (enum metrics_hist)h);
	return ferror(f) ? -1 : 0;
}
