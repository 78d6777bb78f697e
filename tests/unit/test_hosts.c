/*
 * test_hosts.c: the hosts file parser (hw/hosts/hosts.h) accepts the
 * documented format and rejects each kind of malformed line with
 * FILE:LINE and the problem; the RoCE v2 IPv4 GID pick and the hugepage
 * size discovery (hw/hosts/discover.h) on the preflight fixture trees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hw/hosts/discover.h"
#include "hw/hosts/hosts.h"

#define FIX "tests/fixtures/preflight/"

static void test_full_file_parses(void **state)
{
	(void)state;
	const char *text = "# lab\n"
			   "[host]\n"
			   "ssh = tester@host.lab   # comment after a value\n"
			   "rdma_dev = auto\n"
			   "ip = 192.168.50.1\n"
			   "mtu = 9000\n"
			   "\n"
			   "[dpu]\n"
			   "  addr=192.168.100.2\n"
			   "ssh = ubuntu@192.168.100.2\n"
			   "devargs = auxiliary:mlx5_core.sf.2,class=eth\n"
			   "rdma_dev = mlx5_2\n"
			   "gid_index = 3\n"
			   "netdev = enp3s0f0s0\n"
			   "peer_ip = 192.168.60.9\n"
			   "arp_seed = 192.168.60.9 0c:42:a1:60:00:09";
	struct bt_hosts h;
	char err[256] = "";
	assert_int_equal(bt_hosts_parse(text, "lab.hosts", &h, err, sizeof(err)), 0);
	assert_true(h.host.present);
	assert_string_equal(h.host.ssh, "tester@host.lab");
	assert_string_equal(h.host.rdma_dev, "auto");
	assert_int_equal(h.host.gid_index, -1);
	assert_int_equal(h.host.mtu, 9000);
	assert_string_equal(h.dpu.addr, "192.168.100.2");
	assert_string_equal(h.dpu.devargs, "auxiliary:mlx5_core.sf.2,class=eth");
	assert_string_equal(h.dpu.rdma_dev, "mlx5_2");
	assert_int_equal(h.dpu.gid_index, 3);
	assert_string_equal(h.dpu.netdev, "enp3s0f0s0");
	assert_string_equal(h.dpu.peer_ip, "192.168.60.9");
	assert_true(h.dpu.has_arp_seed);
	assert_string_equal(h.dpu.arp_seed_mac, "0c:42:a1:60:00:09");
	assert_ptr_equal(bt_hosts_side(&h, "dpu"), &h.dpu);
	assert_null(bt_hosts_side(&h, "arm"));
}

static void test_pci_devargs_forms(void **state)
{
	(void)state;
	const char *ok[] = {"[dpu]\ndevargs = 0000:03:00.0\n", "[dpu]\ndevargs = 03:00.1\n",
			    "[dpu]\ndevargs = 0000:03:00.0,dv_flow_en=2,representor=pf0vf0\n"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct bt_hosts h;
		char err[256] = "";
		assert_int_equal(bt_hosts_parse(ok[i], "f", &h, err, sizeof(err)), 0);
	}
}

/* Each malformed file: the exact FILE:LINE prefix and a word of the problem. */
static void test_malformed_files_name_line_and_problem(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"rdma_dev = mlx5_2\n", "bad.hosts:1: key 'rdma_dev' before any [host] or [dpu] section"},
		{"[host]\n[arm]\n", "bad.hosts:2: unknown section [arm]"},
		{"[host\n", "bad.hosts:1: malformed section header"},
		{"[host]\n[host]\n", "bad.hosts:2: section [host] given twice"},
		{"[host]\nip 192.168.1.1\n", "bad.hosts:2: expected 'key = value'"},
		{"[host]\n# c\nhostname = x\n", "bad.hosts:3: unknown key 'hostname'"},
		{"[host]\nip = 1.2.3\n", "bad.hosts:2: ip '1.2.3': expected an IPv4 address"},
		{"[host]\nip = 1.2.3.4\nip = 1.2.3.5\n", "bad.hosts:3: key 'ip' given twice"},
		{"[dpu]\nmtu = 90000\n", "bad.hosts:2: mtu '90000': expected 68..9216"},
		{"[dpu]\ngid_index = -1\n", "bad.hosts:2: gid_index '-1': expected auto or 0..255"},
		{"[dpu]\ndevargs = mlx5_core.sf.2\n", "bad.hosts:2: devargs 'mlx5_core.sf.2': expected a PCI address"},
		{"[dpu]\ndevargs = auxiliary:mlx5_core.sf.x\n", "bad.hosts:2: devargs"},
		{"[dpu]\narp_seed = 10.0.0.1\n", "bad.hosts:2: arp_seed '10.0.0.1': expected"},
		{"[dpu]\narp_seed = 10.0.0.1 0c:42:a1:60:00\n", "bad.hosts:2: arp_seed"},
		{"[dpu]\nssh = u@h; rm -rf /\n", "bad.hosts:2: ssh 'u@h; rm -rf /': no spaces or shell characters"},
		{"[dpu]\nrdma_dev = mlx5/2\n", "bad.hosts:2: rdma_dev 'mlx5/2'"},
		{"[dpu]\nnetdev =\n", "bad.hosts:2: key 'netdev' has no value"},
		{"[dpu]\n = x\n", "bad.hosts:2: missing key before '='"},
		{"# only comments\n\n", "bad.hosts:2: no [host] or [dpu] section"},
		{"[host]\nvdev = net_null0\n", "bad.hosts:2: key 'vdev' does not apply to [host]"},
		{"[host]\nwire_ip = 10.0.0.2\n", "bad.hosts:2: key 'wire_ip' does not apply to [host]"},
		{"[host]\narp_seed = 10.0.0.1 0c:42:a1:60:00:09\n", "bad.hosts:2: key 'arp_seed' does not apply to [host]"},
		{"[dpu]\nvdev = net_null0\n\ndevargs = 0000:03:00.0\n", "bad.hosts:4: give devargs"},
		{"[dpu]\nvdev = null0\n", "bad.hosts:2: vdev 'null0': expected a DPDK virtual ethdev"},
		{"[dpu]\nvdev = net_tap0,iface=x;reboot\n", "bad.hosts:2: vdev"},
		{"[dpu]\nwire_ip = 10.0.0.2/0\n", "bad.hosts:2: wire_ip '10.0.0.2/0'"},
		{"[dpu]\nwire_ip = 10.0.0.2/+8\n", "bad.hosts:2: wire_ip"},
		{"[dpu]\nwire_ip = 10.0.0/8\n", "bad.hosts:2: wire_ip"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bt_hosts h;
		char err[256] = "";
		assert_int_equal(bt_hosts_parse(cases[i].text, "bad.hosts", &h, err, sizeof(err)), -1);
		if (strncmp(err, cases[i].want, strlen(cases[i].want))) {
			print_error("case %zu: got '%s', want prefix '%s'\n", i, err, cases[i].want);
			fail();
		}
	}
}

static void test_long_line_and_file_errors(void **state)
{
	(void)state;
	char *text = malloc(2000);
	assert_non_null(text);
	memset(text, 'a', 1999);
	memcpy(text, "[dpu]\nssh = ", 12);
	text[1999] = '\0';
	struct bt_hosts h;
	char err[256] = "";
	assert_int_equal(bt_hosts_parse(text, "long.hosts", &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "long.hosts:2: line longer than"));
	free(text);
	assert_int_equal(bt_hosts_load("/nonexistent/lab.hosts", &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/lab.hosts: No such file"));
	assert_int_equal(bt_hosts_load(FIX "hosts/dpu-mode.hosts", &h, err, sizeof(err)), 0);
	assert_string_equal(h.dpu.devargs, "0000:03:00.0");
}

/* The keys bluetas nic reads: vdev, wire_ip with its prefix, and the line
 * of every key (for errors found after parsing, e.g. a seed off the
 * subnet). */
static void test_daemon_keys_and_lines(void **state)
{
	(void)state;
	struct bt_hosts h;
	char err[256] = "";
	const char *text = "# rehearsal\n[dpu]\nvdev = net_null0,no-rx=1\nwire_ip = 10.99.0.2/16\n[host]\npeer_ip = 10.0.0.2\n";
	assert_int_equal(bt_hosts_parse(text, "r.hosts", &h, err, sizeof(err)), 0);
	assert_string_equal(h.name, "r.hosts");
	assert_string_equal(h.dpu.vdev, "net_null0,no-rx=1");
	assert_string_equal(h.dpu.wire_ip, "10.99.0.2");
	assert_int_equal(h.dpu.wire_prefix_len, 16);
	assert_int_equal(h.dpu.section_line, 2);
	assert_int_equal(h.dpu.line[BT_HOSTS_VDEV], 3);
	assert_int_equal(h.dpu.line[BT_HOSTS_WIRE_IP], 4);
	assert_int_equal(h.dpu.line[BT_HOSTS_DEVARGS], 0);
	assert_int_equal(h.host.line[BT_HOSTS_PEER_IP], 6);
	assert_string_equal(bt_hosts_key_name(BT_HOSTS_WIRE_IP), "wire_ip");
	assert_int_equal(bt_hosts_parse("[dpu]\nwire_ip = 10.99.0.2\n", "r", &h, err, sizeof(err)), 0);
	assert_int_equal(h.dpu.wire_prefix_len, 24);
}

static struct bt_sysroot root_of(const char *dir)
{
	struct bt_sysroot r;
	char err[256];
	assert_int_equal(bt_sysroot_init(&r, dir, err, sizeof(err)), 0);
	return r;
}

static void test_gid_auto_skips_switchdev_pf_and_picks_sf(void **state)
{
	(void)state;
	struct bt_sysroot r = root_of(FIX "bf3-dpu-arm");
	struct bt_gid_pick p;
	assert_int_equal(bt_gid_pick(&r, "auto", -1, &p), BT_GID_FOUND);
	assert_string_equal(p.dev, "mlx5_2");
	assert_int_equal(p.gid_index, 3); /* 2 is the same address as RoCE v1 */
	assert_string_equal(p.ipv4, "192.168.50.2");
	assert_int_equal(bt_gid_pick(&r, "mlx5_0", -1, &p), BT_GID_EMPTY);
	assert_int_equal(bt_gid_pick(&r, "mlx5_3", -1, &p), BT_GID_NO_V2_IPV4); /* link-local only */
	assert_int_equal(bt_gid_pick(&r, "mlx5_2", 2, &p), BT_GID_NO_V2_IPV4);  /* v1 entry demanded */
	assert_int_equal(bt_gid_pick(&r, "mlx5_2", 3, &p), BT_GID_FOUND);
	assert_int_equal(bt_gid_pick(&r, "mlx5_7", -1, &p), BT_GID_NO_DEVICE);
	struct bt_sysroot none = root_of(FIX "no-mlx5");
	assert_int_equal(bt_gid_pick(&none, NULL, -1, &p), BT_GID_NO_DEVICE);
	assert_string_equal(p.dev, "");
}

static void test_hugepage_size_discovered_not_assumed(void **state)
{
	(void)state;
	struct bt_sysroot bf3 = root_of(FIX "bf3-dpu-arm"), bf2 = root_of(FIX "bf2-dpu-arm"),
			  none = root_of(FIX "no-mlx5");
	assert_int_equal(bt_hugepage_default_kb(&bf3), 524288);
	assert_int_equal(bt_hugepage_default_kb(&bf2), 2048);
	assert_int_equal(bt_hugepage_default_kb(&none), 0);
}

/* bt_hugepages_find: the size, how many, and a hugetlbfs of that size;
 * usable only with both. */
static void test_hugepages_usable_only_reserved_and_mounted(void **state)
{
	(void)state;
	struct bt_hugepages hp;
	struct bt_sysroot r = root_of(FIX "bf3-dpu-arm");
	assert_int_equal(bt_hugepages_find(&r, &hp), 0);
	assert_int_equal(hp.size_kb, 512ul * 1024);
	assert_int_equal(hp.nr, 4);
	assert_string_equal(hp.mount, "/dev/hugepages");
	r = root_of(FIX "bf2-dpu-arm");
	assert_int_equal(bt_hugepages_find(&r, &hp), 0);
	assert_int_equal(hp.size_kb, 2048);
	assert_int_equal(hp.nr, 128);
	/* No hugepage support at all. */
	r = root_of(FIX "no-mlx5");
	assert_int_equal(bt_hugepages_find(&r, &hp), -1);
	assert_int_equal(hp.size_kb, 0);
	/* Reserved but no hugetlbfs mounted: the size and count known, not usable. */
	char dir[] = "/tmp/bt-hugepages.XXXXXX", cmd[512];
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/sys/kernel/mm/hugepages/hugepages-2048kB %s/proc && echo 8 > "
		 "%s/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages && echo 'Hugepagesize:    2048 kB' > "
		 "%s/proc/meminfo && echo 'proc /proc proc rw 0 0' > %s/proc/mounts",
		 dir, dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	r = root_of(dir);
	int rc = bt_hugepages_find(&r, &hp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(rc, -1);
	assert_int_equal(hp.size_kb, 2048);
	assert_int_equal(hp.nr, 8);
	assert_string_equal(hp.mount, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file_parses),
		cmocka_unit_test(test_pci_devargs_forms),
		cmocka_unit_test(test_malformed_files_name_line_and_problem),
		cmocka_unit_test(test_long_line_and_file_errors),
		cmocka_unit_test(test_gid_auto_skips_switchdev_pf_and_picks_sf),
		cmocka_unit_test(test_hugepage_size_discovered_not_assumed),
		cmocka_unit_test(test_daemon_keys_and_lines),
		cmocka_unit_test(test_hugepages_usable_only_reserved_and_mounted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
