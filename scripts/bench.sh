#!/usr/bin/env bash
# Benchmarks of the hub with the load generator (loadgen/). One command per scenario; each
# builds in release, starts what it needs on free ports, prints a results table, and stops
# everything it started. Figures and how to read them: docs/benchmarks.md.
#
#   ./scripts/bench.sh idle      19,950 idle widget connections on one node: hub RSS per connection
#   ./scripts/bench.sh relay     one node, embedded default: 200 visitors, 20 operators, 1,000 and 5,000 msg/s
#   ./scripts/bench.sh ceiling   one node: step the offered load up until p99 visitor→operator passes 50 ms
#   ./scripts/bench.sh relay3    three nodes + redis-server behind nginx, 1,000 and 5,000 msg/s,
#                                with Redis commands per persisted message
#   ./scripts/bench.sh ceiling3  relay3's setup, the offered load stepped up until p99 visitor→operator passes 50 ms
#   ./scripts/bench.sh storm     three nodes + redis-server; 10,000 visitors on node 1, which is killed (SIGKILL);
#                                all reconnect to nodes 2 and 3: time until resumed, lost, duplicated
#   ./scripts/bench.sh floor     the relay's traffic through relay-floor, a relay that only moves frames
#                                (no JSON, store, auth): the CPU per message below which no relay that
#                                writes each message at once goes on this machine (RATES, like relay)
#   ./scripts/bench.sh floor3    relay3's topology (three nodes + redis-server behind nginx) with relay-floor nodes
#                                that publish each frame on Redis: the floor of a relay across nodes
#   ./scripts/bench.sh drafts    three nodes + redis-server; an OpenAI-compatible backend streams 2,000-character
#                                replies 4 characters at a time: draft bytes per reply to the visitor and to a
#                                dashboard on each node, and Redis traffic (HUB_BIN: another build's hub, e.g.
#                                the one before drafts travelled in pieces, to compare)
#   ./scripts/bench.sh compare   floor, floorp (the floor that persists: one script call per message, relay-floor
#                                --persist), hub and the Socket.IO peer (bench/peers/socketio: Socket.IO 4.8 + its
#                                Redis adapter, a Lua history append per message), interleaved ROUNDS times (2), on
#                                one node and on three (+ Redis, + nginx), at RATES (1,000 and 5,000 msg/s): server
#                                CPU per message (every server process summed, Redis and nginx included; the nodes'
#                                system time and Redis alone too), latency, lost, duplicated, and the budgets' ratios
#                                (hub/floorp, hub/peer, system time hub/floor, Redis hub/peer, p99 hub/floorp);
#                                SYSTEMS narrows the systems; raw JSON lines and an SVG plot in $OUT
#   ./scripts/bench.sh team      big teams: three nodes + redis-server behind nginx, 100 operators with the Online
#                                list open (10 owners also on the team view) and 5,000 visitors in ONE workspace:
#                                a wave of 2,000 takeovers at once, then 1,000 and 3,000 visitor msg/s with
#                                replies; beside it in the same run the same traffic over 10 workspaces, and
#                                one workspace of 500 visitors at the same per-conversation rate: takeovers
#                                answered / refused / timed out, takeover→operator_joined, CPU per open+takeover
#                                and per message per process, p99, Online frames and bytes per dashboard per
#                                second, hub log lines "timed out", and the budgets as ratios, PASS or FAIL
#                                (OWNERS, WAVE, SMALL_VISITORS, TEAM_WORKSPACES, ROUNDS; raw JSON lines in $OUT/team.jsonl)
#   ./scripts/bench.sh cluster   three hubs (one worker each) behind nginx on a Redis Cluster of 3 masters and 3
#                                replicas, and on one redis-server, the same relay traffic in one run, ROUNDS (1)
#                                times, with the conversations over WORKSPACES (10) workspaces and all in one:
#                                Redis CPU per persisted message on each shard and in all, how evenly it spreads,
#                                the one large workspace's shard and its ceiling, p99, lost / duplicated (RATES:
#                                5000; DURATION: 8; raw JSON lines in $OUT/cluster.jsonl, tables by
#                                scripts/cluster_table.py)
#   ./scripts/bench.sh roll      a rolling upgrade under load: three nodes + redis-server behind nginx, ROLL_PAIRS
#                                (100) held conversations whose visitor and holder each send ROLL_MESSAGES (400)
#                                every ROLL_INTERVAL_MS (20) ms, and an AI reply being written; each node in turn
#                                SIGTERMed, drained and replaced on its address (tests/tests/roll.rs, release
#                                build): lost, duplicated, holders kept, no AI word in a held conversation all
#                                asserted; reported: the roll's length, send→ack p99 while rolling and over the
#                                run, and how long clients were without a socket
#   ./scripts/bench.sh callgrind one node under valgrind's callgrind, a slow relay: the hub's instructions per
#                                message (user space; repeatable, unlike time), and where they go
#                                (WITH_REDIS=1: on a redis-server of its own)
#
# Knobs (environment): CONNECTIONS (idle, storm), VISITORS, OPERATORS, RATES (comma separated visitor
# msg/s), OP_RATIO (operator replies per visitor message), WARMUP, DURATION (seconds per step), BIN
# (a directory with hub and loadgen binaries to run instead of building this checkout),
# WORKSPACES (>1: a workspaces file of pro workspaces and an operator JWT secret instead of --dev
# demo-pro), TAKEOVER_RATE (relay, relay3: the set-up's takeovers paced at this many a second; 0, the
# default: all at once), HUB_WORKERS (worker threads per hub; relay3's default is 1, the others' one per core), NO_ONLINE=1 (operators do not
# subscribe to the Online list), MONITOR=1 (relay3: a 2 s Redis MONITOR sample at each window's
# start; slows Redis), PERF=1 (record the first hub with `perf record -g` during the run; report in
# $OUT/perf.txt), SYSCALLS=1 (relay3: system calls and context switches of Redis, the hubs and
# nginx over each window, per persisted event, counted by `perf stat`), REPLICA=1 (relay3: a
# replica of the redis-server) and WAIT_REPLICAS=1 with it (relay3: writes acknowledged once the
# replica has them: the cost of --redis-wait-replicas).
set -euo pipefail
cd "$(dirname "$0")/.."
# The hubs keep attachments in memory: a benchmark writes nothing into the checkout.
export TC_FILE_STORE=memory:
. scripts/lib.sh

scenario=${1:-}
case "$scenario" in
  idle | relay | ceiling | relay3 | ceiling3 | storm | floor | floor3 | drafts | callgrind | compare | team | roll | cluster) ;;
  *)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 2
    ;;
esac

# What the scenario runs besides the hub and the generator, installed when missing.
case "$scenario" in
  relay3 | ceiling3 | floor3 | team | roll | cluster) need_pkg redis-server redis-server && need_pkg /usr/sbin/nginx nginx ;;
  storm | drafts) need_pkg redis-server redis-server ;;
  compare)
    need_pkg redis-server redis-server && need_pkg /usr/sbin/nginx nginx
    npm_deps bench/peers/socketio
    ;;
  callgrind)
    need_pkg valgrind valgrind
    [ "${WITH_REDIS:-0}" = 1 ] && need_pkg redis-server redis-server
    ;;
esac

# Sockets: the generator holds one file per connection, the hub one per connection too.
ulimit -n "$(ulimit -Hn)"

# BIN: binaries built elsewhere (say, of another commit, to compare two builds back to back).
if [ -z "${BIN:-}" ]; then
  echo "==> building (release)" >&2
  cargo build --release -q -p take-control-hub -p take-control-loadgen
  BIN=target/release
fi
OUT=${OUT:-target/bench/$scenario-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # host port
  for _ in $(seq 1 200); do
    (echo >"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1:$2" >&2
  return 1
}

# Idle sockets must not be pinged or closed during the run.
COMMON_HUB_ARGS=(--heartbeat-ms 3600000 --idle-timeout-ms 7200000 --handshake-timeout-ms 60000
  --message-rate 0 --typing-rate 0 --connect-rate 0 --workspace-message-rate 0)
# Operators take over every conversation before any message, so the assistant never answers;
# its delay stays at the default.
WS_ARGS=()
HUB_AUTH=(--dev)
# team: its 10-workspace run needs the workspaces file; its one-workspace runs use bench-0 of it.
[ "$scenario" = team ] && WORKSPACES=${WORKSPACES:-${TEAM_WORKSPACES:-10}}
[ "$scenario" = cluster ] && WORKSPACES=${WORKSPACES:-10}
WORKSPACES=${WORKSPACES:-1}
if [ "$WORKSPACES" -gt 1 ]; then
  SECRET=bench-operator-secret
  python3 - "$WORKSPACES" >"$OUT/workspaces.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
print(json.dumps([{"id": f"bench-{i}", "name": f"Bench {i}", "plan": "pro"} for i in range(n)]))
EOF
  HUB_AUTH=(--workspaces "$OUT/workspaces.json" --operator-jwt-secret "$SECRET")
  for i in $(seq 0 $((WORKSPACES - 1))); do WS_ARGS+=(--workspace "bench-$i"); done
  WS_ARGS+=()
  LG_SECRET=(--operator-jwt-secret "$SECRET")
else
  LG_SECRET=()
fi

start_hub() { # name port extra-args...
  local name=$1 port=$2
  shift 2
  TC_LOG=warn "${HUB_BIN:-$BIN/hub}" --listen "127.0.0.1:$port" "${HUB_AUTH[@]}" "${COMMON_HUB_ARGS[@]}" "$@" \
    >"$OUT/$name.out" 2>"$OUT/$name.log" &
  PIDS+=($!)
  wait_port 127.0.0.1 "$port"
}

# Stop the processes this run started from PIDS index FIRST on (one run of a scenario that
# starts fresh processes per run), and forget them.
stop_since() { # first
  local i
  for i in "${PIDS[@]:$1}"; do kill "$i" 2>/dev/null || true; done
  for i in "${PIDS[@]:$1}"; do wait "$i" 2>/dev/null || true; done
  PIDS=("${PIDS[@]:0:$1}")
}

# Three hubs of one worker each on Redis URL, behind nginx: sets ports, hub_pids (loadgen's
# --hub-pid arguments) and urls (nginx's).
start_three_hubs() { # name-prefix redis-url
  local i p
  ports=()
  hub_pids=()
  for i in 1 2 3; do
    p=$(free_port)
    start_hub "$1-hub$i" "$p" --redis-url "$2" --visitor-token-secret bench-visitor-secret \
      --workers "${HUB_WORKERS:-1}"
    hub_pids+=(--hub-pid "${PIDS[-1]}")
    ports+=("$p")
  done
  start_nginx "${ports[@]}" >/dev/null
}

# A redis-server of this run on a free port (never the shared 6379): sets rport and redis_pid.
start_redis() { # [command to run redis-server under]
  rport=$(free_port)
  [ "$rport" != 6379 ] || rport=$(free_port)
  "$@" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning --dir "$OUT" \
    >>"$OUT/redis.log" 2>&1 &
  PIDS+=($!)
  redis_pid=$!
  wait_port 127.0.0.1 "$rport"
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
}

perf_start() { # pid
  if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    perf record -F 499 ${PERF_CALLGRAPH:--g} -p "$1" -o "$OUT/perf.data" >/dev/null 2>&1 &
    PERF_PID=$!
  fi
}

perf_stop() {
  if [ -n "${PERF_PID:-}" ]; then
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
      grep -v '^$' | head -80 >"$OUT/perf.txt" || true
    echo "perf: $OUT/perf.txt"
  fi
}

# nginx (deploy/nginx/take-control.conf, one worker) in front of the nodes listening on the given
# ports: sets urls (the generator's --url arguments) and adds nginx to others (--pid).
start_nginx() { # port...
  local ports=("$@") p servers
  urls=()
  if [ -f deploy/nginx/take-control.conf ]; then
    nport=$(free_port)
    mkdir -p "$OUT/nginx"
    servers=""
    for p in "${ports[@]}"; do servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=10s;"$'\n'; done
    cat >"$OUT/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 16384; }
http {
  client_body_temp_path $OUT/nginx/client_body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  access_log off;
  upstream hubs {
      zone hubs 64k;
$servers        keepalive 16;
  }
  server {
      listen 127.0.0.1:$nport;
      include $PWD/deploy/nginx/take-control.conf;
  }
}
EOF
    nginx -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" &
    PIDS+=($!)
    others+=(--pid "nginx=${PIDS[-1]}")
    wait_port 127.0.0.1 "$nport"
    urls=(--url "ws://127.0.0.1:$nport")
    echo "topology: loadgen → nginx (1 worker, deploy/nginx/take-control.conf) → ${#ports[@]} nodes → redis-server :$rport" | tee -a "$OUT/report.md"
  else
    for p in "${ports[@]}"; do urls+=(--url "ws://127.0.0.1:$p"); done
    echo "topology: loadgen → ${#ports[@]} nodes directly, round robin (no deploy/nginx) → redis-server :$rport" | tee -a "$OUT/report.md"
  fi
}

# The traffic's shape, shared by relay and the floor.
SHAPE=(
  --visitors "${VISITORS:-200}" --operators "${OPERATORS:-20}"
  --operator-ratio "${OP_RATIO:-0.2}" --warmup-secs "${WARMUP:-2}"
)
RELAY_ARGS=("${SHAPE[@]}" "${LG_SECRET[@]}" --takeover-rate "${TAKEOVER_RATE:-0}")
[ "${NO_ONLINE:-0}" = 1 ] && RELAY_ARGS+=(--no-online)

machine | tee "$OUT/report.md"
case "$scenario" in
  idle)
    port=$(free_port)
    start_hub hub "$port"
    hub_pid=${PIDS[0]}
    # The hook saves the hub's memory breakdown and CPU time once every connection is up.
    cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    "$BIN/loadgen" --url "ws://127.0.0.1:$port" --hub-pid "$hub_pid" "${WS_ARGS[@]}" \
      --hook "f() { grep -E '^(Rss|Pss_Anon|Anonymous)' /proc/$hub_pid/smaps_rollup > '$OUT/smaps_rollup.txt'; awk '{print \$14 + \$15}' /proc/$hub_pid/stat > '$OUT/cpu_connected.txt'; }; f" \
      idle --connections "${CONNECTIONS:-19950}" | tee -a "$OUT/report.md"
    echo "hub smaps_rollup with every connection up:" | tee -a "$OUT/report.md"
    tee -a "$OUT/report.md" <"$OUT/smaps_rollup.txt"
    # The generator has exited, closing every socket: the hub's CPU until it has let them all
    # go (sessions ended, subscriptions and presence dropped).
    for _ in $(seq 1 1200); do
      left=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^tc_connections\{kind="widget"\}/ {print $2}')
      [ "$left" = 0 ] && break
      sleep 0.05
    done
    echo "teardown: hub CPU from all connected to all $((${CONNECTIONS:-19950})) gone: $((($(cpu_ticks "$hub_pid") - $(cat "$OUT/cpu_connected.txt")) * 10)) ms (widgets left: $left; includes the generator's settle time, idle)" |
      tee -a "$OUT/report.md"
    ;;

  relay | ceiling)
    port=$(free_port)
    start_hub hub "$port" ${HUB_WORKERS:+--workers "$HUB_WORKERS"}
    hub_pid=${PIDS[0]}
    perf_start "$hub_pid"
    if [ "$scenario" = relay ]; then
      steps=(--rate "${RATES:-1000,5000}" --duration-secs "${DURATION:-10}")
    else
      steps=(--rate "${RATES:-5000,7500,10000,12500,15000,20000,25000,30000}"
        --duration-secs "${DURATION:-5}" --stop-p99-ms 50)
    fi
    "$BIN/loadgen" --url "ws://127.0.0.1:$port" --hub-pid "$hub_pid" "${WS_ARGS[@]}" \
      relay "${RELAY_ARGS[@]}" "${steps[@]}" | tee -a "$OUT/report.md"
    perf_stop
    # The hub's own counters and histograms (delivery and store latency, slow-consumer closes).
    curl -s "http://127.0.0.1:$port/metrics" >"$OUT/metrics-hub.txt" || true
    ;;

  floor | floor3)
    # The relay's traffic (200 visitors, 20 operators, answers to a fifth), one step per rate,
    # through one relay-floor, or three on a redis-server behind nginx (one worker each, like
    # relay3's hubs).
    node_args=(${HUB_WORKERS:+--workers "$HUB_WORKERS"})
    nodes=1
    if [ "$scenario" = floor3 ]; then
      start_redis
      node_args=(--workers "${HUB_WORKERS:-1}" --redis-url "redis://127.0.0.1:$rport/")
      nodes=3
    fi
    ports=()
    node_pids=()
    for i in $(seq 1 "$nodes"); do
      p=$(free_port)
      "$BIN/relay-floor" --listen "127.0.0.1:$p" "${node_args[@]}" >"$OUT/relay-floor$i.log" 2>&1 &
      PIDS+=($!)
      node_pids+=(--hub-pid "$!")
      ports+=("$p")
      wait_port 127.0.0.1 "$p"
    done
    if [ "$scenario" = floor3 ]; then
      others=(--pid "redis=$redis_pid")
      start_nginx "${ports[@]}"
    else
      others=()
      urls=(--url "ws://127.0.0.1:${ports[0]}")
    fi
    for rate in $(echo "${RATES:-1000,5000}" | tr , ' '); do
      "$BIN/loadgen" "${urls[@]}" "${node_pids[@]}" "${others[@]}" floor "${SHAPE[@]}" \
        --rate "$rate" --duration-secs "${DURATION:-10}" | tee -a "$OUT/report.md"
    done
    ;;

  relay3 | ceiling3)
    if [ "$scenario" = relay3 ]; then
      steps=(--rate "${RATES:-1000,5000}" --duration-secs "${DURATION:-10}")
    else
      steps=(--rate "${RATES:-5000,7500,10000,12500,15000,17500,20000}"
        --duration-secs "${DURATION:-5}" --stop-p99-ms 50)
    fi
    start_redis
    REDIS="redis-cli -p $rport"
    others=(--pid "redis=$redis_pid")
    # REPLICA=1: a replica of it (its CPU counted with the servers'); WAIT_REPLICAS=1 with it:
    # every message acknowledged only once the replica has it (--redis-wait-replicas).
    if [ "${REPLICA:-0}" = 1 ]; then
      replica_port=$(free_port)
      redis-server --port "$replica_port" --bind 127.0.0.1 --save '' --appendonly no \
        --loglevel warning --replicaof 127.0.0.1 "$rport" >"$OUT/redis-replica.log" 2>&1 &
      PIDS+=($!)
      others+=(--pid "replica=$!")
      wait_port 127.0.0.1 "$replica_port"
      until redis-cli -p "$replica_port" INFO replication | grep -q master_link_status:up; do
        sleep 0.1
      done
    fi
    # Three nodes share two cores here: one worker thread each (HUB_WORKERS to change; a node
    # on a machine of its own keeps the default, one per core).
    hub_args=(--redis-url "redis://127.0.0.1:$rport/" --visitor-token-secret bench-visitor-secret
      --workers "${HUB_WORKERS:-1}" --redis-wait-replicas "${WAIT_REPLICAS:-0}")
    urls=()
    hub_pids=()
    hub_list=""
    ports=()
    for i in 1 2 3; do
      p=$(free_port)
      start_hub "hub$i" "$p" "${hub_args[@]}"
      hub_pids+=(--hub-pid "${PIDS[-1]}")
      [ -n "${first_hub:-}" ] || first_hub=${PIDS[-1]}
      hub_list+="${hub_list:+,}${PIDS[-1]}"
      ports+=("$p")
    done
    perf_start "$first_hub"
    start_nginx "${ports[@]}"
    nginx_pid=${PIDS[-1]}
    # At each window's start and end: Redis command counters. With MONITOR=1, also a 2 s MONITOR
    # sample at the start, which tells commands sent by clients from those run inside scripts;
    # off by default: MONITOR slows Redis down a lot (it formats every command, script-internal
    # ones too, for the monitoring client), and the window's latencies with it.
    monitor=""
    [ "${MONITOR:-0}" = 1 ] && monitor="if [ \"\$1\" = start ]; then timeout 2 $REDIS MONITOR > $OUT/monitor-\$2.txt 2>/dev/null & fi;"
    # SYSCALLS=1: perf stat on each group's tracepoints from the window's start to its end (SIGINT
    # makes it write its counts); exact counts, at a small cost to the processes watched.
    syscalls=""
    if [ "${SYSCALLS:-0}" = 1 ]; then
      need_pkg perf linux-perf
      syscalls="for w in redis:$redis_pid hubs:$hub_list nginx:$nginx_pid; do if [ \"\$1\" = start ]; then perf stat -x, -e raw_syscalls:sys_enter,context-switches -p \${w#*:} -o $OUT/syscalls-\${w%%:*}-\$2.txt >/dev/null 2>&1 & echo \$! >> $OUT/perf-stat-\$2.pids; fi; done; if [ \"\$1\" = end ]; then kill -INT \$(cat $OUT/perf-stat-\$2.pids); fi;"
    fi
    hook="f() { $REDIS INFO commandstats latencystats > $OUT/cmdstats-\$1-\$2.txt; $monitor $syscalls }; f"
    "$BIN/loadgen" "${urls[@]}" "${hub_pids[@]}" "${others[@]}" "${WS_ARGS[@]}" --hook "$hook" \
      relay "${RELAY_ARGS[@]}" "${steps[@]}" | tee -a "$OUT/report.md"
    perf_stop
    # Each hub's own counters (slow-consumer closes, resyncs, catch-ups, store errors…).
    for i in "${!ports[@]}"; do
      curl -s "http://127.0.0.1:${ports[$i]}/metrics" >"$OUT/metrics-hub$((i + 1)).txt" || true
    done
    python3 - "$OUT" <<'EOF' | tee -a "$OUT/report.md"
# Redis commands per persisted event. Every persisted event is exactly one XADD, and XADD is only
# ever called inside the Lua scripts, so Δxadd counts persisted events (visitor and operator
# messages alike). MONITOR marks script-internal commands with "lua]": the rest are round trips.
import collections, glob, os, re, sys
sys.path.insert(0, "scripts")
from redis_commands import INSIDE_SCRIPTS, stats as timed_stats
out = sys.argv[1]
def stats(path):
    """Calls by command (redis_commands.py reads calls and time)."""
    return {k: calls for k, (calls, _) in timed_stats(path).items()}
def windows():
    """Each measured window with both its counter files: (step, start file, end file)."""
    for start in sorted(glob.glob(f"{out}/cmdstats-start-*.txt")):
        step = start.rsplit("-", 1)[1].split(".")[0]
        end = f"{out}/cmdstats-end-{step}.txt"
        if os.path.exists(end):
            yield step, start, end
print("\nRedis, per persisted event (INFO commandstats over each measured window):\n")
print("| step | persisted events (Δxadd) | evalsha | publish | other top-level | all commands incl. inside scripts |")
print("| --- | --- | --- | --- | --- | --- |")
for step, start, end in windows():
    a, b = stats(start), stats(end)
    delta = {k: b.get(k, 0) - a.get(k, 0) for k in b}
    ev = max(delta.get("xadd", 0), 1)
    top_other = sum(v for k, v in delta.items() if k not in INSIDE_SCRIPTS | {"evalsha", "publish", "info", "monitor"})
    total = sum(v for k, v in delta.items() if k not in {"info", "monitor"})
    print(f"| {step} | {delta.get('xadd', 0)} | {delta.get('evalsha', 0) / ev:.2f} | {delta.get('publish', 0) / ev:.2f} | {top_other / ev:.2f} | {total / ev:.2f} |")
# Redis's own time per EVALSHA (execution only, no queueing or network): the window's mean from
# commandstats, and the percentiles Redis 7 tracks since its start (INFO latencystats).
print("\n| step | EVALSHA µs per call in Redis (window mean) | EVALSHA µs percentiles since start (Redis's latencystats) |")
print("| --- | --- | --- |")
def usec(path):
    return timed_stats(path).get("evalsha", (0, 0))
for step, start, end in windows():
    (c0, u0), (c1, u1) = usec(start), usec(end)
    pct = next((l.split(":", 1)[1].strip() for l in open(end) if l.startswith("latency_percentiles_usec_evalsha:")), "–")
    print(f"| {step} | {(u1 - u0) / max(c1 - c0, 1):.1f} | {pct} |")
# SYSCALLS=1: perf stat's counts over each window, per persisted event.
rows = []
for step, start, end in windows():
    a, b = stats(start), stats(end)
    ev = max(b.get("xadd", 0) - a.get("xadd", 0), 1)
    for group in ("redis", "hubs", "nginx"):
        path = f"{out}/syscalls-{group}-{step}.txt"
        if not os.path.exists(path):
            continue
        counts = {}
        for line in open(path):
            f = line.strip().split(",")
            if len(f) > 2 and f[0].isdigit():
                counts[f[2]] = int(f[0])
        rows.append(f"| {step} | {group} | {counts.get('raw_syscalls:sys_enter', 0) / ev:.2f} | {counts.get('context-switches', 0) / ev:.2f} |")
if rows:
    print("\nSystem calls and context switches over each window, per persisted event (SYSCALLS=1):\n")
    print("| step | processes | system calls | context switches |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))
print("\nMONITOR sample (2 s at each window's start): commands per persisted event\n")
print("| step | persisted events (XADD in scripts) | client round trips per event | by command | inside scripts per event |")
print("| --- | --- | --- | --- | --- |")
for mon in sorted(glob.glob(f"{out}/monitor-*.txt")):
    step = mon.rsplit("-", 1)[1].split(".")[0]
    top, lua = collections.Counter(), collections.Counter()
    for line in open(mon, errors="replace"):
        parts = line.split('"')
        if len(parts) < 2:
            continue
        cmd = parts[1].lower()
        (lua if " lua]" in line else top)[cmd] += 1
    for k in ("info", "monitor"):
        top.pop(k, None)
    ev = max(lua.get("xadd", 0), 1)
    by = ", ".join(f"{k} {v / ev:.2f}" for k, v in top.most_common())
    print(f"| {step} | {lua.get('xadd', 0)} | {sum(top.values()) / ev:.2f} | {by} | {sum(lua.values()) / ev:.2f} |")
EOF
    ;;
  compare)
    # One run per system, node count, rate and round, each on fresh processes (its own
    # redis-server; nginx in front of three nodes), so that no run inherits another's state.
    # Rounds interleave the systems: floor, floorp, hub, peer, then again (SYSTEMS narrows
    # them, ROUNDS sets how many).
    D=${DURATION:-8}
    : >"$OUT/compare.jsonl"
    compare_one() { # system nodes rate round
      local system=$1 nodes=$2 rate=$3 round=$4 first=${#PIDS[@]} i p log
      ports=()
      others=()
      node_pids=()
      local workers=()
      [ "$nodes" -gt 1 ] && workers=(--workers 1)
      local backend=()
      if [ "$system" != floor ] || [ "$nodes" -gt 1 ]; then
        start_redis
        others+=(--pid "redis=$redis_pid")
        backend=(--redis-url "redis://127.0.0.1:$rport/")
      fi
      for i in $(seq 1 "$nodes"); do
        p=$(free_port)
        log="$OUT/$system-$nodes-$rate-$round-node$i.log"
        case "$system" in
          floor) "$BIN/relay-floor" --listen "127.0.0.1:$p" "${workers[@]}" "${backend[@]}" >"$log" 2>&1 & ;;
          floorp) "$BIN/relay-floor" --listen "127.0.0.1:$p" "${workers[@]}" "${backend[@]}" --persist >"$log" 2>&1 & ;;
          hub) TC_LOG=warn "$BIN/hub" --listen "127.0.0.1:$p" "${HUB_AUTH[@]}" "${COMMON_HUB_ARGS[@]}" \
                 "${workers[@]}" "${backend[@]}" --visitor-token-secret bench-visitor-secret >"$log" 2>&1 & ;;
          peer) PORT=$p REDIS_URL="redis://127.0.0.1:$rport" node bench/peers/socketio/server.js >"$log" 2>&1 & ;;
        esac
        PIDS+=($!)
        node_pids+=(--hub-pid "$!")
        ports+=("$p")
        wait_port 127.0.0.1 "$p"
      done
      if [ "$nodes" -gt 1 ]; then
        start_nginx "${ports[@]}" >/dev/null
      else
        urls=(--url "ws://127.0.0.1:${ports[0]}")
      fi
      local out="$OUT/$system-$nodes-$rate-$round.txt"
      # Redis's command counters at the window's start and end (scripts/redis_commands.py
      # reads them: what each system asks of Redis per message, and where its time goes).
      if [ -n "${backend[*]}" ]; then
        others+=(--hook "f() { redis-cli -p $rport INFO commandstats stats > $OUT/cmdstats-$system-$nodes-$rate-$round-\$1.txt; }; f")
      fi
      case "$system" in
        floor | floorp) "$BIN/loadgen" "${urls[@]}" "${node_pids[@]}" "${others[@]}" floor "${SHAPE[@]}" \
                 --rate "$rate" --duration-secs "$D" >"$out" ;;
        peer) "$BIN/loadgen" "${urls[@]}" "${node_pids[@]}" "${others[@]}" floor --dialect socketio \
                "${SHAPE[@]}" --rate "$rate" --duration-secs "$D" >"$out" ;;
        hub) "$BIN/loadgen" "${urls[@]}" "${node_pids[@]}" "${others[@]}" "${WS_ARGS[@]}" relay \
               "${RELAY_ARGS[@]}" --rate "$rate" --duration-secs "$D" >"$out" ;;
      esac
      # floorp runs relay-floor too: its rows are told apart by name.
      local label=relay-floor
      [ "$system" = floorp ] && label=relay-floorp
      grep '^COMPARE ' "$out" | sed "s/^COMPARE {/{\"nodes\":$nodes,\"round\":$round,/; s/\"system\":\"relay-floor\"/\"system\":\"$label\"/" >>"$OUT/compare.jsonl"
      stop_since "$first"
      echo "compare: $system on $nodes node(s) at $rate msg/s, round $round: $(grep '^COMPARE ' "$out" | cut -c9-)" >&2
    }
    for nodes in 1 3; do
      for rate in $(echo "${RATES:-1000,5000}" | tr , ' '); do
        for round in $(seq 1 "${ROUNDS:-2}"); do
          for system in ${SYSTEMS:-floor floorp hub peer}; do
            compare_one "$system" "$nodes" "$rate" "$round"
          done
        done
      done
    done
    python3 scripts/compare_table.py "$OUT/compare.jsonl" "$OUT/compare.svg" | tee -a "$OUT/report.md"
    python3 scripts/redis_commands.py "$OUT" | tee -a "$OUT/report.md"
    ;;

  team)
    # Three runs on fresh processes each (redis-server, three hubs of one worker, nginx), back to
    # back, ROUNDS times: (a) one workspace, (b) the same spread over WORKSPACES workspaces, (c)
    # one workspace of SMALL_VISITORS at the same per-conversation rate (RATES scaled down).
    V=${VISITORS:-5000}
    OPS=${OPERATORS:-100}
    SMALL=${SMALL_VISITORS:-$((V / 10))}
    # The wave: the last WAVE conversations' takeovers sent at once (the others taken over before
    # it, paced); c's scaled down with its visitors.
    WAVE=${WAVE:-$((V * 2 / 5))}
    WAVE_C=$((WAVE * SMALL / V > 0 ? WAVE * SMALL / V : 1))
    RATES_A=${RATES:-1000,3000}
    RATES_C=$(python3 -c 'import sys; print(",".join(f"{float(r) * int(sys.argv[2]) / int(sys.argv[3]):g}" for r in sys.argv[1].split(",")))' "$RATES_A" "$SMALL" "$V")
    # Every connection is a file in the generator, two in nginx (client and upstream).
    fds=$(ulimit -n)
    if [ $((2 * (V + OPS) + 200)) -gt "$fds" ] || [ $((2 * (V + OPS))) -gt 16384 ]; then
      echo "team: $V visitors + $OPS operators need $((2 * (V + OPS) + 200)) open files in nginx (ulimit -n: $fds, nginx worker_connections 16384)" >&2
      exit 1
    fi
    team_args=(--operators "$OPS" --owners "${OWNERS:-10}" --started-dashboards "${STARTED:-$((OPS / 2))}"
      --operator-ratio "${OP_RATIO:-0.2}"
      --warmup-secs "${WARMUP:-2}" --duration-secs "${DURATION:-10}" --takeover-rate "${TAKEOVER_RATE:-0}"
      --json "${LG_SECRET[@]}")
    echo "team: $V visitors (c: $SMALL), a wave of $WAVE takeovers at once (c: $WAVE_C), $OPS operators (${OWNERS:-10} owners), rates $RATES_A (c: $RATES_C), $WORKSPACES workspaces in b, ${ROUNDS:-1} round(s)" | tee -a "$OUT/report.md"
    : >"$OUT/team.jsonl"
    team_one() { # run round
      local run=$1 round=$2 first=${#PIDS[@]} i p visitors rates wave ws
      case "$run" in
        a) visitors=$V rates=$RATES_A wave=$WAVE ws=(--workspace bench-0) ;;
        b) visitors=$V rates=$RATES_A wave=$WAVE ws=("${WS_ARGS[@]}") ;;
        c) visitors=$SMALL rates=$RATES_C wave=$WAVE_C ws=(--workspace bench-0) ;;
      esac
      start_redis
      others=(--pid "redis=$redis_pid")
      start_three_hubs "$run$round" "redis://127.0.0.1:$rport/"
      local out="$OUT/team-$run-$round.txt"
      "$BIN/loadgen" "${urls[@]}" "${hub_pids[@]}" "${others[@]}" "${ws[@]}" relay --visitors "$visitors" \
        --wave "$wave" --rate "$rates" "${team_args[@]}" >"$out" 2>&1 || echo "team: run $run round $round failed (see $out)" >&2
      stop_since "$first"
      local tag="{\"run\":\"$run\",\"round\":$round,"
      grep '^JSON {' "$out" | sed "s/^JSON {/$tag/" >>"$OUT/team.jsonl" || true
      # The hubs log a store or bus call that timed out at warn ("store unavailable: timed out").
      local counts="" n
      for i in 1 2 3; do
        n=$(grep -ci 'timed out' "$OUT/$run$round-hub$i.log" || true)
        counts+="${counts:+,}${n:-0}"
      done
      echo "${tag}\"kind\":\"logs\",\"timed_out\":[$counts]}" >>"$OUT/team.jsonl"
      echo "team: run $run round $round: $(grep -m1 '^takeover wave:' "$out" || echo 'no takeover line')" >&2
    }
    for round in $(seq 1 "${ROUNDS:-1}"); do
      for run in a b c; do
        team_one "$run" "$round"
      done
    done
    for f in "$OUT"/team-*.txt; do
      { echo; echo "### $(basename "$f" .txt)"; grep -v '^JSON ' "$f"; } >>"$OUT/report.md"
    done
    python3 scripts/team_table.py "$OUT/team.jsonl" | tee -a "$OUT/report.md"
    ;;

  callgrind)
    port=$(free_port)
    # About 50x slower under callgrind: a low rate, and only the measured window is counted
    # (zeroed at its start, dumped at its end by the generator's hook). WITH_REDIS=1: the hub
    # on a redis-server of its own, the Redis store and bus's code path; Redis runs under
    # callgrind too, for its own instructions per message. FLOOR=1: relay-floor instead of the
    # hub, the same traffic (the instructions a relay that only moves frames spends).
    backend=()
    counted=""
    if [ "${WITH_REDIS:-0}" = 1 ]; then
      start_redis valgrind --tool=callgrind --callgrind-out-file="$OUT/redis-callgrind.out"
      backend=(--redis-url "redis://127.0.0.1:$rport/")
      counted=$redis_pid
    fi
    if [ "${FLOOR:-0}" = 1 ]; then
      relay=("$BIN/relay-floor" --listen "127.0.0.1:$port")
      traffic=(floor)
    else
      relay=("$BIN/hub" --listen "127.0.0.1:$port" "${HUB_AUTH[@]}" "${COMMON_HUB_ARGS[@]}" "${backend[@]}")
      traffic=(relay "${LG_SECRET[@]}")
    fi
    TC_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "${relay[@]}" \
      >"$OUT/hub.out" 2>"$OUT/hub.log" &
    PIDS+=($!)
    vg=$!
    counted="$vg $counted"
    wait_port 127.0.0.1 "$port"
    "$BIN/loadgen" --url "ws://127.0.0.1:$port" "${WS_ARGS[@]}" \
      --hook "f() { for p in $counted; do if [ \"\$1\" = start ]; then callgrind_control --zero \$p; else callgrind_control --dump=window \$p; fi; done >/dev/null 2>&1; }; f" \
      "${traffic[@]}" --visitors "${VISITORS:-50}" --operators "${OPERATORS:-5}" --operator-ratio "${OP_RATIO:-0.2}" \
      --warmup-secs 1 --rate "${RATES:-100}" --duration-secs "${DURATION:-5}" |
      tee -a "$OUT/report.md"
    # A dump's instructions in the window, per message sent; where they go, beside it.
    per_message() { # label dump
      if [ ! -f "$2" ]; then
        echo "no callgrind dump of the window for $1 in $OUT (did the generator's hook run?)" >&2
        return 1
      fi
      callgrind_annotate --inclusive=yes "$2" >"${2%.out.*}.txt" 2>/dev/null || true
      python3 - "$OUT/report.md" "$2" "$1" <<'EOF' | tee -a "$OUT/report.md"
import re, sys
report, dump, label = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
# The relay table's "sent v+o" cell, or the floor's "sent in window".
m = re.search(r"^\| [\d.]+ / [\d.]+ \| (\d+) \+ (\d+) \|", report, re.M)
sent = int(m.group(1)) + int(m.group(2)) if m else int(re.search(r"^\| [\d.]+ \| (\d+) \|", report, re.M).group(1))
ir = int(re.search(r"^summary: (\d+)", dump, re.M).group(1))
print(f"{label} instructions in the window: {ir:,} for {sent} messages: {ir / sent:,.0f} per message")
EOF
      echo "where they go (inclusive): ${2%.out.*}.txt"
    }
    per_message "$([ "${FLOOR:-0}" = 1 ] && echo relay-floor || echo hub)" "$(ls "$OUT"/callgrind.out.* | head -1)"
    if [ "${WITH_REDIS:-0}" = 1 ]; then
      per_message redis-server "$(ls "$OUT"/redis-callgrind.out.* | head -1)"
    fi
    ;;

  drafts)
    # The backend, then a workspace whose assistant it is, then three hubs on one Redis.
    fport=$(free_port)
    "$BIN/fake-openai" --port "$fport" --reply-chars "${REPLY_CHARS:-2000}" --chunk-chars "${CHUNK_CHARS:-4}" \
      --chunk-ms "${CHUNK_MS:-5}" >"$OUT/fake-openai.log" 2>&1 &
    PIDS+=($!)
    wait_port 127.0.0.1 "$fport"
    cat >"$OUT/workspaces.json" <<EOF
[{"id": "demo-pro", "name": "Drafts bench", "plan": "pro",
  "assistant": {"kind": "openai", "base_url": "http://127.0.0.1:$fport/v1", "model": "bench"}}]
EOF
    start_redis
    HUB_AUTH=(--workspaces "$OUT/workspaces.json" --operator-jwt-secret bench-operator-secret)
    urls=()
    for i in 1 2 3; do
      p=$(free_port)
      start_hub "hub$i" "$p" --redis-url "redis://127.0.0.1:$rport/" --visitor-token-secret bench-visitor-secret
      urls+=(--url "ws://127.0.0.1:$p")
    done
    echo "hub: ${HUB_BIN:-$BIN/hub}; backend: ${REPLY_CHARS:-2000} characters in chunks of ${CHUNK_CHARS:-4} every ${CHUNK_MS:-5} ms" | tee -a "$OUT/report.md"
    "$BIN/loadgen" "${urls[@]}" drafts --replies "${REPLIES:-5}" --reply-chars "${REPLY_CHARS:-2000}" \
      --redis-url "redis://127.0.0.1:$rport/" --operator-jwt-secret bench-operator-secret |
      tee -a "$OUT/report.md"
    ;;
  storm)
    start_redis
    hub_args=(--redis-url "redis://127.0.0.1:$rport/" --visitor-token-secret bench-visitor-secret)
    urls=()
    for i in 1 2 3; do
      p=$(free_port)
      start_hub "hub$i" "$p" "${hub_args[@]}"
      urls+=(--url "ws://127.0.0.1:$p")
    done
    victim_pid=${PIDS[1]}
    "$BIN/loadgen" "${urls[@]}" --hub-pid "${PIDS[2]}" --hub-pid "${PIDS[3]}" --pid "redis=$redis_pid" \
      "${WS_ARGS[@]}" storm --connections "${CONNECTIONS:-10000}" --victim 0 --kill-pid "$victim_pid" |
      tee -a "$OUT/report.md"
    ;;

  cluster)
    # A Redis Cluster of this run: six servers on free ports, three masters with a replica each
    # (redis-cli --cluster create); sets cluster_url and the --pid labels of its processes
    # (shard-PORT for masters, replica-PORT).
    start_redis_cluster() {
      local ports=() i p role
      cluster_pids=()
      for i in 1 2 3 4 5 6; do
        # A cluster node also listens on its port + 10000 (the cluster bus): both free, and
        # the port at most 55535.
        p=$(python3 -c 'import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    p = random.randint(20000, 55535)
    if free(p) and free(p + 10000):
        print(p); break')
        mkdir -p "$OUT/rc-$p"
        redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
          --cluster-config-file "$OUT/rc-$p/nodes.conf" --cluster-node-timeout 2000 --save "" \
          --appendonly no --loglevel warning --dir "$OUT/rc-$p" >>"$OUT/redis-cluster.log" 2>&1 &
        PIDS+=($!)
        ports+=("$p")
        cluster_pids+=("$p:$!")
        wait_port 127.0.0.1 "$p"
      done
      redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
        --cluster-yes >"$OUT/cluster-create.log" 2>&1
      for p in "${ports[@]}"; do
        until redis-cli -p "$p" CLUSTER INFO | grep -q cluster_state:ok; do sleep 0.1; done
      done
      cluster_url="redis+cluster://$(printf '127.0.0.1:%s,' "${ports[@]}" | sed 's/,$//')"
      others=()
      for entry in "${cluster_pids[@]}"; do
        p=${entry%%:*}
        role=$(redis-cli -p "$p" ROLE | head -1)
        others+=(--pid "$([ "$role" = master ] && echo shard || echo replica)-$p=${entry#*:}")
      done
    }
    : >"$OUT/cluster.jsonl"
    cluster_one() { # redis (single|cluster) spread (many|one) round
      local redis=$1 spread=$2 round=$3 first=${#PIDS[@]} i p ws
      if [ "$redis" = cluster ]; then
        start_redis_cluster
        url=$cluster_url
      else
        start_redis
        others=(--pid "redis=$redis_pid")
        url="redis://127.0.0.1:$rport/"
      fi
      start_three_hubs "$redis-$spread-$round" "$url"
      if [ "$spread" = one ]; then ws=(--workspace bench-0); else ws=("${WS_ARGS[@]}"); fi
      local out="$OUT/$redis-$spread-$round.txt"
      "$BIN/loadgen" "${urls[@]}" "${hub_pids[@]}" "${others[@]}" "${ws[@]}" relay "${RELAY_ARGS[@]}" \
        --rate "${RATES:-5000}" --duration-secs "${DURATION:-8}" --json >"$out"
      grep '^JSON ' "$out" | sed "s/^JSON {/{\"redis\":\"$redis\",\"spread\":\"$spread\",\"round\":$round,/" \
        >>"$OUT/cluster.jsonl"
      stop_since "$first"
      echo "cluster: $redis, $spread workspace(s), round $round done" >&2
    }
    echo "cluster: 3 hubs behind nginx on one redis-server and on a 3-master Redis Cluster, $WORKSPACES workspaces and one, ${RATES:-5000} visitor msg/s" | tee -a "$OUT/report.md"
    for round in $(seq 1 "${ROUNDS:-1}"); do
      for spread in many one; do
        for redis in single cluster; do
          cluster_one "$redis" "$spread" "$round"
        done
      done
    done
    python3 scripts/cluster_table.py "$OUT/cluster.jsonl" | tee -a "$OUT/report.md"
    ;;

  roll)
    # The system test's roll at a larger size, on the release hub; its assertions hold here too.
    TC_HUB_BIN="$PWD/$BIN/hub" cargo test --release -q -p take-control-system-tests --test roll \
      roll_under_load -- --ignored --nocapture 2>&1 | tee "$OUT/roll.log" | grep -E '^(ROLL|roll pair 0:)' |
      sed 's/^ROLL //' | tee -a "$OUT/report.md"
    ;;
esac
echo "results: $OUT/report.md" >&2
