#!/usr/bin/env bash
# cargo-lambda: runs the function binaries behind the Lambda runtime API
# (`cargo lambda watch`) and builds them for deployment (`sam build`).
set -euo pipefail
CARGO_LAMBDA_VERSION=1.9.2
if ! cargo lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
cargo lambda --version
