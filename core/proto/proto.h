/*
 * proto.h: wire formats the stack speaks (Ethernet, ARP, IPv4, TCP) and the
 * arithmetic they need. Pure functions over byte buffers: no allocation, no
 * state, no clock. Parsers never trust a length from the wire: every
 * parse_* checks the buffer it is given and returns a named error.
 *
 * Multi-byte fields in the parsed structs are in HOST byte order; the
 * builders write network byte order. Addresses: IPv4 as uint32_t host order
 * (10.0.0.1 == 0x0a000001), MAC as uint8_t[6].
 */
#ifndef BT_PROTO_H
#define BT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HDR_BYTES 14
#define ETH_ADDR_BYTES 6
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_MIN_FRAME_BYTES 60 /* without FCS; builders pad to this */

#define ARP_PKT_BYTES 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#define IPV4_HDR_MIN_BYTES 20
#define IPV4_PROTO_TCP 6
#define IPV4_ECN_MASK 0x03
#define IPV4_ECN_NOT_ECT 0x00
#define IPV4_ECN_ECT0 0x02
#define IPV4_ECN_CE 0x03

#define TCP_HDR_MIN_BYTES 20
#define TCP_HDR_MAX_BYTES 60
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_WSCALE_MAX 14
/* RFC 2018: at most 4 SACK blocks fit the 40 option bytes, 3 next to
 * timestamps. */
#define TCP_SACK_MAX_BLOCKS 4

enum proto_err {
	PROTO_OK = 0,
	PROTO_ETRUNC = -1,     /* buffer shorter than the header or its length field */
	PROTO_EVERSION = -2,   /* IPv4 version != 4 or IHL < 5 */
	PROTO_ECHECKSUM = -3,  /* header or L4 checksum does not verify */
	PROTO_EOPTION = -4,    /* TCP option with an impossible length */
	PROTO_EUNSUPPORTED = -5, /* fragment, non-Ethernet ARP, wrong proto */
	PROTO_ELENGTH = -6,    /* total length / data offset inconsistent */
	PROTO_ENOSPACE = -7,   /* builder output buffer too small */
};

const char *proto_err_name(int err);

/* ---- sequence numbers: 32-bit, compared modulo 2^32 (RFC 1982 style) ---- */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* true when start <= x < start + len, across wrap-around */
static inline bool seq_in_window(uint32_t x, uint32_t start, uint32_t len)
{
	return (uint32_t)(x - start) < len;
}

/* ---- checksums ---- */
/* Internet checksum (RFC 1071) of data, starting from partial sum `initial`
 * (0 for a fresh sum). Returns the folded, complemented 16-bit value in
 * network byte order as it must be stored in the packet. */
uint16_t inet_checksum(const void *data, size_t len, uint32_t initial);
/* Partial (unfolded, uncomplemented) sum, for combining pieces. */
uint32_t inet_sum_partial(const void *data, size_t len, uint32_t sum);
uint16_t inet_sum_finish(uint32_t sum);
/* Copies len bytes src -> dst (no overlap) and returns
 * inet_sum_partial(dst, len, sum): copy-and-checksum, for payload that is
 * copied anyway. */
uint32_t inet_sum_copy(void *dst, const void *src, size_t len, uint32_t sum);
/* Pseudo-header partial sum for TCP over IPv4. */
uint32_t tcp_pseudo_sum(uint32_t src_ip, uint32_t dst_ip, uint16_t tcp_len_bytes);
/* Whether seg[0..len), a whole TCP segment, carries a checksum that
 * verifies (RFC 9293 3.1, with the pseudo header). */
bool tcp_csum_ok(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip);

/* ---- Ethernet ---- */
struct eth_hdr_view {
	uint8_t dst[ETH_ADDR_BYTES];
	uint8_t src[ETH_ADDR_BYTES];
	uint16_t ethertype;
};
int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr_view *out);
/* Writes 14 bytes. Returns ETH_HDR_BYTES or PROTO_ENOSPACE. */
int eth_build(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
	      uint16_t ethertype);
bool eth_is_broadcast(const uint8_t mac[6]);
#define ETH_BROADCAST_ADDR ((const uint8_t[ETH_ADDR_BYTES]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

/* ---- ARP (Ethernet/IPv4 only) ---- */
struct arp_view {
	uint16_t op;
	uint8_t sender_mac[6];
	uint32_t sender_ip;
	uint8_t target_mac[6];
	uint32_t target_ip;
};
/* `pkt` points after the Ethernet header. */
int arp_parse(const uint8_t *pkt, size_t len, struct arp_view *out);
/* Builds a whole frame (Ethernet + ARP, padded to 60 bytes). Returns frame
 * length or PROTO_ENOSPACE. Requests go to broadcast with target_mac zero. */
int arp_build_frame(uint8_t *buf, size_t cap, uint16_t op, const uint8_t sender_mac[6],
		    uint32_t sender_ip, const uint8_t target_mac[6], uint32_t target_ip);

/* ---- IPv4 ---- */
struct ipv4_view {
	uint8_t ihl_bytes;
	uint8_t tos;            /* DSCP << 2 | ECN */
	uint16_t total_len;
	uint16_t id;
	uint8_t ttl;
	uint8_t proto;
	uint32_t src;
	uint32_t dst;
	const uint8_t *payload; /* points into the packet */
	uint16_t payload_len;   /* total_len - ihl, never past the buffer */
};
/* Validates version, IHL, total length against `len` (trailing Ethernet
 * padding beyond total_len is allowed and ignored), header checksum.
 * Fragments (MF set or offset != 0) are PROTO_EUNSUPPORTED. */
int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_view *out);
/* ipv4_parse, skipping the header checksum when `csum_verified` (the NIC
 * hardware checked it: netif.h, NETIF_RX_IP_CSUM_GOOD). */
int ipv4_parse_hw(const uint8_t *pkt, size_t len, bool csum_verified, struct ipv4_view *out);
/* Writes a 20-byte header with checksum. Returns 20 or PROTO_ENOSPACE. */
int ipv4_build(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint8_t proto,
	       uint8_t tos, uint16_t id, uint8_t ttl, uint16_t payload_len);

/* ---- TCP ---- */
struct tcp_opts {
	bool has_mss;
	uint16_t mss;
	bool has_wscale;
	uint8_t wscale;         /* clamped to TCP_WSCALE_MAX by the parser */
	bool has_ts;
	uint32_t ts_val;
	uint32_t ts_ecr;
	bool sack_permitted;    /* RFC 2018 SACK-permitted; sent on a SYN only */
	uint8_t sack_count;     /* SACK blocks (RFC 2018), never on a SYN */
	struct tcp_sack_block {
		uint32_t start, end; /* [start, end): left and right edge */
	} sack[TCP_SACK_MAX_BLOCKS];
};
struct tcp_view {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t hdr_bytes;
	uint8_t flags;
	uint16_t window;        /* raw, unscaled */
	uint16_t urg;
	struct tcp_opts opts;
	const uint8_t *payload;
	uint16_t payload_len;
};
/* `seg` is the IPv4 payload. Verifies the checksum with the pseudo header
 * (pass verify_csum=false when the NIC already did). Options: EOL/NOP/MSS/
 * WS/SACK-permitted/SACK/TS understood; unknown kinds skipped by their
 * length; a length < 2 or running past the header is PROTO_EOPTION, and so
 * is a SACK option whose length is not 2 + 8n with n in 1..4. */
int tcp_parse(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip,
	      bool verify_csum, struct tcp_view *out);

/* The order and padding of a SYN's options (the rest always carry
 * NOP NOP TS): ours, or those of Linux or FreeBSD, which conformance
 * scripts spell out to the byte (docs/conformance.md). */
enum tcp_opt_layout {
	TCP_LAYOUT_BLUETAS = 0, /* MSS | NOP WS | NOP NOP TS */
	TCP_LAYOUT_LINUX,       /* MSS | SACKOK TS (or NOP NOP TS) | NOP NOP SACKOK without TS | NOP WS */
	TCP_LAYOUT_FREEBSD,     /* MSS, NOP WS, SACKOK, NOP NOP TS aligned as tcp_addoptions, EOL padding */
};
/* Writes a SYN's options (MSS, WS, SACK-permitted, TS as `o` has them) in
 * `layout` into out (40 bytes); returns their length, a multiple of 4. */
int tcp_syn_opts_layout(uint8_t out[40], const struct tcp_opts *o, enum tcp_opt_layout layout);

struct tcp_build_args {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint8_t layout;         /* enum tcp_opt_layout of a SYN's options */
	uint16_t window;        /* already scaled down */
	const struct tcp_opts *opts; /* NULL: none. MSS/WS/SACK-permitted only emitted
				      * with SYN, SACK blocks only without */
};
/* Writes the TCP header (options padded to 4 bytes) and returns its length,
 * or PROTO_ENOSPACE. SACK blocks are written in the order given, as many as
 * fit next to the other options (4 alone, 3 with timestamps); the rest are
 * left out (RFC 2018: the first block is the most important). Checksum
 * is left 0: fill with tcp_fill_checksum once the payload is in place
 * right after the header. */
int tcp_build_hdr(uint8_t *buf, size_t cap, const struct tcp_build_args *a);
/* Computes and stores the checksum of header+payload (contiguous, total
 * `seg_len` bytes starting at `seg`). */
void tcp_fill_checksum(uint8_t *seg, uint16_t seg_len, uint32_t src_ip, uint32_t dst_ip);

/* The receive path's common frame in one pass (tcp4_fast.c): Ethernet to
 * `our_mac`, IPv4 without options or fragments to `our_ip` with a header
 * checksum that verifies (unless `ip_csum_verified`), TCP with a sound
 * data offset and no options or only NOP NOP TS. Fills the views exactly
 * as ipv4_parse_hw and tcp_parse (without the TCP checksum) would and
 * returns true; anything else returns false, for the layered parsers to
 * take apart and name what is wrong. */
bool tcp4_parse_fast(const uint8_t *frame, size_t len, const uint8_t our_mac[ETH_ADDR_BYTES], uint32_t our_ip,
		     bool ip_csum_verified, struct ipv4_view *ip, struct tcp_view *tcp);

/* One-call builder used by the stack: Ethernet + IPv4 + TCP header + copy
 * of payload into `buf`. Returns the frame length (padded to 60) or
 * PROTO_ENOSPACE. */
struct tcp_frame_args {
	const uint8_t *src_mac, *dst_mac;
	uint32_t src_ip, dst_ip;
	uint8_t tos;
	uint16_t ip_id;
	struct tcp_build_args tcp;
	const uint8_t *payload;
	uint16_t payload_len;
	/* The hardware completes the TCP checksum (netif.h, NETIF_TX_L4_CSUM):
	 * the field gets the folded pseudo-header sum, the payload is not
	 * summed. Otherwise the payload is summed as it is copied. */
	bool l4_csum_offload;
};
int tcp_frame_build(uint8_t *buf, size_t cap, const struct tcp_frame_args *a);

/* Formatting helpers for logs and tables. `out` needs 16 / 18 bytes. */
void ipv4_to_str(uint32_t ip, char out[16]);
int ipv4_from_str(const char *s, uint32_t *ip_out); /* 0 or -1 */
void mac_to_str(const uint8_t mac[6], char out[18]);
int mac_from_str(const char *s, uint8_t mac_out[6]);  /* 0 or -1 */

#endif
