#!/usr/bin/env bash
# The Worker under `wrangler dev` over a generated serving snapshot of ITEMS
# items (default 1,000,000), served from local disk by a small S3-protocol
# file server on 127.0.0.1 (moto is far too slow to hold millions of
# objects). Bounded: a fixed number of requests, then it stops.
#
# Reports, per request kind, the latency of a cold and a warm request
# minus that of a trivial request (a 400 answered before any data is read),
# the objects fetched, and the wasm memory after 10,000 random queries
# (the Worker logs `memory.buffer.byteLength` with DEBUG_MEMORY set).
#   ./scripts/bench-edge.sh [ITEMS] [RANDOM_QUERIES]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-1000000}
QUERIES=${2:-10000}
DIR=target/bench-snapshots/$ITEMS
cargo run --release -q -p media-query-bench --bin gen-snapshot -- "$ITEMS" "$DIR"
[ -f edge/build/worker/shim.mjs ] || bash scripts/build-worker.sh
exec python3 scripts/bench_edge.py "$ITEMS" "$DIR" "$QUERIES"
