#!/usr/bin/env bash
# The test command of media-query (see README.md). It installs what it
# needs (scripts/setup.sh), then runs, in order:
#   1. cargo fmt --check
#   2. clippy -D warnings, native and wasm32
#   3. the native tests (nextest): unit, vectors, properties, black-box
#      tests against real local servers
#   4. the shared vectors again, compiled to wasm32, under Node
# (the Worker's wasm32 release build is a build step, scripts/build.d/).
# Parts of the system hook in with one file each in scripts/setup.d/
# (installs), scripts/build.d/ (builds the black-box tests need) and
# scripts/check.d/ (further checks); each must exit non-zero on failure.
# It ends with one summary line and fails if any step fails or no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed when the next starts and summed up at the
# end, so a slow step shows in every run's log.
STEP_NAME="setup"
STEP_START=$(date +%s)
SUITE_START=$STEP_START
TIMES=""
step_done() {
  local now; now=$(date +%s)
  TIMES+="$(printf '%6d s  %s' $((now - STEP_START)) "$STEP_NAME")"$'\n'
  STEP_START=$now
}
step() { step_done; STEP_NAME="$*"; printf '\n==> %s\n' "$*"; }
print_times() {
  step_done
  echo
  echo "time per step:"
  printf '%s' "$TIMES"
  printf '%6d s  in all\n' $(($(date +%s) - SUITE_START))
}
# When a step fails, too (on success they come before the summary line).
trap print_times EXIT

bash scripts/setup.sh

LOG_DIR=${LOG_DIR:-target/test-logs}
mkdir -p "$LOG_DIR"
export CARGO_TERM_COLOR=never
WASM=wasm32-unknown-unknown
NATIVE=(--workspace)
WASM_CRATES=(-p media-query-domain -p media-query-edge)

step "format"
cargo fmt --all --check

step "clippy (native)"
cargo clippy "${NATIVE[@]}" --all-targets -- -D warnings
step "clippy (wasm32)"
cargo clippy "${WASM_CRATES[@]}" --target "$WASM" --all-targets -- -D warnings

# Build steps the black-box tests need (e.g. the Worker bundle).
for part in scripts/build.d/*.sh; do
  [ -e "$part" ] || continue
  step "build: $part"
  bash "$part"
done

step "native tests"
cargo nextest run "${NATIVE[@]}" --no-fail-fast 2>&1 | tee "$LOG_DIR/native.log"

step "wasm32 vectors (wasm-bindgen-test-runner under Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p media-query-domain --target "$WASM" --test vectors -- --nocapture 2>&1 \
  | tee "$LOG_DIR/wasm.log"

# Further checks (deploy dry runs, template lint...), one file each.
for part in scripts/check.d/*.sh; do
  [ -e "$part" ] || continue
  step "check: $part"
  bash "$part"
done

# With `set -o pipefail`, a failing step has already stopped the script.
trap - EXIT
print_times
native_passed=$(sed -nE 's/.* tests? run: ([0-9]+) passed.*/\1/p' "$LOG_DIR/native.log" | tail -n1)
wasm_passed=$(sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' "$LOG_DIR/wasm.log" | awk '{s+=$1} END {print s+0}')
vectors_native=$(sed -nE 's/.*vectors\[native\] total: ([0-9]+) cases.*/\1/p' "$LOG_DIR/native.log" | tail -n1)
vectors_wasm=$(sed -nE 's/.*vectors\[wasm32\] total: ([0-9]+) cases.*/\1/p' "$LOG_DIR/wasm.log" | tail -n1)
native_passed=${native_passed:-0}
total=$((native_passed + wasm_passed))

echo
echo "native tests: $native_passed passed; wasm32 tests: $wasm_passed passed"
echo "shared vectors: ${vectors_native:-0} cases native, ${vectors_wasm:-0} cases wasm32"
if [ "$native_passed" -eq 0 ] || [ "$wasm_passed" -eq 0 ] \
   || [ "${vectors_native:-0}" -eq 0 ] || [ "${vectors_native:-0}" != "${vectors_wasm:-0}" ]; then
  echo "summary: a test stage ran no test, or the targets ran different vectors"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "summary: $total passed, 0 failed"
