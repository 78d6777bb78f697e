/*
 * checks_host.c: hugepages (size discovered, never assumed), the locked
 * memory limit against the channel's regions, isolated CPUs and clock
 * synchronisation.
 */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

#include "../../core/bluetas.h"
#include "../../core/ctxq.h"

static void size_text(unsigned long kb, char *out, size_t out_len)
{
	if (kb >= (1ul << 20) && kb % (1ul << 20) == 0)
		pf_fmt(out, out_len, "%lu GB", kb >> 20);
	else if (kb >= 1024 && kb % 1024 == 0)
		pf_fmt(out, out_len, "%lu MB", kb >> 10);
	else
		pf_fmt(out, out_len, "%lu kB", kb);
}

void pf_check_hugepages(struct pf_ctx *c)
{
	/* What the daemon itself will find (hw/hosts/discover.h): the
	 * default size, how many are reserved, a hugetlbfs of that size. */
	struct bt_hugepages hp;
	bt_hugepages_find(&c->root, &hp);
	unsigned long kb = hp.size_kb;
	unsigned long long nr = hp.nr;
	char size[32], path[BT_SYSROOT_PATH_MAX], fix[BT_SYSROOT_PATH_MAX + 128];
	if (!kb) {
		pf_report(c, PF_FAIL, "hugepages", "a kernel with CONFIG_HUGETLBFS (the DOCA image has it)",
			  "no hugepage sizes under /sys/kernel/mm/hugepages");
		return;
	}
	size_text(kb, size, sizeof(size));
	pf_fmt(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", kb);
	/* The daemon's DPDK memory: 256 MB by default (--eal-mem-mb). */
	unsigned long want_pages = (256ul * 1024 + kb - 1) / kb;
	if (nr == 0) {
		pf_fmt(fix, sizeof(fix), "echo %lu > %s (hugepage size here: %s)", want_pages, path, size);
		pf_report(c, PF_FAIL, "hugepages", fix, "no %s hugepages reserved", size);
		return;
	}
	char total[32];
	size_text(kb * (unsigned long)nr, total, sizeof(total));
	if (!hp.mount[0]) {
		/* hugetlbfs wants "512M", "2M", "1G" */
		char opt[32];
		if (kb % (1ul << 20) == 0)
			pf_fmt(opt, sizeof(opt), "%luG", kb >> 20);
		else if (kb % 1024 == 0)
			pf_fmt(opt, sizeof(opt), "%luM", kb >> 10);
		else
			pf_fmt(opt, sizeof(opt), "%luK", kb);
		pf_fmt(fix, sizeof(fix), "mkdir -p /dev/hugepages && mount -t hugetlbfs -o pagesize=%s nodev /dev/hugepages",
			 opt);
		pf_report(c, PF_FAIL, "hugepages", fix, "%llu x %s reserved (%s) but no hugetlbfs of that size is mounted",
			  nr, size, total);
		return;
	}
	pf_report(c, PF_PASS, "hugepages", NULL, "%llu x %s reserved (%s), hugetlbfs at %s", nr, size, total, hp.mount);
}

void pf_check_memlock(struct pf_ctx *c)
{
	struct bt_host_config cfg;
	bt_host_default_config(&cfg);
	struct ctxq_hello hello = {.event_entries = cfg.event_entries,
				   .rx_ring_bytes = cfg.rx_ring_bytes,
				   .tx_ring_bytes = cfg.tx_ring_bytes,
				   .max_conns = cfg.max_conns};
	/* One application's context region plus the channel's message
	 * buffers and queues (well under 1 MiB). */
	unsigned long long need = ctxq_region_bytes(&hello) + (1ull << 20);
	char *limits = malloc(16384);
	int n = limits ? bt_sysroot_read(&c->root, "/proc/self/limits", limits, 16384) : -1;
	const char *p = n > 0 ? strstr(limits, "Max locked memory") : NULL;
	char soft[64] = "";
	if (p)
		sscanf(p + strlen("Max locked memory"), "%63s", soft);
	free(limits);
	if (!soft[0]) {
		pf_report(c, PF_WARN, "memlock", "check `ulimit -l`", "RLIMIT_MEMLOCK unreadable (/proc/self/limits)");
		return;
	}
	if (!strcmp(soft, "unlimited")) {
		pf_report(c, PF_PASS, "memlock", NULL, "RLIMIT_MEMLOCK unlimited (channel regions need %llu MiB per application)",
			  need >> 20);
		return;
	}
	unsigned long long have = strtoull(soft, NULL, 10);
	if (have < need) {
		pf_report(c, PF_FAIL, "memlock",
			  "ulimit -l unlimited (persist: '* - memlock unlimited' in /etc/security/limits.conf; systemd: LimitMEMLOCK=infinity)",
			  "RLIMIT_MEMLOCK %llu KiB < %llu KiB one application's channel regions need (ibv_reg_mr would fail with ENOMEM)",
			  have >> 10, need >> 10);
		return;
	}
	pf_report(c, PF_PASS, "memlock", NULL, "RLIMIT_MEMLOCK %llu MiB >= %llu MiB per application", have >> 20,
		  (need + (1ull << 20) - 1) >> 20);
}

void pf_check_cpus(struct pf_ctx *c)
{
	char iso[256] = "", online[256] = "", fix[256];
	bt_sysroot_read(&c->root, "/sys/devices/system/cpu/isolated", iso, sizeof(iso));
	if (iso[0]) {
		pf_report(c, PF_PASS, "cpus", NULL, "isolated CPUs %s (pin the daemon there)", iso);
		return;
	}
	bt_sysroot_read(&c->root, "/sys/devices/system/cpu/online", online, sizeof(online));
	const char *last = strrchr(online, '-');
	last = last ? last + 1 : online[0] ? online : "N";
	pf_fmt(fix, sizeof(fix), "add isolcpus=%s nohz_full=%s rcu_nocbs=%s to the kernel command line, reboot", last, last,
		 last);
	pf_report(c, PF_WARN, "cpus", fix, "no isolated CPUs (online %s): the busy-polling core shares with the kernel",
		  online[0] ? online : "?");
}

void pf_check_clock(struct pf_ctx *c)
{
	static const char *const daemons[] = {"chronyd", "ptp4l", "phc2sys", "ntpd", "systemd-timesyn"};
	if (bt_sysroot_exists(&c->root, "/run/systemd/timesync/synchronized")) {
		pf_report(c, PF_PASS, "clock", NULL, "synchronised (systemd-timesyncd)");
		return;
	}
	enum { MAX_PROCS = 4096 };
	char (*names)[BT_SYSROOT_NAME_MAX] = malloc(MAX_PROCS * sizeof(*names));
	int n = names ? bt_sysroot_list(&c->root, "/proc", names, MAX_PROCS) : -1;
	for (int i = 0; i < n; i++) {
		if (!strchr("0123456789", names[i][0]))
			continue;
		char path[BT_SYSROOT_PATH_MAX], comm[64];
		pf_fmt(path, sizeof(path), "/proc/%s/comm", names[i]);
		if (bt_sysroot_read(&c->root, path, comm, sizeof(comm)) <= 0)
			continue;
		for (size_t d = 0; d < sizeof(daemons) / sizeof(daemons[0]); d++) {
			if (!strcmp(comm, daemons[d])) {
				pf_report(c, PF_PASS, "clock", NULL, "%s running (pid %s)", comm, names[i]);
				free(names);
				return;
			}
		}
	}
	free(names);
	pf_report(c, PF_WARN, "clock", "apt-get install chrony (or ptp4l + phc2sys on the NIC's PTP clock)",
		  "no clock sync daemon (chronyd, ptp4l/phc2sys, ntpd, timesyncd): timestamps across host and ARM disagree");
}
