#!/usr/bin/env bash
# Deletes what scripts/deploy.sh created: the Worker, the edge reader's
# access keys, the objects in the stack's buckets, and the stack.
#
#   scripts/teardown.sh [--stack-name NAME] [--region REGION] [--yes]
#
#  1. `wrangler delete` the Worker `<stack>-edge`.
#  2. Stops the writers: removes the media bucket's event notifications
#     (so emptying it does not invoke object-removed once per object) and
#     sets the export writer's concurrency to 0 (so no hourly run writes a
#     new snapshot into a bucket being emptied).
#  3. Deletes every access key of the EdgeReaderUserName user (CloudFormation
#     cannot delete a user that has keys).
#  4. Empties the media and export buckets, every version included
#     (template.yaml gives them no DeletionPolicy: they are deleted with the
#     stack, which fails while they hold objects). Your uploads are gone.
#  5. `sam delete`, then deletes any /aws/lambda/<function> log group a late
#     invocation re-created (it would make the next deploy fail).
#
# Stack name and region: the flags, else samconfig.toml, else media-query
# and the AWS CLI's region. It asks you to type the stack name unless --yes.
# Safe to run again after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/tools.sh

WIRING=(python3 scripts/deploy_wiring.py)
export AWS_PAGER="" SAM_CLI_TELEMETRY=${SAM_CLI_TELEMETRY:-0}

die() { printf '\nteardown: error: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
usage() { sed -n '2,/^set -euo/p' "$ROOT/scripts/teardown.sh" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

stack_name=""; region=""; yes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stack-name) stack_name=${2:?--stack-name needs a value}; shift 2 ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --yes|-y) yes=1; shift ;;
    -h|--help) usage ;;
    *) echo "teardown: unknown argument $1" >&2; usage 2 ;;
  esac
done

have() { command -v "$1" >/dev/null 2>&1; }
have python3 || die "python3 is not installed (3.11+)."
have aws || die "the AWS CLI is not installed: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
WRANGLER=${WRANGLER:-$ROOT/node_modules/.bin/wrangler}   # or a wrangler of your own
[ -x "$WRANGLER" ] || die "wrangler is not installed here. Run: npm ci"
if [ -n "${SAM:-}" ]; then :   # a SAM CLI of your own
elif have sam; then SAM=sam
elif [ -x "$TOOLS/sam/bin/sam" ]; then SAM=$TOOLS/sam/bin/sam
else die "the SAM CLI is not installed. Run: python3 -m pip install aws-sam-cli"
fi
if [ -n "${AWS_ENDPOINT_URL:-}" ] || [ "${AWS_ACCESS_KEY_ID:-}" = testing ]; then
  die "this shell has the local stack's settings (.local/stack.env). Open a new shell, or: unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY"
fi

IFS=$'\t' read -r saved_stack saved_region < <("${WIRING[@]}" samconfig samconfig.toml)
stack_name=${stack_name:-${saved_stack:-media-query}}
region=${region:-${saved_region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}}}
[ -n "$region" ] || die "no AWS region: pass --region"
aws sts get-caller-identity --region "$region" --query Account --output text >/dev/null \
  || die "the AWS CLI has no working credentials (aws configure, or aws sso login)"
worker=$("${WIRING[@]}" worker-name "$stack_name")
if "$WRANGLER" whoami 2>&1 | grep -qi "not authenticated"; then
  die "wrangler is not logged in to Cloudflare. Run: npx wrangler login (or export CLOUDFLARE_API_TOKEN)"
fi

echo "This deletes Worker $worker, stack $stack_name in $region, and every object in its buckets."
if [ "$yes" = 0 ]; then
  read -r -p "Type the stack name to confirm: " answer
  [ "$answer" = "$stack_name" ] || die "not confirmed; nothing deleted"
fi

status=$(aws cloudformation describe-stacks --stack-name "$stack_name" --region "$region" \
           --query 'Stacks[0].StackStatus' --output text 2>&1) || {
  grep -q "does not exist" <<<"$status" || die "describe-stacks failed: $status"
  status=NONE
}
echo "stack status: $status"
# By logical id, not outputs: this works in any stack state (a failed first
# deploy is ROLLBACK_COMPLETE, an interrupted teardown DELETE_FAILED).
resource() {  # the physical id of a logical resource, or nothing
  local id
  id=$(aws cloudformation describe-stack-resource --stack-name "$stack_name" --region "$region" \
         --logical-resource-id "$1" --query StackResourceDetail.PhysicalResourceId \
         --output text 2>/dev/null) || return 0
  [ "$id" = None ] || printf '%s\n' "$id"
}
logical() { "${WIRING[@]}" resources "$1"; }

# ---- 1. the Worker ------------------------------------------------------------------
step "wrangler delete $worker"
# --force: confirmed above (it also skips wrangler's own question).
if ! out=$("$WRANGLER" delete --name "$worker" --force 2>&1); then
  if grep -qiE "10007|not found|does not exist" <<<"$out"; then
    echo "no Worker $worker (already deleted)"
  else
    printf '%s\n' "$out" >&2
    die "wrangler delete failed"
  fi
else
  printf '%s\n' "$out" | grep -v '^$' | tail -n 2
fi

if [ "$status" = NONE ]; then
  echo "stack $stack_name does not exist in $region: nothing more to delete"
  rm -f .local/deploy/wrangler.production.jsonc ".local/deploy/$stack_name.edge-key-id"
  exit 0
fi

# ---- 2. stop the writers ------------------------------------------------------------------
step "stopping the writers"
media_bucket=$(resource MediaBucket)
if [ -n "$media_bucket" ] && aws s3api head-bucket --bucket "$media_bucket" --region "$region" 2>/dev/null; then
  aws s3api put-bucket-notification-configuration --bucket "$media_bucket" --region "$region" \
    --notification-configuration '{}'
  echo "$media_bucket: event notifications removed"
fi
writer=$(resource "$(logical export-writer)")
if [ -n "$writer" ] && aws lambda put-function-concurrency --function-name "$writer" --region "$region" \
     --reserved-concurrent-executions 0 >/dev/null 2>&1; then
  echo "$writer: concurrency 0"
fi

# ---- 3. the edge reader's keys ----------------------------------------------------------------
step "deleting the edge reader's access keys"
edge_user=$(resource "$(logical edge-user)")
if [ -n "$edge_user" ]; then
  keys=$(aws iam list-access-keys --user-name "$edge_user" --output text \
           --query 'AccessKeyMetadata[].[AccessKeyId]' 2>/dev/null || true)
  for id in $keys; do
    aws iam delete-access-key --user-name "$edge_user" --access-key-id "$id"
    echo "$edge_user: deleted $id"
  done
fi

# ---- 4. empty the buckets ----------------------------------------------------------------------
empty_bucket() {
  local bucket=$1 listing payload
  aws s3api head-bucket --bucket "$bucket" --region "$region" 2>/dev/null || { echo "$bucket: gone"; return 0; }
  aws s3 rm "s3://$bucket" --recursive --only-show-errors --region "$region"
  # Versions and delete markers, if versioning was ever turned on.
  while :; do
    listing=$(aws s3api list-object-versions --bucket "$bucket" --region "$region" \
                --max-items 1000 --output json)
    payload=$(printf '%s' "$listing" | "${WIRING[@]}" delete-objects-payload)
    [ -n "$payload" ] || break
    aws s3api delete-objects --bucket "$bucket" --region "$region" --delete "$payload" >/dev/null
  done
  echo "$bucket: empty"
}
step "emptying the buckets"
for name in $(logical buckets); do
  bucket=$(resource "$name")
  [ -z "$bucket" ] || empty_bucket "$bucket"
done

# ---- 5. the stack ---------------------------------------------------------------------------------
functions=()
for name in $(logical functions); do
  fn=$(resource "$name")
  [ -z "$fn" ] || functions+=("$fn")
done
step "sam delete $stack_name"
"$SAM" delete --stack-name "$stack_name" --region "$region" --no-prompts

step "leftover log groups"
for fn in "${functions[@]}"; do
  group=/aws/lambda/$fn
  if aws logs describe-log-groups --region "$region" --log-group-name-prefix "$group" \
       --query "logGroups[?logGroupName=='$group'].logGroupName" --output text | grep -q .; then
    aws logs delete-log-group --region "$region" --log-group-name "$group"
    echo "deleted $group (re-created by a late invocation)"
  fi
done

rm -f .local/deploy/wrangler.production.jsonc ".local/deploy/$stack_name.edge-key-id"
echo
echo "Deleted stack $stack_name and Worker $worker."
