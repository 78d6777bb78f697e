#!/usr/bin/env python3
"""Many short echo connections from Linux TCP, each one checked byte for byte.

Runs --conns connections, --parallel at a time: connect, send a seeded
random message of 1..--max-bytes bytes, shut the write side, read until
EOF and compare. Every socket operation has a timeout, so a stuck
connection fails the run instead of hanging it.

Prints "echo_clients ok=N failed=N bytes=N sha256=HEX" (the digest covers
every message sent, in connection order) and exits 0 only if all passed.
"""
import argparse
import hashlib
import random
import socket
import sys
import threading


def one(host, port, payload, timeout_s):
    with socket.create_connection((host, port), timeout=timeout_s) as s:
        s.settimeout(timeout_s)
        got = bytearray()
        # Send and receive at once: an echo larger than both socket
        # buffers would otherwise deadlock a send-all-then-read client.
        sent = 0
        s.setblocking(True)
        while sent < len(payload):
            n = s.send(payload[sent:sent + 65536])
            sent += n
            try:
                s.settimeout(0)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except (BlockingIOError, socket.timeout):
                pass
            finally:
                s.settimeout(timeout_s)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return bytes(got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--max-bytes", type=int, default=16384)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout-s", type=float, default=20.0)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    payloads = [rng.randbytes(rng.randint(1, a.max_bytes)) for _ in range(a.conns)]
    results = [None] * a.conns
    next_index = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= a.conns:
                return
            try:
                got = one(a.host, a.port, payloads[i], a.timeout_s)
                results[i] = None if got == payloads[i] else \
                    f"conn {i}: echoed {len(got)} bytes, sent {len(payloads[i])}, equal={got == payloads[i]}"
            except OSError as e:
                results[i] = f"conn {i}: {e}"

    threads = [threading.Thread(target=worker) for _ in range(max(1, a.parallel))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [r for r in results if r]
    h = hashlib.sha256()
    for p in payloads:
        h.update(p)
    for f in failures[:10]:
        print("echo_clients: " + f, file=sys.stderr)
    print(f"echo_clients ok={a.conns - len(failures)} failed={len(failures)} "
          f"bytes={sum(len(p) for p in payloads)} sha256={h.hexdigest()}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
