#!/usr/bin/env python3
"""Hostile segments on a LIVE connection between Linux TCP and the stack.

    inject.py IFACE HOST PORT

Opens an ordinary Linux TCP connection to the stack's echo server, learns
the connection's sequence numbers by watching IFACE with an AF_PACKET
socket, then injects, with the connection's own addresses and ports:

  - payload far beyond the receive window and far below it,
  - an RST inside the window but not at rcv_nxt (RFC 5961: challenge ACK),
  - an RST far outside the window, a SYN on the established connection,
  - an ACK for data never sent,
  - a segment with a bad checksum and one with an impossible option.

None of them may reset the connection or disturb its bytes: afterwards a
1 MiB echo over the same connection must come back intact. Needs root
(AF_PACKET). Prints "inject ok ..." and exits 0 on success.
"""
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ACK, PSH, RST, SYN = 0x10, 0x08, 0x04, 0x02


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq, ack, flags, payload=b"", options=b"",
          bad_csum=False):
    doff = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags, 1024, 0,
                      0) + options + payload
    c = csum(src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(seg)) + seg)
    if bad_csum:
        c ^= 0x1111
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0x4242, 0x4000, 64, 6, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + seg


def parse(buf):
    """(src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq, ack, flags, payload_len) or None."""
    if len(buf) < 54 or buf[12:14] != b"\x08\x00" or buf[23] != 6:
        return None
    ihl = (buf[14] & 15) * 4
    total = struct.unpack("!H", buf[16:18])[0]
    t = 14 + ihl
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", buf[t:t + 14])
    plen = total - ihl - (off >> 4) * 4
    return buf[6:12], buf[0:6], buf[26:30], buf[30:34], sport, dport, seq, ack, flags, plen


def recv_exact(s, n, deadline):
    got = bytearray()
    while len(got) < n:
        s.settimeout(max(0.1, deadline - time.time()))
        chunk = s.recv(min(65536, n - len(got)))
        if not chunk:
            raise RuntimeError("connection closed after %d of %d echoed bytes" % (len(got), n))
        got += chunk
    return bytes(got)


def echo(s, data, timeout_s=20):
    deadline = time.time() + timeout_s
    got = bytearray()
    sent = 0
    while sent < len(data):
        s.settimeout(max(0.1, deadline - time.time()))
        sent += s.send(data[sent:sent + 16384])
        # Read as we go: a large echo must not fill both directions.
        s.setblocking(False)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed during the echo")
                got += chunk
        except BlockingIOError:
            pass
        s.setblocking(True)
    got += recv_exact(s, len(data) - len(got), deadline)
    if bytes(got) != data:
        raise RuntimeError("echo differs from what was sent")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    iface, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    raw.bind((iface, 0))
    raw.settimeout(0.2)
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lport = s.getsockname()[1]
    echo(s, b"hello, stack\n" * 10)

    # The last segment Linux sent on this connection tells us everything:
    # its seq+len is the stack's rcv_nxt, its ack the stack's snd_nxt.
    last = None
    deadline = time.time() + 2
    echo(s, b"!")  # one more exchange so a fresh segment is seen
    while time.time() < deadline:
        try:
            buf, addr = raw.recvfrom(65535)
        except socket.timeout:
            if last:
                break
            continue
        p = parse(buf)
        if p and addr[2] == PACKET_OUTGOING and p[4] == lport and p[5] == port:
            last = p
    if not last:
        print("inject: never saw our own segments on %s" % iface, file=sys.stderr)
        return 1
    src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq, ack, _, plen = last
    rcv_nxt = (seq + plen) & 0xFFFFFFFF
    snd_nxt = ack

    def send(flags, seq_, ack_, payload=b"", **kw):
        raw.send(frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq_, ack_, flags, payload, **kw))
        time.sleep(0.01)

    send(ACK | PSH, rcv_nxt + (1 << 30), snd_nxt, b"X" * 100)        # beyond the window
    send(ACK | PSH, rcv_nxt - (1 << 30), snd_nxt, b"Y" * 100)        # far below it
    send(RST, rcv_nxt + 1000, 0)                                      # in window, not exact
    send(RST | ACK, rcv_nxt + (1 << 31) - 1, snd_nxt)                 # far outside
    send(SYN, rcv_nxt + 12345, 0, options=bytes([2, 4, 5, 0xB4]))     # SYN on an open connection
    send(ACK, rcv_nxt, snd_nxt + 1000000)                             # ACKs data never sent
    send(ACK | PSH, rcv_nxt, snd_nxt, b"Z" * 50, bad_csum=True)       # bad checksum
    send(ACK | PSH, rcv_nxt, snd_nxt, b"W" * 50, options=bytes([8, 3, 0, 0]))  # impossible option

    # The connection must be exactly as it was.
    data = os.urandom(1 << 20)
    echo(s, data)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    rest = s.recv(1)
    if rest:
        print("inject: unexpected bytes after the echo", file=sys.stderr)
        return 1
    s.close()
    print("inject ok injected=8 echoed_after=%d" % len(data))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeError) as e:
        print("inject: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
