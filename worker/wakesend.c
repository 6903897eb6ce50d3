/*
 * wakesend: Request=Wake down a relay's connection. The relay may have gone since the
 * parent looked (its connection closed or replaced): then nothing is sent, and the
 * database looks at the event again after its resend interval.
 */
#include "worker/wakesend.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/wire.h"
#include "common/wol.h"
#include "worker/link.h"

int
wakesend_build(const struct ipc_wake *w, struct wire_msg **out, char *err, size_t errlen)
{
	unsigned char mac[WOL_MAC_LEN];
	uint32_t bc;
	char why[128] = "not NUL-terminated";
	*out = NULL;
	if (memchr(w->mac, '\0', sizeof(w->mac)) == NULL || memchr(w->broadcast, '\0',
	    sizeof(w->broadcast)) == NULL || wol_parse_mac(w->mac, mac, why, sizeof(why)) == -1 ||
	    wol_parse_ipv4(w->broadcast, &bc, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "MAC or Broadcast is not one (%s)", why);
		return -1;
	}
	struct wire_msg *m = wire_msg_new();
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (wire_add(m, "Request", "Wake", err, errlen) == -1 ||
	    wire_add(m, "MAC", w->mac, err, errlen) == -1 ||
	    wire_add(m, "Broadcast", w->broadcast, err, errlen) == -1 ||
	    wire_addf(m, err, errlen, "Event-ID", "%" PRId64, w->event_id) == -1 ||
	    wire_add(m, "Task-Sequence-ID", "0", err, errlen) == -1) {
		wire_msg_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void
wakesend_relay(struct links *ls, const struct ipc_wake *w)
{
	char err[256];
	struct wire_msg *m;
	struct link *l = links_find(ls, w->link_id);
	if (l == NULL || !link_ready(l) || link_computer(l) != w->relay_id) {
		log_event(LL_NOTICE, w->event_id, "wake-on-LAN for %s not sent: the relay's connection "
		    "(computer %" PRId64 ") is gone", w->mac, w->relay_id);
		return;
	}
	if (wakesend_build(w, &m, err, sizeof(err)) == -1 || link_send(l, m, err, sizeof(err)) == -1)
		log_event(LL_WARNING, w->event_id, "wake-on-LAN not sent through computer %s: %s",
		    link_name(l), err);
	else
		log_event(LL_INFO, w->event_id, "wake-on-LAN for %s (computer %.64s) sent through computer %s "
		    "to %s", w->mac, w->target, link_name(l), w->broadcast);
	wire_msg_free(m);
}
