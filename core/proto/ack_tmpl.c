/*
 * ack_tmpl.c: pure ACKs from a per-flow template (ack_tmpl.h). The
 * checksums follow RFC 1071's arithmetic: the sum of a header is the sum
 * of its constant words (kept in the template) plus the sum of the
 * patched ones, so only those are added per ACK.
 */
#include "core/proto/ack_tmpl.h"

#include <string.h>

#include "core/proto/bytes.h"
#include "core/proto/proto.h"

#define IP_OFF ETH_HDR_BYTES
#define IP_ID_OFF (IP_OFF + 4)
#define IP_CSUM_OFF (IP_OFF + 10)
#define TCP_OFF (IP_OFF + IPV4_HDR_MIN_BYTES)
#define TCP_SEQ_OFF (TCP_OFF + 4)
#define TCP_ACK_OFF (TCP_OFF + 8)
#define TCP_WIN_OFF (TCP_OFF + 14)
#define TCP_SUM_OFF (TCP_OFF + 16)
#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_TS 8
#define OPT_TS_BYTES 10

static uint16_t fold16(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum32(uint32_t v) { return (v >> 16) + (v & 0xffffu); }

/* inet_sum_finish, here so that it inlines: the folded, complemented sum
 * stored big-endian. */
static void store_finished(uint8_t *at, uint32_t sum)
{
	store_be16(at, (uint16_t)~fold16(sum));
}

/* Offset of TSval in the frame, 0 without timestamps, -1 for an option a
 * template cannot hold. */
static int find_ts(const uint8_t *frame, size_t opt_off, size_t opt_end)
{
	int ts_off = 0;
	size_t i = opt_off;
	while (i < opt_end) {
		uint8_t kind = frame[i];
		if (kind == OPT_EOL || kind == OPT_NOP) {
			i++;
			continue;
		}
		if (kind != OPT_TS || ts_off || opt_end - i < OPT_TS_BYTES || frame[i + 1] != OPT_TS_BYTES)
			return -1;
		ts_off = (int)(i + 2);
		i += OPT_TS_BYTES;
	}
	return ts_off;
}

int ack_tmpl_capture(struct ack_tmpl *t, const uint8_t *frame, size_t len, bool l4_csum_offload)
{
	t->len_bytes = 0;
	if (len > sizeof(t->frame) || len < TCP_OFF + TCP_HDR_MIN_BYTES || load_be16(frame + 12) != ETH_TYPE_IPV4 ||
	    frame[IP_OFF] != 0x45 || frame[IP_OFF + 9] != IPV4_PROTO_TCP)
		return PROTO_EUNSUPPORTED;
	size_t tcp_hdr = (size_t)(frame[TCP_OFF + 12] >> 4) * 4;
	size_t seg_len = load_be16(frame + IP_OFF + 2) - (size_t)IPV4_HDR_MIN_BYTES;
	if (tcp_hdr < TCP_HDR_MIN_BYTES || seg_len != tcp_hdr || TCP_OFF + tcp_hdr > len ||
	    frame[TCP_OFF + 13] != TCP_ACK || load_be16(frame + TCP_OFF + 18) != 0)
		return PROTO_EUNSUPPORTED;
	int ts_off = find_ts(frame, TCP_OFF + TCP_HDR_MIN_BYTES, TCP_OFF + tcp_hdr);
	if (ts_off < 0)
		return PROTO_EUNSUPPORTED;

	memcpy(t->frame, frame, len);
	uint8_t *f = t->frame;
	store_be16(f + IP_ID_OFF, 0);
	store_be16(f + IP_CSUM_OFF, 0);
	t->ip_sum = fold16(inet_sum_partial(f + IP_OFF, IPV4_HDR_MIN_BYTES, 0));
	if (!l4_csum_offload) {
		/* The hardware's seed stays in the field otherwise: it depends
		 * on addresses and length only. */
		store_be16(f + TCP_SUM_OFF, 0);
		store_be32(f + TCP_SEQ_OFF, 0);
		store_be32(f + TCP_ACK_OFF, 0);
		store_be16(f + TCP_WIN_OFF, 0);
		if (ts_off)
			memset(f + ts_off, 0, 8);
		uint32_t src_ip = load_be32(f + IP_OFF + 12), dst_ip = load_be32(f + IP_OFF + 16);
		uint32_t sum = inet_sum_partial(f + TCP_OFF, tcp_hdr, tcp_pseudo_sum(src_ip, dst_ip, (uint16_t)tcp_hdr));
		t->tcp_sum = fold16(sum);
	}
	t->ts_off = (uint8_t)ts_off;
	t->l4_csum_offload = l4_csum_offload;
	t->len_bytes = (uint8_t)len;
	return 0;
}

int ack_tmpl_fill(const struct ack_tmpl *t, uint8_t *buf, size_t cap, const struct ack_tmpl_fields *v)
{
	if (t->len_bytes == 0)
		return PROTO_EUNSUPPORTED;
	if (cap < t->len_bytes)
		return PROTO_ENOSPACE;
	/* The whole array where the buffer has room: a copy of constant
	 * size is a few vector moves, not a call. */
	if (cap >= sizeof(t->frame))
		memcpy(buf, t->frame, sizeof(t->frame));
	else
		memcpy(buf, t->frame, t->len_bytes);
	store_be16(buf + IP_ID_OFF, v->ip_id);
	store_finished(buf + IP_CSUM_OFF, (uint32_t)t->ip_sum + v->ip_id);
	store_be32(buf + TCP_SEQ_OFF, v->seq);
	store_be32(buf + TCP_ACK_OFF, v->ack);
	store_be16(buf + TCP_WIN_OFF, v->window);
	uint32_t sum = (uint32_t)t->tcp_sum + sum32(v->seq) + sum32(v->ack) + v->window;
	if (t->ts_off) {
		store_be32(buf + t->ts_off, v->ts_val);
		store_be32(buf + t->ts_off + 4, v->ts_ecr);
		sum += sum32(v->ts_val) + sum32(v->ts_ecr);
	}
	if (!t->l4_csum_offload)
		store_finished(buf + TCP_SUM_OFF, sum);
	return t->len_bytes;
}
