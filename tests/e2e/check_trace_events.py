#!/usr/bin/env python3
"""Checks a Chrome trace event JSON file (the format Perfetto opens) the way
the format requires: a JSON object with a traceEvents list (or a bare
list); every event an object with ph; ts a non-negative number on every
event but metadata; pid and tid integers; B and E matched per (pid, tid)
in time order with the same name, nothing left open; C events with
numeric args. Optional --expect NAME: at least one event with that name
(repeatable). Exit 0 valid, 1 invalid (the first problem printed), 2 usage."""
import json
import sys

PHASES = set("BEXiIcCMbenstfPNODR")


def check(path, expect):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return f"{path}: not JSON: {e}"
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        return f"{path}: no traceEvents list"
    stacks = {}
    last_ts = {}
    names = set()
    for i, ev in enumerate(events):
        where = f"{path}: event {i}"
        if not isinstance(ev, dict) or ev.get("ph") not in PHASES:
            return f"{where}: missing or unknown ph: {ev!r}"
        ph = ev["ph"]
        for key in ("pid", "tid"):
            if key in ev and not isinstance(ev[key], int):
                return f"{where}: {key} is not an integer"
        if "pid" not in ev:
            return f"{where}: no pid"
        names.add(ev.get("name"))
        if ph == "M":
            continue
        ts = ev.get("ts")
        if not isinstance(ts, (int, float)) or isinstance(ts, bool) or ts < 0:
            return f"{where}: ts missing or negative: {ts!r}"
        track = (ev["pid"], ev.get("tid", 0))
        if ph in "BE":
            if ts < last_ts.get(track, 0):
                return f"{where}: {ph} at {ts} before an earlier event of its track ({last_ts[track]})"
            last_ts[track] = ts
            stack = stacks.setdefault(track, [])
            if ph == "B":
                if not isinstance(ev.get("name"), str):
                    return f"{where}: B without a name"
                stack.append(ev["name"])
            else:
                if not stack:
                    return f"{where}: E without a matching B on pid {track[0]} tid {track[1]}"
                opened = stack.pop()
                if "name" in ev and ev["name"] != opened:
                    return f"{where}: E '{ev['name']}' closes B '{opened}'"
        if ph == "C":
            args = ev.get("args")
            if not isinstance(args, dict) or not args:
                return f"{where}: C without args"
            for k, v in args.items():
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    return f"{where}: counter {k} is not a number"
    for track, stack in stacks.items():
        if stack:
            return f"{path}: B '{stack[-1]}' never ended on pid {track[0]} tid {track[1]}"
    for name in expect:
        if name not in names:
            return f"{path}: no event named '{name}'"
    return None


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    expect = []
    paths = []
    args = iter(argv[1:])
    for a in args:
        if a == "--expect":
            expect.append(next(args, ""))
        else:
            paths.append(a)
    for p in paths:
        problem = check(p, expect)
        if problem:
            print(problem)
            return 1
        print(f"{p}: valid trace event JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
