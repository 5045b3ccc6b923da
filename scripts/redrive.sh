#!/usr/bin/env bash
# Redrives the dead-letter queue (the stack's FailedEventsQueueUrl output):
# once the cause of the failures is fixed, every failed event is given to
# its function again.
#   ./scripts/redrive.sh [--dry-run] [--max N]
# For the local stack (reads .local/stack.env), or for a deployed stack
# with FAILED_EVENTS_QUEUE_URL (and the usual AWS credentials) set.
#
# What the queue holds, and what happens to it:
# * Lambda's invocation record of an asynchronous event (S3 notifications,
#   SNS job notices: `requestContext.functionArn` and `requestPayload`):
#   the function is invoked again with the same event, synchronously, so
#   the answer is known. Replaying is safe: every write is conditional on
#   the event's order, so an event that is stale by now changes nothing.
#   Succeeded: the message is deleted. Failed again: it is kept, and its
#   error printed.
# * The record of a stream batch that failed for good (`DDBStreamBatchInfo`):
#   the batch's changes are not in the record, so the export writer's
#   reconciliation is run once instead; it rebuilds the serving snapshot
#   from the table, which covers every such batch. Succeeded: those
#   messages are deleted.
# * Anything else is left in the queue and reported.
# Exits non-zero if anything was left. --dry-run lists without invoking.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FAILED_EVENTS_QUEUE_URL:-}" ] && [ -f .local/stack.env ]; then
  set -a; . .local/stack.env; set +a
fi
: "${FAILED_EVENTS_QUEUE_URL:?set it to the FailedEventsQueueUrl output of the stack, or start the local stack}"
exec python3 - "$@" <<'PY'
import argparse, json, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

parser = argparse.ArgumentParser(prog="redrive.sh")
parser.add_argument("--dry-run", action="store_true", help="list what would be redriven")
parser.add_argument("--max", type=int, default=1000, help="at most this many messages")
args = parser.parse_args()

url = os.environ["FAILED_EVENTS_QUEUE_URL"]
sqs = boto3.client("sqs")
lambdas = {}

def invoke(function_arn, payload):
    """(ok, answer) of a synchronous invocation; the function by name, in the ARN's region."""
    parts = function_arn.split(":")
    name = parts[6] if len(parts) >= 7 else function_arn
    region = parts[3] if len(parts) >= 7 and parts[3] else None
    client = lambdas.get(region) or lambdas.setdefault(region, boto3.client(
        "lambda", region_name=region,
        # One retry of throttling or a service error; a function error is
        # an answer, not retried (`cargo lambda watch` gives it as a 500).
        config=Config(retries={"mode": "standard", "max_attempts": 2}, read_timeout=900)))
    try:
        out = client.invoke(FunctionName=name, InvocationType="RequestResponse",
                            Payload=json.dumps(payload).encode())
    except ClientError as e:
        return False, str(e)
    body = out["Payload"].read().decode() or "null"
    failed = "FunctionError" in out or '"errorType"' in body
    return not failed, body

# Messages stay invisible for the whole run once received, so each is seen
# once even when it is kept.
seen, done, kept, reconcile = 0, 0, [], {}
while seen < args.max:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, args.max - seen),
                              WaitTimeSeconds=1, VisibilityTimeout=900).get("Messages", [])
    if not got:
        break
    for m in got:
        seen += 1
        try:
            record = json.loads(m["Body"])
        except ValueError:
            record = None
        ctx = record.get("requestContext", {}) if isinstance(record, dict) else {}
        function = ctx.get("functionArn")
        if function and "requestPayload" in record:
            error = record.get("responsePayload")
            print(f"event for {function} ({ctx.get('condition')}, {ctx.get('approximateInvokeCount')} attempts): {json.dumps(error)[:300]}")
            if args.dry_run:
                kept.append(m)
                continue
            ok, answer = invoke(function, record["requestPayload"])
            if ok:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                done += 1
                print(f"  redriven: {answer[:300]}")
            else:
                kept.append(m)
                print(f"  failed again, kept: {answer[:300]}")
        elif function and "DDBStreamBatchInfo" in record:
            info = record["DDBStreamBatchInfo"]
            print(f"stream batch for {function}: {info.get('batchSize')} records, "
                  f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')}")
            reconcile.setdefault(function, []).append(m)
        else:
            print(f"unknown message {m['MessageId']}, kept: {m['Body'][:300]}")
            kept.append(m)

for function, messages in reconcile.items():
    if args.dry_run:
        kept.extend(messages)
        continue
    print(f"reconciling {function} (a full rebuild covers {len(messages)} failed batch(es))")
    ok, answer = invoke(function, {"source": "media-query.redrive", "detail-type": "Scheduled Event", "detail": {}})
    if ok:
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        done += len(messages)
        print(f"  done: {answer[:300]}")
    else:
        kept.extend(messages)
        print(f"  failed, kept: {answer[:300]}")

# Kept messages become visible again for the next run.
for m in kept:
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
print(f"redrive: {seen} message(s), {done} redriven, {len(kept)} kept" + (" (dry run)" if args.dry_run else ""))
sys.exit(1 if kept else 0)
PY
