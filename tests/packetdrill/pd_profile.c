/*
 * pd_profile.c: --so_flags. Space- or comma-separated words:
 *   profile=dc|linux|freebsd   the stack's TCP profile (docs/conformance.md)
 *   local_ip=A.B.C.D           the stack's address (packetdrill's --local_ip)
 *   verbose                    the shim says what it does on stderr
 *   ts=0 ws=0 sack=0 ecn=1     what the script's sysctl lines asked for
 *   drop_synfin=1              (timestamps, window scaling, SACK, ECN,
 *                              FreeBSD's drop_synfin)
 */
#include <stdio.h>
#include <string.h>

#include "core/proto/proto.h"
#include "pd_shim.h"

static int apply_profile(const char *name, struct pd_shim *s, struct nic_config *nic)
{
	if (strcmp(name, "dc") == 0) {
		s->profile = PD_PROFILE_DC;
		return 0;
	}
	if (strcmp(name, "linux") == 0) {
		s->profile = PD_PROFILE_LINUX;
		nic_profile_linux(nic);
		return 0;
	}
	if (strcmp(name, "freebsd") == 0) {
		s->profile = PD_PROFILE_FREEBSD;
		nic_profile_freebsd(nic);
		return 0;
	}
	return -1;
}

int pd_profile_parse(const char *flags, struct pd_shim *s, struct nic_config *nic, struct bt_host_config *host,
		     char *err, size_t err_len)
{
	nic_default_config(nic);
	nic->ip = 0xc0a80002; /* 192.168.0.2 */
	nic->netmask = 0;     /* every address on-link: the wire answers ARP */
	nic->max_flows = 256;
	bt_host_default_config(host);
	host->max_conns = 64;
	host->rx_ring_bytes = 256u << 10;
	host->tx_ring_bytes = 256u << 10;
	s->profile = PD_PROFILE_DC;
	char buf[512];
	if (strlen(flags) >= sizeof(buf)) {
		snprintf(err, err_len, "too long");
		return -1;
	}
	strcpy(buf, flags);
	char *save = NULL;
	for (char *w = strtok_r(buf, " ,;", &save); w; w = strtok_r(NULL, " ,;", &save)) {
		if (strncmp(w, "profile=", 8) == 0) {
			if (apply_profile(w + 8, s, nic) < 0) {
				snprintf(err, err_len, "unknown profile '%s' (dc, linux, freebsd)", w + 8);
				return -1;
			}
		} else if (strncmp(w, "local_ip=", 9) == 0) {
			if (ipv4_from_str(w + 9, &nic->ip) < 0) {
				snprintf(err, err_len, "bad local_ip '%s'", w + 9);
				return -1;
			}
		} else if (strcmp(w, "ts=0") == 0) {
			nic->timestamps = false;
		} else if (strcmp(w, "ws=0") == 0) {
			nic->window_scaling = false;
		} else if (strcmp(w, "drop_synfin=1") == 0) {
			nic->drop_syn_fin = true;
		} else if (strcmp(w, "ecn=1") == 0) {
			nic->ecn = true;
		} else if (strcmp(w, "sack=0") == 0) {
			nic->sack = false;
		} else if (strcmp(w, "verbose") == 0) {
			s->verbose = true;
		} else {
			snprintf(err, err_len, "unknown flag '%s' (profile=, local_ip=, verbose)", w);
			return -1;
		}
	}
	s->local_ip = nic->ip;
	s->host_tx_ring = host->tx_ring_bytes;
	s->host_rx_ring = host->rx_ring_bytes;
	s->default_mss = nic->mss;
	/* Socket buffers as getsockopt shows them on a new socket: FreeBSD's
	 * net.inet.tcp.sendspace/recvspace, Linux's tcp_wmem/tcp_rmem
	 * defaults (those Google's corpus sets in its defaults.sh). */
	if (s->profile == PD_PROFILE_FREEBSD) {
		s->default_sndbuf = 32768;
		s->default_rcvbuf = 65536;
	} else if (s->profile == PD_PROFILE_LINUX) {
		s->default_sndbuf = 262144;
		s->default_rcvbuf = 540000;
	}
	return 0;
}
