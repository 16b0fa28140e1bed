#!/usr/bin/env python3
"""Plot latency against offered load from a `./scripts/bench.sh ceiling` (or relay) report.

    python3 scripts/plot_latency.py target/bench/ceiling-*/report.md docs/images/ceiling-latency.svg
    python3 scripts/plot_latency.py target/bench/ceiling3-*/report.md docs/images/ceiling3-latency.svg \
        "three nodes + Redis behind nginx, 2 cores"

Reads the relay table (offered visitor msg/s; visitor→operator p50/p90/p99) and writes a small
dependency-free SVG: latency on a log scale against offered load, with the 50 ms ceiling line.
"""
import math
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
setup = sys.argv[3] if len(sys.argv) > 3 else "one node, 2 cores"
rows = []
for line in open(src):
    m = re.match(r"\| (\d+) / \d+ \|[^|]*\|[^|]*\| ([\d.]+) / ([\d.]+) / ([\d.]+) /", line)
    if m:
        rows.append(tuple(float(x) for x in m.groups()))
if not rows:
    sys.exit(f"no relay rows in {src}")

W, H, L, R, T, B = 640, 360, 70, 20, 30, 50
xmax = max(r[0] for r in rows) * 1.05
ymin, ymax = 0.5, max(1000.0, max(r[3] for r in rows) * 1.5)


def x(v):
    return L + (W - L - R) * v / xmax


def y(ms):
    f = (math.log10(ms) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))
    return T + (H - T - B) * (1 - f)


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">Visitor → operator latency against offered load ({setup})</text>']
for ms in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
    if ymin <= ms <= ymax:
        out.append(f'<line x1="{L}" x2="{W-R}" y1="{y(ms):.1f}" y2="{y(ms):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{L-6}" y="{y(ms)+4:.1f}" text-anchor="end">{ms} ms</text>')
step = 5000
for v in range(0, int(xmax) + 1, step):
    out.append(f'<text x="{x(v):.1f}" y="{H-B+18}" text-anchor="middle">{v // 1000}k</text>')
out.append(f'<text x="{(L+W-R)/2}" y="{H-10}" text-anchor="middle">offered visitor messages per second</text>')
out.append(f'<line x1="{L}" x2="{W-R}" y1="{y(50):.1f}" y2="{y(50):.1f}" stroke="#c00" stroke-dasharray="4 3"/>')
out.append(f'<text x="{x(xmax * 0.3):.1f}" y="{y(50)-4:.1f}" text-anchor="middle" fill="#c00">ceiling: p99 50 ms</text>')
for idx, (name, color) in ((1, ("p50", "#6d28d9")), (2, ("p90", "#0891b2")), (3, ("p99", "#ea580c"))):
    pts = " ".join(f"{x(r[0]):.1f},{y(max(r[idx], ymin)):.1f}" for r in rows)
    out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
    for r in rows:
        out.append(f'<circle cx="{x(r[0]):.1f}" cy="{y(max(r[idx], ymin)):.1f}" r="3" fill="{color}"/>')
    ly = T + 12 + 16 * (idx - 1)
    out.append(f'<line x1="{L+10}" x2="{L+30}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
    out.append(f'<text x="{L+36}" y="{ly+4}">{name}</text>')
out.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{H-B}" stroke="#333"/>')
out.append(f'<line x1="{L}" x2="{W-R}" y1="{H-B}" y2="{H-B}" stroke="#333"/>')
out.append("</svg>")
open(dst, "w").write("\n".join(out) + "\n")
print(f"{dst}: {len(rows)} points")
