#!/usr/bin/env python3
"""Writes a pcap of hostile and malformed frames for the stack, and the
counters a correct stack must show after a net_pcap replay of it.

    gen_bad_frames.py OUT.pcap EXPECT.txt [--backlog N]

The frames go from the peer (10.77.0.1, 02:00:00:77:00:01) to the stack
(10.77.0.2, 02:00:00:77:00:02), which runs a sink on port 9 with an accept
backlog of --backlog. EXPECT.txt gets one "COUNTER OP VALUE" line per
check (OP is == or <=), named as `bluetas nic --stats` prints them.

Only the standard library: every header and checksum is built here.
"""
import argparse
import struct
import sys

STACK_MAC = bytes.fromhex("020000770002")
PEER_MAC = bytes.fromhex("020000770001")
OTHER_MAC = bytes.fromhex("020000770099")
PEER_IP = bytes([10, 77, 0, 1])
STACK_IP = bytes([10, 77, 0, 2])
SINK_PORT = 9


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(payload, ethertype=0x0800, dst=STACK_MAC, src=PEER_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(payload, proto=6, src=PEER_IP, dst=STACK_IP, ihl=5, version=4, total=None, frag=0x4000,
         good_csum=True, options=b""):
    total = 20 + len(options) + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total & 0xFFFF, 0x1234, frag, 64, proto, 0,
                      src, dst) + options
    c = csum(hdr)
    if not good_csum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def tcp(sport, dport, seq, ack, flags, payload=b"", options=b"", window=65535, doff=None, src=PEER_IP,
        dst=STACK_IP, good_csum=True):
    doff = (20 + len(options)) // 4 if doff is None else doff
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags,
                      window, 0, 0) + options
    seg = hdr + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(pseudo + seg)
    if not good_csum:
        c ^= 0x0F0F
    return seg[:16] + struct.pack("!H", c) + seg[18:]


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7])  # MSS 1460, NOP, WS 7


def tcp_frame(sport, dport, seq, ack, flags, **kw):
    src = kw.pop("src", PEER_IP)
    ip_kw = {k: kw.pop(k) for k in list(kw) if k.startswith("ip_")}
    seg = tcp(sport, dport, seq, ack, flags, src=src, **kw)
    return eth(ipv4(seg, src=src, **{k[3:]: v for k, v in ip_kw.items()}))


def arp(op=1, hlen=6, truncate=None, target=STACK_IP):
    pkt = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, hlen, 4, op, PEER_MAC, PEER_IP, b"\0" * 6, target)
    if truncate is not None:
        pkt = pkt[:truncate]
    return eth(pkt, ethertype=0x0806, dst=b"\xff" * 6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("expect")
    ap.add_argument("--backlog", type=int, default=16)
    ap.add_argument("--flood", type=int, default=200)
    a = ap.parse_args()

    frames = []
    expect = {}

    def add(counter, frame, n=1):
        frames.append(frame)
        if counter:
            expect[counter] = expect.get(counter, 0) + n

    # -- positive control: the stack answers ARP for its address
    add("nic.arp_replies_sent", arp())

    # -- Ethernet and ARP
    add("nic.rx_bad_eth", eth(b"")[:1])                          # 1 byte
    add("nic.rx_bad_eth", eth(b"")[:13])                         # one short of a header
    add("nic.rx_bad_eth", arp(truncate=10))                      # ARP body cut short
    add("nic.rx_bad_eth", arp(hlen=8))                           # not Ethernet/IPv4 ARP
    add("nic.rx_not_for_us", eth(ipv4(tcp(1000, SINK_PORT, 1, 0, SYN)), dst=OTHER_MAC))
    add("nic.rx_not_for_us", eth(b"\x60" + b"\0" * 39, ethertype=0x86DD))  # IPv6

    # -- IPv4 header
    seg = tcp(1001, SINK_PORT, 1, 0, SYN)
    add("nic.rx_bad_ip", eth(ipv4(seg)[:10]))                    # truncated header
    add("nic.rx_bad_ip", eth(ipv4(seg, version=6)))
    add("nic.rx_bad_ip", eth(ipv4(seg, ihl=4)))
    add("nic.rx_bad_ip", eth(ipv4(b"", ihl=15)[:30]))            # IHL past the frame
    add("nic.rx_bad_ip", eth(ipv4(seg, total=10)))               # total length < IHL
    add("nic.rx_bad_ip", eth(ipv4(seg, total=1500)))             # total length past the frame
    add("nic.rx_bad_csum", eth(ipv4(seg, good_csum=False)))
    add("nic.rx_bad_ip", eth(ipv4(seg, frag=0x2000)))            # a first fragment
    add("nic.rx_bad_ip", eth(ipv4(seg, frag=0x0010)))            # a later fragment
    add("nic.rx_not_for_us", eth(ipv4(b"\0" * 8, proto=17)))     # UDP
    other_ip = bytes([10, 77, 0, 3])
    add("nic.rx_not_for_us", eth(ipv4(tcp(1002, SINK_PORT, 1, 0, SYN, dst=other_ip), dst=other_ip)))

    # -- TCP header and options (checksums valid, so only the options are wrong)
    add("nic.rx_bad_tcp", eth(ipv4(seg[:10])))                   # 10 bytes of TCP
    add("nic.rx_bad_tcp", tcp_frame(1003, SINK_PORT, 1, 0, SYN, doff=4))
    add("nic.rx_bad_tcp", tcp_frame(1004, SINK_PORT, 1, 0, SYN, doff=15))
    add("nic.rx_bad_csum", tcp_frame(1005, SINK_PORT, 1, 0, SYN, good_csum=False))
    add("nic.rx_bad_csum", tcp_frame(1006, SINK_PORT, 1, 0, ACK | PSH, payload=b"x" * 100, good_csum=False))
    bad_options = [
        bytes([2, 0, 0, 0]),                 # MSS with length 0
        bytes([30, 1, 0, 0]),                # unknown kind, length 1
        bytes([30, 40, 0, 0]),               # length past the header
        bytes([2, 3, 5, 0]),                 # MSS of length 3
        bytes([1, 1, 1, 8]),                 # a kind with no length byte
        bytes([8, 8, 0, 0, 0, 0, 0, 0]),     # timestamps of length 8
        bytes([3, 255, 7, 0]),               # window scale of length 255
    ]
    for i, opt in enumerate(bad_options):
        add("nic.rx_bad_tcp", tcp_frame(1100 + i, SINK_PORT, 1, 0, SYN, options=opt))

    # -- segments for no connection
    add("nic.rx_no_flow_rst", tcp_frame(1200, SINK_PORT, 5000, 7000, ACK))            # stray ACK: RST
    add("nic.rx_no_flow_rst", tcp_frame(1201, SINK_PORT, 5000, 7000, ACK | PSH, payload=b"hello"))
    add("nic.rx_no_flow_rst", tcp_frame(1202, 12345, 5000, 0, SYN, options=SYN_OPTS))  # closed port
    add(None, tcp_frame(1203, SINK_PORT, 5000, 0, RST))                                # RST: dropped silently
    add(None, tcp_frame(1204, SINK_PORT, 5000, 7000, RST | ACK))

    # -- SYN flood: only `backlog` half-open connections may exist at once
    flood_syn_seq = []
    for i in range(a.flood):
        src = PEER_IP if i % 4 else bytes([10, 77, 0, 100 + (i % 100)])  # some spoofed sources too
        seq = 0x10000000 + i * 0x1000
        flood_syn_seq.append((src, 20000 + i, seq))
        frames.append(tcp_frame(20000 + i, SINK_PORT, seq, 0, SYN, options=SYN_OPTS, src=src))
    admitted = min(a.backlog, a.flood)
    expect["nic.syn_backlog_drops"] = a.flood - admitted

    # -- RSTs for the first two half-open connections (SYN_RCVD): one far
    #    outside the window (ignored), one exactly at rcv_nxt (resets it).
    src, sport, seq = flood_syn_seq[1]
    frames.append(tcp_frame(sport, SINK_PORT, seq + 1 + 0x40000000, 0, RST, src=src))
    src, sport, seq = flood_syn_seq[0]
    frames.append(tcp_frame(sport, SINK_PORT, seq + 1, 0, RST, src=src))
    expect["nic.conns_reset"] = 1
    # The rest time out after their SYN-ACK retries; none becomes a connection.
    expect["nic.conns_timed_out"] = admitted - 1
    expect["nic.conns_accepted"] = 0
    expect["nic.flows_active"] = 0
    expect["app.sink.accepted"] = 0

    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i, len(fr), len(fr)))
            f.write(fr)
    with open(a.expect, "w") as f:
        f.write("nic.rx_frames == %d\n" % len(frames))
        for k in sorted(expect):
            f.write("%s == %d\n" % (k, expect[k]))
        f.write("nic.flows_max_seen <= %d\n" % admitted)
    print("gen_bad_frames: %d frames -> %s" % (len(frames), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
