#include "pcap_mirror.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MIRROR_SNAPLEN 65535

struct pcap_mirror {
	struct netif nif; /* first member: the netif pointer is the wrapper */
	struct netif *inner;
	struct bt_clock clock;
	pcap_t *pcap;
	pcap_dumper_t *dumper; /* NULL once closed */
	char path[256];        /* for the write-error message */
	int write_errno;       /* first failed write (0: none) */
};

static struct pcap_mirror *as_mirror(struct netif *nif)
{
	return (struct pcap_mirror *)nif;
}

static void mirror_record(struct pcap_mirror *m, const struct netif_buf *b)
{
	if (!b || !m->dumper)
		return;
	uint64_t ns = bt_clock_now_ns(&m->clock);
	struct pcap_pkthdr h;
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(ns / 1000000000ull);
	/* With nanosecond precision libpcap stores tv_usec verbatim as the
	 * nanosecond field of the record. */
	h.ts.tv_usec = (suseconds_t)(ns % 1000000000ull);
	h.len = b->len;
	h.caplen = b->len < PCAP_MIRROR_SNAPLEN ? b->len : PCAP_MIRROR_SNAPLEN;
	pcap_dump((u_char *)m->dumper, &h, b->data);
	/* pcap_dump returns nothing; the stdio stream keeps the error. */
	FILE *f = pcap_dump_file(m->dumper);
	if (!m->write_errno && f && ferror(f))
		m->write_errno = errno ? errno : EIO;
}

static int mirror_rx_burst(struct netif *nif, struct netif_buf **bufs, int max)
{
	struct pcap_mirror *m = as_mirror(nif);
	int n = netif_rx_burst(m->inner, bufs, max);
	for (int i = 0; i < n; i++)
		mirror_record(m, bufs[i]);
	return n;
}

/*
 * Frames are recorded BEFORE the inner transmit: once the inner netif owns
 * a buffer it may already have freed it (the sim link frees tail drops in
 * place), so reading it afterwards is unsafe, and copying every frame just
 * to wait for the verdict costs more than it tells. Consequences:
 *   - a frame the wire tail-drops is in the file; it did leave this host,
 *     and the link's own counters say where it died;
 *   - a frame the inner netif refuses (bufs[ret..n), possible with DPDK's
 *     full TX ring, never with the sim link) is in the file, and again if
 *     the caller retries it.
 */
static int mirror_tx_burst(struct netif *nif, struct netif_buf **bufs, int n)
{
	struct pcap_mirror *m = as_mirror(nif);
	if (bufs)
		for (int i = 0; i < n; i++)
			mirror_record(m, bufs[i]);
	return netif_tx_burst(m->inner, bufs, n);
}

static struct netif_buf *mirror_alloc(struct netif *nif)
{
	return netif_alloc(as_mirror(nif)->inner);
}

static void mirror_free(struct netif *nif, struct netif_buf *buf)
{
	netif_free(as_mirror(nif)->inner, buf);
}

static void mirror_get_mac(struct netif *nif, uint8_t mac_out[6])
{
	netif_get_mac(as_mirror(nif)->inner, mac_out);
}

static void mirror_get_stats(struct netif *nif, struct netif_stats *out)
{
	netif_get_stats(as_mirror(nif)->inner, out);
}

static uint64_t mirror_next_rx_ns(struct netif *nif)
{
	return netif_next_rx_ns(as_mirror(nif)->inner);
}

static void set_err(char *err, size_t err_len, const char *path, const char *reason);

int pcap_mirror_close(struct netif *nif, char *err, size_t err_len)
{
	struct pcap_mirror *m = as_mirror(nif);
	if (!m || !m->dumper)
		return 0;
	FILE *f = pcap_dump_file(m->dumper);
	errno = 0;
	if (pcap_dump_flush(m->dumper) != 0 && !m->write_errno)
		m->write_errno = errno ? errno : EIO;
	if (!m->write_errno && f && ferror(f))
		m->write_errno = EIO;
	/* pcap_dump_close is fclose without a result: close it ourselves
	 * to see the final error (the dumper is the FILE). */
	errno = 0;
	if (fclose(f) != 0 && !m->write_errno)
		m->write_errno = errno ? errno : EIO;
	m->dumper = NULL;
	if (m->write_errno) {
		set_err(err, err_len, m->path, strerror(m->write_errno));
		return -1;
	}
	return 0;
}

static void mirror_destroy(struct netif *nif)
{
	struct pcap_mirror *m = as_mirror(nif);
	if (!m)
		return;
	pcap_mirror_close(nif, NULL, 0);
	pcap_close(m->pcap);
	netif_destroy(m->inner);
	free(m);
}

static const struct netif_ops mirror_ops = {
	.rx_burst = mirror_rx_burst,
	.tx_burst = mirror_tx_burst,
	.alloc = mirror_alloc,
	.free = mirror_free,
	.get_mac = mirror_get_mac,
	.get_stats = mirror_get_stats,
	.next_rx_ns = mirror_next_rx_ns,
	.destroy = mirror_destroy,
};

static void set_err(char *err, size_t err_len, const char *path, const char *reason)
{
	if (err && err_len)
		snprintf(err, err_len, "pcap: cannot write %s: %s", path ? path : "(null)", reason);
}

/* On failure `inner` is left untouched and still belongs to the caller. */
struct netif *pcap_mirror_create(struct netif *inner, const char *path, const struct bt_clock *clock,
				 char *err, size_t err_len)
{
	if (!inner || !path || !clock || !clock->now_ns) {
		set_err(err, err_len, path, "missing netif, path or clock");
		return NULL;
	}
	struct pcap_mirror *m = calloc(1, sizeof(*m));
	if (!m) {
		set_err(err, err_len, path, "out of memory");
		return NULL;
	}
	m->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, PCAP_MIRROR_SNAPLEN,
						       PCAP_TSTAMP_PRECISION_NANO);
	if (!m->pcap) {
		set_err(err, err_len, path, "pcap_open_dead failed");
		free(m);
		return NULL;
	}
	m->dumper = pcap_dump_open(m->pcap, path);
	if (!m->dumper) {
		/* libpcap phrases it "PATH: strerror"; drop its copy of the path
		 * so the message names it once. */
		const char *reason = pcap_geterr(m->pcap);
		size_t pl = strlen(path);
		if (strncmp(reason, path, pl) == 0 && strncmp(reason + pl, ": ", 2) == 0)
			reason += pl + 2;
		set_err(err, err_len, path, reason);
		pcap_close(m->pcap);
		free(m);
		return NULL;
	}
	m->nif.ops = &mirror_ops;
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->inner = inner;
	m->clock = *clock;
	return &m->nif;
}
