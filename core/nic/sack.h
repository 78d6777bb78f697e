/*
 * sack.h: selective acknowledgment for one flow, both sides (RFC 2018),
 * and the sender's scoreboard for loss recovery (RFC 6675). Pure state and
 * sequence arithmetic: no I/O, no clock, no NIC. The fast path calls in
 * (fp_sack.c is the glue); nothing here calls out.
 *
 * Sizes, and why they are enough. TAS keeps one out-of-order interval in
 * its flow state; a second hole in one window then costs a go-back-N.
 *
 * - The receiver keeps SACK_RX_INTERVALS (16) intervals, 128 bytes: one
 *   per hole in the window. An ACK carries only 3 blocks next to
 *   timestamps, but the newest first, so every arrival is reported at
 *   least once and the sender's scoreboard keeps it. 5% loss in the
 *   `bluetas nic` default window (256 KiB, 181 segments) makes about 9
 *   holes, and resends lost again add more: with 4 intervals a Linux
 *   sender resent 3.75x what was lost (segments needing a fifth interval
 *   are dropped, so they are resent too); with 8 1.09x at first, but once
 *   the port got faster and Linux's window with it, 1.4-2.0x (16 MiB at
 *   5%: 248 segments dropped for want of an interval against 636 lost).
 *   A segment that would need one more interval is dropped (rx_ooo_dropped).
 * - The sender keeps SACK_TX_INTERVALS (6) SACKed intervals, 48 bytes,
 *   plus 12 bytes of recovery state. A peer with more holes than that
 *   (Linux keeps any number) is still right: when the board is full the
 *   highest interval is forgotten, the peer reports it again (the block
 *   of its newest segment comes first), and a forgotten SACK costs at
 *   worst one needless resend, never a lost byte: nothing is freed
 *   before the cumulative ACK.
 */
#ifndef BT_NIC_SACK_H
#define BT_NIC_SACK_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"

#define SACK_RX_INTERVALS 16
#define SACK_TX_INTERVALS 6
#define SACK_DUPTHRESH 3 /* RFC 6675 DupThresh */

struct sack_interval {
	uint32_t start, end; /* [start, end) */
};

/* Receiver: bytes held in the RX ring beyond rcv_nxt, disjoint and not
 * adjacent, most recently grown first (the order RFC 2018 reports them). */
struct sack_rx {
	struct sack_interval iv[SACK_RX_INTERVALS];
	uint8_t count;
};

/* Sender: what the peer reported holding above snd_una, sorted by start,
 * disjoint; and the recovery episode (RFC 6675 names). */
struct sack_tx {
	struct sack_interval iv[SACK_TX_INTERVALS];
	uint8_t count;
	bool in_recovery;
	bool first_rtx_due;      /* entry: the first hole goes whatever the pipe (RFC 6675 step 4.3) */
	bool hold_after_rto;     /* no new recovery until snd_una reaches recovery_point */
	bool head_mark_valid;    /* head_rtx_* describe the resent head */
	bool all_holes_lost;     /* in this episode every hole below a SACKed interval is lost, not only
				  * one with DupThresh segments SACKed above it (Linux's RACK once in
				  * recovery: no reordering window; nic_config.prr) */
	uint32_t recovery_point; /* RecoveryPoint: HighData at entry (or at the RTO) */
	uint32_t high_rxt;       /* HighRxt: holes below it were resent in this episode */
	/* Lost retransmission of the head (beyond RFC 6675, which leaves it
	 * to the RTO): the head hole at head_rtx_seq went again no later than
	 * when snd_max was head_rtx_mark; a SACK above the mark means data
	 * sent after it arrived, so the resend was lost. */
	uint32_t head_rtx_seq, head_rtx_mark;
};

/* What one ACK's blocks told the sender. */
struct sack_tx_events {
	uint32_t taken;          /* blocks merged into the board */
	uint32_t ignored;        /* blocks outside (snd_una, snd_max] */
	bool head_rtx_lost;      /* the resent head was lost again: it goes once more */
};

/* ---- receiver ---- */

/* Records that [seq, end) is held (end after seq; both beyond rcv_nxt):
 * merged with every interval it touches and moved to the front. False,
 * and nothing changed, when it touches none and all intervals are used:
 * the caller drops the segment. */
bool sack_rx_add(struct sack_rx *r, uint32_t seq, uint32_t end);
/* rcv_nxt has advanced to `rcv_nxt`: removes every interval it reached
 * and returns the new in-order end (rcv_nxt, or past it when an interval
 * continued it). */
uint32_t sack_rx_take_in_order(struct sack_rx *r, uint32_t rcv_nxt);
/* The lowest part of [seq, end) already held, for a D-SACK block
 * (RFC 2883); false when none of it is. */
bool sack_rx_first_overlap(const struct sack_rx *r, uint32_t seq, uint32_t end, struct sack_interval *out);
/* Fills up to `max` blocks, most recent first. Returns how many. */
uint8_t sack_rx_blocks(const struct sack_rx *r, struct tcp_sack_block *out, uint8_t max);

/* ---- sender ---- */

/* Takes the blocks of an ACK whose cumulative point is snd_una. Blocks
 * not wholly inside (snd_una, snd_max] are ignored (D-SACK, stale or
 * forged); the rest are merged. Intervals at or below snd_una are dropped.
 * Ends the episode (or the hold after an RTO) at RecoveryPoint. */
void sack_tx_on_ack(struct sack_tx *t, uint32_t snd_una, uint32_t snd_max, const struct tcp_opts *o,
		    struct sack_tx_events *ev);
/* RFC 6675 IsLost for the hole containing `seq`: more than
 * (DupThresh - 1) * mss bytes, or DupThresh intervals, SACKed above it. */
bool sack_tx_is_lost(const struct sack_tx *t, uint32_t seq, uint16_t mss);
/* True when an episode may begin: not in one, not held after an RTO, and
 * the first unacknowledged byte is lost by IsLost or `dupacks` reached
 * DupThresh. */
bool sack_tx_should_recover(const struct sack_tx *t, uint32_t snd_una, uint8_t dupacks, uint16_t mss);
void sack_tx_enter(struct sack_tx *t, uint32_t snd_una, uint32_t snd_max);
/* After an RTO: the episode ends, no new one before snd_una passes
 * snd_max; `forget` clears the board (RFC 2018 section 8: a peer may
 * have reneged; done from the second RTO in a row). */
void sack_tx_on_rto(struct sack_tx *t, uint32_t snd_max, bool forget);

/* RFC 6675 NextSeg rules 1 (lost_only) and 3 (!lost_only): the next hole
 * to resend in this episode, at most mss bytes, below data_end (no FIN:
 * a FIN is never SACKed). False when there is none. */
bool sack_tx_next_hole(const struct sack_tx *t, uint32_t snd_una, uint32_t data_end, uint16_t mss,
		       bool lost_only, uint32_t *seq_out, uint32_t *len_out);
void sack_tx_hole_sent(struct sack_tx *t, uint32_t seq, uint32_t len, uint32_t snd_una, uint32_t snd_max);
/* RFC 6675 pipe: bytes in [snd_una, snd_nxt) believed in the network:
 * not SACKed, and, in an episode, not lost unless resent. */
uint32_t sack_tx_pipe(const struct sack_tx *t, uint32_t snd_una, uint32_t snd_nxt, uint16_t mss);
/* Bytes of [from, to) the board holds as SACKed. */
uint32_t sack_tx_sacked_in(const struct sack_tx *t, uint32_t from, uint32_t to);
/* cwnd in terms of outstanding bytes: cwnd plus what the scoreboard says
 * has left the network, so that "snd_nxt - snd_una < result" is "pipe <
 * cwnd". Equals cwnd when the board is empty. */
uint32_t sack_tx_cwnd_outstanding(const struct sack_tx *t, uint32_t cwnd, uint32_t snd_una, uint32_t snd_nxt,
				  uint16_t mss);
/* Going back N after an RTO: the first byte from `seq` on that the peer
 * does not hold, and how much of `len` from there it does not hold. */
uint32_t sack_tx_skip_sacked(const struct sack_tx *t, uint32_t seq);
uint32_t sack_tx_unsacked_run(const struct sack_tx *t, uint32_t seq, uint32_t len);

#endif
