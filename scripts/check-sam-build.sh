#!/usr/bin/env bash
# Runs `sam build` for real and says how long it took: the six Rust
# functions of template.yaml, each `cargo lambda build --release --arm64
# --bin <name>` (BuildMethod rust-cargolambda, Architectures arm64),
# cross-compiled with Zig. Not part of scripts/test.sh: a cold build is
# minutes of CPU (release profile: LTO, one codegen unit).
#
#   scripts/check-sam-build.sh            a cold build, then a warm one (nothing changed)
#   scripts/check-sam-build.sh --warm     keep the previous build's cargo cache
#
# Like scripts/deploy.sh, it runs `sam build` from the repository root, so
# samconfig.toml's [default.build.parameters] apply: language_extensions,
# without which the SAM CLI cannot read template.yaml's Fn::ForEach loops.
# Cargo builds into its own target directory, .local/sam-build-check/target,
# so the time is a cold build's and the test suite's target/ is untouched.
# The built functions land in .local/sam-build-check/build; the times in
# .local/sam-build-check/times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/tools.sh
DIR=$ROOT/.local/sam-build-check
export SAM_CLI_TELEMETRY=0 CARGO_TARGET_DIR=$DIR/target
warm=0
case "${1:-}" in --warm) warm=1 ;; "") ;; *) echo "usage: $0 [--warm]" >&2; exit 2 ;; esac

die() { echo "check-sam-build: $*" >&2; exit 1; }

# The SAM CLI the template lint uses (scripts/locks/sam.txt).
tool_venv sam sam --version
SAM=$TOOLS/sam/bin/sam
command -v cargo-lambda >/dev/null || die "cargo-lambda is missing: python3 -m pip install cargo-lambda==1.9.2 (scripts/setup.d/lambda.sh)"
command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 \
  || die "zig is missing: python3 -m pip install ziglang"
# Added here so that the download is not part of the time (cargo-lambda
# would add it itself).
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu
fi
echo "sam: $("$SAM" --version); $(cargo-lambda lambda --version 2>/dev/null || cargo lambda --version); zig $(zig version 2>/dev/null || python3 -m ziglang version)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

mkdir -p "$DIR"
[ "$warm" = 1 ] || rm -rf "$DIR/target" "$DIR/build"

run() {  # label
  local start end
  start=$(date +%s.%N)
  "$SAM" build --template-file template.yaml --build-dir "$DIR/build" > "$DIR/$1.log" 2>&1 \
    || { tail -n 40 "$DIR/$1.log" >&2; die "sam build failed (log: $DIR/$1.log)"; }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", e - s }'
}

first=$(run build-1)
label=$([ "$warm" = 1 ] && echo warm || echo cold)
second=$(run build-2)

# Every function built, for arm64.
for fn in ObjectCreatedFunction ObjectRemovedFunction VideoJobCompleteFunction ReadApiFunction ExportWriterFunction PendingSweeperFunction; do
  bin=$DIR/build/$fn/bootstrap
  [ -x "$bin" ] || die "no $bin"
  arch=$(file -b "$bin" 2>/dev/null | grep -o 'ARM aarch64' || true)
  [ -n "$arch" ] || ! command -v file >/dev/null || die "$bin is not an arm64 binary: $(file -b "$bin")"
  printf '  %-26s %6s KB  %s\n' "$fn" "$(( $(stat -c %s "$bin") / 1024 ))" "${arch:-?}"
done

{
  echo "$(date -u +%FT%TZ) sam build, 6 functions, arm64, $(nproc) cores:"
  echo "  $label: ${first} s"
  echo "  again, nothing changed: ${second} s"
} | tee -a "$DIR/times.txt"
