#!/usr/bin/env bash
# Lints openapi.yaml: openapi-spec-validator (the document is valid OpenAPI
# 3.1, refs resolve), then the project's own drift check
# (scripts/check_openapi.py: parameters, error codes, headers and constants
# against the Rust source; examples and the shared vectors against the
# schemas). Tools live in a venv installed from its lock
# (scripts/locks/openapi.txt; scripts/tools.sh).
# Prints `checks[openapi] ran: 2` (the validator and the drift check) for
# scripts/test.sh.
set -euo pipefail
for file in openapi.yaml scripts/check_openapi.py; do
  [ -f "$file" ] || { echo "openapi check: $file is missing" >&2; exit 1; }
done
. scripts/tools.sh
tool_venv openapi openapi-spec-validator --version
VENV=$TOOLS/openapi
# --schema 3.1 rather than detect: a document that slid back to 3.0 fails.
"$VENV/bin/openapi-spec-validator" --schema 3.1 openapi.yaml
"$VENV/bin/python" scripts/check_openapi.py openapi.yaml
echo "checks[openapi] ran: 2"
