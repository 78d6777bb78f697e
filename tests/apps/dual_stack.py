"""tests/apps/dual_stack.py: AF_INET6 dual-stack sockets on the stack.

Run under the preload (tests/apps/run.sh, case dual_stack):
  dual_stack.py serve PORT        on the stack: an AF_INET6 listener on ::
                                  (IPV6_V6ONLY off), one connection echoed
  dual_stack.py v6only PORT       on the stack: an IPV6_V6ONLY listener on ::,
                                  which must stay the kernel's
  dual_stack.py client IP PORT    on the stack: AF_INET6 to ::ffff:IP
Each prints one line starting with 'dual_stack:' and exits 0 when its
checks held. The Linux side is plain nc / python in the namespace.
"""
import errno
import socket
import sys


def check(ok, what):
    if not ok:
        print("dual_stack: FAILED:", what)
        sys.exit(1)


def recv_to_eof(sock):
    got = b""
    while True:
        b = sock.recv(65536)
        if not b:
            return got
        got += b


def mapped(addr):
    return addr.startswith("::ffff:")


def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(4)
    check(s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_INET6, "SO_DOMAIN is AF_INET6")
    check(s.getsockname()[:2] == ("::", port), "the listener's name is (::, %d): %r" % (port, s.getsockname()))
    check(s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0, "IPV6_V6ONLY reads 0")
    try:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        check(False, "IPV6_V6ONLY on a bound dual-stack socket is refused")
    except OSError as e:
        check(e.errno == errno.EINVAL, "IPV6_V6ONLY on a bound socket: EINVAL, not %d" % e.errno)
    print("dual_stack: listening", flush=True)
    c, peer = s.accept()
    check(c.family == socket.AF_INET6 and mapped(peer[0]), "accept gives a v4-mapped peer: %r" % (peer,))
    check(mapped(c.getsockname()[0]), "the connection's name is v4-mapped: %r" % (c.getsockname(),))
    check(c.getpeername()[:2] == peer[:2], "getpeername agrees with accept")
    got = recv_to_eof(c)
    c.sendall(got)
    c.close()
    print("dual_stack: served %d bytes to %s" % (len(got), peer[0]))


def v6only(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::", port))
    s.listen(4)
    # The kernel's: it answers IPV6_V6ONLY 1 (the stack's would say 0).
    check(s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1, "an IPV6_V6ONLY socket stays the kernel's")
    print("dual_stack: v6only listener stays the kernel's", flush=True)


def client(ip, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.connect(("::ffff:" + ip, port))
    check(s.getpeername()[:2] == ("::ffff:" + ip, port), "getpeername: %r" % (s.getpeername(),))
    check(mapped(s.getsockname()[0]), "getsockname is v4-mapped: %r" % (s.getsockname(),))
    msg = b"dual-stack client on the stack\n" * 1000
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got = recv_to_eof(s)
    check(got == msg, "the echo came back byte-exact (%d of %d bytes)" % (len(got), len(msg)))
    print("dual_stack: client echoed %d bytes through ::ffff:%s" % (len(got), ip))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "serve":
        serve(int(sys.argv[2]))
    elif cmd == "v6only":
        v6only(int(sys.argv[2]))
    elif cmd == "client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: dual_stack.py serve PORT | v6only PORT | client IP PORT")
