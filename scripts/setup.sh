#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, run and test media-query.
# Idempotent: each step checks first. Everything comes from the ordinary
# package registries (rustup, crates.io, PyPI); nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each part of the system adds its own installs in scripts/setup.d/ (one
# file each, run below). An empty folder (a bad merge, a rename) would skip
# them all without a word, so it fails here, before anything is installed.
parts=(scripts/setup.d/*.sh)
if [ ! -e "${parts[0]}" ]; then
  echo "setup: scripts/setup.d/ has no *.sh file; each part of the system hooks in there with one" >&2
  exit 1
fi

WASM_BINDGEN_VERSION=0.2.129   # must equal the `wasm-bindgen` pin in Cargo.toml
MOTO_VERSION=5.2.5

step() { printf '\n==> %s\n' "$*"; }

step "rust target wasm32-unknown-unknown"
rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

# Built from source (minutes of CPU), so in the background while the
# steps below mostly download; waited for at the end.
step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (wasm-bindgen, wasm-bindgen-test-runner)"
BINDGEN_PID=
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  BINDGEN_LOG=$(mktemp)
  echo "building in the background (log: $BINDGEN_LOG)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked >"$BINDGEN_LOG" 2>&1 &
  BINDGEN_PID=$!
fi

step "cargo-nextest"
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

step "moto_server $MOTO_VERSION (local AWS)"
if ! python3 -c "import moto,sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
   || ! command -v moto_server >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# Each part of the system adds its own installs here (one file each).
for part in "${parts[@]}"; do
  step "setup: $part"
  bash "$part"
done

if [ -n "$BINDGEN_PID" ]; then
  step "waiting for wasm-bindgen-cli"
  if ! wait "$BINDGEN_PID"; then
    cat "$BINDGEN_LOG"
    echo "setup: installing wasm-bindgen-cli failed (its log is above)" >&2
    exit 1
  fi
  rm -f "$BINDGEN_LOG"
  wasm-bindgen --version
fi

echo
echo "setup: done"
