#!/usr/bin/env bash
# Lints every Python file of the repository with ruff, configured in
# pyproject.toml (pycodestyle and pyflakes: unused and undefined names,
# shadowing, style). ruff lives in a venv installed from its lock
# (scripts/locks/ruff.txt; scripts/tools.sh).
# Prints `checks[python.lint] ran: N` (the files linted) for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f pyproject.toml ] || { echo "python lint: pyproject.toml is missing" >&2; exit 1; }
. scripts/tools.sh
tool_venv ruff ruff --version
VENV=$TOOLS/ruff
mapfile -t files < <(git ls-files '*.py')
[ "${#files[@]}" -gt 0 ] || { echo "python lint: no Python file found" >&2; exit 1; }
"$VENV/bin/ruff" check "${files[@]}"
echo "checks[python.lint] ran: ${#files[@]}"
