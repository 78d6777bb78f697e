#!/usr/bin/env python3
"""Runs packetdrill corpora against the stack (docs/conformance.md).

Every script of every corpus is classified, in this order:
  not applicable  it matches tests/packetdrill/not-applicable.list (IPv6,
                  fast open, zero-copy, TCP_INFO...): not run
  passed          packetdrill exits 0 on the normalised script
  known failure   it fails and tests/packetdrill/known-failures.list names
                  it with a reason
  failed          it fails and no list names it: the run fails
A known failure that passes is reported ("now passing: remove it from the
list"); so is a list entry that matches no script.

Each script runs in its own packetdrill process with a timeout, JOBS at a
time. Scripts are normalised first (normalise()): the only rewrites.
"""
import argparse
import concurrent.futures
import fnmatch
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL_IP = "192.168.0.2"
PROFILE = {"google": "linux", "freebsd": "freebsd"}

# Goals of issue 9: which scripts count toward each number printed at the end.
GOALS = [
    ("FreeBSD state-event-engine (secure or no variant), snd-syn, socket-api, rcv-icmp",
     re.compile(r"^freebsd/(state-event-engine|snd-syn|socket-api|rcv-icmp)/"), re.compile(r"insecure")),
    ("Google", re.compile(r"^google/"), None),
]

# sysctl settings a script makes that the shim can reproduce: the setting
# becomes a --so_flags word instead of a command run on this machine.
SYSCTL_FLAGS = [
    (re.compile(r"net\.ipv4\.tcp_timestamps\s*=\s*0"), "ts=0"),
    (re.compile(r"/proc/sys/net/ipv4/tcp_timestamps=0"), "ts=0"),
    (re.compile(r"net\.ipv4\.tcp_window_scaling\s*=\s*0"), "ws=0"),
    (re.compile(r"net\.ipv4\.tcp_sack\s*=\s*0"), "sack=0"),
    (re.compile(r"/proc/sys/net/ipv4/tcp_sack=0"), "sack=0"),
    (re.compile(r"net\.ipv4\.tcp_ecn\s*=\s*1"), "ecn=1"),
    (re.compile(r"/proc/sys/net/ipv4/tcp_ecn=1"), "ecn=1"),
    (re.compile(r"net\.inet\.tcp\.rfc1323\s*=\s*0"), "ts=0 ws=0"),
    (re.compile(r"net\.inet\.tcp\.sack\.enable\s*=\s*0"), "sack=0"),
    (re.compile(r"net\.inet\.tcp\.ecn\.enable\s*=\s*1"), "ecn=1"),
    (re.compile(r"net\.inet\.tcp\.drop_synfin\s*=\s*1"), "drop_synfin=1"),
]

BACKTICK = re.compile(r"`[^`]*`", re.S)


def normalise(text):
    """The documented rewrites (docs/conformance.md, "Normaliser"):
    1. A shell command (`...`, sysctl, ip, tc, ethtool, sockstat, the
       corpus's defaults.sh) becomes `true`: it would configure or inspect
       this machine's kernel, not the stack under test. Its line and time
       stay, so the times of the lines after it do not move.
    2. sysctl settings the shim can reproduce (SYSCTL_FLAGS) become
       --so_flags words.
    3. FreeBSD's corpus writes `#ifdef STANDARD ... #endif` around what
       RFC 5961 asks for and `#ifdef FreeBSD ... #endif` around FreeBSD's
       own deviation; Google's packetdrill has no preprocessor. The
       STANDARD branch is kept, the FreeBSD branch dropped.
    Returns (text, extra so_flags)."""
    flags = []
    out, keep, depth = [], True, 0
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("#ifdef "):
            depth += 1
            keep = s.split()[1] != "FreeBSD"
            continue
        if s == "#endif" and depth:
            depth -= 1
            keep = True
            continue
        if keep:
            out.append(line)
    text = "\n".join(out)

    def cmd(m):
        for rx, flag in SYSCTL_FLAGS:
            if rx.search(m.group(0)):
                flags.extend(flag.split())
        return "`true`"

    return BACKTICK.sub(cmd, text), flags


def read_list(path, fields):
    """Lines of `pattern reason...`; # comments and blank lines skipped."""
    entries = []
    if not os.path.exists(path):
        return entries
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, fields - 1)
            if len(parts) < fields:
                sys.exit(f"{path}:{lineno}: needs a pattern and a reason")
            entries.append((parts, lineno))
    return entries


def not_applicable(name, text, na_list):
    for (kind, pattern, reason), _ in na_list:
        if kind == "path" and fnmatch.fnmatch(name, pattern):
            return reason
        if kind == "content" and re.search(pattern, text):
            return reason
    return None


def run_one(args, script):
    name, path, corpus = script
    with open(path, errors="replace") as f:
        text = f.read()
    norm, extra = normalise(text)
    out_path = os.path.join(args.work, "norm", name)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write(norm)
    flags = " ".join([f"profile={PROFILE.get(corpus, 'dc')}", f"local_ip={LOCAL_IP}"] + extra)
    cmd = [args.packetdrill, f"--so_filename={args.shim}", f"--so_flags={flags}", f"--local_ip={LOCAL_IP}",
           os.path.basename(out_path)]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=os.path.dirname(out_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=args.timeout)
        rc, out = p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        rc, out = -1, (e.stdout or b"").decode(errors="replace") + f"\ntimed out after {args.timeout} s\n"
    log = os.path.join(args.work, "logs", name + ".log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + out)
    return name, rc == 0, out, time.monotonic() - start


def first_error(out):
    for line in out.splitlines():
        if "error" in line or "timed out" in line or "Assertion" in line:
            return line.strip()[:200]
    lines = [l for l in out.splitlines() if l.strip()]
    return lines[-1][:200] if lines else "(no output)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packetdrill", required=True, help="the packetdrill binary")
    ap.add_argument("--shim", required=True, help="the shim shared object")
    ap.add_argument("--work", required=True, help="folder for normalised scripts and logs")
    ap.add_argument("--corpus", action="append", default=[], metavar="NAME=DIR",
                    help="a corpus: google=... (linux-like profile) or freebsd=... (freebsd-like)")
    ap.add_argument("--lists", default=HERE, help="folder of not-applicable.list and known-failures.list")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per script (real time)")
    ap.add_argument("--only", help="run only scripts whose name matches this regex")
    ap.add_argument("--show", action="store_true", help="print every script's result")
    args = ap.parse_args()
    if not args.corpus:
        ap.error("no --corpus given")
    args.packetdrill = os.path.abspath(args.packetdrill)
    args.shim = os.path.abspath(args.shim)
    args.work = os.path.abspath(args.work)

    na = [((p[0], p[1], p[2]), n) for p, n in read_list(os.path.join(args.lists, "not-applicable.list"), 3)]
    for (kind, _, _), lineno in na:
        if kind not in ("path", "content"):
            sys.exit(f"not-applicable.list:{lineno}: kind must be path or content, not {kind}")
    known = {p[0]: p[1] for p, _ in read_list(os.path.join(args.lists, "known-failures.list"), 2)}

    scripts, skipped = [], {}
    for spec in args.corpus:
        corpus, _, root = spec.partition("=")
        if not os.path.isdir(root):
            sys.exit(f"conformance: corpus {corpus}: {root} is not a folder")
        for dirpath, _, files in os.walk(root):
            for fn in sorted(files):
                if not fn.endswith(".pkt"):
                    continue
                path = os.path.join(dirpath, fn)
                name = f"{corpus}/{os.path.relpath(path, root)}"
                if args.only and not re.search(args.only, name):
                    continue
                with open(path, errors="replace") as f:
                    text = f.read()
                reason = not_applicable(name, text, na)
                if reason:
                    skipped[name] = reason
                else:
                    scripts.append((name, path, corpus))
    scripts.sort()

    results = {}
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        for name, ok, out, secs in ex.map(lambda s: run_one(args, s), scripts):
            results[name] = (ok, out)
            if args.show:
                print(f"{'PASS' if ok else 'FAIL'} {name} ({secs:.1f} s){'' if ok else ': ' + first_error(out)}")
    elapsed = time.monotonic() - t0

    dirs = {}
    def bucket(name):
        return dirs.setdefault(os.path.dirname(name), {"passed": 0, "failed": 0, "na": 0, "known": 0})
    new_failures, now_passing = [], []
    for name, (ok, out) in results.items():
        b = bucket(name)
        if ok:
            b["passed"] += 1
            if name in known:
                now_passing.append(name)
        elif name in known:
            b["known"] += 1
        else:
            b["failed"] += 1
            new_failures.append((name, first_error(out)))
    for name in skipped:
        bucket(name)["na"] += 1

    print(f"{'directory':<58} {'passed':>6} {'failed':>6} {'n/a':>5} {'known':>6}")
    for d in sorted(dirs):
        b = dirs[d]
        print(f"{d:<58} {b['passed']:>6} {b['failed']:>6} {b['na']:>5} {b['known']:>6}")
    tot = {k: sum(b[k] for b in dirs.values()) for k in ("passed", "failed", "na", "known")}
    print(f"{'total':<58} {tot['passed']:>6} {tot['failed']:>6} {tot['na']:>5} {tot['known']:>6}")
    for title, rx, exclude in GOALS:
        names = [n for n in results if rx.search(n) and not (exclude and exclude.search(n))]
        if names:
            passed = sum(1 for n in names if results[n][0])
            print(f"goal: {title}: {passed} of {len(names)} applicable IPv4 scripts pass")
    stale = sorted(n for n in known if n not in results and n not in skipped and not args.only)
    reasons = {}
    for name, (ok, _) in results.items():
        if not ok and name in known:
            reasons[known[name]] = reasons.get(known[name], 0) + 1
    if reasons:
        print("known failures by reason:")
        for r, n in sorted(reasons.items(), key=lambda x: -x[1]):
            print(f"  {n:4} {r}")
    for name in sorted(now_passing):
        print(f"now passing (remove it from known-failures.list): {name}")
    for name in stale:
        print(f"known-failures.list names a script that does not exist or is not applicable: {name}")
    for name, err in sorted(new_failures):
        print(f"FAILED (on no list; log: {args.work}/logs/{name}.log): {name}: {err}")
    print(f"conformance: {len(scripts)} scripts run in {elapsed:.1f} s, {len(skipped)} not applicable")
    # Shaped like cmocka's summary, for tests/run-tests.sh.
    print(f"[  PASSED  ] {tot['passed']} test(s).")
    if new_failures:
        print(f"[  FAILED  ] {len(new_failures)} test(s), listed below:")
        for name, _ in sorted(new_failures):
            print(f"[  FAILED  ] {name}")
    return 1 if new_failures else 0


if __name__ == "__main__":
    sys.exit(main())
