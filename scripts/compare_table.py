#!/usr/bin/env python3
"""The table and plot of `./scripts/bench.sh compare`, from its JSON lines.

    python3 scripts/compare_table.py compare.jsonl compare.svg

Each line is one run: {"nodes", "round", "system" (relay-floor | hub | socketio), "rate",
"sent", "servers_us_per_msg", "p50_ms", "p99_ms", "p999_ms", "lost", "duplicated"}. Ratios are
taken within a round (the three systems of a round ran back to back), then shown for each round:
on a shared machine an absolute figure moves between runs, a ratio measured side by side less.
"""

import collections
import json
import sys

NAMES = {"relay-floor": "floor", "hub": "hub", "socketio": "Socket.IO peer"}
ORDER = ["relay-floor", "hub", "socketio"]
COLOURS = {"relay-floor": "#9ca3af", "hub": "#7c3aed", "socketio": "#f59e0b"}


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


def table(runs):
    rows = [
        "| nodes | offered msg/s | round | system | server CPU µs/msg | p50 / p99 / p99.9 ms | lost | duplicated |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratios = [
        "| nodes | offered msg/s | round | hub / peer (CPU) | hub / floor (CPU) | hub p99 / floor p99 |",
        "| --- | --- | --- | --- | --- | --- |",
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
                f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} / {r['p999_ms']:.2f} | {r['lost']} | {dup} |"
            )
        hub, peer, floor = by.get("hub"), by.get("socketio"), by.get("relay-floor")
        cpu = lambda r: r["servers_us_per_msg"] if r else None
        ratio = lambda a, b: a / b if a is not None and b else None
        ratios.append(
            f"| {nodes} | {rate:,.0f} | {rnd} | {fmt(ratio(cpu(hub), cpu(peer)), 2)} | "
            f"{fmt(ratio(cpu(hub), cpu(floor)), 2)} | "
            f"{fmt(ratio(hub and hub['p99_ms'], floor and floor['p99_ms']), 2)} |"
        )
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
            x = x0 + si * 45
            y = height - bottom - h
            out.append(f'<rect x="{x}" y="{y:.1f}" width="40" height="{h:.1f}" fill="{COLOURS[system]}"/>')
            out.append(f'<text x="{x + 20}" y="{y - 4:.1f}" text-anchor="middle">{v:.0f}</text>')
        nodes, rate = key
        out.append(
            f'<text x="{x0 + 65}" y="{height - bottom + 18}" text-anchor="middle">'
            f'{nodes} node{"s" if nodes > 1 else ""}, {rate:,.0f}/s</text>'
        )
    for si, system in enumerate(ORDER):
        x = left + si * 150
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
