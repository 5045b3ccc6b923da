#!/usr/bin/env bash
# Validates openapi.yaml as OpenAPI 3.1 (openapi-spec-validator: the
# document's structure, and every $ref resolves). That the document says
# what the code does (parameters, error codes, headers, limits, examples,
# the shared vectors' bodies) is held by a Rust test against the real
# types and constants, domain/tests/openapi.rs, in the native tests. The
# validator lives in a venv installed from its lock
# (scripts/locks/openapi.txt; scripts/tools.sh).
# Prints `checks[openapi] ran: 1` (the validator) for scripts/test.sh.
set -euo pipefail
[ -f openapi.yaml ] || { echo "openapi check: openapi.yaml is missing" >&2; exit 1; }
. scripts/tools.sh
tool_venv openapi openapi-spec-validator --version
VENV=$TOOLS/openapi
# --schema 3.1 rather than detect: a document that slid back to 3.0 fails.
"$VENV/bin/openapi-spec-validator" --schema 3.1 openapi.yaml
echo "checks[openapi] ran: 1"
