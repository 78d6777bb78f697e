/*
 * sp_icmp.c: ICMP errors about our own segments (RFC 1122 4.2.3.9, RFC
 * 5927). A hard error (protocol or port unreachable, administratively
 * prohibited) for a connection still in SYN_SENT means nobody answers
 * there: the connect fails with ECONNREFUSED, as FreeBSD and Linux do.
 * Anything else (soft errors, later states) is counted and ignored; a
 * quoted sequence number outside [snd_una, snd_nxt) is a forgery (RFC
 * 5927 4.1) and ignored too.
 */
#include "../bluetas.h"
#include "../proto/bytes.h"
#include "nic_internal.h"

#define IPV4_PROTO_ICMP 1
#define ICMP_DEST_UNREACH 3
#define ICMP_HDR_BYTES 8
#define ICMP_QUOTE_TCP_BYTES 8 /* ports and sequence number: all RFC 792 promises */

static bool hard_error(uint8_t type, uint8_t code)
{
	if (type != ICMP_DEST_UNREACH)
		return false;
	switch (code) {
	case 2:  /* protocol unreachable */
	case 3:  /* port unreachable */
	case 9:  /* network administratively prohibited */
	case 10: /* host administratively prohibited */
	case 13: /* communication administratively prohibited */
		return true;
	default:
		return false;
	}
}

bool sp_icmp_rx(struct nic *nic, const struct ipv4_view *ip)
{
	if (ip->proto != IPV4_PROTO_ICMP)
		return false;
	const uint8_t *p = ip->payload;
	uint16_t len = ip->payload_len;
	if (len < ICMP_HDR_BYTES + IPV4_HDR_MIN_BYTES || inet_checksum(p, len, 0) != 0) {
		nic->stats.rx_icmp_ignored++;
		return true;
	}
	const uint8_t *inner = p + ICMP_HDR_BYTES;
	uint16_t inner_ihl = (uint16_t)((inner[0] & 0x0f) * 4);
	if ((inner[0] >> 4) != 4 || inner_ihl < IPV4_HDR_MIN_BYTES ||
	    len < ICMP_HDR_BYTES + inner_ihl + ICMP_QUOTE_TCP_BYTES || inner[9] != IPV4_PROTO_TCP) {
		nic->stats.rx_icmp_ignored++;
		return true;
	}
	uint32_t src = load_be32(inner + 12), dst = load_be32(inner + 16);
	const uint8_t *tcp = inner + inner_ihl;
	uint16_t sport = load_be16(tcp), dport = load_be16(tcp + 2);
	uint32_t seq = load_be32(tcp + 4);
	uint32_t fi = src == nic->cfg.ip ? flow_lookup(nic, src, sport, dst, dport) : FLOW_NONE;
	if (fi == FLOW_NONE || !hard_error(p[0], p[1])) {
		nic->stats.rx_icmp_ignored++;
		return true;
	}
	struct flow *f = &nic->flows[fi];
	if (f->state != TCP_SYN_SENT || !seq_geq(seq, f->snd_una) || !seq_lt(seq, f->snd_nxt)) {
		nic->stats.rx_icmp_ignored++;
		return true;
	}
	nic->stats.rx_icmp_errors++;
	sp_flow_abort(nic, fi, BT_ECONNREFUSED, false);
	return true;
}
