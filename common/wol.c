/*
 * wol: wake-on-LAN's pure parts. The agent sends what wol_packet builds; the scheduler's
 * worker checks what it puts on the wire with the same parsers the agent reads it with.
 */
#include "common/wol.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/wire.h"

int
wol_parse_mac(const char *s, unsigned char mac[WOL_MAC_LEN], char *err, size_t errlen)
{
	if (s == NULL || strlen(s) != WOL_MAC_TEXT) {
		snprintf(err, errlen, "MAC must be six hex pairs split by ':' (aa:bb:cc:dd:ee:ff)");
		return -1;
	}
	for (int i = 0; i < WOL_MAC_LEN; i++) {
		int hi = util_hexval(s[3 * i]), lo = util_hexval(s[3 * i + 1]);
		char sep = s[3 * i + 2];
		if (hi < 0 || lo < 0 || (i < WOL_MAC_LEN - 1 && sep != ':')) {
			snprintf(err, errlen, "MAC must be six hex pairs split by ':' (aa:bb:cc:dd:ee:ff)");
			return -1;
		}
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
wol_parse_ipv4(const char *s, uint32_t *addr, char *err, size_t errlen)
{
	uint32_t a = 0;
	const char *p = s;
	for (int part = 0; p != NULL && part < 4; part++) {
		int v = 0, digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		int leading_zero = digits > 1 && p[-digits] == '0';
		if (digits == 0 || digits > 3 || v > 255 || leading_zero ||
		    *p != (part < 3 ? '.' : '\0')) {
			p = NULL;
			break;
		}
		a = a << 8 | (uint32_t)v;
		if (part < 3)
			p++;
	}
	if (p == NULL) {
		snprintf(err, errlen, "not an IPv4 address (four numbers 0-255 split by '.')");
		return -1;
	}
	*addr = a;
	return 0;
}

void
wol_format_ipv4(uint32_t addr, char *out, size_t outlen)
{
	snprintf(out, outlen, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
	    addr & 255);
}

uint32_t
wol_broadcast(uint32_t addr, int prefix)
{
	if (prefix <= 0)
		return 0xFFFFFFFFu;
	if (prefix >= 32)
		return addr;
	return addr | (0xFFFFFFFFu >> prefix);
}

void
wol_packet(const unsigned char mac[WOL_MAC_LEN], unsigned char out[WOL_PACKET_LEN])
{
	memset(out, 0xFF, 6);
	for (int i = 0; i < 16; i++)
		memcpy(out + 6 + i * WOL_MAC_LEN, mac, WOL_MAC_LEN);
}

int
wol_request_parse(const struct wire_msg *m, struct wol_request *r, char *err, size_t errlen)
{
	char why[128];
	const char *mac = wire_get(m, "MAC"), *bc = wire_get(m, "Broadcast");
	const char *ev = wire_get(m, "Event-ID");
	memset(r, 0, sizeof(*r));
	if (wol_parse_mac(mac, r->mac, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (bc == NULL || wol_parse_ipv4(bc, &r->broadcast, why, sizeof(why)) == -1 ||
	    r->broadcast == 0) {
		snprintf(err, errlen, "Broadcast: %s", bc == NULL ? "missing" :
		    r->broadcast == 0 && strcmp(bc, "0.0.0.0") == 0 ? "0.0.0.0 is no broadcast address" : why);
		return -1;
	}
	if (ev != NULL) {
		char *end;
		errno = 0;
		r->event_id = strtoll(ev, &end, 10);
		if (ev[0] < '0' || ev[0] > '9' || *end != '\0' || errno != 0 || r->event_id < 0) {
			snprintf(err, errlen, "Event-ID: not a number");
			return -1;
		}
	}
	for (int i = 0; i < WOL_MAC_LEN; i++)
		snprintf(r->mac_s + 3 * i, sizeof(r->mac_s) - 3 * (size_t)i, i < 5 ? "%02x:" : "%02x", r->mac[i]);
	wol_format_ipv4(r->broadcast, r->broadcast_s, sizeof(r->broadcast_s));
	return 0;
}
