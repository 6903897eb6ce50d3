/*
 * wake: the agent's side of Request=Wake (docs/agent.md "Wake-on-LAN"): the request
 * checked (common/wol.c), its Broadcast the broadcast address of one of this host's own
 * IPv4 subnets, and the magic packet sent to it on wake.port by one sendto on a
 * non-blocking UDP socket. Nothing is answered: the scheduler noted the wake already.
 */
#ifndef PGFLEET_AGENT_WAKE_H
#define PGFLEET_AGENT_WAKE_H

struct conf_agent;
struct wire_msg;

/* 1 when m is a Request=Wake. */
int wake_is_request(const struct wire_msg *m);
/* Check and send; every outcome is logged, a refusal with its reason. */
void wake_handle(const struct conf_agent *cf, const struct wire_msg *m);

#endif
