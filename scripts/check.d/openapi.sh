#!/usr/bin/env bash
# Lints openapi.yaml: openapi-spec-validator (the document is valid OpenAPI
# 3.1, refs resolve), then the project's own drift check
# (scripts/check_openapi.py: parameters, error codes, headers and constants
# against the Rust source; examples and the shared vectors against the
# schemas). Tools live in a venv (scripts/tools.sh).
# Prints `checks[openapi] ran: 2` (the validator and the drift check) for
# scripts/test.sh.
set -euo pipefail
for file in openapi.yaml scripts/check_openapi.py; do
  [ -f "$file" ] || { echo "openapi check: $file is missing" >&2; exit 1; }
done
. scripts/tools.sh
VENV=$TOOLS/openapi
# check_openapi.py imports PyYAML, jsonschema and referencing itself, so they
# are pinned too rather than left to whatever the validator pulls in.
PINS="openapi-spec-validator==0.9.0 PyYAML==6.0.4 jsonschema==4.26.0 referencing==0.37.0"
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ] \
   || ! "$VENV/bin/openapi-spec-validator" --version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # one argument per pin
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS
  echo "$PINS" > "$VENV/.pins"
fi
# --schema 3.1 rather than detect: a document that slid back to 3.0 fails.
"$VENV/bin/openapi-spec-validator" --schema 3.1 openapi.yaml
"$VENV/bin/python" scripts/check_openapi.py openapi.yaml
echo "checks[openapi] ran: 2"
