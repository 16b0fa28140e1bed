#!/usr/bin/env bash
# Run the product: build the dashboard and the hub, start the hub on the embedded default
# (in-memory backends, --dev demo data) and print where to open it.
#   ./scripts/run.sh                 listens on 127.0.0.1:8080
#   TC_LISTEN=0.0.0.0:9000 ./scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

npm_deps web-ui
echo "==> building the dashboard (web-ui/dist)"
(cd web-ui && npm run build --silent)
echo "==> building the hub"
cargo build --release -p take-control-hub
exec ./target/release/hub --dev --static-dir web-ui/dist "$@"
