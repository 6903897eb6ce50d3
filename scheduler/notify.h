/*
 * notify: the scheduler parent's sender of the outbox (migrations/0023): claims due
 * notifications in the database, posts each to the webhook (JSON, HMAC-SHA256 signature
 * header, libevent's HTTP client, never blocking the loop) and/or runs the command with it
 * on stdin, then marks it sent, or due again after a backoff. At least once: a delivery
 * that failed or whose answer was lost is sent again. notify_new returns a struct notify
 * freed by notify_free, or NULL when nothing is configured to send to.
 */
#ifndef PGFLEET_NOTIFY_H
#define PGFLEET_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

struct conf_scheduler;
struct db;
struct event_base;
struct notify;

#define NOTIFY_MAX_INFLIGHT 16 /* deliveries under way at once */
#define NOTIFY_LEASE_S 300     /* a claimed notification is another sender's after this */

/* The sender for conf's notify: (copied; db and owner are kept by pointer). NULL when
 * none is configured, with *failed 1 and err when it cannot be set up (the secret file
 * unreadable, the URL unusable). */
struct notify *notify_new(struct event_base *base, struct db *db, const char *owner,
    const struct conf_scheduler *conf, int *failed, char *err, size_t errlen);
void notify_free(struct notify *n);
/* The claims an earlier process of scheduler name held (killed mid-delivery) released:
 * they are sent at once. Returns how many, or -1 with err. */
int notify_release(struct notify *n, const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Claim due notifications while there is room and start sending them. Returns how many
 * were claimed, or -1 with err (a database error: the next kick tries again). */
int notify_kick(struct notify *n, char *err, size_t errlen);
/* A child process exited: 1 when it was one of our commands (handled), 0 when not. */
int notify_child(struct notify *n, pid_t pid, int status);
/* Deliveries under way. */
int notify_inflight(const struct notify *n);

/* The signature header's value: "sha256=" and the HMAC-SHA256 of body under key, in hex
 * (out holds at least 72 bytes). 0, or -1 when OpenSSL fails. */
int notify_signature(const unsigned char *key, size_t keylen, const char *body, size_t len,
    char *out, size_t outlen) __attribute__((warn_unused_result));
/* The wait before attempt n+1 after n failed ones: min(max, backoff * 2^(n-1)), drawn between
 * half of it and all of it (r in [0, 1)). */
long long notify_backoff_ms(long long backoff_ms, long long max_ms, int n, double r);

#endif
