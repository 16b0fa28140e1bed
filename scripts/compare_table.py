#!/usr/bin/env python3
"""The table and plot of `./scripts/bench.sh compare`, from its JSON lines.

    python3 scripts/compare_table.py compare.jsonl compare.svg

Each line is one run: {"nodes", "round", "system" (relay-floor | relay-floorp | hub |
socketio), "rate", "sent", "servers_us_per_msg", "p50_ms", "p99_ms", "p999_ms", "lost",
"duplicated", "node_us_per_msg", "node_sys_us_per_msg", "redis_us_per_msg"}. Ratios are taken
within a round (the systems of a round ran back to back), then shown for each round: on a
shared machine an absolute figure moves between runs, a ratio measured side by side less.

The budgets of the cost-per-message issue, each a ratio in one run (✓ met, ✗ missed):
hub ≤ 1.5 × floorp in server CPU per message; hub ≤ 0.6 × the Socket.IO peer; the hub
process's system time per message ≤ 1.3 × the floor's; Redis CPU per persisted message ≤ 1.3 ×
the peer's Redis; p99 visitor→operator ≤ 2 × floorp's.
"""

import collections
import json
import sys

NAMES = {
    "relay-floor": "floor",
    "relay-floorp": "floorp",
    "hub": "hub",
    "socketio": "Socket.IO peer",
}
ORDER = ["relay-floor", "relay-floorp", "hub", "socketio"]
COLOURS = {
    "relay-floor": "#9ca3af",
    "relay-floorp": "#4b5563",
    "hub": "#7c3aed",
    "socketio": "#f59e0b",
}
# (label, numerator, denominator, the budget it must stay under)
BUDGETS = [
    ("hub / floorp CPU", ("hub", "servers_us_per_msg"), ("relay-floorp", "servers_us_per_msg"), 1.5),
    ("hub / peer CPU", ("hub", "servers_us_per_msg"), ("socketio", "servers_us_per_msg"), 0.6),
    ("hub / floor system time", ("hub", "node_sys_us_per_msg"), ("relay-floor", "node_sys_us_per_msg"), 1.3),
    ("hub / peer Redis", ("hub", "redis_us_per_msg"), ("socketio", "redis_us_per_msg"), 1.3),
    ("hub / floorp p99", ("hub", "p99_ms"), ("relay-floorp", "p99_ms"), 2.0),
]


def load(path):
    runs = collections.defaultdict(dict)
    for line in open(path):
        line = line.strip()
        if line:
            r = json.loads(line)
            runs[(r["nodes"], r["rate"], r["round"])][r["system"]] = r
    return runs


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def value(by, system, field):
    r = by.get(system)
    return None if r is None else r.get(field)


def ratio(a, b):
    return a / b if a is not None and b else None


def table(runs):
    rows = [
        "| nodes | offered msg/s | round | system | server CPU µs/msg | of which nodes (system) | Redis | p50 / p99 / p99.9 ms | lost | duplicated |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratios = [
        "| nodes | offered msg/s | round | hub / floor (CPU) | "
        + " | ".join(f"{label} (≤ {limit})" for label, _, _, limit in BUDGETS)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in BUDGETS) + " |",
    ]
    for key in sorted(runs):
        nodes, rate, rnd = key
        by = runs[key]
        for system in ORDER:
            r = by.get(system)
            if not r:
                continue
            dup = "n/a" if r["duplicated"] is None else str(r["duplicated"])
            rows.append(
                f"| {nodes} | {rate:,.0f} | {rnd} | {NAMES[system]} | {r['servers_us_per_msg']:.1f} | "
                f"{fmt(r.get('node_us_per_msg'))} ({fmt(r.get('node_sys_us_per_msg'))}) | "
                f"{fmt(r.get('redis_us_per_msg'))} | "
                f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} / {r['p999_ms']:.2f} | {r['lost']} | {dup} |"
            )
        cells = [fmt(ratio(value(by, "hub", "servers_us_per_msg"), value(by, "relay-floor", "servers_us_per_msg")), 2)]
        for _, (a, fa), (b, fb), limit in BUDGETS:
            q = ratio(value(by, a, fa), value(by, b, fb))
            cells.append("–" if q is None else f"{q:.2f} {'✓' if q <= limit else '✗'}")
        ratios.append(f"| {nodes} | {rate:,.0f} | {rnd} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(ratios) + "\n"


def svg(runs, path):
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for (nodes, rate, _), by in runs.items():
        for system, r in by.items():
            groups[(nodes, rate)][system].append(r["servers_us_per_msg"])
    keys = sorted(groups)
    top = max((sum(v) / len(v) for g in groups.values() for v in g.values()), default=1)
    width, height, left, bottom = 120 + 170 * len(keys), 340, 60, 50
    scale = (height - bottom - 30) / top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="16">Server CPU per message, µs (every server process; mean of two interleaved rounds)</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 20}" y2="{height - bottom}" stroke="#333"/>',
    ]
    for gi, key in enumerate(keys):
        x0 = left + 20 + gi * 170
        for si, system in enumerate(ORDER):
            vals = groups[key].get(system)
            if not vals:
                continue
            v = sum(vals) / len(vals)
            h = v * scale
            x = x0 + si * 36
            y = height - bottom - h
            out.append(f'<rect x="{x}" y="{y:.1f}" width="32" height="{h:.1f}" fill="{COLOURS[system]}"/>')
            out.append(f'<text x="{x + 16}" y="{y - 4:.1f}" text-anchor="middle">{v:.0f}</text>')
        nodes, rate = key
        out.append(
            f'<text x="{x0 + 65}" y="{height - bottom + 18}" text-anchor="middle">'
            f'{nodes} node{"s" if nodes > 1 else ""}, {rate:,.0f}/s</text>'
        )
    for si, system in enumerate(ORDER):
        x = left + si * 130
        out.append(f'<rect x="{x}" y="{height - 18}" width="12" height="12" fill="{COLOURS[system]}"/>')
        out.append(f'<text x="{x + 16}" y="{height - 8}">{NAMES[system]}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    runs = load(sys.argv[1])
    print(table(runs))
    if len(sys.argv) > 2:
        svg(runs, sys.argv[2])
        print(f"plot: {sys.argv[2]}")


if __name__ == "__main__":
    main()
