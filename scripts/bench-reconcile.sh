#!/usr/bin/env bash
# The export writer's maintenance paths at scale with S3-like latency
# (bench/src/bin/reconcile-bench.rs): the first full build, a steady-state
# reconciliation, and garbage collection after 10,000 spread-out changes,
# each with its wall time, requests by kind and peak memory.
#   ./scripts/bench-reconcile.sh [SIZES]     (default 1000000,10000000)
# BENCH_S3_LATENCY_MS (default 20) is added to every GET, PUT, LIST page
# and DELETE; BENCH_SCAN_LATENCY_MS (default 20) to every Scan page.
# Needs ~6 GB of disk at 10M items, under target/bench-reconcile/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile bench -q -p media-query-bench --bin reconcile-bench
echo "| items | phase | wall | requests | objects | drift | bucket |"
echo "|---|---|---|---|---|---|---|"
for n in $(echo "${1:-1000000,10000000}" | tr ',' ' '); do
  for phase in first steady gc; do
    # The export writer's metric lines (CloudWatch EMF) are left out.
    /usr/bin/time -f "peak memory of $phase at $n items: %M KB (wall %e s)" \
      target/release/reconcile-bench "$phase" "$n" | grep -v '^{"Function"'
  done
done
