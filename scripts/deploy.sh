#!/usr/bin/env bash
# Deploys media-query: the AWS stack (SAM) and the edge Worker (Cloudflare),
# wired together. README.md, "Deploy to AWS and Cloudflare", walks through it.
#
#   scripts/deploy.sh [--stack-name NAME] [--region REGION]
#                     [--parameter-overrides "KEY=VALUE ..."] [--skip-sam] [--keep-key]
#
#  1. `sam build` (cargo lambda build --release --arm64, per function) and
#     `sam deploy`, with the defaults of the committed samconfig.toml
#     (artifact bucket, capabilities, no prompts); the stack name and region
#     are this script's. --parameter-overrides goes to `sam deploy` as is
#     (e.g. "AlarmEmail=you@example.com"); a parameter not given keeps its
#     deployed value (a new stack: the template's default). --skip-sam
#     skips this step (Worker only).
#  2. Reads the stack's outputs (`aws cloudformation describe-stacks`); on a
#     new stack, starts the export writer once so that a serving snapshot
#     exists before the first upload.
#  3. Writes the Worker's configuration, .local/deploy/wrangler.production.jsonc:
#     the top level of the committed wrangler.toml (not the placeholders of
#     its `local` environment) plus a wrangler environment `production`
#     (Worker `<stack>-edge`) whose vars come from the outputs
#     (scripts/deploy_wiring.py). wrangler.toml itself is never edited.
#  4. Rotates the edge reader's access key: creates a new key for the
#     EdgeReaderUserName user, waits until AWS accepts it, stores it with
#     `wrangler secret bulk` (both secrets in one change, from stdin),
#     then, after step 5, deletes the user's other keys. --keep-key skips
#     the rotation when the Worker already has a key.
#  5. `wrangler deploy` with that configuration (builds the Worker first),
#     then one request to each API.
#
# Secrets are never printed, written to disk or passed as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/tools.sh

STATE=.local/deploy
CONFIG=$STATE/wrangler.production.jsonc
ENV_NAME=production
WIRING=(python3 scripts/deploy_wiring.py)
export AWS_PAGER="" SAM_CLI_TELEMETRY=${SAM_CLI_TELEMETRY:-0}

die() { printf '\ndeploy: error: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
usage() { sed -n '2,/^set -euo/p' "$ROOT/scripts/deploy.sh" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

stack_name=""; region=""; overrides=""; skip_sam=0; keep_key=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stack-name) stack_name=${2:?--stack-name needs a value}; shift 2 ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --parameter-overrides) overrides=${2:?--parameter-overrides needs a value}; shift 2 ;;
    --skip-sam) skip_sam=1; shift ;;
    --keep-key) keep_key=1; shift ;;
    -h|--help) usage ;;
    *) echo "deploy: unknown argument $1" >&2; usage 2 ;;
  esac
done
[ -z "$overrides" ] || [ "$skip_sam" = 0 ] || die "--parameter-overrides is for sam deploy, which --skip-sam skips"

# ---- tools --------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }
need() { have "$1" || die "$1 is not installed. $2"; }

need python3 "Install Python 3.11 or later."
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || python3 -c 'import tomli' 2>/dev/null \
  || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); scripts/deploy_wiring.py needs 3.11+ (or: python3 -m pip install tomli)"
need aws "Install the AWS CLI: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
need node "Install Node.js 20 or later (https://nodejs.org), then run: npm ci"
WRANGLER=${WRANGLER:-$ROOT/node_modules/.bin/wrangler}   # or a wrangler of your own
[ -x "$WRANGLER" ] || die "wrangler is not installed here. Run: npm ci"
wrangler() { "$WRANGLER" "$@"; }

# The Worker's build (wrangler runs scripts/build-worker.sh).
need cargo "Install Rust with rustup: https://rustup.rs"
need worker-build "Run: cargo install worker-build --version 0.8.7 --locked"
need wasm-bindgen "Run: cargo install wasm-bindgen-cli --version 0.2.129 --locked"
if have rustup; then
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || die "the wasm32 target is missing. Run: rustup target add wasm32-unknown-unknown"
fi

if [ "$skip_sam" = 0 ]; then
  if [ -n "${SAM:-}" ]; then :   # a SAM CLI of your own
  elif have sam; then SAM=sam
  elif [ -x "$TOOLS/sam/bin/sam" ]; then SAM=$TOOLS/sam/bin/sam
  else die "the SAM CLI is not installed. Run: python3 -m pip install aws-sam-cli (or see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"
  fi
  # template.yaml's Fn::ForEach loops: `sam build` reads the template only
  # with the SAM CLI's local language extensions (samconfig.toml turns them on).
  "$SAM" build --help 2>/dev/null | grep -q -- '--language-extensions' \
    || die "$("$SAM" --version 2>/dev/null || echo "this SAM CLI") cannot read template.yaml (Fn::ForEach needs --language-extensions, SAM CLI 1.170 has it). Run: python3 -m pip install --upgrade aws-sam-cli"
  [ -f samconfig.toml ] || die "samconfig.toml is missing; it is committed: git checkout -- samconfig.toml"
  have cargo-lambda || die "cargo-lambda is not installed (sam build runs it). Run: python3 -m pip install cargo-lambda"
  # cargo-lambda cross-compiles to arm64 with Zig: a `zig` on PATH, or the
  # `ziglang` Python package (a dependency of the cargo-lambda pip package).
  have zig || python3 -m ziglang version >/dev/null 2>&1 \
    || die "Zig is not installed (cargo-lambda needs it to build for arm64). Run: python3 -m pip install ziglang"
fi

# A shell that sourced the local stack's .local/stack.env would send every
# AWS call below to moto.
if [ -n "${AWS_ENDPOINT_URL:-}" ] || [ "${AWS_ACCESS_KEY_ID:-}" = testing ]; then
  die "this shell has the local stack's settings (AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID=testing from .local/stack.env). Open a new shell, or: unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_DYNAMODB_STREAMS AWS_ENDPOINT_URL_REKOGNITION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY"
fi

# ---- accounts -----------------------------------------------------------------
step "accounts"
IFS=$'\t' read -r saved_stack saved_region < <("${WIRING[@]}" samconfig samconfig.toml)
stack_name=${stack_name:-${saved_stack:-media-query}}
region=${region:-${saved_region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}}}
[ -n "$region" ] || die "no AWS region: pass --region (e.g. --region us-east-1) or run: aws configure set region us-east-1"
account=$(aws sts get-caller-identity --region "$region" --query Account --output text) \
  || die "the AWS CLI has no working credentials. Run: aws configure (or aws sso login), then check with: aws sts get-caller-identity"
echo "AWS account $account, region $region"
who=$(wrangler whoami 2>&1) || die "wrangler whoami failed: $who"
if grep -qi "not authenticated" <<<"$who"; then
  die "wrangler is not logged in to Cloudflare. Run: npx wrangler login (or export CLOUDFLARE_API_TOKEN)"
fi
grep -i "associated with the email" <<<"$who" || echo "Cloudflare: logged in"
"${WIRING[@]}" check-stack-name "$stack_name" "$account" "$region" || exit 1
echo "stack: $stack_name"

# ---- 1. AWS: sam build, sam deploy ----------------------------------------------
if [ "$skip_sam" = 0 ]; then
  step "sam build (cargo lambda build --release --arm64, five functions; the first build takes a while)"
  "$SAM" build
  step "sam deploy (samconfig.toml: resolve_s3, CAPABILITY_IAM and CAPABILITY_AUTO_EXPAND, no changeset prompt)"
  params=()
  [ -z "$overrides" ] || params=(--parameter-overrides "$overrides")
  "$SAM" deploy --stack-name "$stack_name" --region "$region" ${params[@]+"${params[@]}"}
fi

# ---- 2. the stack's outputs --------------------------------------------------------
step "stack outputs"
mkdir -p "$STATE"
DESCRIBE=$STATE/describe-stacks.json
aws cloudformation describe-stacks --stack-name "$stack_name" --region "$region" --output json > "$DESCRIBE" \
  || die "cannot describe stack $stack_name in $region (deploy it first: run without --skip-sam)"
output() { "${WIRING[@]}" output "$1" < "$DESCRIBE"; }
edge_user=$(output EdgeReaderUserName)
table=$(output MediaTableName)
media_bucket=$(output MediaBucketName)
api_url=$(output ApiUrl)
snapshot_bucket=$(output ExportBucket)
snapshot_prefix=$(output ExportPrefix)

# A new stack has no serving snapshot until its first change or the hourly
# run; until then both APIs fall back to (rate-limited) Scans. Any
# non-stream payload makes the export writer reconcile, publishing one.
pointer=${snapshot_prefix%/}/serving/current.json
pointer=${pointer#/}
if ! aws s3api head-object --bucket "$snapshot_bucket" --key "$pointer" --region "$region" >/dev/null 2>&1; then
  writer=$(aws cloudformation describe-stack-resource --stack-name "$stack_name" --region "$region" \
             --logical-resource-id ExportWriterFunction \
             --query StackResourceDetail.PhysicalResourceId --output text)
  printf '{}' > "$STATE/reconcile.json"
  aws lambda invoke --function-name "$writer" --region "$region" --invocation-type Event \
    --payload "fileb://$STATE/reconcile.json" "$STATE/reconcile.out" >/dev/null
  echo "no snapshot yet: started the export writer's reconciliation ($writer), which publishes the first one"
fi

# ---- 3. the Worker's configuration ---------------------------------------------------
step "Worker configuration"
"${WIRING[@]}" worker-config --describe "$DESCRIBE" --wrangler-toml wrangler.toml \
  --repo-root "$ROOT" --out "$CONFIG"
worker=$("${WIRING[@]}" worker-name "$stack_name")
W=(--config "$CONFIG" --env "$ENV_NAME")

# ---- 4. the edge reader's key ----------------------------------------------------------
KEY_RECORD=$STATE/$stack_name.edge-key-id   # the key id last stored in the Worker (not a secret)
key_table() {  # id, status, created, last used; one key a line
  local id status created
  aws iam list-access-keys --user-name "$edge_user" --output text \
    --query 'AccessKeyMetadata[].[AccessKeyId,Status,CreateDate]' |
  while IFS=$'\t' read -r id status created; do
    [ -n "$id" ] || continue
    printf '%s\t%s\t%s\t%s\n' "$id" "$status" "$created" \
      "$(aws iam get-access-key-last-used --access-key-id "$id" --output text --query 'AccessKeyLastUsed.LastUsedDate')"
  done
}

rotate=1
if [ "$keep_key" = 1 ]; then
  secrets=$(wrangler secret list "${W[@]}" --format json 2>/dev/null || echo "[]")
  if [ -n "$(key_table)" ] && grep -q '"AWS_ACCESS_KEY_ID"' <<<"$secrets" \
     && grep -q '"AWS_SECRET_ACCESS_KEY"' <<<"$secrets"; then
    rotate=0
    step "edge reader key: kept (--keep-key; the Worker has one)"
  fi
fi

new_key_id=""; key_stored=0
cleanup() {
  # A key created by this run that never reached the Worker is deleted.
  if [ -n "$new_key_id" ] && [ "$key_stored" = 0 ]; then
    echo "deploy: deleting the unused new key $new_key_id" >&2
    aws iam delete-access-key --user-name "$edge_user" --access-key-id "$new_key_id" || true
  fi
}
trap cleanup EXIT

if [ "$rotate" = 1 ]; then
  step "edge reader key: rotating ($edge_user)"
  in_use=$(cat "$KEY_RECORD" 2>/dev/null || true)
  keys=$(key_table)
  to_delete=$("${WIRING[@]}" keys-to-delete-first --in-use "$in_use" <<<"$keys")
  for id in $to_delete; do
    echo "the user has two keys (an interrupted deploy?): deleting $id to make room"
    aws iam delete-access-key --user-name "$edge_user" --access-key-id "$id"
  done
  # The secret stays in shell variables and pipes (printf is a builtin: no
  # argv, no temporary file as a here-string may use).
  created=$(aws iam create-access-key --user-name "$edge_user" --output json)
  new_key_id=$(printf '%s' "$created" | "${WIRING[@]}" access-key-id)
  new_secret=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKey"]["SecretAccessKey"])')
  echo "created $new_key_id; waiting until AWS accepts it (IAM is eventually consistent)"
  ok=0
  for _ in $(seq 1 24); do
    # The new key alone (no profile, no session token), reading the table
    # as the Worker will: Scan is one of the two table actions it has.
    if AWS_ACCESS_KEY_ID=$new_key_id AWS_SECRET_ACCESS_KEY=$new_secret \
       env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN \
       aws dynamodb scan --table-name "$table" --region "$region" --select COUNT --limit 1 \
         --output text >/dev/null 2>&1; then
      ok=1; break
    fi
    sleep 5
  done
  [ "$ok" = 1 ] || die "the new key $new_key_id cannot Scan $table after 2 minutes; check the EdgeReaderUser policy in template.yaml"
  unset new_secret
  echo "storing it in Worker $worker (wrangler secret bulk; creates the Worker on a first deploy)"
  printf '%s' "$created" | "${WIRING[@]}" secrets | wrangler secret bulk "${W[@]}"
  unset created
  key_stored=1
  echo "$new_key_id" > "$KEY_RECORD"
fi

# ---- 5. wrangler deploy ----------------------------------------------------------------------
step "wrangler deploy ($worker; builds the Worker with scripts/build-worker.sh)"
wrangler deploy "${W[@]}" 2>&1 | tee "$STATE/wrangler-deploy.log"
worker_url=$(grep -oE 'https://[A-Za-z0-9.-]+\.workers\.dev' "$STATE/wrangler-deploy.log" | head -n 1 || true)

if [ "$rotate" = 1 ]; then
  step "edge reader key: deleting the old keys"
  while IFS=$'\t' read -r id _; do
    if [ -z "$id" ] || [ "$id" = "$new_key_id" ]; then continue; fi
    aws iam delete-access-key --user-name "$edge_user" --access-key-id "$id"
    echo "deleted $id"
  done < <(aws iam list-access-keys --user-name "$edge_user" --output text \
             --query 'AccessKeyMetadata[].[AccessKeyId]')
  echo "the Worker's key is $new_key_id (the only one)"
fi

# ---- smoke test ---------------------------------------------------------------------------------
step "smoke test"
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$1" || true; }
echo "read API  GET $api_url -> $(status "$api_url")"
if [ -z "$worker_url" ]; then
  echo "Worker: no workers.dev URL in wrangler's output (routes or custom domain?); try it at its route"
else
  code=000
  for _ in $(seq 1 12); do   # a new workers.dev name can take a little while to resolve
    code=$(status "$worker_url/")
    [ "$code" = 000 ] || break
    sleep 5
  done
  echo "Worker    GET $worker_url/ -> $code"
  if [ "$code" != 200 ]; then
    curl -s --max-time 20 "$worker_url/" | head -c 400 >&2 || true
    echo >&2
    die "the Worker answered $code. See README.md, Troubleshooting ('The Worker answers 503'); its logs: npx wrangler tail --config $CONFIG --env $ENV_NAME"
  fi
fi

cat <<EOF

Deployed stack $stack_name ($region) and Worker $worker.
  upload:    aws s3 cp photo.jpg s3://$media_bucket/
  read API:  $api_url
  edge:      ${worker_url:-"(see wrangler's output above)"}/
  Worker config: $CONFIG (generated; redeploy with scripts/deploy.sh)
EOF
