#!/usr/bin/env bash
# Local ingest throughput: N uploads (default 2,000) through the local stack
# with rekognition-local's canned labels, from the first PUT until every
# upload is listed by the read API, which reads the serving snapshot that
# the table's stream keeps current. Bounded: gives up after 10 minutes.
#
# The stack and its functions are optimised builds (the `quick-release`
# profile; the first run builds them, ~10 minutes), as Lambda runs them.
# A warm-up of WARMUP uploads (default 200) comes first and is not timed:
# `cargo lambda watch` starts each function instance with `cargo run`,
# seconds of CPU each, which Lambda's cold starts are not. It prints the
# CPU seconds each process of the stack used during the timed run.
#   ./scripts/bench-ingest.sh [N] [CLIENT_THREADS] [WARMUP]
# PROFILE=dev runs debug builds instead (no optimised build to wait for,
# when profiling moto, say).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
THREADS=${2:-16}
WARMUP=${3:-200}
PROFILE=${PROFILE:-quick-release}
OUT_DIR=$PROFILE; [ "$PROFILE" = dev ] && OUT_DIR=debug
STATE=.local/bench-ingest
rm -rf "$STATE" && mkdir -p "$STATE"
for d in lambda edge node_modules models; do [ -e "$d" ] && ln -s "$PWD/$d" "$STATE/$d"; done
cargo build -q --profile "$PROFILE" -p media-query-stack --bin media-query-stack
(cd lambda && cargo build -q --profile "$PROFILE" --bins)
(cd "$STATE" && exec setsid "$OLDPWD/target/$OUT_DIR/media-query-stack" \
  --labels canned --no-edge --profile "$PROFILE") > "$STATE/stack.log" 2>&1 &
STACK=$!
trap 'kill -INT -- -$STACK 2>/dev/null; wait $STACK 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f "$STATE/.local/stack.env" ] && break; sleep 1; done
[ -f "$STATE/.local/stack.env" ] || { echo "the stack did not start; see $STATE/stack.log" >&2; exit 1; }
set -a; . "$STATE/.local/stack.env"; set +a
python3 - "$N" "$THREADS" "$WARMUP" "$STACK" <<'PY'
import collections, io, json, os, struct, subprocess, sys, time, urllib.request, zlib
from concurrent.futures import ThreadPoolExecutor
import boto3

n, threads, warmup, session = (int(a) for a in sys.argv[1:5])
def png():
    raw = b"\x00\xff\x00\x00"
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
body = png()
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
bucket = os.environ["MEDIA_BUCKET_NAME"]
api = os.environ["API_URL"]

def listed(prefix):
    count, url = 0, api + f"?startswith={prefix}&limit=1000"
    while url:
        with urllib.request.urlopen(url, timeout=30) as r:
            count += len(json.load(r))
            link = r.headers.get("link")
        # Link: </?...>; rel="next", relative to the API's root.
        url = api + link[2:link.index(">")] if link else None
    return count

def cpu_seconds():
    """CPU seconds used so far by each live process of the stack's session."""
    out = subprocess.run(["ps", "-o", "pid=,comm=,times=", "-s", str(session)],
                         capture_output=True, text=True).stdout
    return {(int(pid), comm): int(t) for pid, comm, t in
            (line.split() for line in out.splitlines() if len(line.split()) == 3)}

def ingest(prefix, count):
    """Uploads `count` files under `prefix`; (PUT seconds, seconds until all
    listed, listed, failed list requests)."""
    start = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"{prefix}{i:06}.png", Body=body),
                      range(count)))
    uploaded = time.time() - start
    seen, errors = 0, 0
    while time.time() - start < 600:
        try:
            seen = listed(prefix)
        except OSError as e:  # a 5xx or a dropped connection: count it, ask again
            errors += 1
            print(f"read API: {e}", file=sys.stderr)
        if seen >= count:
            break
        time.sleep(0.5)
    return uploaded, time.time() - start, seen, errors

if warmup:
    _, took, seen, _ = ingest("warmup/", warmup)
    print(f"warm-up: {seen} of {warmup} uploads listed after {took:.1f} s")
    if seen < warmup:
        sys.exit(1)
before, client = cpu_seconds(), time.process_time()
uploaded, took, seen, errors = ingest("ingest/", n)
after = cpu_seconds()
print(f"{n} uploads ({threads} client threads): all PUT in {uploaded:.1f} s; "
      f"{seen} listed after {took:.1f} s: {seen / took:.1f} uploads/s end to end "
      f"({errors} failed list requests on the way)")
used = collections.Counter()
for (pid, comm), t in after.items():
    used[comm] += t - before.get((pid, comm), 0)
print(f"CPU seconds in those {took:.0f} s (2 cores: {2 * took:.0f} available), by process:")
used["(this client: boto3 PUTs, list requests)"] = round(time.process_time() - client)
for comm, t in used.most_common():
    if t:
        print(f"  {t:5d}  {comm}")
sys.exit(0 if seen >= n else 1)
PY
