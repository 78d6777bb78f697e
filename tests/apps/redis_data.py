#!/usr/bin/env python3
"""tests/apps/redis_data.py N SEED CMDS EXPECTED: writes N SET commands in
the Redis protocol (for `redis-cli --pipe`, pipelined) with values made
from SEED (printable, 1 byte to 48 KiB), and EXPECTED: the values one per
line, as `redis-cli --raw mget k0 ... kN-1` prints them."""
import base64
import random
import sys

n, seed, cmds, expected = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = random.Random(seed)
sizes = [1, 64, 1000, 1448, 4096, 16384, 48 * 1024]
with open(cmds, "wb") as c, open(expected, "wb") as e:
    c.write(b"*1\r\n$8\r\nFLUSHALL\r\n")
    for i in range(n):
        v = base64.b64encode(rng.randbytes(sizes[i % len(sizes)]))[: sizes[i % len(sizes)]]
        k = f"k{i}".encode()
        c.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        e.write(v + b"\n")
