#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, the
# nightly toolchain), each for a bounded time. Not part of CI: CI replays the
# committed corpus and the crash regressions on stable
# (domain/tests/fuzz_corpus.rs), with the same checks (fuzz/src/checks.rs).
#
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS each (600)
#   FUZZ_SECONDS=60 scripts/fuzz.sh cursor shard
#   scripts/fuzz.sh --list               the targets
#   scripts/fuzz.sh --regress TARGET FILE [ABOUT]
#                                        record a crash input as a regression
#                                        vector in domain/vectors/fuzz.json
#   scripts/fuzz.sh --replay             replay corpus and regressions (stable)
#
# s3_envelope calls the ingest Lambda's SQS/SNS unwrapping, so it builds the
# Lambda crate and the AWS SDKs (about 15 minutes the first time).
#
# Each target starts from its committed seeds, fuzz/corpus/<target>/ (read
# only), and grows a working corpus in fuzz/work/corpus/<target>/ (not
# committed), kept between runs. Crash inputs land in
# fuzz/artifacts/<target>/. Logs: fuzz/work/logs/<target>.log.
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 600)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang
#                   (default 25)
#   FUZZ_SANITIZER  none (default: the domain crate has no unsafe code, and
#                   runs without AddressSanitizer are faster), address, ...
#   FUZZ_ARGS       more libFuzzer flags, e.g. "-max_len=8192 -dict=..."
#
# Exits non-zero if any target found a crash, a hang or an out-of-memory.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-25}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
FUZZ_ARGS=${FUZZ_ARGS:-}
TOOLCHAIN=nightly

all_targets() {
  sed -nE 's/^name = "([a-z0-9_]+)"$/\1/p' fuzz/Cargo.toml | grep -vx media-query-fuzz
}

regress() {
  local target=$1 file=$2 about=${3:-}
  [ -f "$file" ] || { echo "no such file: $file" >&2; exit 2; }
  all_targets | grep -qx "$target" || { echo "no fuzz target '$target' (scripts/fuzz.sh --list)" >&2; exit 2; }
  python3 - "$target" "$file" "$about" <<'EOF'
import json, sys
target, path, about = sys.argv[1:]
data = open(path, "rb").read()
case = {"target": target}
try:
    case["input"] = data.decode("utf-8")
except UnicodeDecodeError:
    case["input_hex"] = data.hex()
case["about"] = about or "found by scripts/fuzz.sh; say what was wrong and what fixed it"
vectors = "domain/vectors/fuzz.json"
doc = json.load(open(vectors, encoding="utf-8"))
if any({k: v for k, v in c.items() if k != "about"} == {k: v for k, v in case.items() if k != "about"} for c in doc["cases"]):
    print(f"{vectors}: already has this input")
    sys.exit(0)
doc["cases"].append(case)
line = lambda c: "    " + json.dumps(c, ensure_ascii=False)
with open(vectors, "w", encoding="utf-8") as f:
    f.write("{\n  \"about\": " + json.dumps(doc["about"], ensure_ascii=False) + ",\n  \"cases\": [")
    f.write(("\n" + ",\n".join(line(c) for c in doc["cases"]) + "\n  ") if doc["cases"] else "")
    f.write("]\n}\n")
print(f"{vectors}: added case {len(doc['cases']) - 1} ({target}, {len(data)} bytes)")
EOF
  if [ "$target" = s3_envelope ]; then
    echo "(CI does not replay s3_envelope, which needs the Lambda crate: if the bug is in"
    echo "the Lambda's unwrapping, add a test to lambda/ too; if it is in the S3 event"
    echo "parser, the unwrapped notification is an s3_event regression.)"
  fi
  echo "Now edit its \"about\", fix the bug, and where the input fits another vector"
  echo "file (queries.json, api.json \"paths\", s3_events.json, video_jobs.json,"
  echo "codec.json \"export_lines\", export.json) add it there too, with its answer."
  echo "Check: cargo nextest run -p media-query-domain --test fuzz_corpus --test vectors"
}

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  --list) all_targets; exit 0 ;;
  --regress) shift; [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh --regress TARGET FILE [ABOUT]" >&2; exit 2; }
    regress "$@"; exit 0 ;;
  --replay) exec cargo test -p media-query-domain --test fuzz_corpus -- --nocapture ;;
  -*) echo "unknown option $1 (see scripts/fuzz.sh --help)" >&2; exit 2 ;;
esac

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
for t in "${targets[@]}"; do
  all_targets | grep -qx "$t" || { echo "no fuzz target '$t'; targets: $(all_targets | tr '\n' ' ')" >&2; exit 2; }
done

# Tools: the nightly toolchain and cargo-fuzz.
if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
  rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# Build every target once, then run the binaries: `cargo fuzz run` would
# rebuild before each target, and a source edit during a long run would
# then fuzz a different build (or stop the run with a compile error).
FUZZ=(cargo "+$TOOLCHAIN" fuzz)
BUILD_FLAGS=(--sanitizer "$FUZZ_SANITIZER")
HOST=$(rustc "+$TOOLCHAIN" -vV | sed -n 's/^host: //p')
BIN_DIR=fuzz/target/$HOST/release
# s3_envelope calls the ingest Lambda's unwrapping, so it needs the Lambda
# crate (--features lambda): the AWS SDKs make its first build long.
LAMBDA_TARGETS=(s3_envelope)
is_lambda() { printf '%s\n' "${LAMBDA_TARGETS[@]}" | grep -qx "$1"; }
failed=()
unbuilt=()
domain=0
for t in "${targets[@]}"; do is_lambda "$t" || domain=1; done
if [ "$domain" -eq 1 ]; then
  echo "==> building the fuzz targets (nightly, sanitizer: $FUZZ_SANITIZER)"
  if ! "${FUZZ[@]}" build "${BUILD_FLAGS[@]}"; then
    echo "the fuzz targets do not build" >&2
    exit 2
  fi
fi
for t in "${targets[@]}"; do
  is_lambda "$t" || continue
  echo "==> building $t (--features lambda; the first build compiles the AWS SDKs)"
  if ! "${FUZZ[@]}" build "${BUILD_FLAGS[@]}" --features lambda "$t"; then
    echo "$t does not build; the other targets still run" >&2
    unbuilt+=("$t")
    failed+=("$t")
  fi
done

mkdir -p fuzz/work/logs
summary=()
for t in "${targets[@]}"; do
  if printf '%s\n' "${unbuilt[@]}" | grep -qx "$t"; then
    summary+=("$(printf '%-17s %s' "$t" "NOT BUILT")")
    continue
  fi
  work=fuzz/work/corpus/$t
  artifacts=fuzz/artifacts/$t
  log=fuzz/work/logs/$t.log
  mkdir -p "$work" "$artifacts"
  before=$(find "$artifacts" -maxdepth 1 -type f -printf "%f\n" | sort)
  echo
  echo "==> $t: ${FUZZ_SECONDS}s (log: $log)"
  set +e
  # The first corpus directory is where libFuzzer adds what it finds; the
  # committed seeds are only read.
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$BIN_DIR/$t" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" $FUZZ_ARGS \
    "$work" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n1)
  units=$(find "$work" -maxdepth 1 -type f | wc -l)
  new=$(comm -13 <(echo "$before") <(find "$artifacts" -maxdepth 1 -type f -printf "%f\n" | sort) | sed '/^$/d')
  if [ "$rc" -eq 0 ] && [ -z "$new" ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed+=("$t")
    grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|Test unit written|Minimize)' "$log" | head -n 20 || true
    for f in $new; do echo "    crash input: $artifacts/$f"; done
  fi
  line=$(printf '%-17s %9s execs %7s/s  corpus %5s  %s' "$t" "${execs:-?}" "${rate:-?}" "$units" "$result")
  echo "$line"
  summary+=("$line")
done

echo
echo "==> summary (${FUZZ_SECONDS}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  cat <<EOF

${#failed[@]} target(s) failed: ${failed[*]}. For each crash input FILE of TARGET:
  1. reproduce it:  cargo +$TOOLCHAIN fuzz run --sanitizer $FUZZ_SANITIZER TARGET FILE
     (add --features lambda for s3_envelope; the panic message names the
     broken invariant, see fuzz/src/checks.rs and fuzz/src/envelope.rs)
  2. shrink it:     cargo +$TOOLCHAIN fuzz tmin --sanitizer $FUZZ_SANITIZER TARGET FILE
  3. record it:     scripts/fuzz.sh --regress TARGET FILE "what was wrong"
     which adds it to domain/vectors/fuzz.json, replayed in CI by
     domain/tests/fuzz_corpus.rs through the same checks;
  4. fix the bug, add the input to the vector file it fits (with its answer),
     and run: cargo nextest run -p media-query-domain --test fuzz_corpus --test vectors
EOF
  exit 1
fi
echo "no crashes"
