#!/usr/bin/env python3
"""Prints the arm64 packages a cross sysroot needs: the dependency closure
of the root packages given, over Debian's arm64 Packages index on stdin,
without the tools and maintainer-script machinery a sysroot never runs
(perl, dpkg, udev, ...), since only headers, libraries and pkg-config files
are extracted. One name per line; the total size on stderr."""
import re
import sys

# Never needed in a sysroot: programs, and what only their scripts use.
SKIP = {
    "adduser", "cdebconf", "debconf", "dpkg", "init-system-helpers", "install-info", "lsb-base", "passwd",
    "perl", "perl-base", "perl-modules-5.36", "pkg-config", "pkgconf", "pkgconf-bin", "readline-common",
    "rpcsvc-proto", "sed", "sgml-base", "sysvinit-utils", "tar", "udev", "usr-is-merged", "usrmerge",
    "xml-core", "rdma-core", "debconf-2.0", "libc-dev-bin", "python3", "python3-pyelftools",
}


def parse(stream):
    pkgs, provides = {}, {}
    cur = {}
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            if "Package" in cur:
                name = cur["Package"]
                # keep the highest-listed (later indexes: -updates/-security win)
                pkgs[name] = cur
                for p in split_deps(cur.get("Provides", "")):
                    provides.setdefault(p[0], name)
            cur = {}
            continue
        if line[0] in " \t":
            continue
        key, _, val = line.partition(":")
        cur[key] = val.strip()
    if "Package" in cur:
        pkgs[cur["Package"]] = cur
    return pkgs, provides


def split_deps(text):
    out = []
    for group in text.split(","):
        alts = []
        for alt in group.split("|"):
            alt = alt.strip()
            if not alt:
                continue
            name = re.split(r"[\s(\[<]", alt, 1)[0].split(":")[0]
            alts.append(name)
        if alts:
            out.append(alts)
    return out


def main():
    pkgs, provides = parse(sys.stdin)
    todo = list(sys.argv[1:])
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen or name in SKIP:
            continue
        if name not in pkgs:
            if name in provides:
                todo.append(provides[name])
                continue
            sys.exit("arm64-closure: no package or provider named %s in the arm64 index" % name)
        seen.add(name)
        p = pkgs[name]
        for alts in split_deps(p.get("Pre-Depends", "")) + split_deps(p.get("Depends", "")):
            pick = next((a for a in alts if a in pkgs or a in provides), alts[0])
            todo.append(pick)
    total = sum(int(pkgs[n].get("Size", 0)) for n in seen)
    print("arm64-closure: %d packages, %.1f MB" % (len(seen), total / 1e6), file=sys.stderr)
    for n in sorted(seen):
        print(n)


main()
