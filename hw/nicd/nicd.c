/*
 * nicd.c: `bluetas nic`, the NIC daemon on a DPDK port. The fast path
 * and slow path (core/nic) run on the DPDK netif; the application (echo,
 * sink or source) runs in the same process over an shm channel, exactly as
 * in the simulator, only in real time: one thread busy-polls the NIC and
 * the application until the work is done, --duration-s passes, or SIGINT /
 * SIGTERM arrives; then everything is torn down in order and, with --stats,
 * every counter is printed.
 *
 * With --channel verbs:ADDR the daemon also listens for applications in
 * other processes (`bluetas app`) over the RDMA verbs channel: the loop
 * looks at the listener's fd once per millisecond and accepts without
 * blocking, each accepted channel becomes one more application of the
 * NIC, and one whose channel breaks (the process exited or was killed,
 * the device refused an access) is detached (its flows reset) and its
 * channel freed, while the others go on.
 *
 * stdout carries only lines meant for scripts ("ready ...", one line per
 * finished connection, "stat.NAME=VALUE"); DPDK's log and our diagnostics
 * go to stderr.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../core/proto/proto.h"
#include "../../transports/dpdk/dpdk_netif.h"
#include "../../transports/pcap_mirror.h"
#include "../commands.h"
#include "../rt/rt.h"
#include "nicd.h"

static bool work_done(struct daemon *d)
{
	struct nic_opts *o = d->o;
	/* An echo server or sink is done by --exit-after-conns (never
	 * without it), a source once its stream is sent. */
	bool app_done = d->app ? rt_app_done(d->app) : true;
	/* External applications: done once --exit-after-apps of them came
	 * and went; without the option they never are (a pure daemon runs
	 * until a signal or --duration-s), unless an in-process application
	 * decides. */
	bool ext_done = o->exit_after_apps ? d->apps_detached >= o->exit_after_apps && d->apps_active == 0
					   : o->app != APP_NONE;
	return app_done && ext_done;
}

static bool drained(struct daemon *d)
{
	struct nic_stats ns;
	nic_get_stats(d->nic, &ns);
	return ns.flows_active == 0;
}

static const char *run_loop(struct daemon *d)
{
	struct nic_opts *o = d->o;
	uint64_t start = bt_clock_now_ns(&d->mono);
	uint64_t drain_until = 0;
	uint32_t idle_polls = 0;
	uint64_t last_work = start;
	for (;;) {
		uint64_t now = bt_clock_now_ns(&d->mono);
		d->loop_passes++;
		d->loop_ns = now - start;
		int work = nic_poll(d->nic, now);
		if (d->app)
			rt_app_poll(d->app);
		if (d->listener || d->ipc_listener)
			work += nicd_ext_service(d, now);
		/* Poll mode, but a polite one: after NIC_IDLE_POLLS polls that
		 * found nothing, give the CPU to anyone else runnable on it (on a
		 * host the daemon shares its cores with the applications it
		 * serves and their clients; on an idle core sched_yield returns
		 * at once). Latency cost: one scheduling slice at most, only
		 * when something else wanted the CPU. */
		if (work) {
			idle_polls = 0;
			last_work = now;
		} else if (o->idle_sleep_ns && now - last_work >= o->idle_sleep_ns) {
			/* --idle-sleep-us: idle for longer than one sleep, so a
			 * sleep costs at most what the gap already did. Where the
			 * CPU the daemon spins on is wanted (a TCG VM's vCPU, the
			 * rxe suite), an idle daemon gives it back. */
			struct timespec ts = { .tv_sec = (time_t)(o->idle_sleep_ns / 1000000000u),
					       .tv_nsec = (long)(o->idle_sleep_ns % 1000000000u) };
			nanosleep(&ts, NULL);
			d->loop_sleeps++;
		} else if (o->yield_polls && ++idle_polls >= o->yield_polls) {
			idle_polls = 0;
			sched_yield();
			d->loop_yields++;
		}
		if (rt_stop_reason())
			return rt_stop_reason();
		if (o->duration_ns && now - start >= o->duration_ns)
			return "duration";
		if (!drain_until && work_done(d))
			drain_until = now + NIC_DRAIN_NS;
		if (drain_until) {
			if (drained(d))
				return "done";
			if (now >= drain_until)
				return "done (flows still open after the drain time)";
		}
	}
}

int cli_nic(int argc, char **argv)
{
	struct nic_opts o;
	nicd_default_opts(&o);
	int prc = nicd_parse_opts(argc, argv, &o);
	if (prc == 1)
		return 0;
	if (prc)
		return 2;

	char *eal_argv[NIC_EAL_ARGS_MAX + 1];
	char mem[32];
	int eal_argc = nicd_eal_args(&o, eal_argv, mem, sizeof(mem));
	if (eal_argc < 0)
		return 2;
	if (o.rt.print_config) {
		nicd_print_config(&o, eal_argv, eal_argc);
		return 0;
	}
	fprintf(stderr, "bluetas nic: EAL arguments:");
	for (int i = 1; i < eal_argc; i++)
		fprintf(stderr, " %s", eal_argv[i]);
	fprintf(stderr, "\n");
	char err[512];
	int erc = dpdk_eal_init(eal_argc, eal_argv, err, sizeof(err));
	if (erc < 0) {
		fprintf(stderr, "bluetas nic: %s\n", err);
		return erc == DPDK_EARGS ? 2 : 1;
	}

	struct daemon d;
	memset(&d, 0, sizeof(d));
	d.o = &o;
	d.app_idx = -1;
	bt_clock_monotonic(&d.mono);
	d.wall = (struct bt_clock){.now_ns = nicd_realtime_now_ns, .ctx = NULL};
	rt_catch_stop_signals();

	int rc = nicd_setup(&d, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bluetas nic: %s\n", err);
	} else {
		uint64_t t0 = bt_clock_now_ns(&d.mono);
		const char *why = run_loop(&d);
		if (d.app && rt_app_report(d.app, (double)(bt_clock_now_ns(&d.mono) - t0) / 1e9))
			rc = 1;
		/* A capture that could not be written is a failure, not a file
		 * the user believes they have (/dev/full, a full disk). */
		if (d.mirror && pcap_mirror_close(d.mirror, err, sizeof(err)) != 0) {
			fprintf(stderr, "bluetas nic: --pcap: %s\n", err);
			rc = 1;
		}
		if (o.rt.stats)
			nicd_print_stats(&d);
		if (o.rt.hops_path) {
			nic_set_hop_trace(d.nic, NULL);
			if (d.host)
				bt_host_set_hop_trace(d.host, NULL);
			if (rt_hops_close(&d.hops, err, sizeof(err)) < 0) {
				fprintf(stderr, "bluetas nic: %s\n", err);
				rc = 1;
			}
		}
		printf("exit reason=%s status=%d\n", why, rc);
		fflush(stdout);
	}
	nicd_teardown(&d);
	dpdk_eal_fini();
	return rc;
}
