#!/usr/bin/env bash
# rekognition-local through boto3's own Rekognition client
# (scripts/test_rekognition_boto3.py), so botocore's service model decides
# what a request and an answer are: DetectLabels with Features, Settings
# (label filters, MaxDominantColors) and IMAGE_PROPERTIES, the errors botocore
# and the server raise, and video jobs (SortBy, AggregateBy, filters, paging).
# The server runs with canned labels, reading S3 from a moto_server of its
# own; both on free ports, stopped at the end. The tests run in a venv
# installed from its lock (scripts/locks/boto3.txt; scripts/tools.sh), not
# with the boto3 that moto brings into the system Python. Logs stay in
# .local/detector-boto3/.
# Prints `checks[detector.boto3] ran: N`; fails if a test fails or none ran.
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/tools.sh
tool_venv boto3 python -c "import boto3"

# The same selection as the native tests, so nothing is compiled again with
# other features (see scripts/check.d/schemathesis.sh).
cargo build -q --workspace --bins --tests
bin=${CARGO_TARGET_DIR:-target}/debug/rekognition-local

state=.local/detector-boto3
rm -rf "$state"
mkdir -p "$state"

# Labels in several categories, one under the default MinConfidence.
LABELS="Person:92.5,Dog:81,Mobile Phone:70,Car:66,Faint:20"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PID PORT NAME LOG
wait_port() {
  for _ in $(seq 600); do
    if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$2" 2>/dev/null; then
      return 0
    fi
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$4" >&2
  echo "$3 did not start; see $4" >&2
  return 1
}

pids=()
stop() {
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop EXIT

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=("$!")
wait_port "$!" "$moto_port" moto_server "$state/moto.log"
moto=http://127.0.0.1:$moto_port

rek_port=$(free_port)
AWS_ENDPOINT_URL=$moto AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_EC2_METADATA_DISABLED=true RUST_LOG=info \
  "$bin" --labeler canned --labels "$LABELS" --listen "127.0.0.1:$rek_port" \
  >"$state/rekognition-local.log" 2>&1 &
pids+=("$!")
wait_port "$!" "$rek_port" rekognition-local "$state/rekognition-local.log"

log=$state/unittest.log
status=0
REKOGNITION_URL=http://127.0.0.1:$rek_port S3_ENDPOINT_URL=$moto \
  "$TOOLS/boto3/bin/python" scripts/test_rekognition_boto3.py -v 2>&1 | tee "$log" || status=$?
ran=$(sed -nE 's/^Ran ([0-9]+) tests? in .*/\1/p' "$log" | tail -n 1)
echo "checks[detector.boto3] ran: ${ran:-0}"
# A test skipped here (no server URL) is a test that did not run.
if [ "$status" -ne 0 ] || [ "${ran:-0}" -eq 0 ] || grep -q 'skipped=' "$log"; then
  echo "detector.boto3: failed (logs in $state/)" >&2
  exit 1
fi
