#!/usr/bin/env bash
# Lints every Python file of the repository with ruff, configured in
# pyproject.toml (pycodestyle and pyflakes: unused and undefined names,
# shadowing, style). ruff is pinned and lives in a venv (scripts/tools.sh).
# Prints `checks[python.lint] ran: N` (the files linted) for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f pyproject.toml ] || { echo "python lint: pyproject.toml is missing" >&2; exit 1; }
. scripts/tools.sh
VENV=$TOOLS/ruff
PINS="ruff==0.14.0"
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ] || ! "$VENV/bin/ruff" --version >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # one argument per pin
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS
  echo "$PINS" > "$VENV/.pins"
fi
mapfile -t files < <(git ls-files '*.py')
[ "${#files[@]}" -gt 0 ] || { echo "python lint: no Python file found" >&2; exit 1; }
"$VENV/bin/ruff" check "${files[@]}"
echo "checks[python.lint] ran: ${#files[@]}"
