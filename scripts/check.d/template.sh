#!/usr/bin/env bash
# Lints template.yaml with AWS's own tools: cfn-lint, `sam validate --lint`,
# `sam validate` (SAM's own translator, after the SAM CLI expands the
# template's Fn::ForEach loops as `sam build` does: language_extensions in
# samconfig.toml). The project's own rules for the template (runtime,
# architecture, build, S3 event names, on-failure destinations, outputs,
# log groups and alarms), least privilege (the IAM actions each function
# declares in lambda/src/iam.rs against its statements) and the local
# stack's copies of template settings are Rust tests, in the native run:
# tests/src/template_rules.rs, tests/src/declared_iam.rs and
# tests/src/template_agreement.rs, all reading the template with
# tests/src/template.rs. Tools live in a venv installed from its lock
# (scripts/locks/sam.txt; scripts/tools.sh).
# Prints `checks[template.lint] ran: 3` (cfn-lint, both sam validates) for
# scripts/test.sh.
set -euo pipefail
[ -f template.yaml ] || { echo "template check: template.yaml is missing" >&2; exit 1; }
. scripts/tools.sh
tool_venv sam python -c "import cfnlint, samcli"
VENV=$TOOLS/sam
"$VENV/bin/cfn-lint" template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/sam" validate --lint --template template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/sam" validate --template template.yaml
echo "checks[template.lint] ran: 3"
