#!/usr/bin/env bash
# Builds the Worker bundle once; the black-box tests run it under wrangler dev.
set -euo pipefail
bash scripts/build-worker.sh
wasm=edge/build/index_bg.wasm
echo "worker bundle: $(stat -c %s "$wasm") bytes of wasm, $(gzip -9c "$wasm" | wc -c) gzipped"
