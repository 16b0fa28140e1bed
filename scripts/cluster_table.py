#!/usr/bin/env python3
"""The tables of `./scripts/bench.sh cluster`, from its JSON lines.

    python3 scripts/cluster_table.py cluster.jsonl

Each run (one redis-server, or a Redis Cluster of three masters with a replica each; the
conversations over several workspaces, or all in one) gave the relay's JSON lines: a `step` with
`cpu_us_per_msg` per watched process (`redis`, or `shard-PORT` / `replica-PORT`; the hubs; nginx),
`sent`, `secs`, `p99_ms`; and its `accounting`. Per shard: Redis CPU per persisted message (every
message is persisted once, on the shard of its workspace's slot), its share of one core at the
run's rate, and the ceiling that share implies (the rate at which that shard would use a whole
core); the spread is the busiest shard over the mean.
"""

import collections
import json
import sys


def load(path):
    runs = collections.defaultdict(dict)
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        key = (r["redis"], r["spread"], r["round"])
        runs[key][r.get("kind")] = r
    return runs


def main():
    runs = load(sys.argv[1])
    rows = [
        "| Redis | workspaces | round | Redis µs/msg, all | per shard µs/msg (busiest first) | busiest ÷ mean | busiest shard's core at this rate | its ceiling msg/s | replicas µs/msg | hubs µs/msg | p99 ms | lost / dup. |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in sorted(runs, key=lambda k: (k[2], k[1], k[0])):
        redis, spread, rnd = key
        step, acc = runs[key].get("step"), runs[key].get("accounting", {})
        if not step:
            continue
        cpu = step.get("cpu_us_per_msg", {})
        rate = step["sent"] / max(step["secs"], 1e-9)
        shards = sorted(
            (v for k, v in cpu.items() if k.startswith("shard-") or k == "redis"), reverse=True
        )
        replicas = sum(v for k, v in cpu.items() if k.startswith("replica-"))
        hubs = sum(v for k, v in cpu.items() if k.startswith("hub"))
        total = sum(shards)
        mean = total / len(shards) if shards else 0
        busiest = shards[0] if shards else 0
        share = busiest * rate / 1e6
        ceiling = rate / share if share else 0
        rows.append(
            f"| {'cluster (3 masters)' if redis == 'cluster' else 'one server'} | "
            f"{'one' if spread == 'one' else 'several'} | {rnd} | {total:.1f} | "
            f"{', '.join(f'{v:.1f}' for v in shards)} | {busiest / mean if mean else 0:.2f} | "
            f"{share * 100:.0f} % | {ceiling:,.0f} | {replicas:.1f} | {hubs:.1f} | "
            f"{step.get('p99_ms') or 0:.2f} | {acc.get('lost', '?')} / {acc.get('duplicated', '?')} |"
        )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
