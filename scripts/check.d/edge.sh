#!/usr/bin/env bash
# `wrangler deploy --dry-run`: the real deploy path, without an account.
# Prints `checks[edge.dry-run] ran: 1` for scripts/test.sh.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The bundle is already built (scripts/build.d/edge.sh); skip wrangler's build step.
sed '/^\[build\]/,/^$/d' wrangler.toml > "$out/wrangler.toml"
sed -i "s|^main = \"|main = \"$PWD/|" "$out/wrangler.toml"
WRANGLER_SEND_METRICS=false node_modules/.bin/wrangler deploy --dry-run --outdir "$out/dist" --config "$out/wrangler.toml"
echo "checks[edge.dry-run] ran: 1"
