#!/usr/bin/env bash
# The deploy wiring (scripts/deploy_wiring.py), without an account:
#  1. its tests against a recorded `describe-stacks` answer
#     (scripts/fixtures/describe-stacks.json), held to wrangler.toml,
#     samconfig.toml and the Worker's settings (scripts/worker-settings.json)
#     (that answer and scripts/teardown-resources.json are held to
#     template.yaml by a Rust test in the native run,
#     tests/src/template_deploy.rs; the settings file to the names the
#     Worker reads, domain/src/worker_settings.rs, by another,
#     tests/src/deploy_settings.rs);
#  2. `wrangler deploy --dry-run` with the configuration it generates from
#     that answer, as scripts/deploy.sh would deploy it (the bundle is
#     prebuilt by scripts/build.d/edge.sh, so wrangler's build step is left out).
# The standard library only: python3 (3.11+, for tomllib), as deploy.sh uses.
# Prints `checks[deploy.unittest] ran: N` (the tests unittest ran) and
# `checks[deploy.dry-run] ran: 1` for scripts/test.sh.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in scripts/
# A missing test file would make unittest discover nothing, not fail.
for file in scripts/test_deploy_wiring.py scripts/deploy_wiring.py scripts/teardown-resources.json \
            scripts/worker-settings.json scripts/fixtures/describe-stacks.json; do
  [ -f "$file" ] || { echo "deploy check: $file is missing" >&2; exit 1; }
done
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "deploy check: python3 is $(python3 -V 2>&1); the wiring's tests need 3.11+ (tomllib)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 -m unittest discover -s scripts -p test_deploy_wiring.py -v 2>&1 \
  | tee "$out/unittest.log"
ran=$(sed -nE 's/^Ran ([0-9]+) tests? in .*/\1/p' "$out/unittest.log" | tail -n1)
[ "${ran:-0}" -gt 0 ] || { echo "deploy check: test_deploy_wiring.py ran no test" >&2; exit 1; }
echo "checks[deploy.unittest] ran: $ran"

[ -f edge/build/worker/shim.mjs ] \
  || { echo "no Worker bundle: run scripts/build.d/edge.sh first" >&2; exit 1; }
config=$out/wrangler.production.jsonc
python3 scripts/deploy_wiring.py worker-config --no-build \
  --describe scripts/fixtures/describe-stacks.json --wrangler-toml wrangler.toml \
  --repo-root "$PWD" --out "$config"
WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run \
  --config "$config" --env production --outdir "$out/dist" 2>&1 | tee "$out/dry-run.log"
# The bindings wrangler would upload are the stack's, not the committed placeholders.
for expect in media-query-MediaTable-1RQ9X4T6PZ0K3 media-query-exportbucket-8wq3kx2m5n1z eu-west-1; do
  grep -q "$expect" "$out/dry-run.log" || { echo "dry run: no $expect among the bindings" >&2; exit 1; }
done
if grep -qF '"media-query-media"' "$out/dry-run.log"; then
  echo "dry run: the committed placeholder MEDIA_TABLE_NAME would be deployed" >&2; exit 1
fi
echo "deploy wiring: dry run of Worker media-query-edge with the stack's vars: ok"
echo "checks[deploy.dry-run] ran: 1"
