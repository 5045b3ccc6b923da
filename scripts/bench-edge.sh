#!/usr/bin/env bash
# The Worker under `wrangler dev` over a generated serving snapshot of ITEMS
# items (default 1,000,000), served from local disk by a small S3-protocol
# file server on 127.0.0.1 (moto is far too slow to hold millions of
# objects). Bounded: a fixed number of requests, then it stops.
#
# Reports, per request kind, the latency of a cold and a warm request
# minus that of a trivial request (a 400 answered before any data is read),
# the objects fetched, and the wasm memory after RANDOM_QUERIES random
# queries over CONNECTIONS connections at once (the Worker logs
# `memory.buffer.byteLength` with DEBUG_MEMORY set). 5% of the random
# queries name items that do not exist: a DynamoDB stand-in answers their
# GetItem. With LIVE_DELTAS > 0, a new version with a full-size delta of
# its own (3,000 changes) is published every second during the random
# queries, and the report says how often one object was fetched.
#   ./scripts/bench-edge.sh [ITEMS] [RANDOM_QUERIES] [CONNECTIONS] [LIVE_DELTAS]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-1000000}
QUERIES=${2:-10000}
CONNECTIONS=${3:-1}
LIVE_DELTAS=${4:-0}
DIR=target/bench-snapshots/$ITEMS
cargo run --profile bench -q -p media-query-bench --bin gen-snapshot -- "$ITEMS" "$DIR"
rm -f "$DIR"/bench/serving/current-*.json
cp "$DIR/bench/serving/current.json" "$DIR/stamp-pointer.json"
if [ "$LIVE_DELTAS" -gt 0 ]; then
  cargo run --profile bench -q -p media-query-bench --bin gen-snapshot -- "$ITEMS" "$DIR" "$LIVE_DELTAS"
fi
[ -f edge/build/worker/shim.mjs ] || bash scripts/build-worker.sh
status=0
python3 scripts/bench_edge.py "$ITEMS" "$DIR" "$QUERIES" "$CONNECTIONS" || status=$?
# Leave the generated snapshot as generated, for the next run.
cp "$DIR/stamp-pointer.json" "$DIR/bench/serving/current.json"
rm -f "$DIR"/bench/serving/current-*.json
exit $status
