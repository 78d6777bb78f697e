/*
 * eth_arp.c: Ethernet II header and ARP for Ethernet/IPv4.
 */
#include "core/proto/proto.h"
#include "core/proto/bytes.h"

#include <string.h>

#define ARP_HTYPE_ETHER 1

int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr_view *out)
{
	if (frame == NULL || len < ETH_HDR_BYTES)
		return PROTO_ETRUNC;
	memcpy(out->dst, frame, ETH_ADDR_BYTES);
	memcpy(out->src, frame + ETH_ADDR_BYTES, ETH_ADDR_BYTES);
	out->ethertype = load_be16(frame + 2 * ETH_ADDR_BYTES);
	return PROTO_OK;
}

int eth_build(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
	      uint16_t ethertype)
{
	if (buf == NULL || cap < ETH_HDR_BYTES)
		return PROTO_ENOSPACE;
	memcpy(buf, dst, ETH_ADDR_BYTES);
	memcpy(buf + ETH_ADDR_BYTES, src, ETH_ADDR_BYTES);
	store_be16(buf + 2 * ETH_ADDR_BYTES, ethertype);
	return ETH_HDR_BYTES;
}

bool eth_is_broadcast(const uint8_t mac[6])
{
	for (int i = 0; i < ETH_ADDR_BYTES; i++)
		if (mac[i] != 0xff)
			return false;
	return true;
}

/* ARP packet layout (RFC 826) for Ethernet/IPv4:
 *  0 htype(2) 2 ptype(2) 4 hlen(1) 5 plen(1) 6 op(2)
 *  8 sha(6) 14 spa(4) 18 tha(6) 24 tpa(4)  -> 28 bytes */
int arp_parse(const uint8_t *pkt, size_t len, struct arp_view *out)
{
	if (pkt == NULL || len < ARP_PKT_BYTES)
		return PROTO_ETRUNC;
	if (load_be16(pkt) != ARP_HTYPE_ETHER || load_be16(pkt + 2) != ETH_TYPE_IPV4 ||
	    pkt[4] != ETH_ADDR_BYTES || pkt[5] != 4)
		return PROTO_EUNSUPPORTED;
	uint16_t op = load_be16(pkt + 6);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
		return PROTO_EUNSUPPORTED;
	out->op = op;
	memcpy(out->sender_mac, pkt + 8, ETH_ADDR_BYTES);
	out->sender_ip = load_be32(pkt + 14);
	memcpy(out->target_mac, pkt + 18, ETH_ADDR_BYTES);
	out->target_ip = load_be32(pkt + 24);
	return PROTO_OK;
}

/* target_mac may be NULL: the ARP target field is then zero and, for a
 * non-request, the frame also goes to broadcast. */
int arp_build_frame(uint8_t *buf, size_t cap, uint16_t op, const uint8_t sender_mac[6],
		    uint32_t sender_ip, const uint8_t target_mac[6], uint32_t target_ip)
{
	static const uint8_t zero_mac[ETH_ADDR_BYTES] = {0};
	/* Not ETH_BROADCAST_ADDR: that compound literal would die with the
	 * block it is written in. */
	static const uint8_t bcast_mac[ETH_ADDR_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const size_t frame_len = ETH_MIN_FRAME_BYTES; /* 14 + 28 = 42, padded */
	const uint8_t *eth_dst;
	const uint8_t *arp_tha;

	if (buf == NULL || cap < frame_len)
		return PROTO_ENOSPACE;
	if (op == ARP_OP_REQUEST || target_mac == NULL) {
		eth_dst = bcast_mac;
		arp_tha = zero_mac;
	} else {
		eth_dst = target_mac;
		arp_tha = target_mac;
	}

	memset(buf, 0, frame_len);
	int n = eth_build(buf, cap, eth_dst, sender_mac, ETH_TYPE_ARP);
	if (n < 0)
		return n;
	uint8_t *a = buf + ETH_HDR_BYTES;
	store_be16(a, ARP_HTYPE_ETHER);
	store_be16(a + 2, ETH_TYPE_IPV4);
	a[4] = ETH_ADDR_BYTES;
	a[5] = 4;
	store_be16(a + 6, op);
	memcpy(a + 8, sender_mac, ETH_ADDR_BYTES);
	store_be32(a + 14, sender_ip);
	memcpy(a + 18, arp_tha, ETH_ADDR_BYTES);
	store_be32(a + 24, target_ip);
	return (int)frame_len;
}
