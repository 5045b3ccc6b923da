#!/usr/bin/env bash
# `wrangler deploy --dry-run` of the committed wrangler.toml: the real
# deploy path, without an account. Twice:
#  1. a plain `wrangler deploy` (no --env, the top level): it must bundle,
#     and bind none of the local environment's placeholders (table, bucket,
#     region, endpoint), so it cannot publish them;
#  2. `--env local`, with them (what `wrangler dev --env local` serves).
# (The production configuration is dry-run by check.d/deploy.sh.)
# Prints `checks[edge.dry-run] ran: 2` for scripts/test.sh.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The bundle is already built (scripts/build.d/edge.sh); skip wrangler's build step.
sed '/^\[build\]/,/^$/d' wrangler.toml > "$out/wrangler.toml"
sed -i "s|^main = \"|main = \"$PWD/|" "$out/wrangler.toml"
dry_run() {  # log, wrangler arguments...
  local log=$1; shift
  WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$out/dist" \
    --config "$out/wrangler.toml" "$@" 2>&1 | tee "$log"
}
# The local environment's vars that the top level does not have.
placeholders=$(python3 - <<'PY'
import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
c = tomllib.load(open("wrangler.toml", "rb"))
local = c["env"]["local"].get("vars", {})
print(" ".join(k for k in local if k not in c.get("vars", {})))
PY
)
[ -n "$placeholders" ] || { echo "edge check: wrangler.toml has no [env.local.vars] placeholders" >&2; exit 1; }

dry_run "$out/top.log"
for var in $placeholders; do
  if grep -q "env\.$var " "$out/top.log"; then
    echo "edge check: a plain \`wrangler deploy\` would bind the local placeholder $var" >&2; exit 1
  fi
done
echo "plain wrangler deploy: none of the local placeholders ($placeholders) is bound"

dry_run "$out/local.log" --env local
for var in $placeholders; do
  grep -q "env\.$var " "$out/local.log" || { echo "edge check: --env local does not bind $var" >&2; exit 1; }
done
echo "checks[edge.dry-run] ran: 2"
