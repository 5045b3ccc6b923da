#!/usr/bin/env bash
# Bounded load test of rekognition-local's offline model on loopback:
# DetectLabels with Image.Bytes (a 451x300 photo), through HTTP, by wrk,
# at 1, 2 and 4 connections, then the server's peak memory. Needs the model
# (scripts/setup.sh) and wrk (Debian).
#   ./scripts/bench-detector.sh [SECONDS] [PHOTO]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
PHOTO=${2:-models/photos/chelsea.png}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

# Optimised as criterion's benchmarks are (opt-level 3, no LTO).
cargo build --profile bench -p media-query-detector --bin rekognition-local
BIN=target/release/rekognition-local
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x RUST_LOG=warn \
  "$BIN" --listen "127.0.0.1:$PORT" --labeler model > "$work/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
echo "rekognition-local: pid $SERVER, $(grep VmRSS /proc/$SERVER/status | tr -s ' ') after loading the model"

python3 - "$PHOTO" "$work/body.json" <<'PY'
import base64, json, sys
data = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
json.dump({"Image": {"Bytes": data}, "MinConfidence": 55}, open(sys.argv[2], "w"))
PY
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "RekognitionService.DetectLabels"
local f = io.open("$work/body.json", "rb")
wrk.body = f:read("*a")
f:close()
function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    os.exit(1)
  end
end
LUA
echo "one answer: $(curl -fsS -H 'X-Amz-Target: RekognitionService.DetectLabels' \
  -H 'Content-Type: application/x-amz-json-1.1' --data-binary "@$work/body.json" "http://127.0.0.1:$PORT/")"
# Warm-up, then one run per concurrency.
wrk -t1 -c1 -d2s -s "$work/post.lua" "http://127.0.0.1:$PORT/" >/dev/null
for c in 1 2 4; do
  echo "==> $c connection(s), ${SECONDS_PER_RUN}s"
  wrk -t1 -c"$c" -d"${SECONDS_PER_RUN}s" --timeout 10s --latency -s "$work/post.lua" "http://127.0.0.1:$PORT/" \
    | grep -E "^\s+(50|90|99)%|Requests/sec|requests in|Non-2xx"
done
echo "peak memory: $(grep VmHWM /proc/$SERVER/status | tr -s ' ')"
