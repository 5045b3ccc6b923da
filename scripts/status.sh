#!/usr/bin/env bash
# What an operator asks first: how many items, how many pending or failed,
# how deep the dead-letter queue is, and which snapshot version is served
# and how old it is. For the local stack (reads .local/stack.env), or for
# a deployed stack with the same variables set (MEDIA_TABLE_NAME,
# SNAPSHOT_BUCKET, SNAPSHOT_PREFIX, and FAILED_EVENTS_QUEUE_URL from the
# stack's outputs). It Scans the table (status only): at millions of items
# that is a real read; in AWS, prefer the MediaFailed and SnapshotDrift
# metrics and the alarms for routine checks.
#   ./scripts/status.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MEDIA_TABLE_NAME:-}" ] && [ -f .local/stack.env ]; then
  set -a; . .local/stack.env; set +a
fi
: "${MEDIA_TABLE_NAME:?set it, or start the local stack (scripts/run-local.sh)}"
python3 - <<'PY'
import collections, datetime, json, os
import boto3

env = os.environ
ddb = boto3.client("dynamodb")
counts = collections.Counter()
for page in ddb.get_paginator("scan").paginate(
        TableName=env["MEDIA_TABLE_NAME"], ProjectionExpression="#s",
        ExpressionAttributeNames={"#s": "status"}):
    for item in page["Items"]:
        counts[item.get("status", {}).get("S", "ready")] += 1
print(f"items:        {sum(counts.values())} "
      f"({counts['ready']} ready, {counts['pending']} pending, "
      f"{counts['failed']} failed, {counts['deleted']} deleted)")

sqs = boto3.client("sqs")
url = env.get("FAILED_EVENTS_QUEUE_URL")
if not url:
    urls = sqs.list_queues(QueueNamePrefix="media-query-failed").get("QueueUrls", [])
    url = urls[0] if urls else None
if url:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    print(f"dead letters: {attrs['Attributes']['ApproximateNumberOfMessages']} ({url})")
else:
    print("dead letters: no queue found (set FAILED_EVENTS_QUEUE_URL)")

s3 = boto3.client("s3")
prefix = env.get("SNAPSHOT_PREFIX", "edge-snapshot").strip("/")
key = f"{prefix}/serving/current.json" if prefix else "serving/current.json"
try:
    m = json.load(s3.get_object(Bucket=env["SNAPSHOT_BUCKET"], Key=key)["Body"])
    created = datetime.datetime.fromisoformat(m["createdAt"].replace("Z", "+00:00"))
    age = datetime.datetime.now(datetime.timezone.utc) - created
    delta = m.get("delta") or {}
    print(f"snapshot:     version {m['version']}, {m['itemCount']} items served, "
          f"{m['shardCount']} shards, delta of {delta.get('entries', 0)} entries, "
          f"written {int(age.total_seconds())} s ago")
except Exception as e:  # no snapshot yet, or no bucket
    print(f"snapshot:     none readable at s3://{env.get('SNAPSHOT_BUCKET')}/{key} ({e})")
PY
