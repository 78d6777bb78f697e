#!/usr/bin/env python3
"""tests/apps/mc_check.py HOST PORT [--set-seed S] [--get-seed S] [--keys N]

A byte-exact checker for memcached (the text protocol): stores N values
made from --set-seed (binary, sizes from 1 byte to 200 KiB, so most span
many segments), then reads them back one by one and in one multi-get and
compares them with the values --get-seed makes (the same seed unless a
negative control asks otherwise), and checks that `stats` counts at least
N items. Prints one line per problem and exits 1 on any, 0 when every
byte matched. Every socket operation has a timeout.
"""
import random
import socket
import sys

SIZES = [1, 7, 100, 1448, 1449, 4096, 65536, 200 * 1024]


def values(seed, n):
    rng = random.Random(seed)
    return {f"btk{i}": rng.randbytes(SIZES[i % len(SIZES)]) for i in range(n)}


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=20)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed mid-reply")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed mid-value")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def get(self, keys):
        self.s.sendall(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
        got = {}
        while True:
            ln = self.line()
            if ln == b"END":
                return got
            parts = ln.split()
            if parts[0] != b"VALUE":
                raise ValueError(f"unexpected reply {ln[:80]!r}")
            data = self.exact(int(parts[3]) + 2)
            got[parts[1].decode()] = data[:-2]


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    host, port = args[0], int(args[1])
    opts = dict(zip(args[2::2], args[3::2]))
    set_seed = int(opts.get("--set-seed", "1"))
    get_seed = int(opts.get("--get-seed", str(set_seed)))
    n = int(opts.get("--keys", "64"))
    c = Conn(host, port)
    stored = values(set_seed, n)
    for k, v in stored.items():
        c.s.sendall(f"set {k} 0 0 {len(v)}\r\n".encode() + v + b"\r\n")
        ln = c.line()
        if ln != b"STORED":
            print(f"mc_check: set {k} ({len(v)} bytes): {ln[:80]!r}")
            return 1
    want = values(get_seed, n)
    bad = 0
    for k, v in want.items():
        got = c.get([k]).get(k)
        if got != v:
            bad += 1
            if bad <= 3:
                print(f"mc_check: get {k}: {len(got) if got is not None else 'no'} bytes, "
                      f"{'differing' if got is not None else 'missing'} (want {len(v)})")
    multi = c.get(list(want))
    mbad = sum(1 for k, v in want.items() if multi.get(k) != v)
    if mbad:
        print(f"mc_check: multi-get of {n} keys: {mbad} differ or are missing")
    c.s.sendall(b"stats\r\n")
    items = None
    while True:
        ln = c.line()
        if ln == b"END":
            break
        if ln.startswith(b"STAT curr_items "):
            items = int(ln.split()[2])
    if items is None or items < n:
        print(f"mc_check: stats curr_items={items}, want at least {n}")
        bad += 1
    total = sum(len(v) for v in want.values())
    if bad or mbad:
        return 1
    print(f"mc_check: {n} values, {total} bytes, byte-exact one by one and in one multi-get; curr_items={items}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, ValueError) as e:
        print(f"mc_check: {type(e).__name__}: {e}")
        sys.exit(1)
