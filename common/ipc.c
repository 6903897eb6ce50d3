/* ipc: framing of parent <-> worker messages. */
#include "common/ipc.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

struct ipc_hdr {
	uint32_t type;
	uint32_t len;
};

int
ipc_compose(struct evbuffer *out, uint32_t type, const void *payload, size_t len)
{
	if (type == 0 || type >= IPC_TYPE_MAX || len > IPC_MAX_PAYLOAD)
		return -1;
	struct ipc_hdr h = {type, (uint32_t)len};
	if (evbuffer_add(out, &h, sizeof(h)) == -1)
		return -1;
	if (len > 0 && evbuffer_add(out, payload, len) == -1)
		return -1;
	return 0;
}

int
ipc_take(struct evbuffer *in, struct ipc_msg *msg, char *err, size_t errlen)
{
	struct ipc_hdr h;
	if (evbuffer_get_length(in) < sizeof(h))
		return 0;
	evbuffer_copyout(in, &h, sizeof(h));
	if (h.type == 0 || h.type >= IPC_TYPE_MAX) {
		snprintf(err, errlen, "ipc: unknown message type %u", h.type);
		return -1;
	}
	if (h.len > IPC_MAX_PAYLOAD) {
		snprintf(err, errlen, "ipc: message type %u of %u bytes exceeds %d", h.type, h.len,
		    IPC_MAX_PAYLOAD);
		return -1;
	}
	if (evbuffer_get_length(in) < sizeof(h) + h.len)
		return 0;
	evbuffer_drain(in, sizeof(h));
	msg->type = h.type;
	msg->len = h.len;
	if (h.len > 0)
		evbuffer_remove(in, msg->payload, h.len);
	return 1;
}

int
ipc_get(const struct ipc_msg *msg, void *dst, size_t size)
{
	if (msg->len != size)
		return -1;
	memcpy(dst, msg->payload, size);
	return 0;
}
