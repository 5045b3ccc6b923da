#!/usr/bin/env bash
# The full rebuild (the hourly reconciliation) at 1M and 10M items: the
# external sort and the streaming build, with time and peak memory
# (bench/src/bin/rebuild-bench.rs).
#   ./scripts/bench-rebuild.sh [SIZES]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile bench -q -p media-query-bench --bin rebuild-bench
for n in $(echo "${1:-1000000,10000000}" | tr ',' ' '); do
  /usr/bin/time -f "peak memory at $n items: %M KB (wall %e s)" target/release/rebuild-bench "$n"
done
