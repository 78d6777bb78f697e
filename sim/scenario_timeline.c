/*
 * scenario_timeline.c: the scenario engine's samples for the timeline
 * (sim/timeline.h): every NIC's connections and segment counters, every
 * application's calls and results, every channel's messages and
 * one-sided operations. Taken after quiet instants at most every
 * TIMELINE_INTERVAL_NS of clock time, so a trace costs a pass over the
 * flow tables per interval, not per packet.
 */
#include "scenario_engine.h"

#define TIMELINE_INTERVAL_NS 10000ull /* 10 us */

void eng_timeline_sample(struct engine *e, bool force)
{
	if (!e->timeline)
		return;
	uint64_t now = bt_clock_now_ns(e->clock);
	if (!force && now < e->timeline_next_ns)
		return;
	e->timeline_next_ns = now + TIMELINE_INTERVAL_NS;
	uint64_t t = now - e->start_ns;
	struct timeline *tl = e->timeline;
	for (int h = 0; h < 2; h++) {
		timeline_flows(tl, h, t, e->host[h].nic);
		struct nic_stats st;
		nic_get_stats(e->host[h].nic, &st);
		static const char *const seg_names[] = {"tx_segments", "rx_frames", "tx_acks", "tx_retransmits",
							"fast_retransmits", "rtos"};
		uint64_t seg[] = {st.tx_segments, st.rx_frames, st.tx_acks, st.tx_retransmits, st.fast_retransmits,
				  st.rtos};
		timeline_counters(tl, TIMELINE_PID_NIC(h), "segments", t, seg_names, seg, 6);
		static const char *const conn_names[] = {"opened", "accepted", "closed", "reset", "timed_out"};
		uint64_t conns[] = {st.conns_opened, st.conns_accepted, st.conns_closed, st.conns_reset,
				    st.conns_timed_out};
		timeline_counters(tl, TIMELINE_PID_NIC(h), "connections", t, conn_names, conns, 5);
	}
	for (uint32_t i = 0; i < e->s->app_count; i++) {
		struct eng_app *ea = &e->app[i];
		uint32_t pid = TIMELINE_PID_APP(i);
		if (ea->rt) {
			struct scn_app_stats st;
			scn_app_get_stats(ea->rt, &st);
			static const char *const call_names[] = {"bytes_sent", "bytes_verified", "messages_done",
								 "conns_opened", "errors", "sleeps", "wakeups",
								 "wait_timeouts"};
			uint64_t calls[] = {st.bytes_sent, st.bytes_verified, st.messages_done, st.conns_opened,
					    st.errors, st.sleeps, st.wakeups, st.wait_timeouts};
			timeline_counters(tl, pid, "calls", t, call_names, calls, 8);
		}
		struct chan_stats cs;
		eng_chan_stats(ea, &cs);
		/* Doorbells and wakeups are the channel's messages; reads and
		 * writes its one-sided operations, each completed once. */
		static const char *const chan_names[] = {"messages", "reads", "writes", "access_errors",
							 "msgs_dropped", "credits_stalled"};
		uint64_t chan[] = {cs.msgs, cs.reads, cs.writes, cs.access_errors, cs.msgs_dropped, cs.credits_stalled};
		timeline_counters(tl, pid, "channel", t, chan_names, chan, 6);
	}
}
