#!/usr/bin/env bash
# Local ingest throughput: N uploads (default 2,000) through the local stack
# with rekognition-local's canned labels, from the first PUT until every
# upload is listed by the read API, which reads the serving snapshot that
# the table's stream keeps current. Bounded: gives up after 10 minutes.
# Needs a built stack (scripts/run-local.sh builds it).
#   ./scripts/bench-ingest.sh [N] [CLIENT_THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
THREADS=${2:-16}
STATE=.local/bench-ingest
rm -rf "$STATE" && mkdir -p "$STATE"
for d in lambda edge node_modules models; do [ -e "$d" ] && ln -s "$PWD/$d" "$STATE/$d"; done
cargo build -q -p media-query-stack --bin media-query-stack
(cd "$STATE" && exec setsid "$OLDPWD/target/debug/media-query-stack" --labels canned --no-edge) > "$STATE/stack.log" 2>&1 &
STACK=$!
trap 'kill -INT -- -$STACK 2>/dev/null; wait $STACK 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f "$STATE/.local/stack.env" ] && break; sleep 1; done
[ -f "$STATE/.local/stack.env" ] || { echo "the stack did not start; see $STATE/stack.log" >&2; exit 1; }
set -a; . "$STATE/.local/stack.env"; set +a
python3 - "$N" "$THREADS" <<'PY'
import io, json, os, struct, sys, time, urllib.request, zlib
from concurrent.futures import ThreadPoolExecutor
import boto3

n, threads = int(sys.argv[1]), int(sys.argv[2])
def png():
    raw = b"\x00\xff\x00\x00"
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
body = png()
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
bucket = os.environ["MEDIA_BUCKET_NAME"]
api = os.environ["API_URL"]

def listed():
    count, url = 0, api + "?startswith=ingest/&limit=1000"
    while url:
        with urllib.request.urlopen(url, timeout=30) as r:
            count += len(json.load(r))
            link = r.headers.get("link")
        # Link: </?...>; rel="next", relative to the API's root.
        url = api + link[2:link.index(">")] if link else None
    return count

start = time.time()
with ThreadPoolExecutor(threads) as pool:
    list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"ingest/{i:06}.png", Body=body), range(n)))
uploaded = time.time() - start
seen, errors = 0, 0
while time.time() - start < 600:
    try:
        seen = listed()
    except OSError as e:  # a 5xx or a dropped connection: count it, ask again
        errors += 1
        print(f"read API: {e}", file=sys.stderr)
    if seen >= n:
        break
    time.sleep(0.5)
took = time.time() - start
print(f"{n} uploads ({threads} client threads): all PUT in {uploaded:.1f} s; "
      f"{seen} listed after {took:.1f} s: {seen / took:.1f} uploads/s end to end "
      f"({errors} failed list requests on the way)")
sys.exit(0 if seen >= n else 1)
PY
