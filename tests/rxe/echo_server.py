#!/usr/bin/env python3
"""A Linux TCP echo server for the Soft-RoCE end-to-end tests (tests/rxe/e2e.sh).

Echoes every connection until EOF, any number at once (asyncio, one
process: cheap under qemu's TCG), and counts: connections, the most open at
the same time, bytes, errors. Exits once --expect connections have closed
(status 0 if none failed) or after --timeout-s (status 1), printing

    echo_server conns=N max_concurrent=N bytes=N errors=N result=ok|error

on stdout. "listening" goes to stdout as soon as the socket listens.
"""
import argparse
import asyncio
import sys


async def serve(args):
    st = {"conns": 0, "active": 0, "max": 0, "bytes": 0, "errors": 0}
    done = asyncio.Event()

    async def handle(reader, writer):
        st["active"] += 1
        st["max"] = max(st["max"], st["active"])
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                st["bytes"] += len(data)
                writer.write(data)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError):
            st["errors"] += 1
        finally:
            st["active"] -= 1
            st["conns"] += 1
            if args.expect and st["conns"] >= args.expect:
                done.set()

    server = await asyncio.start_server(handle, args.addr, args.port, backlog=256, reuse_address=True)
    print("listening", flush=True)
    ok = True
    try:
        await asyncio.wait_for(done.wait(), timeout=args.timeout_s)
    except asyncio.TimeoutError:
        ok = False
    server.close()
    ok = ok and st["errors"] == 0
    print("echo_server conns=%d max_concurrent=%d bytes=%d errors=%d result=%s"
          % (st["conns"], st["max"], st["bytes"], st["errors"], "ok" if ok else "error"), flush=True)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--addr", default="0.0.0.0")
    ap.add_argument("--expect", type=int, default=0, help="exit once this many connections closed")
    ap.add_argument("--timeout-s", type=float, default=60)
    args = ap.parse_args()
    sys.exit(asyncio.run(serve(args)))


if __name__ == "__main__":
    main()
