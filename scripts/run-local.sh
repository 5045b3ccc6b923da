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
# Each built alone, as `cargo lambda watch` builds the functions, so it
# finds them fresh. Both resolve the workspace's features (their
# unified-features sections, held by scripts/check.d/features.sh), so
# after a test run only the stack itself is compiled again.
cargo build -p media-query-lambda --bins
cargo build -p media-query-stack
bash scripts/build-worker.sh
exec target/debug/media-query-stack "$@"
