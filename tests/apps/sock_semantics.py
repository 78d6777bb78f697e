#!/usr/bin/env python3
"""tests/apps/sock_semantics.py serve PORT | client HOST PORT

Socket calls real programs make that the bulk-transfer cases do not show,
run on the stack (client, under the preload library) against a peer on
Linux (serve). The peer sends 64 KiB of a known pattern and then reads
until end of stream, echoing nothing; the client:

- MSG_PEEK twice and sees the same bytes both times, then reads them: the
  same bytes again (peek consumes nothing);
- with SO_RCVBUF at 16 KiB, only peeks for a while: what FIONREAD reports
  never exceeds 16 KiB plus one segment (a peek that took bytes off the
  stack would free the window and let more in);
- reads the rest with ONE recv(MSG_WAITALL), which must return all of
  it (the window lets 16 KiB in at a time), and checks all 64 KiB against
  the pattern;
- sends with MSG_MORE then without, and checks the peer got both parts;
  SIOCOUTQ counts the corked bytes, then drops to 0 once they are acked;
- EPOLLET: writes zeros until EAGAIN, waits while the peer drains them,
  and epoll must report EPOLLOUT again (a new edge);
- reads TCP_INFO (state ESTABLISHED, an MSS), sets SO_KEEPALIVE and
  TCP_KEEPIDLE/INTVL/CNT (1 s, 1 s, 3) and reads them back, and asks an
  unknown option (ENOPROTOOPT, not a crash);
- then stays idle for IDLE_S seconds: the stack sends keepalive probes,
  Linux answers them, and the connection lives on (with 3 unanswered
  probes it would be dead after 4 s).

The peer counts the probes it receives with a packet socket (a segment
from the client without data, ACK only, one below the next sequence
number it expects: RFC 9293 3.8.4) and fails unless it saw at least 2.

Last, the client blocks in recv (blocking mode, no timeout) while the peer
holds the connection open for 1.5 s after our FIN: a SIGALRM handler
installed without SA_RESTART (Python's default) interrupts it (EINTR, the
handler's exception comes out of recv within 1 s; before the preload
returned EINTR, recv slept on until the peer closed); with SA_RESTART
(siginterrupt False) the handler runs and recv goes on to the peer's close,
restarted, not ended with EINTR: CPython retries a recv that returned
EINTR by itself (PEP 475) but runs the handler's Python code first, at
0.1 s; after a restart it runs it only when recv returns (before the
preload decided by SA_RESTART, recv returned EINTR either way).

Exits 0 when every check held; prints each failed one.
"""
import fcntl
import select
import signal
import os
import socket
import struct
import sys
import termios
import threading
import time

N = 65536
IDLE_S = 4.5
ETH_P_ALL = 0x0003
PATTERN = bytes((i * 7 + 3) & 0xFF for i in range(N))


def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    # How long the client may take to come (SEM_ACCEPT_S): a python3 client
    # over verbs under TCG on a loaded host registers its region and
    # starts in tens of seconds; the Soft-RoCE suite asks for more.
    ls.settimeout(float(os.environ.get("SEM_ACCEPT_S", "30")))
    c, addr = ls.accept()
    c.settimeout(30)
    seen = {"probes": 0}
    done = threading.Event()
    sniffer = threading.Thread(target=count_probes, args=(addr, seen, done), daemon=True)
    sniffer.start()
    c.sendall(PATTERN)
    got = bytearray()
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    done.set()
    sniffer.join(2)
    probes = seen["probes"]
    print(f"serve: got {bytes(got[:14])!r} and {len(got) - 14} zeros; keepalive probes received: {probes}")
    time.sleep(1.5)  # the client's blocking recv meanwhile: signals must interrupt it
    c.close()
    # After MSG_MORE's parts: the zeros the EPOLLET check wrote until EAGAIN.
    return 0 if got.startswith(b"more-then-push") and not got[14:].strip(b"\0") and probes >= 2 else 1


def count_probes(addr, seen, done):
    """Counts keepalive probes from addr (ip, port) until done."""
    ip = socket.inet_aton(addr[0])
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    raw.settimeout(0.2)
    nxt = None
    while not done.is_set():
        try:
            frame = raw.recv(65536)
        except socket.timeout:
            continue
        if len(frame) < 14 + 20 + 20 or frame[12:14] != b"\x08\x00":
            continue
        iph = frame[14:]
        ihl = (iph[0] & 15) * 4
        if iph[9] != 6 or iph[12:16] != ip:
            continue
        tcp = iph[ihl:]
        if struct.unpack("!H", tcp[0:2])[0] != addr[1]:
            continue
        seq = struct.unpack("!I", tcp[4:8])[0]
        flags = tcp[13]
        plen = struct.unpack("!H", iph[2:4])[0] - ihl - (tcp[12] >> 4) * 4
        if nxt is None:
            nxt = seq
        if plen == 0 and flags == 0x10 and seq == (nxt - 1) & 0xFFFFFFFF:
            seen["probes"] += 1
            continue
        end = (seq + plen + (1 if flags & 1 else 0)) & 0xFFFFFFFF
        if (end - nxt) & 0xFFFFFFFF < 0x80000000:
            nxt = end


def client(host, port):
    fails = []

    def expect(ok, what):
        if not ok:
            fails.append(what)
            print(f"sock_semantics: FAILED: {what}")

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(30)
    s.connect((host, port))
    first = s.recv(100, socket.MSG_PEEK)
    again = s.recv(100, socket.MSG_PEEK)
    expect(len(first) > 0 and first == again and first == PATTERN[: len(first)], "two peeks see the same bytes")
    # Peek only, for a while: the window must not open past SO_RCVBUF.
    most = 0
    for _ in range(20):
        s.recv(N, socket.MSG_PEEK)
        buf = fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0")
        most = max(most, struct.unpack("i", buf)[0])
        time.sleep(0.05)
    expect(0 < most <= 16384 + 1448, f"peeking frees no window (FIONREAD at most {most}, SO_RCVBUF 16384)")
    # MSG_WAITALL: one blocking recv returns all 64 KiB though the window
    # lets in 16 KiB at a time (the preload used to return what was there).
    s.settimeout(None)  # blocking: with a timeout CPython's socket is O_NONBLOCK, and WAITALL then waits for nothing
    got = s.recv(N, socket.MSG_WAITALL)
    s.settimeout(30)
    expect(len(got) == N, f"recv MSG_WAITALL returned the {N} bytes asked for in one call ({len(got)})")
    while len(got) < N:
        b = s.recv(N - len(got))
        if not b:
            break
        got += b
    expect(got == PATTERN, f"the {N} bytes read after peeking are the pattern ({len(got)} read)")
    s.send(b"more-", socket.MSG_MORE)
    # SIOCOUTQ: the 5 corked bytes are written and not yet acked (the
    # preload answered ENOTTY).
    outq = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    expect(outq == 5, f"SIOCOUTQ counts the 5 corked bytes ({outq})")
    s.send(b"then-push")
    for _ in range(100):
        outq = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        if outq == 0:
            break
        time.sleep(0.01)
    expect(outq == 0, f"SIOCOUTQ drops to 0 once the peer acked ({outq})")
    # EPOLLET: write until EAGAIN, then let the peer drain everything
    # before asking: the space the ACKs freed is a new edge, as on Linux
    # (the preload reported none, having seen OUT set at both looks, and
    # nginx stalled on it under ab -k).
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLET)
    first = ep.poll(1)
    s.setblocking(False)
    filled = 0
    try:
        while filled < (64 << 20):
            filled += s.send(bytes(65536))
    except BlockingIOError:
        pass
    time.sleep(0.5)
    again = ep.poll(2)
    expect(bool(first) and bool(again) and again[0][1] & select.EPOLLOUT,
           f"EPOLLET: a new EPOLLOUT edge after writing {filled} bytes until EAGAIN and the peer draining ({first}, {again})")
    ep.close()
    s.setblocking(True)
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, mss = info[0], struct.unpack("I", info[16:20])[0]
    expect(state == 1 and mss > 0, f"TCP_INFO: state {state} (1 = ESTABLISHED), snd_mss {mss}")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    expect(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1 and
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 1 and
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 1 and
           s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3, "SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT read back")
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 0)
        expect(False, "TCP_KEEPCNT 0 is refused")
    except OSError as e:
        expect(e.errno == 22, f"TCP_KEEPCNT 0 fails with EINVAL (got errno {e.errno})")
    try:
        s.getsockopt(socket.IPPROTO_TCP, 37)  # TCP_MD5SIG... any option the stack lacks
        expect(False, "an unknown option is refused")
    except OSError as e:
        expect(e.errno == 92, f"an unknown option fails with ENOPROTOOPT (got errno {e.errno})")
    # Idle: probes go out and are answered; the connection must outlive
    # the 4 s that 3 unanswered probes would give it.
    time.sleep(IDLE_S)
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    expect(info[0] == 1, f"still ESTABLISHED after {IDLE_S} s idle with keepalive (state {info[0]})")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(None)  # a blocking recv in the library, not poll + recv

    class Alarm(Exception):
        pass

    def raise_alarm(signum, frame):
        raise Alarm()

    signal.signal(signal.SIGALRM, raise_alarm)  # CPython: siginterrupt True, no SA_RESTART
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        b = s.recv(1)
        expect(False, f"a signal interrupts a blocking recv (recv returned {b!r} after {time.monotonic() - t0:.2f} s)")
    except Alarm:
        took = time.monotonic() - t0
        expect(took < 1.0, f"a signal interrupts a blocking recv at once (after {took:.2f} s)")
    ran = []
    signal.signal(signal.SIGALRM, lambda signum, frame: ran.append(time.monotonic() - t0))
    signal.siginterrupt(signal.SIGALRM, False)  # SA_RESTART: recv goes on
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    b = s.recv(1)
    took = time.monotonic() - t0
    expect(b == b"" and ran, f"with SA_RESTART the handler runs and recv goes on to the peer's close ({b!r}, {len(ran)})")
    # When the handler's Python code ran tells EINTR from a restart:
    # CPython runs it when recv returns -- at once after an EINTR (which
    # it then retries, PEP 475, so the result alone cannot tell), at the
    # peer's close after a restart in the library, as in the kernel.
    expect(ran and ran[0] > 0.5 and took > 0.5,
           f"with SA_RESTART recv is restarted, not ended with EINTR: the handler ran when recv returned "
           f"({ran[0] if ran else -1:.2f} s, recv returned after {took:.2f} s; at 0.1 s is an EINTR)")
    s.close()
    if not fails:
        print("sock_semantics: peek x2 + window bound + MSG_WAITALL 64 KiB exact + MSG_MORE + SIOCOUTQ + EPOLLET + TCP_INFO + keepalive options and idle + "
              f"ENOPROTOOPT + EINTR: all held (FIONREAD peak {most})")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(int(sys.argv[2])))
    if len(sys.argv) == 4 and sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], int(sys.argv[3])))
    print(__doc__.strip().splitlines()[0], file=sys.stderr)
    sys.exit(2)
