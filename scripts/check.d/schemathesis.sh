#!/usr/bin/env bash
# Schemathesis (scripts/schemathesis.sh) against both real read APIs: the
# edge Worker under `wrangler dev` and the Lambda read API under
# `cargo lambda watch`, on a local stack of their own (canned labels) with a
# few media items whose names need escaping. Fails if either run fails.
# Runs after the native tests, so the Worker bundle and the debug builds
# exist; it builds the stack binary if needed.
#
# Environment: MAX_EXAMPLES (cases per operation and phase, default 100),
# SEED (default fixed, so that CI runs are reproducible), TIME_LIMIT (per
# run, seconds). A failure prints a curl line to reproduce it; the stack's
# logs, each run's output and HAR, and its crashes (for
# `st replay --url URL` from .local/schemathesis-stack/.local/schemathesis-API/
# against a running stack) stay in .local/schemathesis-stack/.local/ until
# the next run.
# Prints `checks[schemathesis.edge] ran: N` and
# `checks[schemathesis.lambda] ran: N` (the test cases each run generated,
# from Schemathesis' summary) for scripts/test.sh; a run whose count cannot
# be read fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
for file in scripts/schemathesis.sh openapi.yaml; do
  [ -f "$file" ] || { echo "schemathesis check: $file is missing" >&2; exit 1; }
done
root=$PWD
started=$SECONDS
export MAX_EXAMPLES=${MAX_EXAMPLES:-100}
export SEED=${SEED:-20260401}
export TIME_LIMIT=${TIME_LIMIT:-300}

# The same selection as the native tests (the whole workspace, tests
# included), so the dependencies resolve to the same features and are
# reused: with `-p media-query-stack`, or without `--tests` (dev-dependency
# features then drop out), cargo compiles tract and the AWS SDKs again,
# which took minutes. This only builds and links the binaries.
cargo build -q --workspace --bins --tests

# The stack keeps its state (stack.env, logs, wrangler's state) in
# <cwd>/.local and finds lambda/, the Worker bundle and wrangler under
# <cwd>. A root of links of its own keeps this stack's stack.env and logs
# apart from a stack run by hand (scripts/run-local.sh, bench-*.sh), which
# writes .local/stack.env.
# Each run starts from a clean state (the last run's logs stay until the
# next), so no stale stack.env is mistaken for this stack's.
home=$root/.local/schemathesis-stack
state=$home/.local
rm -rf "$state"
mkdir -p "$state"
for dir in lambda edge node_modules; do ln -sfn "$root/$dir" "$home/$dir"; done
log=$state/stack.log
# Not a process group leader (no job control here), so setsid execs in
# place: $STACK is the stack, and leads its own session and group.
(cd "$home" && exec setsid "$root/target/debug/media-query-stack" --labels canned) > "$log" 2>&1 &
STACK=$!
stop_stack() {
  # Its services run in process groups of their own; the stack stops them
  # on SIGINT once it is up. Before that, SIGINT kills it outright, so note
  # them first and stop any that outlive it.
  local children
  children=$(ps -o pid= --ppid "$STACK" 2>/dev/null || true)
  kill -INT -- "-$STACK" 2>/dev/null || true
  wait "$STACK" 2>/dev/null || true
  for child in $children; do kill -TERM -- "-$child" 2>/dev/null || true; done
}
trap stop_stack EXIT

for _ in $(seq 300); do
  [ -f "$state/stack.env" ] && break
  kill -0 "$STACK" 2>/dev/null || break
  sleep 1
done
[ -f "$state/stack.env" ] || { tail -n 20 "$log" >&2; echo "the stack did not start; see $log" >&2; exit 1; }
set -a; . "$state/stack.env"; set +a
: "${EDGE_URL:?the stack has no edge (EDGE_URL)}" "${API_URL:?}"
echo "stack up after $((SECONDS - started)) s: edge $EDGE_URL, Lambda $API_URL"

# Names whose paths need escaping, among them the spec's examples of `name`
# (so its examples are 200s, not only 404s), as a few copies of a tiny PNG
# uploaded with plain S3 calls; the stack labels them (canned labels) and
# exports a snapshot, as for any upload.
names_file=$state/seeded-names.json
python3 - "$names_file" <<'PY'
import json, os, struct, sys, zlib
import boto3

def png(rgb):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb))) + chunk(b"IEND", b""))

names = [
    "sample.jpg",
    "my photo(1).JPG",
    "café.png",
    "holiday/2024/beach.jpeg",
    "a+b.png",
    "100% 日本/ü+ %2F.png",
]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for i, name in enumerate(names):
    s3.put_object(Bucket=os.environ["MEDIA_BUCKET_NAME"], Key=name, Body=png((40 * i, 90, 200)),
                  ContentType="image/png")
json.dump(names, open(sys.argv[1], "w"))
PY

# Both APIs list them (the edge reads the snapshot, the Lambda the same
# snapshot or DynamoDB), so both runs see the same data.
wait_listed() {
  python3 - "$names_file" "$EDGE_URL" "$API_URL" <<'PY'
import json, sys, time, urllib.request
wanted = set(json.load(open(sys.argv[1])))
deadline = time.monotonic() + 120
for url in sys.argv[2:]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                listed = {item["name"] for item in json.load(r)}
        except Exception:  # not up yet, or a 5xx: try again
            listed = set()
        if wanted <= listed:
            break
        if time.monotonic() > deadline:
            sys.exit(f"{url} still lacks {sorted(wanted - listed)}")
        time.sleep(0.5)
PY
}
wait_listed
echo "seeded $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$names_file") items, listed by both APIs after $((SECONDS - started)) s"

# One run per API; both run even if the first fails. Schemathesis's
# closing summary has "Test cases:" and then "N generated, ...".
# OPTIONS is left out against the Lambda: `cargo lambda watch` answers every
# OPTIONS request itself (its default CORS layer: a bare 200 with `vary` and
# `access-control-allow-credentials`), so a preflight never reaches the
# function, as deployed behind API Gateway (see openapi.yaml). The edge run
# covers the responder's preflights; other methods reach both.
failed=()
summary=()
ran=()
for target in "edge=$EDGE_URL" "lambda=$API_URL"; do
  name=${target%%=*} url=${target#*=}
  only=()
  if [ "$name" = lambda ]; then only=(--exclude-method OPTIONS); fi
  out=$state/schemathesis-$name.log
  echo
  echo "==> schemathesis against the $name API ($url), MAX_EXAMPLES=$MAX_EXAMPLES SEED=$SEED"
  run_started=$SECONDS
  status=0
  har=$state/schemathesis-$name.har
  rm -f "$har"
  SCHEMATHESIS_STATE=$state/schemathesis-$name \
    bash scripts/schemathesis.sh "$url" "${only[@]}" --generation-database none \
    --report har --report-har-path "$har" 2>&1 | tee "$out" || status=$?
  cases=$(sed -nE '/^Test cases:/,/^$/ s/^ *([0-9]+) generated.*/\1/p' "$out" | head -n1)
  if [ "${cases:-0}" -eq 0 ]; then
    echo "schemathesis: no \"N generated\" under \"Test cases:\" in $out: no case ran, or its summary changed" >&2
    status=1
  fi
  ran+=("checks[schemathesis.$name] ran: ${cases:-0}")
  # Every request went under the base URL (the Lambda's has a path prefix).
  python3 - "$har" "$url" <<'PY' || status=1
import json, sys
urls = [e["request"]["url"] for e in json.load(open(sys.argv[1]))["log"]["entries"]]
outside = [u for u in urls if not u.startswith(sys.argv[2])]
print(f"{len(urls)} requests recorded, {len(outside)} outside {sys.argv[2]}")
for u in outside[:5]:
    print("  outside the base URL:", u)
sys.exit(1 if outside or not urls else 0)
PY
  summary+=("$name: ${cases:-?} test cases in $((SECONDS - run_started)) s, exit $status")
  [ "$status" -eq 0 ] || failed+=("$name")
done

echo
for line in "${summary[@]}"; do echo "schemathesis[$line]"; done
for line in "${ran[@]}"; do echo "$line"; done
echo "schemathesis: the whole check took $((SECONDS - started)) s (build, stack, seeding, both runs)"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "schemathesis: failures against: ${failed[*]} (logs in $state/)" >&2
  exit 1
fi
