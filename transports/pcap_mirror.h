/*
 * pcap_mirror.h: a netif that wraps another and writes every frame it
 * receives or transmits to a pcap file (nanosecond timestamps from the
 * given clock, DLT_EN10MB), through libpcap, so Wireshark and tshark read
 * any run. With a virtual clock the file is byte-for-byte reproducible.
 * Works over any backend: sim link, DPDK.
 */
#ifndef BT_PCAP_MIRROR_H
#define BT_PCAP_MIRROR_H

#include <stddef.h>

#include "clock.h"
#include "netif.h"

/* Returns the wrapping netif, or NULL with a message in err (e.g. the file
 * cannot be created). destroy() on the wrapper flushes and closes the file
 * and destroys `inner`. */
struct netif *pcap_mirror_create(struct netif *inner, const char *path, const struct bt_clock *clock,
				 char *err, size_t err_len);

/* Flushes and closes the file; later frames are no longer recorded. Returns
 * -1 with "pcap: cannot write PATH: REASON" in err if any write failed (a
 * full disk, /dev/full), so that a capture that was lost is reported, not
 * claimed. A second call returns 0. destroy() calls it and drops the
 * result: call this first where the result matters. */
int pcap_mirror_close(struct netif *mirror, char *err, size_t err_len);

#endif
