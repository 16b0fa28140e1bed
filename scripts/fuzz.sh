#!/usr/bin/env bash
# Fuzz frame decoding and the control rules with cargo-fuzz (libFuzzer).
#   ./scripts/fuzz.sh            both targets, 15 s each (what ./scripts/test.sh runs)
#   ./scripts/fuzz.sh 1800       both targets, 30 minutes each
#   ./scripts/fuzz.sh 60 decode  one target
# On the stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its instrumentation flags; no
# sanitizer is needed for safe Rust (a panic or failed assertion is the crash).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

secs=${1:-15}
if [ $# -gt 1 ]; then targets=("${@:2}"); else targets=(decode control); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
cd fuzz
mkdir -p target
for t in "${targets[@]}"; do
  echo "==> fuzzing $t for ${secs}s"
  log="target/fuzz-$t.log"
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -O "$t" -- \
      -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz target $t failed: the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units" "$log"
done
