#!/usr/bin/env bash
# Builds the Worker bundle (edge/build/worker/shim.mjs + wasm) with
# worker-build, offline: wasm-bindgen from scripts/setup.sh, wasm-opt and
# esbuild from npm (package.json). `wrangler dev`/`deploy` run this.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}
export WASM_OPT_BIN=${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}
export ESBUILD_BIN=${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}
cd "$ROOT/edge"
exec worker-build --release "$@"
