#!/usr/bin/env python3
"""The pure wiring of scripts/deploy.sh and scripts/teardown.sh: AWS CLI
answers (JSON) in, the Worker's configuration and small decisions out. No
network, no AWS or Cloudflare calls: the shell scripts make those and pipe
the answers through the subcommands below, so everything here is tested
against recorded answers (scripts/test_deploy_wiring.py, run by
scripts/check.d/deploy.sh).

The Worker's production configuration is a generated file,
`.local/deploy/wrangler.production.jsonc`: the top level of the committed
wrangler.toml (name, main, compatibility date, build, observability...),
plus a wrangler environment `production` whose name is `<stack>-edge` and
whose vars are the committed top-level [vars] (tuning) and those the
stack's outputs give. The committed environments (`local`, with its
placeholders) are left out. The committed wrangler.toml is never edited.
A generated file (rather than `--var` flags) is what every later command
can read: `wrangler secret bulk`, `wrangler deploy`, `wrangler secret
list` and `wrangler tail` all take `--config <file> --env production`.

Subcommands (stdout is for the calling script; errors go to stderr with
exit status 1):

  samconfig [FILE]                   stack name and region saved by
                                     `sam deploy --guided` (tab-separated)
  check-stack-name NAME ACCOUNT REGION
  worker-name STACK                  the Worker's name for a stack
  output KEY < describe-stacks.json  one output's value
  resources KIND                     logical ids teardown.sh handles (buckets,
                                     edge-user, export-writer, functions)
  worker-config --describe F --wrangler-toml F --repo-root DIR --out F
                [--no-build]         writes the generated configuration
  keys-to-delete-first [--in-use ID] < keys.tsv
                                     IAM keys to delete before creating one
                                     (the user may hold at most two); one
                                     key a line: id, status, created, last used
  secrets < create-access-key.json   {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
                                     for `wrangler secret bulk` (stdin)
  access-key-id < create-access-key.json
  delete-objects-payload < list-object-versions.json
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        sys.exit("deploy_wiring.py needs Python 3.11+ (tomllib), or `pip install tomli`")


class WiringError(Exception):
    """A problem the user must fix; its message says how."""


HERE = Path(__file__).resolve().parent

# The Worker's settings, as data in scripts/worker-settings.json: the
# Worker reads them by the names its crate declares
# (domain/src/worker_settings.rs, used by Config::from_env in
# edge/src/worker_glue.rs), and a Rust test (tests/src/deploy_settings.rs)
# holds the file to those names both ways: every setting the Worker
# requires is wired here or a secret, and nothing is wired that it does not
# read.
_WORKER_SETTINGS = json.loads((HERE / "worker-settings.json").read_text())
# What the Worker reads: without a required one it answers 500.
WORKER_REQUIRED = tuple(_WORKER_SETTINGS["required"])
WORKER_OPTIONAL = tuple(_WORKER_SETTINGS["optional"])
# Worker var <- stack output. The var REGION_VAR (AWS_REGION) comes from
# the stack's ARN (the template has no Region output). The committed
# top-level [vars] (SNAPSHOT_TTL_SECONDS, MAX_STALE_SECONDS...: tuning, not
# wiring) are kept as committed.
VAR_FROM_OUTPUT = dict(_WORKER_SETTINGS["var-from-output"])
REGION_VAR = _WORKER_SETTINGS["region-var"]
# Outputs deploy.sh and teardown.sh read besides the Worker's vars.
OTHER_OUTPUTS = ("EdgeReaderUserName", "MediaBucketName", "ApiUrl")
REQUIRED_OUTPUTS = tuple(VAR_FROM_OUTPUT.values()) + OTHER_OUTPUTS
# What teardown.sh handles by logical id (describe-stack-resource works in
# any stack state, outputs only in a healthy one): the buckets the stack
# creates (no DeletionPolicy: deleted with the stack, which fails while they
# hold objects), the user whose keys block its deletion, and the functions
# whose log groups a late invocation could re-create. Data, in
# scripts/teardown-resources.json, so that the Rust test that reads
# template.yaml (tests/src/template_deploy.rs) holds it to the template.
TEARDOWN_RESOURCES = {
    kind: tuple(ids) for kind, ids in
    json.loads((HERE / "teardown-resources.json").read_text()).items()
}
# Never in production: they would send the Worker's requests to a local AWS.
LOCAL_ONLY_VARS = tuple(_WORKER_SETTINGS["local-only"])
# Secrets, put with `wrangler secret bulk`; never in a configuration file.
SECRETS = tuple(_WORKER_SETTINGS["secrets"])
# What the Worker reads as secrets (AWS_SESSION_TOKEN only with temporary
# credentials, e.g. locally); never in any [vars] table.
WORKER_SECRETS = SECRETS + tuple(_WORKER_SETTINGS["optional-secrets"])

ENV_NAME = "production"
# Top-level wrangler settings that environments inherit (wrangler 4's
# config normalisation), so the generated file can keep them top-level.
# Anything else in wrangler.toml (bindings: kv_namespaces, r2_buckets, ...)
# is not inherited and would silently vanish from the production Worker,
# so worker_config refuses it until it is wired here.
INHERITABLE = {
    "name", "main", "compatibility_date", "compatibility_flags", "account_id",
    "workers_dev", "preview_urls", "route", "routes", "build", "observability",
    "limits", "placement", "logpush", "upload_source_maps", "minify",
    "keep_names", "no_bundle", "find_additional_modules", "preserve_file_names",
    "base_dir", "rules", "triggers", "send_metrics", "keep_vars", "tsconfig",
    "jsx_factory", "jsx_fragment", "usage_model",
}

# Stack states whose outputs describe resources that exist.
USABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


# ---- samconfig.toml and the stack name --------------------------------------

def samconfig_settings(text: str, config_env: str = "default") -> dict:
    """stack_name and region from a samconfig.toml written by `sam deploy --guided`."""
    data = tomllib.loads(text)
    env = data.get(config_env, {})
    deploy = env.get("deploy", {}).get("parameters", {})
    glob = env.get("global", {}).get("parameters", {})
    return {
        "stack_name": deploy.get("stack_name") or glob.get("stack_name") or "",
        "region": deploy.get("region") or glob.get("region") or "",
    }


def check_stack_name(name: str, account: str, region: str) -> None:
    """The stack name is part of the media bucket's name
    (`<stack>-media-<account>-<region>`), so it must be lower case and short."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name) or name.endswith("-") or "--" in name:
        raise WiringError(
            f"stack name {name!r}: use lower-case letters, digits and single hyphens, "
            "starting with a letter (it is part of the media bucket's name, e.g. media-query)")
    bucket = f"{name}-media-{account}-{region}"
    if len(bucket) > 63:
        raise WiringError(
            f"stack name {name!r} is too long: the media bucket's name {bucket!r} would be "
            f"{len(bucket)} characters (S3 allows 63); use at most {63 - len(bucket) + len(name)}")


def worker_name(stack_name: str) -> str:
    """One Worker per stack; never the committed names (`media-query` at the
    top level, `media-query-local` for --env local), so a stray `npx wrangler
    deploy` of the committed file cannot replace it."""
    return f"{stack_name}-edge"


# ---- describe-stacks ---------------------------------------------------------

def the_stack(describe: dict) -> dict:
    stacks = describe.get("Stacks") or []
    if len(stacks) != 1:
        raise WiringError(f"describe-stacks returned {len(stacks)} stacks, expected 1")
    stack = stacks[0]
    status = stack.get("StackStatus", "")
    if status not in USABLE_STATES:
        raise WiringError(
            f"stack {stack.get('StackName')} is {status}; deploy it successfully first "
            "(a failed first deploy is ROLLBACK_COMPLETE: delete it with scripts/teardown.sh)")
    return stack


def outputs(describe: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in the_stack(describe).get("Outputs") or []}


def need_outputs(describe: dict, keys=REQUIRED_OUTPUTS) -> dict[str, str]:
    have = outputs(describe)
    missing = [k for k in keys if not have.get(k)]
    if missing:
        raise WiringError(
            f"the stack has no output {', '.join(missing)}; it was deployed from an older "
            "template.yaml: run scripts/deploy.sh without --skip-sam")
    return have


def stack_region(describe: dict) -> str:
    # arn:aws:cloudformation:eu-west-1:123456789012:stack/media-query/<uuid>
    arn = the_stack(describe).get("StackId", "")
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "cloudformation" or not parts[3]:
        raise WiringError(f"cannot read the region from the stack id {arn!r}")
    return parts[3]


# ---- the Worker's configuration ---------------------------------------------

def worker_vars(describe: dict, committed_vars: dict) -> dict[str, str]:
    have = need_outputs(describe)
    vars_ = {k: str(v) for k, v in committed_vars.items()
             if k not in LOCAL_ONLY_VARS and k not in SECRETS}
    vars_[REGION_VAR] = stack_region(describe)
    for var, key in VAR_FROM_OUTPUT.items():
        vars_[var] = have[key]
    return vars_


def worker_config(describe: dict, committed: dict, stack_name: str, repo_root: str,
                  build: bool = True) -> dict:
    """The generated wrangler configuration (a dict, written as JSONC)."""
    unknown = sorted(set(committed) - INHERITABLE - {"vars", "env"})
    if unknown:
        raise WiringError(
            f"wrangler.toml has {', '.join(unknown)}, which wrangler environments do not "
            "inherit: add it to the production environment in scripts/deploy_wiring.py")
    if ENV_NAME in (committed.get("env") or {}):
        raise WiringError(f"wrangler.toml defines env.{ENV_NAME}; scripts/deploy_wiring.py "
                          "generates it from the stack's outputs: remove it from wrangler.toml")
    in_vars = sorted(set(committed.get("vars", {})) & set(WORKER_SECRETS + LOCAL_ONLY_VARS))
    if in_vars:
        raise WiringError(f"wrangler.toml's top-level [vars] has {', '.join(in_vars)}: secrets go in "
                          "`.dev.vars` (local) or `wrangler secret` (production), a local endpoint "
                          "in [env.local.vars]")
    root = Path(repo_root).resolve()
    config = {k: copy.deepcopy(v) for k, v in committed.items() if k not in ("vars", "env")}
    # wrangler resolves `main` and `build.watch_dir` against the config file's
    # directory and `build.cwd` against its own working directory: absolute
    # paths are right wherever the generated file lives and wrangler runs.
    if "main" in config:
        config["main"] = str(root / config["main"])
    if build and "build" in config:
        b = config["build"]
        b["cwd"] = str(root / b.get("cwd", "."))
        if "watch_dir" in b:
            w = b["watch_dir"]
            b["watch_dir"] = [str(root / d) for d in w] if isinstance(w, list) else str(root / w)
    else:
        # The bundle is already built (the dry-run check): no custom build step.
        config.pop("build", None)
    config["env"] = {ENV_NAME: {
        "name": worker_name(stack_name),
        "vars": worker_vars(describe, committed.get("vars", {})),
    }}
    return config


def render_jsonc(config: dict, source: str) -> str:
    head = (f"// Generated by scripts/deploy.sh from wrangler.toml and {source}.\n"
            "// Do not edit: the next deploy rewrites it. Use with\n"
            f"//   wrangler <command> --config <this file> --env {ENV_NAME}\n")
    return head + json.dumps(config, indent=2, sort_keys=False) + "\n"


# ---- the edge reader's access keys ---------------------------------------------

def keys_to_delete_first(keys: list[dict], in_use: str | None = None) -> list[str]:
    """IAM allows two access keys per user. Before creating a new one, if the
    user has two (a deploy was interrupted), delete the one the Worker is not
    using: `in_use` is the key deploy.sh last stored in the Worker, recorded
    in .local/deploy/ on this machine. Without that record, the one the
    Worker is least likely to be using: an inactive key first, then the one
    used longest ago (never used counts as oldest; IAM updates last-used
    dates with some delay), ties by creation date. `keys` are
    list-access-keys' AccessKeyMetadata entries, each with `LastUsedDate`
    from get-access-key-last-used (None if never used)."""
    if len(keys) < 2:
        return []
    if in_use and any(k["AccessKeyId"] == in_use for k in keys):
        return [k["AccessKeyId"] for k in keys if k["AccessKeyId"] != in_use]

    def staleness(k):  # ascending: the stalest first
        return (k.get("Status") == "Active", k.get("LastUsedDate") or "", k.get("CreateDate") or "")
    # Keep one: the freshest, which the running Worker most probably holds.
    return [k["AccessKeyId"] for k in sorted(keys, key=staleness)[: len(keys) - 1]]


def parse_keys_tsv(text: str) -> list[dict]:
    """Lines of `id status created last-used` (tab-separated, as deploy.sh
    writes them from list-access-keys and get-access-key-last-used in text
    output, where a key never used has `None`)."""
    keys = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise WiringError(f"expected 4 tab-separated fields, got {line!r}")
        key_id, status, created, last_used = fields
        keys.append({"AccessKeyId": key_id, "Status": status, "CreateDate": created,
                     "LastUsedDate": None if last_used in ("", "None", "null") else last_used})
    return keys


def secrets_from_access_key(created: dict) -> dict[str, str]:
    key = created["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


# ---- emptying buckets ----------------------------------------------------------

def delete_objects_payload(listing: dict) -> dict | None:
    """One `s3api delete-objects --delete` payload (at most 1,000 keys, as one
    list-object-versions page holds) for every version and delete marker."""
    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
               for part in ("Versions", "DeleteMarkers") for v in listing.get(part) or []]
    return {"Objects": objects, "Quiet": True} if objects else None


# ---- CLI ------------------------------------------------------------------------

def _stdin_json() -> dict:
    text = sys.stdin.read()
    if not text.strip():
        raise WiringError("expected a JSON answer on stdin, got nothing")
    return json.loads(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("samconfig")
    s.add_argument("file", nargs="?", default="samconfig.toml")
    s.add_argument("--config-env", default="default")
    s = sub.add_parser("check-stack-name")
    s.add_argument("name")
    s.add_argument("account")
    s.add_argument("region")
    s = sub.add_parser("worker-name")
    s.add_argument("stack")
    s = sub.add_parser("output")
    s.add_argument("key")
    s = sub.add_parser("resources")
    s.add_argument("kind", choices=sorted(TEARDOWN_RESOURCES))
    s = sub.add_parser("worker-config")
    s.add_argument("--describe", required=True, help="describe-stacks answer (JSON file)")
    s.add_argument("--wrangler-toml", default="wrangler.toml")
    s.add_argument("--repo-root", default=".")
    s.add_argument("--out", required=True)
    s.add_argument("--no-build", action="store_true", help="leave out the [build] step (prebuilt bundle)")
    s = sub.add_parser("keys-to-delete-first")
    s.add_argument("--in-use", default="", help="the key last stored in the Worker, if known")
    sub.add_parser("secrets")
    sub.add_parser("access-key-id")
    sub.add_parser("delete-objects-payload")
    a = p.parse_args(argv)
    try:
        if a.cmd == "samconfig":
            path = Path(a.file)
            got = samconfig_settings(path.read_text(), a.config_env) if path.exists() else {}
            print(f"{got.get('stack_name', '')}\t{got.get('region', '')}")
        elif a.cmd == "check-stack-name":
            check_stack_name(a.name, a.account, a.region)
        elif a.cmd == "worker-name":
            print(worker_name(a.stack))
        elif a.cmd == "output":
            print(need_outputs(_stdin_json(), (a.key,))[a.key])
        elif a.cmd == "resources":
            print("\n".join(TEARDOWN_RESOURCES[a.kind]))
        elif a.cmd == "worker-config":
            describe = json.loads(Path(a.describe).read_text())
            committed = tomllib.loads(Path(a.wrangler_toml).read_text())
            stack = the_stack(describe)["StackName"]
            config = worker_config(describe, committed, stack, a.repo_root, build=not a.no_build)
            out = Path(a.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_jsonc(config, f"the outputs of stack {stack}"))
            env = config["env"][ENV_NAME]
            print(f"wrote {out}: Worker {env['name']} (--env {ENV_NAME})", file=sys.stderr)
            for k, v in env["vars"].items():
                print(f"  {k} = {v}", file=sys.stderr)
        elif a.cmd == "keys-to-delete-first":
            for key_id in keys_to_delete_first(parse_keys_tsv(sys.stdin.read()), a.in_use or None):
                print(key_id)
        elif a.cmd == "secrets":
            json.dump(secrets_from_access_key(_stdin_json()), sys.stdout)
        elif a.cmd == "access-key-id":
            print(_stdin_json()["AccessKey"]["AccessKeyId"])
        elif a.cmd == "delete-objects-payload":
            payload = delete_objects_payload(_stdin_json())
            if payload:
                json.dump(payload, sys.stdout)
    except WiringError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
