# shellcheck shell=bash
# Sourced by the scripts that keep Python tools in virtualenvs (cfn-lint and
# SAM CLI, Schemathesis, the OpenAPI validator, boto3, ruff, numpy and onnx
# for the model): where those live, and
# `tool_venv NAME`, which makes sure $TOOLS/NAME is installed from its lock.
# Outside the clone, in the user's cache, so a new clone or worktree reuses
# them. Override with MEDIA_QUERY_TOOLS.
#
# Each venv is one dependency group of pyproject.toml, locked with every
# transitive dependency pinned by version and SHA-256 in
# scripts/locks/NAME.txt (written by scripts/lock-python.sh).
TOOLS=${MEDIA_QUERY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/media-query/tools}
mkdir -p "$TOOLS"
TOOLS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# tool_venv NAME [PROBE ARGS...]
# Makes $TOOLS/NAME a venv of exactly scripts/locks/NAME.txt: (re)creates it
# and installs the lock with `pip install --require-hashes --no-deps` when
# the lock's SHA-256 is not the one recorded in the venv (a new or changed
# lock, an unfinished install), when its python no longer runs, or when
# PROBE (a command of the venv's bin/, e.g. `ruff --version`) fails.
# Otherwise it does nothing and prints nothing. First it checks that the
# lock still pins what pyproject.toml's group NAME asks for, so that a group
# edited without scripts/lock-python.sh fails rather than installs the old
# lock.
tool_venv() {
  local name=${1:?usage: tool_venv NAME [PROBE ARGS...]}
  shift
  local lock=$TOOLS_ROOT/scripts/locks/$name.txt venv=$TOOLS/$name sum
  [ -f "$lock" ] || { echo "tool_venv: no lock scripts/locks/$name.txt (run scripts/lock-python.sh $name)" >&2; return 1; }
  python3 - "$TOOLS_ROOT/pyproject.toml" "$lock" "$name" <<'PY' || return 1
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the check is skipped
    sys.exit(0)

pyproject, lock, name = sys.argv[1:]
groups = tomllib.load(open(pyproject, "rb")).get("dependency-groups", {})
if name not in groups:
    sys.exit(f"tool_venv: pyproject.toml has no dependency group {name!r}")


def norm(project):
    return re.sub(r"[-_.]+", "-", project).lower()


locked = {}
for line in open(lock):
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
    if m:
        locked[norm(m[1])] = m[2]
stale = []
for req in groups[name]:
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?\s*==\s*([^\s;]+)", req.strip())
    if not m:
        sys.exit(f"tool_venv: pyproject.toml's group {name}: {req!r} is not pinned with ==")
    if locked.get(norm(m[1])) != m[2]:
        stale.append(req)
if stale:
    sys.exit(
        f"tool_venv: scripts/locks/{name}.txt does not pin {', '.join(stale)} as pyproject.toml's "
        f"group {name} does; run scripts/lock-python.sh {name} and commit the lock"
    )
PY
  sum=$(sha256sum < "$lock" | cut -d' ' -f1)
  if [ "$(cat "$venv/.lock-sha256" 2>/dev/null)" = "$sum" ] \
     && "$venv/bin/python" -c '' 2>/dev/null \
     && { [ $# -eq 0 ] || "$venv/bin/$1" "${@:2}" >/dev/null 2>&1; }; then
    return 0
  fi
  echo "tools: installing $venv from scripts/locks/$name.txt" >&2
  # --clear: exactly the lock, nothing left over from an older one.
  python3 -m venv --clear "$venv" || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$lock" || return 1
  if [ $# -gt 0 ] && ! "$venv/bin/$1" "${@:2}" >/dev/null; then
    echo "tool_venv: $venv/bin/$* fails after installing scripts/locks/$name.txt" >&2
    return 1
  fi
  echo "$sum" > "$venv/.lock-sha256"
}
