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
# scripts/check.d/ (further checks); each must exit non-zero on failure,
# and each check must print what it ran, as lines `checks[NAME] ran: N`
# (N tests, cases or checks). A folder with no part fails the run.
# It ends with one summary line and fails if any step fails, if a stage ran
# no test, or if a stage ran fewer tests than scripts/expected-tests.txt
# says (lower the number there in the commit that removes tests).
set -euo pipefail
cd "$(dirname "$0")/.."

EXPECTED=scripts/expected-tests.txt

# Each part folder must have parts: an empty one (a bad merge, a rename)
# would otherwise skip its builds or checks without a word.
require_parts() {
  local files=("$1"/*.sh)
  if [ ! -e "${files[0]}" ]; then
    echo "test.sh: $1/ has no *.sh file; each part of the system hooks in there with one" >&2
    exit 1
  fi
}
require_parts scripts/build.d
require_parts scripts/check.d

# The expected counts, read (and their syntax checked) before the long run.
declare -A expected=()
expected_order=()
[ -f "$EXPECTED" ] || { echo "test.sh: $EXPECTED is missing" >&2; exit 1; }
while read -r stage count rest || [ -n "$stage" ]; do
  case $stage in ''|'#'*) continue ;; esac
  if [[ ! $count =~ ^[0-9]+$ ]] || [[ -n $rest && $rest != '#'* ]] \
     || [ -n "${expected[$stage]+set}" ]; then
    echo "test.sh: $EXPECTED: bad line \"$stage $count $rest\" (want \"stage count\", each stage once)" >&2
    exit 1
  fi
  expected[$stage]=$count
  expected_order+=("$stage")
done < "$EXPECTED"

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
  step "build: $part"
  bash "$part"
done

step "native tests"
cargo nextest run "${NATIVE[@]}" --no-fail-fast 2>&1 | tee "$LOG_DIR/native.log"

step "wasm32 vectors (wasm-bindgen-test-runner under Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p media-query-domain --target "$WASM" --test vectors -- --nocapture 2>&1 \
  | tee "$LOG_DIR/wasm.log"

# Further checks (deploy dry runs, template lint...), one file each. Each
# one's output is kept in $LOG_DIR/check-NAME.log for its `checks[...]` lines.
rm -f "$LOG_DIR"/check-*.log
for part in scripts/check.d/*.sh; do
  step "check: $part"
  log="$LOG_DIR/check-$(basename "$part" .sh).log"
  bash "$part" 2>&1 | tee "$log"
  if ! grep -qE '^checks\[[^]]+\] ran: [0-9]+$' "$log"; then
    echo "test.sh: $part printed no \"checks[NAME] ran: N\" line; each check must say what it ran" >&2
    exit 1
  fi
done

# With `set -o pipefail`, a failing step has already stopped the script.
trap - EXIT
print_times
native_passed=$(sed -nE 's/.* tests? run: ([0-9]+) passed.*/\1/p' "$LOG_DIR/native.log" | tail -n1)
wasm_passed=$(sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' "$LOG_DIR/wasm.log" | awk '{s+=$1} END {print s+0}')
vectors_native=$(sed -nE 's/.*vectors\[native\] total: ([0-9]+) cases.*/\1/p' "$LOG_DIR/native.log" | tail -n1)
vectors_wasm=$(sed -nE 's/.*vectors\[wasm32\] total: ([0-9]+) cases.*/\1/p' "$LOG_DIR/wasm.log" | tail -n1)
native_passed=${native_passed:-0}
vectors_native=${vectors_native:-0}
vectors_wasm=${vectors_wasm:-0}

# What each stage ran, under the names scripts/expected-tests.txt uses.
declare -A actual=(
  [native]=$native_passed
  [wasm32]=$wasm_passed
  ["vectors[native]"]=$vectors_native
  ["vectors[wasm32]"]=$vectors_wasm
)
actual_order=(native wasm32 "vectors[native]" "vectors[wasm32]")
checks_total=0
while read -r name n; do
  stage="checks[$name]"
  [ -n "${actual[$stage]+set}" ] || actual_order+=("$stage")
  actual[$stage]=$(( ${actual[$stage]:-0} + n ))
  checks_total=$((checks_total + n))
done < <(cat "$LOG_DIR"/check-*.log | sed -nE 's/^checks\[([^]]+)\] ran: ([0-9]+)$/\1 \2/p')
total=$((native_passed + wasm_passed + checks_total))

echo
echo "native tests: $native_passed passed; wasm32 tests: $wasm_passed passed"
echo "shared vectors: $vectors_native cases native, $vectors_wasm cases wasm32"
echo "checks (scripts/check.d): $checks_total checks and cases ran"

# Each stage against its expected count. Fewer fails the run (a test, a
# vector file or a check that quietly stopped running); more is only noted.
# Schemathesis' cases depend on MAX_EXAMPLES and SEED: with either set, its
# counts are shown but not held to the file.
echo
echo "tests per stage (ran, and expected in $EXPECTED):"
fewer=()
notes=()
for stage in "${actual_order[@]}"; do
  [ -n "${expected[$stage]+set}" ] || expected_order+=("$stage")
done
for stage in "${expected_order[@]}"; do
  ran=${actual[$stage]:-0}
  want=${expected[$stage]:-}
  printf '  %-32s %6d %6s\n' "$stage" "$ran" "${want:-none}"
  if [ -z "$want" ]; then
    notes+=("$stage ran $ran but is not in $EXPECTED: add the line \"$stage $ran\"")
  elif [[ $stage == "checks[schemathesis."* ]] && [ -n "${MAX_EXAMPLES:-}${SEED:-}" ]; then
    [ "$ran" -eq "$want" ] \
      || notes+=("$stage ran $ran (MAX_EXAMPLES/SEED set, so not held to the $want in $EXPECTED)")
  elif [ "$ran" -lt "$want" ]; then
    fewer+=("$stage ran $ran, fewer than the $want in $EXPECTED")
  elif [ "$ran" -gt "$want" ] && [[ $stage != "checks[schemathesis."* ]]; then
    # (Schemathesis' lines are floors below what it makes; see $EXPECTED.)
    notes+=("$stage ran $ran, more than the $want in $EXPECTED: raise it to $ran in this commit")
  fi
done
for note in "${notes[@]}"; do echo "note: $note"; done
for line in "${fewer[@]}"; do echo "FEWER TESTS: $line"; done

if [ "$native_passed" -eq 0 ] || [ "$wasm_passed" -eq 0 ] \
   || [ "$vectors_native" -eq 0 ] || [ "$vectors_native" != "$vectors_wasm" ]; then
  echo "summary: a test stage ran no test, or the targets ran different vectors"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ "${#fewer[@]}" -ne 0 ]; then
  echo "If tests were removed on purpose, lower their numbers in $EXPECTED in the same commit."
  echo "summary: ${#fewer[@]} stage(s) ran fewer tests than $EXPECTED says"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "summary: $total passed, 0 failed"
