#!/usr/bin/env bash
# The functions and the stack are each built alone as well as with the
# whole workspace (nextest): the functions by `cargo lambda watch` and
# scripts/run-local.sh, the stack by scripts/run-local.sh. Cargo resolves
# features per build, so if a package alone turns on fewer features of a
# shared crate than the workspace does, that crate and everything above it
# is compiled twice (tokio -> hyper -> the AWS SDKs: about two minutes on a
# fresh clone). lambda/Cargo.toml and stack/Cargo.toml name the features
# the other members turn on; this fails, naming the crates, when they drift.
# Prints `checks[features] ran: 2` (one per package) for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

tree() { cargo tree -f '{p} [{f}]' --prefix none "$@" | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u; }
workspace=$(tree --workspace -e normal,build,dev)
for member in lambda stack; do
  alone=$(cd "$member" && tree -e normal,build)
  drift=$(comm -23 <(echo "$alone") <(echo "$workspace"))
  if [ -n "$drift" ]; then
    echo "media-query-$member built alone resolves these crates with other features than the workspace does:"
    echo "$drift" | sed 's/^/  /'
    echo "Add the workspace's features for them to $member/Cargo.toml (the unified-features section)."
    exit 1
  fi
  echo "media-query-$member alone and the workspace resolve the same features ($(echo "$alone" | wc -l) crates)"
done
echo "checks[features] ran: 2"
