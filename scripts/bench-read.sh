#!/usr/bin/env bash
# The read engine natively at 10k, 100k, 1M and 10M items (criterion):
# generates each serving snapshot once under target/bench-snapshots/
# (10M takes a few minutes and about 5 GB of disk), prints the objects a
# request fetches cold and warm, and times trivial, warm and cold requests.
#   ./scripts/bench-read.sh [SIZES]        e.g. 10000,100000
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_ITEMS=${1:-10000,100000,1000000,10000000} \
  cargo bench -p media-query-bench --bench read_engine
