#!/usr/bin/env bash
# The functions and the stack are each built alone as well as with the
# whole workspace (nextest): the functions by `cargo lambda watch` and
# scripts/run-local.sh, the stack by scripts/run-local.sh. Cargo resolves
# features per build, so if a package alone turns on fewer features of a
# shared crate than the workspace does, that crate and everything above it
# is compiled twice (tokio -> hyper -> the AWS SDKs: about two minutes on a
# fresh clone). lambda/Cargo.toml and stack/Cargo.toml name the features
# the other members turn on; this fails, naming the crates, when they drift.
# Prints `checks[features] ran: 2` (one per package) for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

tree() { cargo tree -f '{p} [{f}]' --prefix none "$@" | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u; }
workspace=$(tree --workspace -e normal,build,dev)
for member in lambda stack; do
  alone=$(cd "$member" && tree -e normal,build)
  drift=$(comm -23 <(echo "$alone") <(echo "$workspace"))
  # A crate the workspace builds twice (for the build machine's build
  # scripts and macros, and for the code) with two feature sets: the
  # package alone must build it with the larger one too, not match only the
  # build machine's (either did: 35 crates compiled again for the stack).
  twice=$(python3 - <(echo "$alone") <(echo "$workspace") <<'PY'
import sys
from collections import defaultdict
def sets(path):
    out = defaultdict(list)
    for line in open(path):
        if " [" in line:
            name, features = line.rstrip("\n").split(" [", 1)
            out[name].append(set(filter(None, features.rstrip("]").split(","))))
    return out
alone, workspace = sets(sys.argv[1]), sets(sys.argv[2])
for name, found in sorted(alone.items()):
    largest = max(workspace.get(name, [set()]), key=len)
    if len(workspace.get(name, [])) > 1 and largest not in found:
        print(f"{name} (the workspace also builds it with {','.join(sorted(largest))})")
PY
)
  [ -z "$twice" ] || drift=$(printf '%s\n%s' "$drift" "$twice" | sed '/^$/d')
  if [ -n "$drift" ]; then
    echo "media-query-$member built alone resolves these crates with other features than the workspace does:"
    echo "$drift" | sed 's/^/  /'
    echo "Add the workspace's features for them to $member/Cargo.toml (the unified-features section)."
    exit 1
  fi
  echo "media-query-$member alone and the workspace resolve the same features ($(echo "$alone" | wc -l) crates)"
done
echo "checks[features] ran: 2"
