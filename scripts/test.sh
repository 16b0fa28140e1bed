#!/usr/bin/env bash
# Run every test: Rust (protocol, hub unit and integration), the dashboard's unit tests, and
# the end-to-end test in a real Chromium. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

started=$SECONDS
step() { echo; echo "==> $* ($((SECONDS - started))s)"; }

need_pkg /usr/bin/chromium chromium
need_pkg redis-server redis-server
need_pkg /usr/sbin/nginx nginx
need_pkg prometheus prometheus
need_py aiosmtpd "aiosmtpd==1.4.6"
npm_deps web-ui

step "rustfmt"
cargo fmt --all -- --check

step "deploy: promtool, Kubernetes schemas"
./scripts/check-deploy.sh

step "cargo test (protocol, hub, system tests: 3 hubs + redis-server + nginx)"
cargo test --workspace --no-fail-fast

step "fuzzing: frame decoding and control rules, 15 s each (./scripts/fuzz.sh 1800 for the long run)"
./scripts/fuzz.sh 15

step "web-ui: typecheck and unit tests"
(cd web-ui && npm test --silent)

step "web-ui: build, then end to end in Chromium"
(cd web-ui && HUB_BIN="$PWD/../target/debug/hub" npm run e2e --silent)

step "all tests passed"
