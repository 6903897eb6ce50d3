/*
 * batch: load and validate a YAML job batch (`pgfleet submit FILE.yaml`) into
 * plain structs, every error collected as FILE:LINE:COL before anything is returned.
 * batch_load's struct batch is freed with batch_free (it owns every string and
 * array in it); the struct yt_errors (common/yamltree.h) is the caller's, emptied by
 * yt_errors_free.
 */
#ifndef PGFLEET_BATCH_H
#define PGFLEET_BATCH_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "common/arena.h"
#include "common/cron.h"
#include "common/yamltree.h"

/* Limits (docs/yaml.md "Limits"): a batch past one is refused, nothing of it applied. */
#define BATCH_MAX_FILE (4 * 1024 * 1024)    /* a batch file larger than this is refused */
#define BATCH_MAX_SCRIPT (16 * 1024 * 1024) /* a script_file larger than this is refused */
#define BATCH_MAX_JOB_SCRIPT (16 * 1024 * 1024) /* the scripts of one job, together */
#define BATCH_MAX_TASKS 1000                /* tasks in one job */
#define BATCH_MAX_BATCH_TASKS 10000         /* tasks in one batch, all jobs together */
#define BATCH_MAX_JOBS 1000                 /* jobs in one batch */
#define BATCH_MAX_COMPUTERS 10000           /* computers in one batch */
#define BATCH_MAX_GROUPS 10000              /* groups in one batch */
#define BATCH_MAX_WINDOWS 1000              /* maintenance windows in one batch */
#define BATCH_MAX_NODES 500000              /* YAML nodes (scalars, lists, mappings) in one file */
#define BATCH_RETRY_BACKOFF_MS 30000LL      /* retries: backoff's default */
#define BATCH_RETRY_MAX_MS 600000LL         /* retries: max's default */
#define BATCH_RETRY_LIMIT_MS 604800000LL    /* retries: backoff and max at most 7 days */
#define BATCH_MAX_SPLAY_MS 604800000LL      /* schedule: splay at most 7 days */

struct batch_tree_file;

/* One label or attribute; arrays of them are sorted by key, keys unique. */
struct batch_kv {
	char *key;
	char *value;
};

struct batch_computer {
	char *name;
	char *host;          /* default: the name */
	int port;            /* 0: the scheduler's agent_port */
	char *os;            /* NULL when absent, as are boot_env, ip and mac */
	char *boot_env;
	char *ip;            /* a valid IPv4 or IPv6 address */
	char *mac;           /* lower case, colon separated */
	struct batch_kv *labels;
	size_t nlabels;
	struct batch_kv *attrs; /* serial, asset_tag, domain, domain_ou, dept, contact, email, free keys */
	size_t nattrs;
	char **groups;       /* sorted, unique, each declared in this file's groups: */
	size_t ngroups;
	char **windows;      /* maintenance windows, sorted, unique (the file or the database has them) */
	size_t nwindows;
	int enabled;         /* default 1 */
	struct yt_pos pos;
};

struct batch_group {
	char *name;
	char *description;   /* NULL: absent (apply leaves an existing description as it is) */
	char **windows;      /* maintenance windows of every member, when has_windows */
	size_t nwindows;
	int has_windows;     /* 0: absent (apply leaves the group's windows as they are) */
	struct yt_pos pos;
};

/* A named maintenance window or blackout (docs/yaml.md "windows:"). */
struct batch_window {
	char *name;
	char *description;   /* NULL when absent */
	struct cron cron;    /* when it opens */
	long long duration_ms; /* how long it stays open: 1 minute to 366 days */
	char *timezone;      /* the zone cron is read in; NULL: UTC */
	int blackout;        /* 1: nothing starts while it is open */
	struct yt_pos pos, tz_pos;
};

enum batch_action {
	BATCH_SUCCESS,  /* the task succeeded; the next task runs */
	BATCH_FAILURE,  /* the task failed; on_failure decides */
	BATCH_CONTINUE, /* the task failed; the next task runs anyway */
	BATCH_STOP      /* the task failed; the job stops on this computer */
};

struct batch_code {
	int code;
	enum batch_action action;
};

/* retries: of a task, or of a job as the default of its tasks (docs/yaml.md "retries:"). */
struct batch_retries {
	int count;            /* runs again at most this often; 0: never (the default) */
	long long backoff_ms; /* the first wait, doubled each time (default 30 s) */
	long long max_ms;     /* the longest wait (default 10 min, at least backoff_ms) */
	int *on_codes;        /* sorted, unique; NULL: every failure a retry can change */
	size_t non_codes;
};

struct batch_task {
	char *name;          /* NULL when absent */
	char *script;        /* the script text; script_file's content when one was given */
	char *script_file;   /* as written in the YAML, NULL for an inline script */
	char *interpreter;   /* default "/bin/sh" */
	char *run_as;        /* NULL: the agent's default */
	long long timeout_ms; /* 0: the agent's default */
	int *success_codes;  /* sorted, unique, 0..255; default {0} */
	size_t nsuccess_codes;
	struct batch_code *on_code; /* sorted by code, codes unique */
	size_t non_code;
	enum batch_action on_failure; /* BATCH_STOP (default) or BATCH_CONTINUE */
	char *os_required;   /* NULL when absent */
	char *boot_env;      /* NULL when absent */
	int copy;            /* 1: a copy-file task: script holds the file's content when it is text */
	char *copy_bytes;    /* copy: a file that is no UTF-8 text: its bytes (script NULL then) */
	size_t copy_len;     /* their count; 0 for text */
	struct batch_tree_file *tree; /* copy: a folder's files, in order, while loading: the job
				       * gets one copy task per file in this task's place */
	size_t ntree;
	char *copy_source;   /* copy: source as written (NULL: content was inline) */
	char *copy_dest;     /* where the agent installs it: an absolute path */
	int copy_mode;       /* its mode, 0-07777 */
	char *copy_owner;    /* copy: owner, the file's owner (field FIELD_RUN_AS); NULL: run_as */
	struct batch_retries retries; /* the task's, else the job's */
	int has_retries;     /* the task gave retries: (else the job's apply) */
	struct yt_pos pos;
};

struct batch_targets {
	char **computers;    /* sorted, unique */
	size_t ncomputers;
	char **groups;       /* sorted, unique, each declared in this file's groups: */
	size_t ngroups;
	struct batch_kv *labels; /* a computer matches when it has every one of them */
	size_t nlabels;
	struct batch_kv *facts;  /* fact path -> condition; a computer matches when all hold */
	size_t nfacts;
};

struct batch_schedule {
	int at_now;          /* 1: at submit time (the default) */
	time_t at;           /* the first run (every) or the window start (cron), when !at_now */
	long long every_ms;  /* 0: no interval */
	int has_cron;        /* every and cron exclude each other */
	struct cron cron;
	int has_until;
	time_t until;        /* no run starts at or after it */
	char *timezone;      /* the zone cron (and a zone-less at or until) is read in; NULL: UTC */
	long long splay_ms;  /* each event due at a random moment within this after due; 0: none */
	/* at (until) is a wall-clock time, its fields read as UTC, in at_zone (until_zone):
	 * the zone written with it in brackets, else timezone. apply resolves it. */
	int at_local, until_local;
	char *at_zone, *until_zone;
	struct yt_pos pos, tz_pos, at_pos, until_pos;
};

#define BATCH_MAX_WAVES 20

struct batch_rollout {
	int max_concurrent;  /* 0: unlimited */
	int max_failures;    /* -1: unlimited; a count, or a percentage when max_failures_pct */
	int max_failures_pct;
	/* waves: the computers reached so far after each wave, a count or a percentage of the
	 * schedule's events ("1", "10%", "100%"), ascending; nwaves 0: no waves */
	int waves[BATCH_MAX_WAVES];
	int waves_pct[BATCH_MAX_WAVES];
	int nwaves;
	long long pause_ms;  /* between two waves; -1: absent */
};

/* after: a job this one runs after (docs/yaml.md "after:"). */
enum batch_after_on { BATCH_AFTER_SUCCESS, BATCH_AFTER_FAILURE, BATCH_AFTER_ANY };

struct batch_after {
	char *job;              /* the job it runs after (this file's, or the database's) */
	enum batch_after_on on;
	int per_computer;       /* 1: on the computers whose event ended that way */
	struct yt_pos pos;
};

struct batch_job {
	char *name;          /* unique; may contain '/' as folders */
	char *description;   /* NULL when absent; not part of the hash */
	struct batch_task *tasks; /* at least one; index = task seq */
	size_t ntasks;
	int has_targets;     /* 0: the job is defined, nothing is scheduled */
	struct batch_targets targets;
	struct batch_schedule schedule;
	struct batch_rollout rollout;
	struct batch_retries retries; /* the default of its tasks; count 0: none */
	char **windows;      /* maintenance windows of the job, sorted, unique; not part of its hashes */
	size_t nwindows;
	int allow_defer;     /* deferrals when a window closes between tasks (0: fail, -31) */
	struct batch_after *after; /* sorted by job name, unique; not part of its hashes */
	size_t nafter;
	int has_schedule;    /* schedule: was given (a chained job gets none without it) */
	long long offline_wait_ms; /* offline: {wait}: how long an event waits for its computer; 0: the scheduler's */
	int offline_wake;    /* offline: {wake}: wake-on-LAN through an agent on the computer's subnet */
	char *canon;         /* canonical text of name and tasks (batch_job_canon) */
	char *plan_canon;    /* canonical text of targets, schedule and rollout */
	struct yt_pos pos;
};

/* A target computer this file names but does not declare: apply checks it in the database. */
struct batch_ref {
	char *name;
	size_t job;          /* index in jobs */
	struct yt_pos pos;
};

/* A window a computer, group or job names that this file does not declare. */
struct batch_wref {
	char *name;
	struct yt_pos pos;
};

struct batch {
	char *path;
	char *source;        /* the file as read, NUL terminated (job.source) */
	size_t source_len;
	struct batch_computer *computers;
	size_t ncomputers;
	struct batch_group *groups;
	size_t ngroups;
	struct batch_job *jobs;
	size_t njobs;
	struct batch_ref *refs; /* in source order */
	size_t nrefs;
	struct batch_window *windows;
	size_t nwindows;
	struct batch_wref *wrefs; /* in source order: apply checks them in the database */
	size_t nwrefs;
	struct arena *arena; /* owns all of the above */
};

/*
 * Load and validate path. Returns 0 with *out set (free with batch_free), or
 * -1 with *out NULL and every error in errs, sorted in source order (errs is
 * emptied first; yt_errors_print shows them, yt_errors_free empties them).
 */
int batch_load(const char *path, struct batch **out, struct yt_errors *errs);
void batch_free(struct batch *b);

/* The computer's attribute key, or NULL. */
const char *batch_attr(const struct batch_computer *c, const char *key);
/* An action as a batch writes it: "success", "failure", "continue", "stop" (static). */
const char *batch_action_name(enum batch_action a);

#endif
