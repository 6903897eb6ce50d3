/*
 * wol: wake-on-LAN, the pure parts (docs/agent.md "Wake-on-LAN"): a Request=Wake read and
 * checked (MAC exactly six hex pairs, Broadcast an IPv4 dotted quad), the 102-byte magic
 * packet, and a subnet's broadcast address. No I/O, no allocation: the caller owns every
 * buffer.
 */
#ifndef PGFLEET_WOL_H
#define PGFLEET_WOL_H

#include <stddef.h>
#include <stdint.h>

struct wire_msg;

#define WOL_MAC_LEN 6
#define WOL_PACKET_LEN (6 + 16 * WOL_MAC_LEN) /* 6 x 0xFF, then the MAC 16 times */
#define WOL_MAC_TEXT 17                        /* "aa:bb:cc:dd:ee:ff" */
#define WOL_IPV4_TEXT 15                       /* "255.255.255.255" */

/* A Request=Wake as wol_request_parse read it; the texts are the checked values. */
struct wol_request {
	unsigned char mac[WOL_MAC_LEN];
	uint32_t broadcast;                /* host byte order */
	char mac_s[WOL_MAC_TEXT + 1];      /* lower case */
	char broadcast_s[WOL_IPV4_TEXT + 1];
	long long event_id;                /* Event-ID, 0 when absent */
};

/* "aa:bb:cc:dd:ee:ff": exactly six pairs of hex digits (either case) split by ':'.
 * 0 with mac filled, or -1 with the reason in err. */
int wol_parse_mac(const char *s, unsigned char mac[WOL_MAC_LEN], char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* An IPv4 dotted quad: four numbers 0-255, one to three digits, no leading zero, nothing
 * else. 0 with *addr (host byte order), or -1 with the reason in err. */
int wol_parse_ipv4(const char *s, uint32_t *addr, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The dotted quad of addr (host byte order) into out (at least WOL_IPV4_TEXT + 1 bytes). */
void wol_format_ipv4(uint32_t addr, char *out, size_t outlen);
/* The broadcast address of the subnet of addr with prefix bits (0-32). */
uint32_t wol_broadcast(uint32_t addr, int prefix);
/* The magic packet for mac into out. */
void wol_packet(const unsigned char mac[WOL_MAC_LEN], unsigned char out[WOL_PACKET_LEN]);
/*
 * A Request=Wake: MAC and Broadcast required and checked (a Broadcast of 0.0.0.0 refused),
 * Event-ID optional (a number). 0 with r filled, or -1 with the reason in err.
 */
int wol_request_parse(const struct wire_msg *m, struct wol_request *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
