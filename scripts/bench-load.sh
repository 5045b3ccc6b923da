#!/usr/bin/env bash
# Bounded load test on loopback: warm `GET /?label=Dog` against the edge
# Worker (wrangler dev) and the Lambda read API (cargo lambda watch, debug
# build) over the same 10k items in moto. Needs a built stack
# (scripts/run-local.sh builds it) and `wrk` (apt-get install wrk).
#   ./scripts/bench-load.sh [ITEMS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-10000}
SECONDS_PER_RUN=${2:-15}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

rm -f .local/stack.env
setsid target/debug/media-query-stack --labels moto > .local/bench-stack.log 2>&1 &
STACK=$!
trap 'kill -INT $STACK 2>/dev/null; wait $STACK 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f .local/stack.env ] && break; sleep 1; done
[ -f .local/stack.env ] || { echo "the stack did not start; see .local/bench-stack.log" >&2; exit 1; }
set -a; . .local/stack.env; set +a
INVOKE=${API_URL%/lambda-url/*}

echo "==> loading $ITEMS items (1 in 10 labelled Dog)"
python3 - "$ITEMS" <<'PY'
import os, sys, boto3
# The endpoint from stack.env: AWS_ENDPOINT_URL_DYNAMODB (boto3 reads it).
t = boto3.resource("dynamodb").Table(os.environ["MEDIA_TABLE_NAME"])
with t.batch_writer() as b:
    for i in range(int(sys.argv[1])):
        labels = ["Animal", "Mammal", "Pet"] + (["Dog"] if i % 10 == 0 else ["Cat"])
        b.put_item(Item={"name": f"photos/{i:06}.jpg", "type": "image", "labels": labels})
PY
curl -fsS -X POST "$INVOKE/2015-03-31/functions/export-writer/invocations" -d '{}' >/dev/null
sleep 2
# The first request after a new export fetches and decodes it in the isolate.
echo "first edge request (fetch + decode of the new snapshot): $(curl -fsS -o /dev/null -w '%{time_total}' "${EDGE_URL}?label=Dog") s"
echo "second edge request (warm):                             $(curl -fsS -o /dev/null -w '%{time_total}' "${EDGE_URL}?label=Dog") s"
for url in "${EDGE_URL}?label=Dog" "${API_URL}?label=Dog"; do
  n=$(curl -fsS "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "$url -> $n items"
done
echo "==> edge (wrangler dev), ${SECONDS_PER_RUN}s, 4 connections"
wrk -t1 -c4 -d"${SECONDS_PER_RUN}s" --latency "${EDGE_URL}?label=Dog"
echo "==> Lambda read API (cargo lambda watch, debug), ${SECONDS_PER_RUN}s, 4 connections"
wrk -t1 -c4 -d"${SECONDS_PER_RUN}s" --timeout 30s --latency "${API_URL}?label=Dog"
