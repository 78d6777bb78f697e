#!/usr/bin/env python3
"""One bulk transfer over Linux TCP for the interop loss runs.

  loss_peer.py recv PORT            accept one connection, read to EOF, print
                                    "recv bytes=N secs=S mbit_per_s=M sha256=H"
                                    (secs from the first byte to EOF, as
                                    `bluetas nic --app sink` measures)
  loss_peer.py send HOST PORT FILE  send FILE, half-close, wait for the
                                    peer's close; print "send bytes=N"
                                    (a refused connect is retried for 10 s)

Every wait is bounded (60 s of silence ends it with exit status 1).
"""
import hashlib
import socket
import sys
import time

IDLE_S = 60
CONNECT_S = 10


def recv(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    ls.settimeout(IDLE_S)
    conn, _ = ls.accept()
    conn.settimeout(IDLE_S)
    h = hashlib.sha256()
    n = 0
    first = None
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        if first is None:
            first = time.monotonic()
        n += len(b)
        h.update(b)
    end = time.monotonic()
    conn.close()
    secs = end - first if first is not None else 0.0
    mbps = n * 8 / secs / 1e6 if secs > 0 else 0.0
    print(f"recv bytes={n} secs={secs:.6f} mbit_per_s={mbps:.1f} sha256={h.hexdigest()}", flush=True)


def send(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    # The receiver is started just before this, and python's start-up can
    # take a second on a loaded machine: a refused connect is retried for
    # up to CONNECT_S (any other error ends the run).
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            s = socket.create_connection((host, port), timeout=IDLE_S)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    s.settimeout(IDLE_S)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
    print(f"send bytes={len(data)}", flush=True)


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "recv":
            recv(int(argv[2]))
        elif len(argv) == 5 and argv[1] == "send":
            send(argv[2], int(argv[3]), argv[4])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ValueError) as e:
        print(f"loss_peer.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
