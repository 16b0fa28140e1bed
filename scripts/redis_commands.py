#!/usr/bin/env python3
"""What each system of `./scripts/bench.sh compare` asks of Redis per message.

    python3 scripts/redis_commands.py <compare output directory>

Reads the `INFO commandstats` snapshots the load generator's hook took at each measured
window's start and end (cmdstats-<system>-<nodes>-<rate>-<round>-{start,end}.txt). Every system
that persists writes each message with exactly one XADD, so Δxadd counts persisted messages.
For each run: commands per persisted message (top-level and inside scripts, by name), and the
time Redis spent executing them per message: in scripts (which includes the commands a script
calls, the hub's PUBLISH among them), in PUBLISH (the peer's is its own command), in the rest. Redis's CPU per message in the
compare table is larger: the rest is reading requests, writing replies and delivering
publications (system calls), which commandstats does not count: Redis's read and write events
per message (INFO stats) show how much of that each system's requests share.
"""

import glob
import os
import re
import sys

# The commands the systems' scripts call. `INFO commandstats` counts a command a script called and
# one a client sent alike: the hub also sends a few of these on their own (EXISTS and XRANGE when
# a client reads history, HGETALL, EXPIRE when a conversation is made), rarely beside messages.
INSIDE_SCRIPTS = {
    "hget", "hgetall", "hmget", "hset", "hsetnx", "hincrby", "xadd", "xrange", "zadd", "pexpire",
    "expire", "srem", "exists",
}
SCRIPTS = {"evalsha", "eval", "fcall"}


def stats(path):
    out = {}
    for line in open(path):
        m = re.match(r"cmdstat_([^:|]+):calls=(\d+),usec=(\d+)", line)
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def io(path):
    """Redis's read and write events so far (INFO stats), when the snapshot has them."""
    out = {}
    for line in open(path):
        m = re.match(r"total_(reads|writes)_processed:(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def main(directory):
    rows = []
    for start in sorted(glob.glob(os.path.join(directory, "cmdstats-*-start.txt"))):
        end = start[: -len("start.txt")] + "end.txt"
        if not os.path.exists(end):
            continue
        run = os.path.basename(start)[len("cmdstats-") : -len("-start.txt")]
        a, b = stats(start), stats(end)
        delta = {k: (b[k][0] - a.get(k, (0, 0))[0], b[k][1] - a.get(k, (0, 0))[1]) for k in b}
        delta = {k: v for k, v in delta.items() if v[0] > 0 and k != "info"}
        persisted = delta.get("xadd", (0, 0))[0]
        if not persisted:
            continue
        calls = ", ".join(
            f"{k} {v[0] / persisted:.2f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1][0])
        )
        per = lambda names: sum(v[1] for k, v in delta.items() if k in names) / persisted
        other = set(delta) - INSIDE_SCRIPTS - SCRIPTS - {"publish"}
        # Reads per message below 1: a node's requests arrive several to a read (pipelined).
        i, j = io(start), io(end)
        rw = " / ".join(
            f"{(j[k] - i[k]) / persisted:.2f}" if k in i and k in j else "–" for k in ("reads", "writes")
        )
        rows.append((run, persisted, calls, per(SCRIPTS), per({"publish"}), per(other), rw))
    if not rows:
        return
    print("\nRedis per persisted message (INFO commandstats over each measured window):\n")
    print("| run (system-nodes-rate-round) | persisted | commands per message by name (inside scripts too) | µs in scripts | µs in PUBLISH | µs in other commands | Redis reads / writes per message |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run, persisted, calls, scripts, publish, other, rw in rows:
        print(f"| {run} | {persisted} | {calls} | {scripts:.2f} | {publish:.2f} | {other:.2f} | {rw} |")


if __name__ == "__main__":
    main(sys.argv[1])
