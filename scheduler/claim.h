/*
 * claim: the scheduler parent's statements: claim due events under a lease,
 * extend and release leases, take back expired ones, create the next
 * occurrence of recurring schedules, find running events of cancelled
 * schedules. Every statement is a constant calling a function of
 * migrations/0002_scheduler.sql. Nothing returned needs freeing.
 */
#ifndef PGFLEET_CLAIM_H
#define PGFLEET_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "common/ipc.h"

struct db;

/* Claim up to limit events of the computers connected to owner (agent_presence);
 * cids[0..ncids), when ncids >= 0, are the computers connected here as the caller
 * knows them (the function looks only at those, still checking presence); ncids -1:
 * no list, the function searches the due events. Fills out[] and *n (link_id left 0),
 * and logs the seed's "Processing scheduled event" line for each. Returns 0 or -1. */
int claim_events(struct db *db, const char *owner, int limit, long long lease_ms,
    const int64_t *cids, int ncids, struct ipc_event *out, int *n, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Extend the leases of ids[0..n), the events our running workers hold (only
 * those: an event we own that no worker runs must lose its lease). Returns
 * the number of events renewed, or -1. */
int claim_heartbeat(struct db *db, const char *owner, long long lease_ms, const int64_t *ids, int n,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* End the leases of ids[0..n) now (their worker died and none took them
 * over), for claim_reclaim to give them another attempt. Returns how many, or -1. */
int claim_abandon(struct db *db, const char *owner, const int64_t *ids, int n, char *err,
    size_t errlen) __attribute__((warn_unused_result));
/* Hand one event back as pending (drain). Returns 0 or -1. */
int claim_release(struct db *db, const char *owner, int64_t event_id, char *err, size_t errlen);
/* Take back expired leases. Returns how many, or -1. */
int claim_reclaim(struct db *db, int max_attempts, char *err, size_t errlen);
/* Create the next occurrence of every due recurring schedule, exactly once
 * across schedulers. Returns how many were created, or -1. */
int claim_recur(struct db *db, char *err, size_t errlen);
/* Running events of cancelled schedules that owner holds. Returns count or -1. */
int claim_cancelled(struct db *db, const char *owner, int64_t *ids, int max, char *err, size_t errlen);

/* Fail with OFFLINE_EXPIRED (-24) up to limit pending events due more than their
 * schedule's offline wait (else expire_ms) ago, and as long after since_ms (the
 * scheduler's start, wall clock in ms), whose computers are connected nowhere (no
 * presence row heard from within stale_ms). Returns how many, or -1. */
int claim_expire_offline(struct db *db, long long expire_ms, long long stale_ms, long long since_ms,
    int limit, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Wake-on-LAN (pgfleet.wake_offline, 0027): up to max pending events of schedules with
 * offline_wake whose computer is connected nowhere (stale_ms as above), not looked at
 * within resend_ms, each with a relay connected to owner on its subnet; fills out[] (MAC
 * and broadcast checked with common/wol, link_id left 0) and logs each. The database has
 * noted them (and the events without a relay) already. Returns how many, or -1.
 */
int claim_wake_offline(struct db *db, const char *owner, long long resend_ms, long long stale_ms,
    struct ipc_wake *out, int max, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Maintenance windows: spans computed ahead for the windows that need more
 * (common/windows.h), spans closed for a day removed. Returns spans added, or -1. */
int claim_windows(struct db *db, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Notifications older than the retention removed (sent or not). 0 or -1. */
int claim_outbox_prune(struct db *db, long long retention_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One small step of retention (pgfleet.maintain of 0003_reporting.sql, 0025, 0037): next
 * months' partitions, the days that are over rolled up for job_daily, then old
 * history in a batch (the audit log only past the owner's floor, whatever retention_ms).
 * 1 when more is left to do, 0 when done, -1 on error. */
int claim_maintain(struct db *db, long long retention_ms, int batch, char *err, size_t errlen);

#endif
