#!/usr/bin/env bash
# The functions are built twice in a test run: with the whole workspace
# (nextest) and alone (`cargo lambda watch`, scripts/run-local.sh). Cargo
# resolves features per build, so if the lambda package alone turns on fewer
# features of a shared crate than the workspace does, that crate and
# everything above it is compiled twice (tokio -> hyper -> the AWS SDKs:
# about two minutes on a fresh clone). lambda/Cargo.toml names the features
# the other members turn on; this fails, naming the crates, when they drift.
# Prints `checks[features] ran: 1` for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

tree() { cargo tree -f '{p} [{f}]' --prefix none "$@" | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u; }
alone=$(cd lambda && tree -e normal,build)
workspace=$(tree --workspace -e normal,build,dev)
drift=$(comm -23 <(echo "$alone") <(echo "$workspace"))
if [ -n "$drift" ]; then
  echo "media-query-lambda built alone resolves these crates with other features than the workspace does:"
  echo "$drift" | sed 's/^/  /'
  echo "Add the workspace's features for them to lambda/Cargo.toml (the unified-features section)."
  exit 1
fi
echo "media-query-lambda alone and the workspace resolve the same features ($(echo "$alone" | wc -l) crates)"
echo "checks[features] ran: 1"
