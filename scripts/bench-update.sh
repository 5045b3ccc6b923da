#!/usr/bin/env bash
# Incremental updates of the serving snapshot at 1M and 10M items: batches
# of 1, 100 and 1,000 changes, uniform or all on one hot label; time, shards
# read, objects and bytes that would be written (bench/src/bin/update-bench.rs).
#   ./scripts/bench-update.sh [SIZES]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile bench -q -p media-query-bench --bin update-bench
exec target/release/update-bench "${1:-1000000,10000000}"
