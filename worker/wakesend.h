/*
 * wakesend: a worker passes the parent's wake-on-LAN (IPC_WAKE) down the relay agent's
 * control connection as Request=Wake (docs/protocol.md "Request=Wake"); nothing is
 * awaited back. Nothing returned needs freeing.
 */
#ifndef PGFLEET_WAKESEND_H
#define PGFLEET_WAKESEND_H

#include <stddef.h>

#include "common/ipc.h"

struct links;
struct wire_msg;

/*
 * The Request=Wake for w into a new message *out (the caller frees it): MAC and
 * Broadcast checked as the agent checks them (common/wol.c), Event-ID, and
 * Task-Sequence-ID 0 so that an agent that does not know the request answers with a
 * Reply=Error the worker drops. 0, or -1 with err.
 */
int wakesend_build(const struct ipc_wake *w, struct wire_msg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Send it down the connection w->link_id of ls when it is still the relay's; logged. */
void wakesend_relay(struct links *ls, const struct ipc_wake *w);

#endif
