#!/usr/bin/env bash
# Lints template.yaml: cfn-lint, `sam validate --lint`, `sam validate` (SAM's
# own translator, after the SAM CLI expands the template's Fn::ForEach loops
# as `sam build` does: language_extensions in samconfig.toml), and the
# project's own rules (scripts/check_template.py: runtime, build, events,
# destinations, outputs, log groups and alarms; it expands the loops itself:
# scripts/cfn_foreach.py). Least privilege (the IAM actions each function
# declares in lambda/src/iam.rs against its statements) and the local
# stack's copies of template settings are Rust tests, in the native run
# (tests/src/declared_iam.rs, tests/src/template_agreement.rs). Tools live
# in a venv installed from its lock (scripts/locks/sam.txt; scripts/tools.sh).
# Prints `checks[template.lint] ran: 3` (cfn-lint, both sam validates) and
# `checks[template.rules] ran: N` (the functions check_template.py checked)
# for scripts/test.sh.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in scripts/
for file in template.yaml scripts/check_template.py; do
  [ -f "$file" ] || { echo "template check: $file is missing" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. scripts/tools.sh
tool_venv sam python -c "import cfnlint, samcli"
VENV=$TOOLS/sam
"$VENV/bin/cfn-lint" template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/sam" validate --lint --template template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/sam" validate --template template.yaml
echo "checks[template.lint] ran: 3"
"$VENV/bin/python" scripts/check_template.py template.yaml | tee "$out/rules.log"
# Its last line: "template rules: N functions checked, M problems".
functions=$(sed -nE 's/^template rules: ([0-9]+) functions checked.*/\1/p' "$out/rules.log" | tail -n1)
[ "${functions:-0}" -gt 0 ] || { echo "template check: check_template.py checked no function" >&2; exit 1; }
echo "checks[template.rules] ran: $functions"
