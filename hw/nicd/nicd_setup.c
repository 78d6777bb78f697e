/*
 * nicd_setup.c: everything the daemon builds after the EAL, in order:
 * the DPDK port (wrapped by the pcap mirror and the fault injector when
 * asked), the NIC (fast and slow path), the verbs listener for external
 * applications, the in-process application over an shm channel (a server
 * listening before the first frame is read), the port started, a source
 * connecting; then the "ready" line. And the teardown, in the reverse
 * order, from whatever point setup reached.
 */
#define _GNU_SOURCE /* getentropy */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/proto/proto.h"
#include "../../transports/pcap_mirror.h"
#include "nicd.h"

uint64_t nicd_realtime_now_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static long read_file(void *ctx, uint8_t *buf, size_t cap)
{
	FILE *f = ctx;
	size_t n = fread(buf, 1, cap, f);
	if (n == 0 && ferror(f))
		return -1;
	return (long)n;
}

/* The in-process application's runner settings (listen: echo and sink). */
static struct rt_app_config inproc_app_config(const struct nic_opts *o, uint16_t listen)
{
	static const enum rt_app_kind kinds[] = {[APP_ECHO] = RT_APP_ECHO_SERVER,
						 [APP_SINK] = RT_APP_SINK,
						 [APP_SOURCE] = RT_APP_SOURCE};
	return (struct rt_app_config){.kind = kinds[o->app],
				      .echo_server_name = "echo",
				      .listen_port = listen,
				      .backlog = o->backlog,
				      .echo_buf_bytes = o->ring_bytes,
				      .remote_ip = o->remote_ip,
				      .remote_port = o->remote_port,
				      .bytes = o->app == APP_SOURCE ? o->bytes : 0,
				      .seed = o->seed,
				      .connect_retry_ns = o->connect_retry_ns,
				      .exit_after_conns = o->exit_after_conns};
}

void nicd_teardown(struct daemon *d)
{
	/* Connections still open get an RST while the port still runs, so
	 * peers learn at once that we are gone instead of timing out. */
	if (d->nic && d->app_idx >= 0)
		nic_detach_app(d->nic, d->app_idx);
	for (int i = 0; i < NIC_MAX_APPS; i++)
		if (d->nic && d->ext[i].ch)
			nicd_ext_detach(d, &d->ext[i], "the daemon is exiting");
	if (d->nic)
		nic_set_hop_trace(d->nic, NULL);
	if (d->host)
		bt_host_set_hop_trace(d->host, NULL);
	char ignored[64];
	rt_hops_close(&d->hops, ignored, sizeof(ignored)); /* a setup that failed half-way */
	verbs_listener_destroy(d->listener);
	ipc_listener_destroy(d->ipc_listener);
	rt_app_destroy(d->app);
	bt_host_destroy(d->host);
	nic_destroy(d->nic); /* frees frames it still holds: before the netif */
	shm_link_destroy(d->chan);
	/* Each wrapper destroys what it wraps; the outermost one is enough. */
	if (d->wire)
		netif_destroy(d->wire);
	if (d->file)
		fclose(d->file);
}

static int netmask_len(uint32_t mask)
{
	int n = 0;
	while (mask & 0x80000000u) {
		n++;
		mask <<= 1;
	}
	return n;
}

static uint32_t random_seed(void)
{
	uint32_t s = 0;
	if (getentropy(&s, sizeof(s)) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
	}
	return s ? s : 1;
}

/* The in-process application over the shm channel: attached, and a
 * server listening, before the port starts. 0, or 1 with a message. */
static int setup_inproc_app(struct daemon *d, uint16_t listen, char *err, size_t err_len)
{
	struct nic_opts *o = d->o;
	int rc;
	struct shm_link_params cp = {.key_seed = random_seed()};
	d->chan = shm_link_create(&cp, &d->mono);
	if (!d->chan) {
		snprintf(err, err_len, "cannot create the shm channel");
		return 1;
	}
	d->app_idx = nic_attach_app(d->nic, shm_link_end(d->chan, SHM_END_NIC));
	if (d->app_idx < 0) {
		snprintf(err, err_len, "cannot attach the application to the NIC");
		return 1;
	}
	struct bt_host_config hc;
	bt_host_default_config(&hc);
	hc.max_conns = o->max_conns;
	hc.rx_ring_bytes = hc.tx_ring_bytes = o->ring_bytes;
	d->host = bt_host_create(&hc, shm_link_end(d->chan, SHM_END_HOST), &d->mono, &rc);
	if (!d->host) {
		snprintf(err, err_len, "host library: %s", bt_strerror(rc));
		return 1;
	}
	if (d->hops.out) /* --hops: the in-process application's half too */
		bt_host_set_hop_trace(d->host, &d->hops.trace);

	/* A server must be listening before the first frame is read (a
	 * net_pcap replay delivers its SYNs at once), so its commands are
	 * polled through before the port starts. */
	if (o->app == APP_ECHO || o->app == APP_SINK) {
		struct rt_app_config ac = inproc_app_config(o, listen);
		d->app = rt_app_create(d->host, &ac, &d->mono, err, err_len);
		if (!d->app)
			return 1;
	}
	for (int i = 0; i < NIC_SETUP_ROUNDS; i++) {
		nic_poll(d->nic, bt_clock_now_ns(&d->mono));
		if (d->app)
			rt_app_poll(d->app);
	}
	return 0;
}

int nicd_setup(struct daemon *d, char *err, size_t err_len)
{
	struct nic_opts *o = d->o;
	int port = dpdk_port_lookup(o->port);
	if (port < 0) {
		if (o->port)
			snprintf(err, err_len, "--port: no DPDK port '%s' (%d probed)", o->port, dpdk_port_count());
		else if (o->vdev_count) {
			/* What is missing for the first devargs we can say something about. */
			char hint[400] = "";
			for (int i = 0; i < o->vdev_count && !hint[0]; i++)
				nicd_vdev_hint(o->vdevs[i], hint, sizeof(hint));
			snprintf(err, err_len,
				 "no --vdev device could be created (DPDK says why above)%s%s", hint[0] ? ": " : "",
				 hint[0] ? hint
					 : ": net_tap and net_af_packet need root or CAP_NET_ADMIN, net_pcap an existing "
					   "rx_pcap file, net_af_packet and net_af_xdp an existing interface");
		}
		else
			snprintf(err, err_len,
				 "no DPDK port probed: give --vdev (e.g. net_tap0,iface=dtap0) or a PCI device (-- -a ADDR)");
		return 1;
	}
	uint16_t mtu = o->mtu ? o->mtu : 1500;
	uint16_t mss = o->mss ? o->mss : (uint16_t)(mtu - 52); /* 20 IPv4 + 20 TCP + 12 timestamps */
	if ((uint32_t)mss + 52 > mtu) {
		/* The stack's segments carry timestamps on top of the MSS: a
		 * larger MSS makes frames the port (or the peer) drops. */
		snprintf(err, err_len, "--mss %u does not fit an MTU of %u (at most MTU - 52); raise --mtu or lower --mss",
			 mss, mtu);
		return 2;
	}
	struct dpdk_netif_config dc;
	dpdk_netif_default_config(&dc);
	dc.port_id = (uint16_t)port;
	dc.mbufs = o->mbufs;
	dc.rx_desc = o->rx_desc;
	dc.tx_desc = o->tx_desc;
	dc.mtu = o->mtu;
	/* Room for the largest frame either side may build: the MTU's, or
	 * our MSS with the longest TCP options. */
	uint32_t frame = (uint32_t)mtu + 14;
	if ((uint32_t)mss + 14 + 20 + 60 > frame)
		frame = (uint32_t)mss + 14 + 20 + 60;
	dc.frame_bytes = (uint16_t)frame;
	dc.set_mac = o->has_mac;
	memcpy(dc.mac, o->mac, 6);
	dc.promisc = o->promisc;
	dc.partial_csum = o->partial_csum;
	d->dpdk = dpdk_netif_create(&dc, err, err_len);
	if (!d->dpdk)
		return 1;
	d->wire = d->dpdk;
	struct dpdk_port_info info;
	/* The capture is the wire's view (inside the fault injector): a
	 * frame we drop on receive was on the wire, one we drop on send
	 * never was. */
	if (o->pcap) {
		d->mirror = pcap_mirror_create(d->wire, o->pcap, &d->wall, err, err_len);
		if (!d->mirror)
			return 1;
		d->wire = d->mirror;
	}
	if (o->fault_on) {
		d->fault = netif_fault_create(d->wire, &o->fault, &d->mono);
		if (!d->fault) {
			snprintf(err, err_len, "out of memory for the fault injector");
			return 1;
		}
		d->wire = d->fault;
	}

	struct nic_config nc;
	nic_default_config(&nc);
	nc.ip = o->ip;
	nc.netmask = o->netmask;
	nc.gateway = o->gateway;
	nc.mss = mss;
	nc.max_flows = o->max_flows;
	nc.cc = o->cc;
	nc.ecn = !o->no_ecn;
	if (o->has_delayed_ack)
		nc.delayed_ack_ns = o->delayed_ack_ns;
	if (o->has_rto_min) {
		nc.rto_min_ns = o->rto_min_ns;
		if (nc.rto_initial_ns < nc.rto_min_ns)
			nc.rto_initial_ns = nc.rto_min_ns;
		if (nc.rto_max_ns < nc.rto_initial_ns)
			nc.rto_max_ns = nc.rto_initial_ns;
	}
	nc.isn_seed = o->has_isn_seed ? o->isn_seed : random_seed();
	nc.inject_bugs = o->inject_bugs;
	memcpy(nc.static_arp, o->arp, sizeof(o->arp));
	nc.static_arp_count = o->arp_count;
	d->nic = nic_create(&nc, d->wire, &d->mono, err, err_len);
	if (!d->nic)
		return 1;
	if (o->rt.hops_path) {
		if (rt_hops_open(&d->hops, o->rt.hops_path, err, err_len) < 0)
			return 2;
		nic_set_hop_trace(d->nic, &d->hops.trace);
	}
	uint16_t listen = o->listen_port ? o->listen_port : o->app == APP_ECHO ? 7 : 9;
	if (o->channel) {
		/* Listening before the port starts and before "ready": an
		 * application started on "ready" finds the listener there. */
		struct verbs_params vp;
		verbs_spec_params(&o->chan_spec, &vp);
		char why[384];
		d->listener = verbs_listen(o->chan_spec.addr, o->chan_spec.port, &vp, why, sizeof(why));
		if (!d->listener) {
			snprintf(err, err_len, "--channel %s: %s", o->channel, why);
			return 1;
		}
	}
	if (o->ipc_channel) {
		char why[384];
		d->ipc_listener = ipc_listen(o->ipc_spec.path, why, sizeof(why));
		if (!d->ipc_listener) {
			snprintf(err, err_len, "--channel %s: %s", o->ipc_channel, why);
			return 1;
		}
	}
	if (o->app != APP_NONE) {
		int arc = setup_inproc_app(d, listen, err, err_len);
		if (arc)
			return arc;
	}
	if (dpdk_netif_start(d->dpdk, err, err_len) < 0)
		return 1;
	if (o->app == APP_SOURCE) {
		if (o->file) {
			d->file = fopen(o->file, "rb");
			if (!d->file) {
				snprintf(err, err_len, "--file: cannot open %s: %s", o->file, strerror(errno));
				return 1;
			}
		}
		struct rt_app_config ac = inproc_app_config(o, 0);
		ac.read = d->file ? read_file : NULL;
		ac.read_ctx = d->file;
		d->app = rt_app_create(d->host, &ac, &d->mono, err, err_len);
		if (!d->app)
			return 1;
	}
	dpdk_netif_get_info(d->dpdk, &info);
	uint8_t mac[6];
	netif_get_mac(d->dpdk, mac);
	char mac_s[18], port_mac_s[18], ip_s[16];
	mac_to_str(mac, mac_s);
	mac_to_str(info.port_mac, port_mac_s);
	ipv4_to_str(o->ip, ip_s);
	static const char *const app_names[] = {"echo", "sink", "source", "none"};
	printf("ready port=%d name=%s driver=%s port_mac=%s mac=%s ip=%s/%d mtu=%u mss=%u app=%s", port, info.name,
	       info.driver, port_mac_s, mac_s, ip_s, netmask_len(o->netmask), info.mtu, mss, app_names[o->app]);
	if (o->app == APP_SOURCE) {
		char rs[16];
		ipv4_to_str(o->remote_ip, rs);
		printf(" connect=%s:%u", rs, o->remote_port);
	} else if (o->app != APP_NONE) {
		printf(" listen=%u", listen);
	}
	if (d->listener)
		printf(" channel=verbs:%s:%u%s%s", o->chan_spec.addr, verbs_listener_port(d->listener),
		       o->chan_spec.dev[0] ? ",dev=" : "", o->chan_spec.dev);
	if (d->ipc_listener)
		printf(" channel=ipc:%s", o->ipc_spec.path);
	printf("%s%s%s%s\n", info.partial_csum_fix ? " partial_csum=on" : "", info.rx_csum_offload ? " rx_csum_offload=on" : "",
	       info.tx_csum_offload ? " tx_csum_offload=on" : "", o->fault_on ? " faults=on" : "");
	fflush(stdout);
	return 0;
}
