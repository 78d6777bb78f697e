/*
 * nicd_eal.c: the arguments the daemon gives rte_eal_init, decided before
 * the EAL runs:
 *   - a port must be named (--vdev, EAL -a, or the hosts file): without an
 *     allowlist DPDK probes every PCI device it can drive, and on a host
 *     with a DPDK-bound NIC that grabs it;
 *   - a port on the auxiliary bus only (an mlx5 SF) gets --no-pci, since an
 *     allowlist narrows only its own bus;
 *   - a hardware port gets hugepages of the size the machine has (2 MB on
 *     x86, 512 MB on BlueField's 64K-page kernel: found at run time, never
 *     assumed), with -m rounded up to whole pages; without usable
 *     hugepages it falls back to --no-huge and says so.
 * And --print-config, which shows all of it without running anything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../core/proto/proto.h"
#include "nicd.h"

/* The value of EAL option `opt` (short "-a" or long "--allow") at argv[i]
 * in any of its spellings ("-a X", "-aX", "--allow X", "--allow=X"); NULL
 * if argv[i] is not that option. *skip is set to 1 when the value is the
 * next argument. */
static const char *opt_value(char **argv, int argc, int i, const char *shrt, const char *lng, int *skip)
{
	const char *a = argv[i];
	*skip = 0;
	size_t ls = strlen(shrt), ll = strlen(lng);
	if ((!strcmp(a, shrt) || !strcmp(a, lng)) && i + 1 < argc) {
		*skip = 1;
		return argv[i + 1];
	}
	if (!strncmp(a, lng, ll) && a[ll] == '=')
		return a + ll + 1;
	if (!strncmp(a, shrt, ls) && a[ls] && a[1] != '-')
		return a + ls;
	return NULL;
}

static bool has_opt(char **argv, int argc, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (!strncmp(argv[i], *n, strlen(*n)))
				return true;
	return false;
}

/* snprintf for messages built from names read off the machine: cut, never
 * overflowed (a mount point can be long). */
__attribute__((format(printf, 3, 4))) static void fmt(char *out, size_t out_len, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(out, out_len, f, ap);
	va_end(ap);
}

static void size_text(unsigned long kb, char *out, size_t out_len)
{
	if (kb >= (1ul << 20) && kb % (1ul << 20) == 0)
		snprintf(out, out_len, "%lu GB", kb >> 20);
	else if (kb >= 1024 && kb % 1024 == 0)
		snprintf(out, out_len, "%lu MB", kb >> 10);
	else
		snprintf(out, out_len, "%lu kB", kb);
}

/* Hugepages for a hardware port: adds --in-memory -m N --huge-dir DIR to
 * extra, or leaves the --no-huge default with a note. */
static int plan_memory(struct nic_opts *o)
{
	struct bt_sysroot root;
	char err[256];
	if (bt_sysroot_init(&root, o->rt.sysroot, err, sizeof(err)) != 0) {
		fprintf(stderr, "bluetas nic: --sysroot: %s\n", err);
		return -2;
	}
	struct bt_hugepages hp;
	int usable = bt_hugepages_find(&root, &hp);
	unsigned long want_kb = (unsigned long)(o->eal_mem_mb ? o->eal_mem_mb : 256u) * 1024;
	char size[32];
	size_text(hp.size_kb, size, sizeof(size));
	if (!hp.size_kb) {
		fmt(o->from_mem, sizeof(o->from_mem), "--no-huge: this kernel has no hugepages at all");
	} else {
		unsigned long pages = (want_kb + hp.size_kb - 1) / hp.size_kb;
		if (usable != 0 || hp.nr < pages) {
			fmt(o->from_mem, sizeof(o->from_mem),
				 "--no-huge: hugepage size %s, %llu reserved (%lu needed), hugetlbfs %s; reserve them "
				 "(bluetas preflight --role dpu says how): the mlx5 PMD wants hugepages",
				 size, hp.nr, pages, hp.mount[0] ? hp.mount : "not mounted");
		} else {
			/* Whole pages: -m 256 with 512 MB pages would ask for half a page. */
			fmt(o->eal_mem_arg, sizeof(o->eal_mem_arg), "%lu", pages * hp.size_kb / 1024);
			fmt(o->huge_dir, sizeof(o->huge_dir), "%s", hp.mount);
			if (o->extra_eal_count + 5 > NIC_EXTRA_EAL_MAX)
				return -2;
			o->extra_eal[o->extra_eal_count++] = "--in-memory";
			o->extra_eal[o->extra_eal_count++] = "-m";
			o->extra_eal[o->extra_eal_count++] = o->eal_mem_arg;
			o->extra_eal[o->extra_eal_count++] = "--huge-dir";
			o->extra_eal[o->extra_eal_count++] = o->huge_dir;
			fmt(o->from_mem, sizeof(o->from_mem), "%lu x %s hugepages of %llu reserved, hugetlbfs %s (found at run time)",
				 pages, size, hp.nr, hp.mount);
			return 0;
		}
	}
	fprintf(stderr, "bluetas nic: %s\n", o->from_mem);
	return 0;
}

int nicd_eal_args(struct nic_opts *o, char **out, char *mem_scratch, size_t scratch_len)
{
	static const char *const memory_opts[] = {"--no-huge", "--in-memory", "-m", "--socket-mem", "--huge-dir",
						  "--legacy-mem", "--socket-limit", "--single-file-segments",
						  "--huge-unlink", NULL};
	static const char *const no_pci[] = {"--no-pci", NULL};
	/* What names a port, from the hosts file (extra) and the user's `--`. */
	char *user[NIC_EXTRA_EAL_MAX + NIC_EAL_ARGS_MAX];
	int n_user = 0;
	for (int i = 0; i < o->extra_eal_count; i++)
		user[n_user++] = o->extra_eal[i];
	for (int i = 0; i < o->eal_argc && n_user < NIC_EXTRA_EAL_MAX + NIC_EAL_ARGS_MAX; i++)
		user[n_user++] = o->eal_argv[i];
	bool vdev = o->vdev_count > 0, pci_allow = false, other_allow = false, block = false;
	for (int i = 0; i < n_user; i++) {
		int skip;
		const char *v;
		if ((v = opt_value(user, n_user, i, "-a", "--allow", &skip))) {
			/* A bus prefix other than pci: (auxiliary:, ...) is another bus. */
			const char *colon = strchr(v, ':');
			bool named_bus = colon && strspn(v, "0123456789abcdefABCDEF") < (size_t)(colon - v);
			if (named_bus && strncmp(v, "pci:", 4))
				other_allow = true;
			else
				pci_allow = true;
		} else if ((v = opt_value(user, n_user, i, "-b", "--block", &skip))) {
			block = true;
		} else if ((v = opt_value(user, n_user, i, "--vdev", "--vdev", &skip))) {
			vdev = true;
		}
		i += skip;
	}
	if (!vdev && !pci_allow && !other_allow) {
		fprintf(stderr, "bluetas nic: no port named: give --vdev DEVARGS (e.g. net_tap0,iface=dtap0), an EAL "
				"allowlist (-- -a 0000:03:00.0 or -a auxiliary:mlx5_core.sf.N,class=eth), or --hosts FILE "
				"with devargs or vdev in [dpu]; without one DPDK would probe every PCI device on this "
				"machine\n");
		return -2;
	}
	if (block && !pci_allow && !has_opt(user, n_user, no_pci)) {
		fprintf(stderr, "bluetas nic: -b/--block still probes every other PCI device: name the port with -a "
				"instead\n");
		return -2;
	}
	/* An allowlist narrows its own bus only: an SF alone must not let the
	 * PCI bus scan everything. */
	if (other_allow && !pci_allow && !has_opt(user, n_user, no_pci)) {
		if (o->extra_eal_count >= NIC_EXTRA_EAL_MAX)
			return -2;
		o->extra_eal[o->extra_eal_count++] = "--no-pci";
	}
	if ((pci_allow || other_allow) && !has_opt(o->eal_argv, o->eal_argc, memory_opts)) {
		if (plan_memory(o) != 0)
			return -2;
	} else if (has_opt(o->eal_argv, o->eal_argc, memory_opts)) {
		snprintf(o->from_mem, sizeof(o->from_mem), "command line (EAL arguments)");
	} else {
		snprintf(o->from_mem, sizeof(o->from_mem), "--no-huge -m %u (virtual devices need no hugepages)",
			 o->eal_mem_mb ? o->eal_mem_mb : 256u);
	}
	/* The final vector: the hosts file's and ours first, then the user's. */
	n_user = 0;
	for (int i = 0; i < o->extra_eal_count; i++)
		user[n_user++] = o->extra_eal[i];
	for (int i = 0; i < o->eal_argc && n_user < NIC_EXTRA_EAL_MAX + NIC_EAL_ARGS_MAX; i++)
		user[n_user++] = o->eal_argv[i];
	struct dpdk_eal_defaults def = {.mem_mb = o->eal_mem_mb};
	int n = dpdk_eal_build_args("bluetas-nic", &def, o->vdevs, o->vdev_count, user, n_user, out, NIC_EAL_ARGS_MAX,
				    mem_scratch, scratch_len);
	if (n < 0) {
		fprintf(stderr, "bluetas nic: too many EAL arguments (at most %d)\n", NIC_EAL_ARGS_MAX);
		return -2;
	}
	return n;
}

void nicd_print_config(const struct nic_opts *o, char *const *eal_argv, int eal_argc)
{
	char ip[16];
	ipv4_to_str(o->ip, ip);
	int len = 0;
	for (uint32_t m = o->netmask; m & 0x80000000u; m <<= 1)
		len++;
	if (o->rt.hosts_path)
		printf("config hosts=%s section=[dpu]\n", o->hosts.name);
	printf("config port=");
	int shown = 0;
	for (int i = 0; i < o->vdev_count; i++)
		printf("%s--vdev %s", shown++ ? " " : "", o->vdevs[i]);
	for (int i = 1; i < eal_argc; i++)
		if (!strcmp(eal_argv[i - 1], "-a") || !strcmp(eal_argv[i - 1], "--allow"))
			printf("%s-a %s", shown++ ? " " : "", eal_argv[i]);
	printf(" (%s)\n", o->from_port[0] ? o->from_port : "command line");
	printf("config ip=%s/%d (%s)\n", ip, len, o->from_ip[0] ? o->from_ip : "command line");
	for (uint32_t i = 0; i < o->arp_count; i++) {
		char a[16], m[18];
		ipv4_to_str(o->arp[i].ip, a);
		mac_to_str(o->arp[i].mac, m);
		printf("config arp=%s=%s (%s)\n", a, m, o->from_arp[0] ? o->from_arp : "command line");
	}
	if (o->from_peer[0]) {
		const struct bt_hosts_side *s = &o->hosts.dpu;
		printf("config peer_ip=%s (%s)\n", s->peer_ip, o->from_peer);
	}
	if (o->channel)
		printf("config channel=%s (%s)\n", o->channel, o->from_channel[0] ? o->from_channel : "command line");
	if (o->ipc_channel)
		printf("config channel=%s (command line)\n", o->ipc_channel);
	static const char *const app_names[] = {"echo", "sink", "source", "none"};
	printf("config app=%s\n", app_names[o->app]);
	printf("config memory=%s\n", o->from_mem);
	printf("config eal=");
	for (int i = 1; i < eal_argc; i++)
		printf("%s%s", i > 1 ? " " : "", eal_argv[i]);
	printf("\n");
	fflush(stdout);
}
