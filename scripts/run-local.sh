#!/usr/bin/env bash
# Runs what exists of the system locally: a moto_server (local AWS) on
# 127.0.0.1 with the media table and bucket created, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
PORT=${PORT:-5000}
if ! python3 - "$PORT" <<'PY'
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()
PY
then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
moto_server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null; wait $MOTO 2>/dev/null' EXIT INT TERM
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
for _ in $(seq 100); do curl -fs "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
aws dynamodb create-table --table-name media --billing-mode PAY_PER_REQUEST \
  --attribute-definitions AttributeName=name,AttributeType=S \
  --key-schema AttributeName=name,KeyType=HASH >/dev/null
aws s3 mb s3://media >/dev/null
mkdir -p .local
cat > .local/stack.env <<ENV
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_REGION=$AWS_REGION
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
MEDIA_BUCKET_NAME=media
MEDIA_TABLE_NAME=media
ENV
echo "local AWS (moto) ready at $AWS_ENDPOINT_URL; settings in .local/stack.env. Ctrl-C stops it."
wait $MOTO
