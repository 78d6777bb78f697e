#!/usr/bin/env python3
"""tests/apps/fork_relay.py PORT: a forking echo server on the stack.

Run under the preload library; Linux connects three times, each time
sending bytes and shutting its write side (nc -N), and compares what comes
back (docs/sockets.md, "Threads, fork, exec"). Per connection:

1. the parent forks a child that closes its copy and exits at once (a
   helper process, redis's BGSAVE): the parent still owns the connection
   and echoes it itself; the child must take no byte and close nothing;
2. inetd-style: the child dup2()s the connection onto 0 and 1 and execs
   cat, the parent closes its copy: cat echoes to end of stream;
3. the child echoes with the inherited socket object itself (socketserver's
   ForkingMixIn), the parent closes its copy; the parent made the socket
   inheritable (ioctl FIONCLEX) and the child checks its copy is not
   close-on-exec, and that a blocking recv with MSG_WAITALL works.

Before the fork relay every child's copy failed with EBADF: cat read
nothing and the echo never came. Prints one line per connection, exits 0
when all three were served.
"""
import fcntl
import os
import socket
import sys


def echo(c):
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.sendall(data)
    return len(data)


def main(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4)
    print("fork_relay: listening", flush=True)
    ls.settimeout(30)
    ok = 0
    # 1: a child that only closes its copy; the parent echoes.
    c, _ = ls.accept()
    pid = os.fork()
    if pid == 0:
        c.close()
        os._exit(0)
    os.waitpid(pid, 0)
    n = echo(c)
    c.close()
    print(f"fork_relay: 1 parent echoed {n} bytes after its child closed its copy", flush=True)
    ok += 1
    # 2: inetd-style, exec cat on 0/1.
    c, _ = ls.accept()
    pid = os.fork()
    if pid == 0:
        ls.close()
        os.dup2(c.fileno(), 0)
        os.dup2(c.fileno(), 1)
        c.close()
        os.execvp("cat", ["cat"])
    c.close()
    _, st = os.waitpid(pid, 0)
    print(f"fork_relay: 2 cat on the connection exited {os.waitstatus_to_exitcode(st)}", flush=True)
    ok += os.waitstatus_to_exitcode(st) == 0
    # 3: the child echoes with the socket object.
    c, _ = ls.accept()
    # Python's set_inheritable asks ioctl FIONCLEX first (the preload
    # answered ENOTTY with a log line, then Python fell back to fcntl).
    c.set_inheritable(True)
    pid = os.fork()
    if pid == 0:
        ls.close()
        rc = 0
        if fcntl.fcntl(c.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
            print("fork_relay: 3 the child's socket is close-on-exec though the program made it inheritable", flush=True)
            rc = 1
        head = c.recv(1000, socket.MSG_WAITALL)
        if len(head) != 1000:
            print(f"fork_relay: 3 recv MSG_WAITALL gave {len(head)} bytes, not 1000", flush=True)
            rc = 1
        c.sendall(head)
        echo(c)
        c.close()
        os._exit(rc)
    c.close()
    _, st = os.waitpid(pid, 0)
    print(f"fork_relay: 3 the child echoed, exit {os.waitstatus_to_exitcode(st)}", flush=True)
    ok += os.waitstatus_to_exitcode(st) == 0
    return 0 if ok == 3 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(int(sys.argv[1])))
