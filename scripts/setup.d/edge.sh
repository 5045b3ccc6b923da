#!/usr/bin/env bash
# The Worker's toolchain, offline: worker-build from crates.io, and
# wrangler (workerd), wasm-opt (binaryen) and esbuild from npm, pinned in
# package-lock.json. wrangler 4.86 is the last release that runs on Node 20.
set -euo pipefail
WORKER_BUILD_VERSION=0.8.7   # must match the `worker` pin in edge/Cargo.toml
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi
if [ ! -x node_modules/.bin/wrangler ] || ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund
fi
node_modules/.bin/wrangler --version
