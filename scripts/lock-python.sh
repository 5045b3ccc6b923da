#!/usr/bin/env bash
# Locks the Python tools: resolves each dependency group of pyproject.toml
# (one per tool venv, scripts/tools.sh) into scripts/locks/GROUP.txt, every
# package, transitive ones included, pinned by version and by the SHA-256 of
# each of its files on PyPI. Resolved for CPython 3.11 on Linux x86_64, the
# python3 of the CI image. With `uv pip compile`, uv installed by pip into a
# throwaway venv. Needs PyPI.
#
#   scripts/lock-python.sh                 every group
#   scripts/lock-python.sh GROUP...        only these (e.g. after editing a group)
#   UPGRADE=1 scripts/lock-python.sh ...   move the transitive pins too
#
# An existing lock's versions are kept wherever they still satisfy the
# group (uv takes them as preferences), so editing one group's pin moves
# only what it must; UPGRADE=1 resolves afresh, to the newest versions that
# fit. The groups' own pins are exact (==). Commit the locks with the
# pyproject.toml change; the next run of each tool reinstalls its venv
# (tool_venv notices the lock's new SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON_VERSION=3.11
PLATFORM=x86_64-unknown-linux-gnu
LOCKS=scripts/locks

mapfile -t all < <(python3 -c '
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["dependency-groups"]))')
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=("${all[@]}")
for group in "${groups[@]}"; do
  printf '%s\n' "${all[@]}" | grep -qxF -- "$group" \
    || { echo "lock-python: pyproject.toml has no dependency group $group (it has: ${all[*]})" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
export UV_CACHE_DIR=$work/cache UV_NO_CONFIG=1
upgrade=()
[ -z "${UPGRADE:-}" ] || upgrade=(--upgrade)

mkdir -p "$LOCKS"
for group in "${groups[@]}"; do
  echo "lock-python: $LOCKS/$group.txt"
  "$work/venv/bin/uv" pip compile --quiet --group "pyproject.toml:$group" \
    --python-version "$PYTHON_VERSION" --python-platform "$PLATFORM" \
    --generate-hashes --index-url https://pypi.org/simple ${upgrade[@]+"${upgrade[@]}"} \
    --custom-compile-command "scripts/lock-python.sh $group" \
    --output-file "$LOCKS/$group.txt"
done
# A lock no group asks for any more would be a venv nothing updates.
for lock in "$LOCKS"/*.txt; do
  group=$(basename "$lock" .txt)
  printf '%s\n' "${all[@]}" | grep -qxF -- "$group" \
    || echo "lock-python: $lock has no group in pyproject.toml; delete it (and its users)" >&2
done
