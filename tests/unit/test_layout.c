/*
 * test_layout: the SYN option layouts of the linux-like and freebsd-like
 * profiles (core/proto/tcp_layout.c), byte for byte as the conformance
 * corpora spell them, and that a SYN built with one carries them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/proto/proto.h"

static const struct tcp_opts ALL = {.has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 6,
				    .has_ts = true, .ts_val = 0x01020304, .ts_ecr = 0, .sack_permitted = true};

static void expect_layout(const struct tcp_opts *o, enum tcp_opt_layout layout, const uint8_t *want, int want_len)
{
	uint8_t out[40];
	int n = tcp_syn_opts_layout(out, o, layout);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, (size_t)want_len);
	assert_int_equal(n % 4, 0);
}

static void test_freebsd_all_options(void **state)
{
	(void)state;
	/* <mss 1460,nop,wscale 6,sackOK,TS val .. ecr 0> */
	const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0};
	expect_layout(&ALL, TCP_LAYOUT_FREEBSD, want, sizeof(want));
}

static void test_freebsd_mss_sack_pads_with_eol(void **state)
{
	(void)state;
	/* <mss 1460,sackOK,eol,eol> */
	struct tcp_opts o = {.has_mss = true, .mss = 1460, .sack_permitted = true};
	const uint8_t want[] = {2, 4, 0x05, 0xb4, 4, 2, 0, 0};
	expect_layout(&o, TCP_LAYOUT_FREEBSD, want, sizeof(want));
	struct tcp_opts mss_only = {.has_mss = true, .mss = 1460};
	const uint8_t want2[] = {2, 4, 0x05, 0xb4};
	expect_layout(&mss_only, TCP_LAYOUT_FREEBSD, want2, sizeof(want2));
}

static void test_linux_all_options(void **state)
{
	(void)state;
	/* <mss 1460,sackOK,TS val .. ecr 0,nop,wscale 6> */
	const uint8_t want[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 6};
	expect_layout(&ALL, TCP_LAYOUT_LINUX, want, sizeof(want));
}

static void test_linux_without_ts(void **state)
{
	(void)state;
	/* <mss 1460,nop,nop,sackOK,nop,wscale 6> */
	struct tcp_opts o = ALL;
	o.has_ts = false;
	const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 6};
	expect_layout(&o, TCP_LAYOUT_LINUX, want, sizeof(want));
	/* without SACK either: <mss 1460,nop,wscale 6> */
	o.sack_permitted = false;
	const uint8_t want2[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 6};
	expect_layout(&o, TCP_LAYOUT_LINUX, want2, sizeof(want2));
	/* TS without SACK: <mss 1460,nop,nop,TS ..,nop,wscale 6> */
	o = ALL;
	o.sack_permitted = false;
	const uint8_t want3[] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 6};
	expect_layout(&o, TCP_LAYOUT_LINUX, want3, sizeof(want3));
}

static void test_default_layout_is_not_a_profile(void **state)
{
	(void)state;
	uint8_t out[40];
	assert_int_equal(tcp_syn_opts_layout(out, &ALL, TCP_LAYOUT_BLUETAS), -1);
}

static void test_syn_header_uses_the_layout_data_segments_do_not(void **state)
{
	(void)state;
	uint8_t hdr[60];
	struct tcp_build_args a = {.sport = 1, .dport = 2, .flags = TCP_SYN, .layout = TCP_LAYOUT_FREEBSD,
				   .window = 65535, .opts = &ALL};
	int n = tcp_build_hdr(hdr, sizeof(hdr), &a);
	assert_int_equal(n, 40);
	assert_int_equal(hdr[12] >> 4, 10);
	assert_int_equal(hdr[20 + 4], 1); /* NOP before WS, as FreeBSD */
	/* A data segment keeps NOP NOP TS whatever the layout. */
	struct tcp_opts ts = {.has_ts = true, .ts_val = 7};
	a.flags = TCP_ACK;
	a.opts = &ts;
	n = tcp_build_hdr(hdr, sizeof(hdr), &a);
	assert_int_equal(n, 32);
	assert_int_equal(hdr[20], 1);
	assert_int_equal(hdr[21], 1);
	assert_int_equal(hdr[22], 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_freebsd_all_options),
		cmocka_unit_test(test_freebsd_mss_sack_pads_with_eol),
		cmocka_unit_test(test_linux_all_options),
		cmocka_unit_test(test_linux_without_ts),
		cmocka_unit_test(test_default_layout_is_not_a_profile),
		cmocka_unit_test(test_syn_header_uses_the_layout_data_segments_do_not),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
