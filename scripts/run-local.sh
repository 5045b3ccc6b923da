#!/usr/bin/env bash
# The whole system on this machine, in the foreground, until Ctrl-C:
# moto_server (local AWS), rekognition-local, the Lambda functions under
# `cargo lambda watch`, and the Worker under `wrangler dev`, wired together.
# Settings for `aws`, `curl` or `http` land in .local/stack.env.
#   ./scripts/run-local.sh [--labels model|canned|moto] [--no-edge]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> building the functions, the stack and the Worker"
# The functions built alone, as `cargo lambda watch` builds them, so it
# finds them fresh (the same features as the workspace: see
# lambda/Cargo.toml and scripts/check.d/features.sh).
cargo build -p media-query-lambda --bins
# The stack: after a test run (its log is there), with the test run's own
# selection, which has built it already (ready 22 s after the tests on a
# fresh clone); otherwise alone, the least there is to compile. Built alone
# after the tests it would compile 35 crates again (119 s): the unified
# features of stack/Cargo.toml do not make every one of them match.
if [ -f target/test-logs/native.log ]; then
  cargo build --workspace --bins --tests
else
  cargo build -p media-query-stack
fi
bash scripts/build-worker.sh
exec target/debug/media-query-stack "$@"
