/*
 * wake: Request=Wake on the agent. The Broadcast must be that of a subnet this host is on,
 * so that a scheduler can make the agent wake machines of its own segments and send
 * nothing anywhere else; the packet leaves in one non-blocking sendto, so the agent's
 * loop never waits on it.
 */
#include "agent/wake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/wire.h"
#include "common/wol.h"

int
wake_is_request(const struct wire_msg *m)
{
	const char *req = wire_get(m, "Request");
	return req != NULL && strcmp(req, "Wake") == 0;
}

static int
mask_prefix(uint32_t mask)
{
	int n = 0;
	while (n < 32 && (mask & (0x80000000u >> n)) != 0)
		n++;
	return n;
}

/* 1 when bc is the broadcast address of a subnet of one of our IPv4 addresses, 0 when
 * not, -1 when the addresses could not be read (err). */
static int
wake_broadcast_ours(uint32_t bc, char *err, size_t errlen)
{
	struct ifaddrs *ifa;
	int found = 0;
	if (getifaddrs(&ifa) == -1) {
		snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (struct ifaddrs *p = ifa; p != NULL && !found; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_netmask == NULL || p->ifa_addr->sa_family != AF_INET)
			continue;
		uint32_t addr = ntohl(((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr.s_addr);
		uint32_t mask = ntohl(((const struct sockaddr_in *)(const void *)p->ifa_netmask)->sin_addr.s_addr);
		int prefix = mask_prefix(mask);
		found = prefix < 31 && wol_broadcast(addr, prefix) == bc;
	}
	freeifaddrs(ifa);
	return found;
}

/* The packet to bc:port. 0, or -1 with err. */
static int
wake_send(const struct wol_request *r, int port, char *err, size_t errlen)
{
	unsigned char pkt[WOL_PACKET_LEN];
	int on = 1;
	struct sockaddr_in to;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)port);
	to.sin_addr.s_addr = htonl(r->broadcast);
	wol_packet(r->mac, pkt);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	ssize_t n = -1;
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) == -1)
		snprintf(err, errlen, "SO_BROADCAST: %s", strerror(errno));
	else if ((n = sendto(fd, pkt, sizeof(pkt), 0, (const struct sockaddr *)&to, sizeof(to))) == -1)
		snprintf(err, errlen, "sendto: %s", strerror(errno));
	else if (n != (ssize_t)sizeof(pkt))
		snprintf(err, errlen, "sendto: %zd of %zu bytes sent", n, sizeof(pkt));
	close(fd);
	return n == (ssize_t)sizeof(pkt) ? 0 : -1;
}

void
wake_handle(const struct conf_agent *cf, const struct wire_msg *m)
{
	struct wol_request r;
	char err[256];
	if (wol_request_parse(m, &r, err, sizeof(err)) == -1) {
		log_warnx("wake-on-LAN refused: %s", err);
		return;
	}
	if (cf->wake_port == 0) {
		log_event(LL_NOTICE, r.event_id, "wake-on-LAN for %s refused: wake.port is 0", r.mac_s);
		return;
	}
	int ours = wake_broadcast_ours(r.broadcast, err, sizeof(err));
	if (ours != 1) {
		log_event(LL_WARNING, r.event_id, "wake-on-LAN for %s refused: %s", r.mac_s,
		    ours == -1 ? err : "Broadcast is not the broadcast address of a subnet of this host");
		return;
	}
	if (wake_send(&r, cf->wake_port, err, sizeof(err)) == -1) {
		log_event(LL_WARNING, r.event_id, "wake-on-LAN for %s to %s:%d not sent: %s", r.mac_s,
		    r.broadcast_s, cf->wake_port, err);
		return;
	}
	log_notice("wake-on-LAN for %s sent to %s:%d (event %lld)", r.mac_s, r.broadcast_s,
	    cf->wake_port, r.event_id);
}
