/*
 * scenario.h: a scenario, as parsed from a .scn file (docs/scenarios.md)
 * and executed by the simulator (scenario_run). The parser fills this
 * struct and never runs anything; the engine runs it and never reads text.
 *
 * Topology: two hosts, "client" (10.0.0.1) and "server" (10.0.0.2), each a
 * NIC with one or more applications, each application with its own
 * channel; one simulated link between the NICs.
 */
#ifndef BT_SIM_SCENARIO_H
#define BT_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../transports/chan_stats.h"
#include "../transports/channel.h"
#include "../transports/netif_fault.h"

#define SCN_MAX_APPS 16
#define SCN_MAX_FAULTS 32
#define SCN_MAX_EXPECTS 32
#define SCN_NAME_MAX 64
#define SCN_TIME_END UINT64_MAX /* "until the end of the run" */

enum scn_host { SCN_HOST_CLIENT = 0, SCN_HOST_SERVER = 1 };

enum scn_workload_kind {
	SCN_WL_NONE = 0,
	SCN_WL_ECHO_SERVER,   /* accept on port, echo everything */
	SCN_WL_ECHO,          /* closed-loop echo client */
	SCN_WL_SINK,          /* accept on port, read and check a stream */
	SCN_WL_STREAM,        /* bulk: connect and send `bytes` per connection */
	SCN_WL_RPC_SERVER,    /* accept; per request of req_bytes answer resp_bytes */
	SCN_WL_RPC,           /* request/response client */
	SCN_WL_CHURN,         /* open, one small echo, close; `cycles` times */
	SCN_WL_HOSTILE,       /* tries to reach other apps' and the NIC's memory */
	SCN_WL_PEER,          /* connects from its port to another peer's, which connects
			       * back (simultaneous open); both send `bytes`, check what
			       * they receive, and close (at close_at: simultaneous close) */
};

/* How an application misbehaves (app faults). */
struct scn_app_fault {
	uint64_t read_bytes_per_ms;   /* slow reader: 0 = unlimited */
	uint64_t stop_reading_after;  /* stops calling recv after this many bytes; 0 = never */
	uint64_t exit_at_ns;          /* exits with its connections open; 0 = never */
};

struct scn_app {
	char name[SCN_NAME_MAX];
	enum scn_host host;
	enum scn_workload_kind kind;
	uint16_t port;                /* listen port (servers) or remote port (clients) */
	char target[SCN_NAME_MAX];    /* clients: name of the server app they talk to */
	uint32_t conns;
	uint64_t msg_min_bytes;       /* echo/rpc: message size drawn per message */
	uint64_t msg_max_bytes;       /*   uniformly in [min, max] from the seed */
	uint64_t messages;            /* per connection */
	uint64_t bytes;               /* stream: bytes per connection */
	uint64_t resp_bytes;          /* rpc: response size */
	uint32_t cycles;              /* churn */
	uint32_t backlog;             /* servers */
	uint64_t start_ns;            /* clients start at this virtual time */
	char victim[SCN_NAME_MAX];    /* hostile: the app whose memory it attacks */
	uint64_t close_at_ns;         /* peer: close at this virtual time, not when done; 0 = when done */
	struct scn_app_fault fault;
	/* host library configuration of this app */
	uint32_t max_conns;           /* 0: derived from conns/backlog */
	uint32_t rx_ring_bytes, tx_ring_bytes, event_entries;
};

enum scn_fault_kind {
	SCN_FAULT_WIRE = 1,           /* netif_fault params on a host's NIC port */
	SCN_FAULT_CHAN_DELAY,         /* completions of an app's channel delayed */
	SCN_FAULT_CHAN_DROP_DOORBELL, /* host->NIC doorbells (TX/RX bumps, credits, ARM) dropped */
	SCN_FAULT_CHAN_DROP_WAKEUP,   /* NIC->host WAKEUP messages dropped */
	SCN_FAULT_CHAN_ERROR,         /* one operation completes in error at `at` */
	SCN_FAULT_CHAN_SHRINK_REGION, /* host registers less than it declares */
	SCN_FAULT_CHAN_STALL_CREDITS, /* message credits return only after the window */
	SCN_FAULT_NIC_SLOWPATH_STALL, /* slow path does nothing in [at, until) */
	SCN_FAULT_NIC_PAUSE,          /* whole NIC (fast path too) stops in [at, until) */
};

struct scn_fault {
	enum scn_fault_kind kind;
	enum scn_host host;           /* WIRE, NIC_*: which host's NIC */
	char app[SCN_NAME_MAX];       /* CHAN_*: which application's channel */
	uint64_t at_ns;               /* start of the fault's window */
	uint64_t until_ns;            /* end, SCN_TIME_END for "end of run" */
	uint32_t ppm;                 /* CHAN_DROP_*: drop probability */
	uint64_t delay_ns;            /* CHAN_DELAY: max extra delay per op */
	uint32_t shrink_bytes;        /* CHAN_SHRINK_REGION: bytes missing at the end */
	struct netif_fault_params wire; /* WIRE: rx applies at this host's NIC port */
	uint32_t line;                /* where it was declared, for messages */
	bool swarm_keep;              /* swarm=keep: --swarm runs it as written */
};

enum scn_expect_kind {
	SCN_EXPECT_INTACT = 1,        /* every app's bytes arrived once, in order, intact */
	SCN_EXPECT_WITHIN,            /* all workloads done by this virtual time */
	SCN_EXPECT_NO_DEADLOCK,
	SCN_EXPECT_ERROR,             /* app `app` saw bt_err `error` */
	SCN_EXPECT_COUNTER,           /* counter `counter` <op> value */
	SCN_EXPECT_NO_ACCESS_ERRORS,  /* no channel access error on apps other than `app` */
	SCN_EXPECT_DEADLOCK,          /* the run must end in a deadlock report (a stuck app) */
};

enum scn_cmp { SCN_CMP_EQ, SCN_CMP_NE, SCN_CMP_LT, SCN_CMP_LE, SCN_CMP_GT, SCN_CMP_GE };

struct scn_expect {
	enum scn_expect_kind kind;
	uint64_t within_ns;
	char app[SCN_NAME_MAX];
	int error;                    /* a bt_err value, e.g. BT_ECONNRESET */
	char counter[SCN_NAME_MAX];   /* "client.nic.rtos", "server.nic.syn_backlog_drops",
				       * "wire.to_server.dropped_queue", "app.NAME.errors" ... */
	enum scn_cmp cmp;
	uint64_t value;
	uint32_t line;
};

/* Switches that bring a known BlueTAS bug class back, for negative
 * controls: with one on, the matching scenario must fail. */
enum scn_bug {
	SCN_BUG_NONE = 0,
	SCN_BUG_RX_FIRST_SEGMENT_ONLY = 1u << 0, /* every in-order segment lands at the unread head */
	SCN_BUG_WAKEUP_NO_TIMEOUT = 1u << 1,     /* sleeping apps wait for a wakeup forever */
	SCN_BUG_WRITE_WITHOUT_CREDITS = 1u << 2, /* events written past the ring, ignoring credits */
	SCN_BUG_SLEEP_WITHOUT_ARM = 1u << 3,     /* apps sleep though their ARM found no credit */
	SCN_BUG_NO_SACK = 1u << 4,               /* TAS's recovery: no SACK, go-back-N on 3 dup ACKs */
	SCN_BUG_DROP_WAKEUPS = 1u << 5,          /* the NIC forgets every WAKEUP it owes */
	SCN_BUG_NO_SIMULTANEOUS_OPEN = 1u << 6,  /* a SYN in SYN_SENT is dropped (fixed roles) */
	SCN_BUG_NO_SIMULTANEOUS_CLOSE = 1u << 7, /* a FIN in FIN_WAIT_1 is dropped (fixed roles) */
	SCN_BUG_NO_TAIL_RECOVERY = 1u << 8,      /* no tail loss probe, no early retransmit: the RTO (TAS) */
};

struct scenario {
	char name[SCN_NAME_MAX];
	char path[256];
	/* stack and backend parameters (apply to both hosts) */
	uint16_t mss;
	bool ecn;
	uint32_t max_flows;
	uint32_t staging_bytes;
	uint64_t delayed_ack_ns;
	uint64_t rto_min_ns;
	uint64_t time_wait_ns;
	uint32_t chan_sq_depth, chan_msg_depth;
	uint64_t chan_latency_ns;
	uint64_t wait_timeout_ns;     /* apps' bt_wait fallback */
	uint64_t doorbell_refresh_ns; /* host re-rings unconfirmed doorbells */
	/* link */
	uint64_t link_latency_ns;
	uint64_t link_bandwidth_bps;
	uint32_t link_queue_bytes;
	uint32_t link_ecn_mark_bytes;
	/* run */
	uint64_t time_limit_ns;       /* give up (and fail) after this virtual time */
	uint64_t deadlock_after_ns;   /* no progress for this long with work pending */
	struct scn_app apps[SCN_MAX_APPS];
	uint32_t app_count;
	struct scn_fault faults[SCN_MAX_FAULTS];
	uint32_t fault_count;
	struct scn_expect expects[SCN_MAX_EXPECTS];
	uint32_t expect_count;
};

/* Fills the defaults every scenario starts from (documented in
 * docs/scenarios.md). */
void scenario_defaults(struct scenario *s);

/* Parses `text` (the contents of `path`). On error returns -1 and writes
 * "PATH:LINE:COL: error: MESSAGE (expected ...)" into err. */
int scenario_parse(const char *path, const char *text, struct scenario *out, char *err, size_t err_len);
/* Reads and parses a file; the same error format (line 0 for I/O errors). */
int scenario_load(const char *path, struct scenario *out, char *err, size_t err_len);

/* ---- running ---- */

enum scn_verdict { SCN_PASS = 0, SCN_FAIL = 1 };

/* Where applications' channels come from when not the in-process shm
 * backend (e.g. RDMA verbs over Soft-RoCE: hw/backends/rxe_channels.c). The
 * engine stays free of any transport but shm this way. */
struct scn_chan_factory {
	const char *name; /* "rxe" */
	/* The two connected ends of application `app_index`'s channel. */
	int (*make_pair)(void *ctx, uint32_t app_index, struct chan **host_end, struct chan **nic_end, char *err,
			 size_t err_len);
	/* The pair's counters so far, both ends together (what the backend
	 * cannot know stays 0); NULL: all 0. Either end may be NULL. */
	void (*stats)(void *ctx, struct chan *host_end, struct chan *nic_end, struct chan_stats *out);
	/* Either end may be NULL (already destroyed). */
	void (*destroy_pair)(void *ctx, struct chan *host_end, struct chan *nic_end);
	void *ctx;
};

struct scenario_run_opts {
	uint64_t seed;
	uint32_t bugs;                /* enum scn_bug bits */
	const char *pcap_path;        /* NULL: none */
	const char *trace_path;       /* NULL: none; a text event trace */
	const char *perfetto_path;    /* NULL: none; Chrome trace event JSON (sim/timeline.h) */
	const char *series_path;      /* NULL: none; per-connection time series for `bluetas plot` */
	bool realtime;                /* backend shm: real time instead of virtual */
	bool want_counters;           /* fill scenario_result.counters */
	/* NULL: shm channels. Otherwise the channels come from here, the run
	 * is in real time, and faults that need the shm backend's insides
	 * (chan-delay, chan-error, shrink-region, stall-credits) are refused. */
	const struct scn_chan_factory *channels;
};

/* True when `name` is a counter an `expect counter` line may name. */
bool scenario_counter_known(const char *name);

/* Loss recovery in one direction of a run (the counters loss.to_server.*
 * and loss.to_client.* of docs/scenarios.md). */
struct scn_loss {
	uint64_t lost_bytes;          /* TCP payload the wire faults dropped */
	uint64_t resent_bytes;        /* payload the sending NIC sent again */
	uint64_t delivered_bytes;     /* payload verified at the receiving host's apps */
	uint64_t goodput_mbps;        /* delivered_bytes over the run's virtual time */
	uint64_t resent_per_lost_pct; /* 100 * resent / lost; UINT64_MAX: resent with nothing lost */
};

struct scenario_result {
	enum scn_verdict verdict;
	char diagnosis[1024];         /* why it failed: first failed expectation */
	bool deadlock;
	char *deadlock_report;        /* state of every connection, malloc'd or NULL */
	uint64_t virtual_ns;
	double wall_s;
	uint64_t bytes_delivered;     /* payload bytes verified at receivers */
	uint64_t access_errors;       /* channel accesses refused */
	bool data_mismatch;
	int first_error;              /* first bt_err any application saw */
	/* For benchmarks: data segments each host's NIC sent (indexed by
	 * enum scn_host; retransmissions included, pure ACKs not), and the
	 * wall and CPU time of the run itself (setup and checks excluded). */
	uint64_t tx_data_segments[2], tx_retransmits[2];
	double run_wall_s, run_cpu_s;
	/* Non-empty when the pcap or trace could not be written ("trace:
	 * cannot write PATH: REASON"): the run happened and verdict is its
	 * verdict, but its record is lost. scenario_run then returns -1. */
	char output_error[256];
	struct scn_loss loss[2];      /* [0] client to server, [1] server to client */
	/* With want_counters: every counter at the end of the run, one
	 * "NAME VALUE\n" line each, in a fixed order (malloc'd, or NULL when
	 * out of memory). */
	char *counters;
};

/* Returns 0 when the run happened and its pcap and trace (if asked for)
 * were written; -1 when it could not be set up (verdict FAIL, diagnosis
 * says why) or its output could not be written (output_error says why). */
int scenario_run(const struct scenario *s, const struct scenario_run_opts *o, struct scenario_result *r);
/* One line on loss recovery for the result table, e.g. "to_server: lost
 * 245K B, resent/lost 1.00, goodput 6210 Mbit/s"; empty when nothing was
 * lost or resent in either direction. */
#define SCN_LOSS_NOTE_MAX 160
void scenario_loss_note(const struct scenario_result *r, char *buf, size_t cap);
void scenario_result_free(struct scenario_result *r);

#endif
