/*
 * tcp.c: TCP header parse/build (RFC 9293) with the options the stack uses:
 * MSS, window scale (RFC 7323), timestamps (RFC 7323), SACK-permitted and
 * SACK blocks (RFC 2018). Plus the one-call Ethernet/IPv4/TCP frame builder.
 */
#include "core/proto/proto.h"
#include "core/proto/bytes.h"

#include <string.h>

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

#define TCPOLEN_MSS 4
#define TCPOLEN_WS 3
#define TCPOLEN_SACK_PERM 2
#define TCPOLEN_TS 10
#define TCPOLEN_SACK_BASE 2
#define TCPOLEN_SACK_BLOCK 8
#define TCP_OPT_SPACE 40

#define TCP_CSUM_OFF 16
#define FRAME_TTL 64

/* Parses options in opt[0..n). Later duplicates of a kind overwrite
 * earlier ones. */
static int tcp_parse_opts(const uint8_t *opt, size_t n, struct tcp_opts *o)
{
	/* Nearly every segment of a connection with timestamps carries just
	 * NOP NOP TS (RFC 7323 appendix A, as Linux and we send it): one
	 * compare instead of the walk below, which gives the same result. */
	if (n == 2 + TCPOLEN_TS && load_be32(opt) == (TCPOPT_NOP << 24 | TCPOPT_NOP << 16 | TCPOPT_TS << 8 | TCPOLEN_TS)) {
		o->has_ts = true;
		o->ts_val = load_be32(opt + 4);
		o->ts_ecr = load_be32(opt + 8);
		return PROTO_OK;
	}
	size_t i = 0;

	while (i < n) {
		uint8_t kind = opt[i];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2)
			return PROTO_EOPTION; /* no room for the length byte */
		uint8_t olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			return PROTO_EOPTION;
		const uint8_t *v = opt + i + 2;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen != TCPOLEN_MSS)
				return PROTO_EOPTION;
			o->has_mss = true;
			o->mss = load_be16(v);
			break;
		case TCPOPT_WS:
			if (olen != TCPOLEN_WS)
				return PROTO_EOPTION;
			o->has_wscale = true;
			o->wscale = v[0] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : v[0];
			break;
		case TCPOPT_SACK_PERM:
			if (olen != TCPOLEN_SACK_PERM)
				return PROTO_EOPTION;
			o->sack_permitted = true;
			break;
		case TCPOPT_SACK: {
			uint8_t blocks = (uint8_t)((olen - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_BLOCK);
			if ((olen - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_BLOCK || blocks == 0 ||
			    blocks > TCP_SACK_MAX_BLOCKS)
				return PROTO_EOPTION;
			o->sack_count = blocks;
			for (uint8_t b = 0; b < blocks; b++) {
				o->sack[b].start = load_be32(v + b * TCPOLEN_SACK_BLOCK);
				o->sack[b].end = load_be32(v + b * TCPOLEN_SACK_BLOCK + 4);
			}
			break;
		}
		case TCPOPT_TS:
			if (olen != TCPOLEN_TS)
				return PROTO_EOPTION;
			o->has_ts = true;
			o->ts_val = load_be32(v);
			o->ts_ecr = load_be32(v + 4);
			break;
		default:
			break; /* unknown kind: skipped by its length */
		}
		i += olen;
	}
	return PROTO_OK;
}

bool tcp_csum_ok(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip)
{
	return inet_checksum(seg, len, tcp_pseudo_sum(src_ip, dst_ip, (uint16_t)len)) == 0;
}

/* Error precedence: ETRUNC (< 20 bytes), ELENGTH (segment > 65535 bytes,
 * data offset < 5 or past `len`), ECHECKSUM, EOPTION. */
int tcp_parse(const uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip,
	      bool verify_csum, struct tcp_view *out)
{
	if (seg == NULL || len < TCP_HDR_MIN_BYTES)
		return PROTO_ETRUNC;
	if (len > 0xffffu)
		return PROTO_ELENGTH;
	size_t hdr = (size_t)(seg[12] >> 4) * 4;
	if (hdr < TCP_HDR_MIN_BYTES || hdr > len)
		return PROTO_ELENGTH;
	if (verify_csum && !tcp_csum_ok(seg, len, src_ip, dst_ip))
		return PROTO_ECHECKSUM;

	struct tcp_opts opts;
	memset(&opts, 0, sizeof(opts));
	int rc = tcp_parse_opts(seg + TCP_HDR_MIN_BYTES, hdr - TCP_HDR_MIN_BYTES, &opts);
	if (rc != PROTO_OK)
		return rc;

	out->sport = load_be16(seg);
	out->dport = load_be16(seg + 2);
	out->seq = load_be32(seg + 4);
	out->ack = load_be32(seg + 8);
	out->hdr_bytes = (uint8_t)hdr;
	out->flags = seg[13];
	out->window = load_be16(seg + 14);
	out->urg = load_be16(seg + 18);
	out->opts = opts;
	out->payload = seg + hdr;
	out->payload_len = (uint16_t)(len - hdr);
	return PROTO_OK;
}

/* SACK blocks tcp_build_hdr emits: those given, as far as they fit. */
static uint8_t tcp_sack_blocks_fitting(const struct tcp_build_args *a)
{
	const struct tcp_opts *o = a->opts;
	if (o == NULL || (a->flags & TCP_SYN) || o->sack_count == 0)
		return 0;
	size_t room = TCP_OPT_SPACE - (o->has_ts ? 12 : 0) - 2 - TCPOLEN_SACK_BASE; /* NOP NOP kind len */
	size_t fit = room / TCPOLEN_SACK_BLOCK;
	uint8_t n = o->sack_count > TCP_SACK_MAX_BLOCKS ? TCP_SACK_MAX_BLOCKS : o->sack_count;
	return n < fit ? n : (uint8_t)fit;
}

/* Bytes of options tcp_build_hdr emits for these args. */
static size_t tcp_opts_len(const struct tcp_build_args *a)
{
	const struct tcp_opts *o = a->opts;
	size_t n = 0;

	if (o == NULL)
		return 0;
	if (a->flags & TCP_SYN) {
		if (o->has_mss)
			n += 4; /* MSS */
		if (o->has_wscale)
			n += 4; /* NOP, WS */
		if (o->sack_permitted && !o->has_ts)
			n += 4; /* NOP, NOP, SACK-permitted */
	}
	if (o->has_ts)
		n += 12; /* NOP, NOP, TS or SACK-permitted, TS */
	uint8_t blocks = tcp_sack_blocks_fitting(a);
	if (blocks)
		n += 2 + TCPOLEN_SACK_BASE + (size_t)blocks * TCPOLEN_SACK_BLOCK; /* NOP, NOP, SACK */
	return n;
}

/* Layout: MSS | NOP WS | NOP NOP TS | NOP NOP SACK, each group already
 * 4-byte aligned. A SYN's SACK-permitted takes the two NOPs before TS (as
 * Linux lays it out), or comes as NOP NOP SACK-permitted without TS. */
int tcp_build_hdr(uint8_t *buf, size_t cap, const struct tcp_build_args *a)
{
	const struct tcp_opts *o = a->opts;
	uint8_t laid_out[40];
	int laid_len = -1;
	if (o != NULL && (a->flags & TCP_SYN) && a->layout != TCP_LAYOUT_BLUETAS)
		laid_len = tcp_syn_opts_layout(laid_out, o, (enum tcp_opt_layout)a->layout); /* tcp_layout.c */
	size_t hdr = TCP_HDR_MIN_BYTES + (laid_len >= 0 ? (size_t)laid_len : tcp_opts_len(a));

	if (buf == NULL || cap < hdr)
		return PROTO_ENOSPACE;
	store_be16(buf, a->sport);
	store_be16(buf + 2, a->dport);
	store_be32(buf + 4, a->seq);
	store_be32(buf + 8, a->ack);
	buf[12] = (uint8_t)((hdr / 4) << 4);
	buf[13] = a->flags;
	store_be16(buf + 14, a->window);
	store_be16(buf + 16, 0); /* checksum */
	store_be16(buf + 18, 0); /* urgent pointer */

	uint8_t *p = buf + TCP_HDR_MIN_BYTES;
	if (laid_len >= 0) {
		memcpy(p, laid_out, (size_t)laid_len);
		return (int)hdr;
	}
	if (o != NULL && (a->flags & TCP_SYN) && o->has_mss) {
		p[0] = TCPOPT_MSS;
		p[1] = TCPOLEN_MSS;
		store_be16(p + 2, o->mss);
		p += 4;
	}
	if (o != NULL && (a->flags & TCP_SYN) && o->has_wscale) {
		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_WS;
		p[2] = TCPOLEN_WS;
		p[3] = o->wscale > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : o->wscale;
		p += 4;
	}
	bool sack_perm = o != NULL && (a->flags & TCP_SYN) && o->sack_permitted;
	if (sack_perm && !o->has_ts) {
		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_NOP;
		p[2] = TCPOPT_SACK_PERM;
		p[3] = TCPOLEN_SACK_PERM;
		p += 4;
	}
	if (o != NULL && o->has_ts) {
		p[0] = sack_perm ? TCPOPT_SACK_PERM : TCPOPT_NOP;
		p[1] = sack_perm ? TCPOLEN_SACK_PERM : TCPOPT_NOP;
		p[2] = TCPOPT_TS;
		p[3] = TCPOLEN_TS;
		store_be32(p + 4, o->ts_val);
		store_be32(p + 8, o->ts_ecr);
		p += 12;
	}
	uint8_t blocks = tcp_sack_blocks_fitting(a);
	if (blocks) {
		p[0] = TCPOPT_NOP;
		p[1] = TCPOPT_NOP;
		p[2] = TCPOPT_SACK;
		p[3] = (uint8_t)(TCPOLEN_SACK_BASE + blocks * TCPOLEN_SACK_BLOCK);
		for (uint8_t b = 0; b < blocks; b++) {
			store_be32(p + 4 + b * TCPOLEN_SACK_BLOCK, o->sack[b].start);
			store_be32(p + 8 + b * TCPOLEN_SACK_BLOCK, o->sack[b].end);
		}
		p += 4 + blocks * TCPOLEN_SACK_BLOCK;
	}
	return (int)hdr;
}

/* A segment shorter than the fixed header has no checksum field: no-op. */
void tcp_fill_checksum(uint8_t *seg, uint16_t seg_len, uint32_t src_ip, uint32_t dst_ip)
{
	if (seg == NULL || seg_len < TCP_HDR_MIN_BYTES)
		return;
	store_be16(seg + TCP_CSUM_OFF, 0);
	uint16_t csum = inet_checksum(seg, seg_len, tcp_pseudo_sum(src_ip, dst_ip, seg_len));
	memcpy(seg + TCP_CSUM_OFF, &csum, sizeof(csum)); /* already network order */
}

/* The payload is moved into place before any header byte is written, so it
 * may already live inside `buf` (even at its final offset). */
int tcp_frame_build(uint8_t *buf, size_t cap, const struct tcp_frame_args *a)
{
	uint8_t th[TCP_HDR_MAX_BYTES];
	int tlen = tcp_build_hdr(th, sizeof(th), &a->tcp);
	if (tlen < 0)
		return tlen;

	size_t seg_len = (size_t)tlen + a->payload_len;
	size_t ip_len = IPV4_HDR_MIN_BYTES + seg_len;
	if (ip_len > 0xffffu)
		return PROTO_ELENGTH;
	size_t frame_len = ETH_HDR_BYTES + ip_len;
	size_t out_len = frame_len < ETH_MIN_FRAME_BYTES ? ETH_MIN_FRAME_BYTES : frame_len;
	if (buf == NULL || cap < out_len)
		return PROTO_ENOSPACE;
	if (a->payload_len > 0 && a->payload == NULL)
		return PROTO_ELENGTH;

	uint8_t *ip = buf + ETH_HDR_BYTES;
	uint8_t *tcp = ip + IPV4_HDR_MIN_BYTES;
	uint8_t *dst = tcp + tlen;
	/* The payload's sum rides on its copy (it starts at an even offset
	 * of the segment, so the partial sums add up); a payload already
	 * inside buf is moved first and summed where it lands. */
	uint32_t payload_sum = 0;
	if (a->payload_len > 0) {
		bool overlaps = a->payload < dst + a->payload_len && dst < a->payload + a->payload_len;
		if (a->l4_csum_offload || overlaps)
			memmove(dst, a->payload, a->payload_len);
		if (!a->l4_csum_offload)
			payload_sum = overlaps ? inet_sum_partial(dst, a->payload_len, 0)
					       : inet_sum_copy(dst, a->payload, a->payload_len, 0);
	}
	memset(buf + frame_len, 0, out_len - frame_len);

	int rc = eth_build(buf, cap, a->dst_mac, a->src_mac, ETH_TYPE_IPV4);
	if (rc < 0)
		return rc;
	rc = ipv4_build(ip, cap - ETH_HDR_BYTES, a->src_ip, a->dst_ip, IPV4_PROTO_TCP, a->tos,
			a->ip_id, FRAME_TTL, (uint16_t)seg_len);
	if (rc < 0)
		return rc;
	memcpy(tcp, th, (size_t)tlen);
	uint32_t pseudo = tcp_pseudo_sum(a->src_ip, a->dst_ip, (uint16_t)seg_len);
	if (a->l4_csum_offload) {
		/* Not complemented: the hardware adds the segment and finishes. */
		uint16_t partial = (uint16_t)~inet_sum_finish(pseudo);
		memcpy(tcp + TCP_CSUM_OFF, &partial, sizeof(partial));
	} else {
		uint64_t both = (uint64_t)pseudo + payload_sum; /* two 32-bit partial sums */
		uint32_t start = (uint32_t)both + (uint32_t)(both >> 32);
		uint16_t csum = inet_sum_finish(inet_sum_partial(tcp, (size_t)tlen, start));
		memcpy(tcp + TCP_CSUM_OFF, &csum, sizeof(csum)); /* already network order */
	}
	return (int)out_len;
}
