#!/usr/bin/env bash
# Lints template.yaml: cfn-lint, `sam validate --lint`, and the project's own
# rules (scripts/check_template.py). Tools live in a venv (scripts/tools.sh).
set -euo pipefail
. scripts/tools.sh
VENV=$TOOLS/sam
CFN_LINT=1.58.0
SAM_CLI=1.170.0
if ! "$VENV/bin/cfn-lint" --version 2>/dev/null | grep -q "$CFN_LINT" \
   || ! "$VENV/bin/sam" --version 2>/dev/null | grep -q "$SAM_CLI"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT" "aws-sam-cli==$SAM_CLI"
fi
"$VENV/bin/cfn-lint" template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/sam" validate --lint --template template.yaml
"$VENV/bin/python" scripts/check_template.py template.yaml
