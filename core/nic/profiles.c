/*
 * profiles.c: the linux-like and freebsd-like TCP profiles (nic.h). The
 * values are those of a stock kernel, so packetdrill scripts written
 * against it need no rewriting of their timings (docs/conformance.md).
 */
#include "../proto/proto.h"
#include "nic.h"

#define MS 1000000ull

void nic_profile_linux(struct nic_config *cfg)
{
	cfg->mss = 1460;                  /* MTU 1500 */
	cfg->rto_min_ns = 200 * MS;       /* TCP_RTO_MIN */
	cfg->rto_initial_ns = 1000 * MS;  /* RFC 6298 */
	cfg->rto_max_ns = 120000 * MS;    /* TCP_RTO_MAX */
	cfg->tail_probe = true;           /* tcp_send_loss_probe */
	cfg->tlp = false;                 /* tail_probe's timing instead */
	cfg->early_retransmit = false;    /* tcp_early_retrans 3: RACK's timing, which the scripts pin */
	cfg->rto_min_on_var = true;       /* tcp_set_rto: rttvar is at least tcp_rto_min */
	cfg->max_retries = 15;            /* tcp_retries2 */
	cfg->syn_retries = 6;             /* tcp_syn_retries */
	cfg->delayed_ack_ns = 40 * MS;    /* TCP_DELACK_MIN */
	cfg->time_wait_ns = 60000 * MS;   /* TCP_TIMEWAIT_LEN */
	cfg->fin_wait2_ns = 60000 * MS;   /* tcp_fin_timeout */
	cfg->ecn = false;                 /* tcp_ecn = 2: only when asked */
	cfg->nagle = true;
	cfg->rcv_wscale = 8;              /* what tcp_rmem's 15 MiB maximum gives */
	cfg->quickack_segs = 16;          /* TCP_MAX_QUICKACKS */
	cfg->opt_layout = TCP_LAYOUT_LINUX;
	cfg->ack_unsent_silent = true;    /* tcp_ack: SKB_DROP_REASON_TCP_ACK_UNSENT_DATA */
	cfg->ts_tick_us = 1000;           /* tcp_time_stamp: TSval in milliseconds */
	cfg->cc_skip_sacked = true;       /* tcp_cong_control: acked_sacked, newly delivered only */
	cfg->psh_burst_end = true;        /* PSH where a TSO packet the window cut ends */
	cfg->sack_whole_segments = true;  /* tcp_match_skb_to_sack: skbs split at MSS multiples */
	cfg->newreno = true;              /* tcp_add_reno_sack, tcp_enter_recovery without SACK */
	cfg->prr = true;                  /* tcp_cwnd_reduction */
	cfg->cubic_decrease = true;       /* bictcp_recalc_ssthresh: beta 717/1024 */
	cfg->more_probe = true;           /* tcp_check_probe_timer, tcp_data_snd_check */
}

void nic_profile_freebsd(struct nic_config *cfg)
{
	cfg->mss = 1460;
	cfg->rto_min_ns = 30 * MS;        /* net.inet.tcp.rexmit_min */
	cfg->rto_initial_ns = 1000 * MS;  /* net.inet.tcp.rexmit_initial */
	cfg->rto_max_ns = 64000 * MS;     /* TCPTV_REXMTMAX */
	cfg->max_retries = 12;            /* TCP_MAXRXTSHIFT */
	cfg->syn_retries = 6;
	cfg->delayed_ack_ns = 40 * MS;    /* net.inet.tcp.delacktime */
	cfg->time_wait_ns = 60000 * MS;   /* 2 * net.inet.tcp.msl */
	cfg->fin_wait2_ns = 60000 * MS;   /* net.inet.tcp.finwait2_timeout */
	cfg->ecn = false;                 /* net.inet.tcp.ecn.enable = 2 */
	cfg->nagle = true;
	cfg->rcv_wscale = 6;              /* what kern.ipc.maxsockbuf's 2 MiB gives */
	cfg->ack_second_segment = true;   /* tcp_input: TF_DELACK set, so ACK now */
	cfg->ack_carries_fin = true;      /* tcp_output resends an unacknowledged FIN */
	cfg->rcvbuf_round_mss = true;     /* tcp_mss rounds the buffers up to the MSS */
	cfg->opt_layout = TCP_LAYOUT_FREEBSD;
	cfg->tlp = false;                 /* the default stack has no probe: the RTO */
	cfg->early_retransmit = false;    /* nor early retransmit: three duplicates */
}
