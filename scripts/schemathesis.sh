#!/usr/bin/env bash
# Property-based tests of a running read API against openapi.yaml, with
# Schemathesis: every check (server errors, status codes, content types,
# headers, response schemas, positive/negative data, unsupported methods and
# their Allow header), a bounded number of cases per operation.
#
#   scripts/schemathesis.sh BASE_URL [more `schemathesis run` options]
#   scripts/schemathesis.sh http://127.0.0.1:8787/          # wrangler dev
#
# It does not start anything: point it at `wrangler dev` or the local stack
# (scripts/check.d/schemathesis.sh runs it against both of the stack's APIs).
# Against API Gateway expect failures for HEAD, OPTIONS and other methods:
# only GET reaches the function there (see openapi.yaml's description).
# Against `cargo lambda watch` (the stack's API_URL, a base URL with a path,
# which works as is) add `--exclude-method OPTIONS`: its CORS layer answers
# every OPTIONS itself, with a bare 200.
#
# A failure prints a curl line to reproduce it; `st replay ID` works from
# .local/schemathesis/, where the run keeps its state.
# Environment: MAX_EXAMPLES (cases per operation and phase, default 50),
# TIME_LIMIT (seconds for the whole run, default 600), SEED (to replay a run),
# SCHEMATHESIS_STATE (that state directory; each run replaces its crashes,
# so runs against different APIs keep theirs apart).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BASE_URL=${1:?usage: scripts/schemathesis.sh BASE_URL [schemathesis run options]}
shift

. scripts/tools.sh
# Schemathesis lives in a venv installed from its lock
# (scripts/locks/schemathesis.txt).
tool_venv schemathesis schemathesis --version
VENV=$TOOLS/schemathesis

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A cursor is valid only as the API issued it and only with the filters it
# was issued for, a dependency between parameters OpenAPI cannot state. Left
# alone, nearly every generated cursor is (rightly) a 400, which would hide
# what the other parameters do, positive and negative. So this hook turns
# each well-shaped generated cursor into a real one for the case's filters,
# resuming after a generated name, as page.rs and query.rs build them; a
# malformed one (a negative case aimed at `cursor`) is sent as generated. If
# the cursor format changes, positive cases with a cursor fail loudly here.
cat > "$work/hooks.py" <<'PY'
import base64
import hashlib
import re
from urllib.parse import parse_qsl, urlsplit

import schemathesis

WELL_SHAPED = re.compile(r"[A-Za-z0-9_-]{18,}")
FILTERS = ("startswith", "media-type", "label")


def encode_key(text):
    """S3's key encoding, which ListQuery::canonical uses (s3_event::encode_key)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in "-_.~/"):
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def cursor(query, after):
    """page::encode_cursor for ListQuery::canonical of `query`."""
    canonical = "&".join(f"{k}={encode_key(query[k])}" for k in FILTERS if k in query)
    body = b"\x01" + hashlib.sha256(canonical.encode()).digest()[:4] + after.encode()
    body += hashlib.sha256(b"media-query cursor/1" + body).digest()[:8]
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


@schemathesis.hook
def map_case(context, case):
    query = case.query
    if (
        isinstance(query, dict)
        and isinstance(query.get("cursor"), str)
        and WELL_SHAPED.fullmatch(query["cursor"])
        and all(isinstance(query.get(k, ""), str) for k in FILTERS)
    ):
        query["cursor"] = cursor(query, query["cursor"])
    return case


# Schemathesis generates undocumented query parameters in negative cases but
# never holds their acceptance against an API (most ignore them). This one
# promises a 400 (query.rs), so hold it to that. Judged on the query string
# as sent: a generated parameter whose value is None or [] is not sent at
# all (requests drops it), so `case.query` alone would claim parameters the
# API never saw.
@schemathesis.check
def unknown_query_parameter_rejected(ctx, response, case):
    known = {parameter.name for parameter in case.operation.query}
    query = urlsplit(response.request.url).query
    sent = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    unknown = sorted(sent - known)
    if known and unknown and response.status_code != 400:
        raise AssertionError(
            f"Unknown query parameters {unknown} were answered {response.status_code}, not 400"
        )
PY

args=(
  run "$root/openapi.yaml"
  --url "$BASE_URL"
  --checks all
  --max-examples "${MAX_EXAMPLES:-50}"
  --request-timeout 10
  --no-color
)
if [ -n "${SEED:-}" ]; then args+=(--seed "$SEED"); fi
# Hypothesis and Schemathesis keep their databases (and the crashes that
# `st replay` reads) in the working directory: keep them out of the tree.
state=${SCHEMATHESIS_STATE:-.local/schemathesis}
mkdir -p "$state"
cd "$state"
# Not --max-time: in this version a time budget makes the fuzzing and
# stateful phases repeat until it is spent. `timeout` only caps a run.
SCHEMATHESIS_HOOKS="$work/hooks.py" \
  timeout "${TIME_LIMIT:-600}" "$VENV/bin/schemathesis" "${args[@]}" "$@"
