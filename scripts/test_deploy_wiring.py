"""Tests of scripts/deploy_wiring.py against a recorded describe-stacks
answer (scripts/fixtures/describe-stacks.json), with the wiring and the
scripts held to what the fixture, wrangler.toml, samconfig.toml and the
Worker's settings (scripts/worker-settings.json) say, so none of them can
drift from the others unnoticed. That those settings are the ones the
Worker reads (domain/src/worker_settings.rs, the names its
Config::from_env uses) is a Rust test, tests/src/deploy_settings.rs. What they assume of template.yaml (the
fixture's outputs and parameters are the template's; the resources
teardown handles, scripts/teardown-resources.json, are the template's; the
edge key's policy; the language extensions) is checked by the Rust test
that reads the template, tests/src/template_deploy.rs.

Run by scripts/check.d/deploy.sh:
  python3 -m unittest discover -s scripts -p test_deploy_wiring.py -v
The standard library only (Python 3.11+).
"""
import copy
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in scripts/
import deploy_wiring as w  # noqa: E402

FIXTURE = HERE / "fixtures" / "describe-stacks.json"


def load_fixture():
    return json.loads(FIXTURE.read_text())


def load_wrangler():
    return tomllib.loads((ROOT / "wrangler.toml").read_text())


def parse_jsonc(text):
    return json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))


class ScriptsReadWhatTheStackOutputs(unittest.TestCase):
    """What deploy.sh and teardown.sh read is in the recorded answer (whose
    outputs are exactly template.yaml's: tests/src/template_deploy.rs) and
    in the wiring."""

    def setUp(self):
        self.outputs = {o["OutputKey"] for o in load_fixture()["Stacks"][0]["Outputs"]}

    def test_every_output_the_wiring_needs_is_recorded(self):
        for key in w.REQUIRED_OUTPUTS:
            self.assertIn(key, self.outputs, f"deploy_wiring needs output {key}")

    def test_every_output_deploy_reads_is_recorded(self):
        used = set(re.findall(r"\boutput ([A-Z][A-Za-z]+)\b", (HERE / "deploy.sh").read_text()))
        self.assertTrue(used, "deploy.sh reads no output?")
        for key in used:
            self.assertIn(key, self.outputs, f"deploy.sh reads output {key}")

    def test_teardown_asks_for_the_kinds_of_resources_the_wiring_lists(self):
        asked = set(re.findall(r"\$\(logical ([a-z][a-z-]*)\)", (HERE / "teardown.sh").read_text()))
        self.assertTrue(asked, "teardown.sh asks for no resources?")
        self.assertEqual(asked, set(w.TEARDOWN_RESOURCES))


class WorkerConfigFromFixture(unittest.TestCase):
    def setUp(self):
        self.describe = load_fixture()
        self.committed = load_wrangler()
        self.config = w.worker_config(self.describe, self.committed, "media-query", str(ROOT))
        self.env = self.config["env"]["production"]

    def test_vars_come_from_the_stack(self):
        v = self.env["vars"]
        self.assertEqual(v["AWS_REGION"], "eu-west-1")  # from the StackId, not the committed us-east-1
        self.assertEqual(v["MEDIA_TABLE_NAME"], "media-query-MediaTable-1RQ9X4T6PZ0K3")
        self.assertEqual(v["SNAPSHOT_BUCKET"], "media-query-exportbucket-8wq3kx2m5n1z")
        self.assertEqual(v["SNAPSHOT_PREFIX"], "edge-snapshot")
        self.assertNotEqual(v["MEDIA_TABLE_NAME"], self.committed["env"]["local"]["vars"]["MEDIA_TABLE_NAME"])

    def test_tuning_vars_are_kept_as_committed(self):
        wired = set(w.VAR_FROM_OUTPUT) | {w.REGION_VAR}
        for k, value in self.committed["vars"].items():
            if k not in wired:
                self.assertEqual(self.env["vars"][k], str(value), k)

    def test_export_prefix_follows_the_output(self):
        d = copy.deepcopy(self.describe)
        for o in d["Stacks"][0]["Outputs"]:
            if o["OutputKey"] == "ExportPrefix":
                o["OutputValue"] = "snapshots/edge"
        self.assertEqual(w.worker_vars(d, {})["SNAPSHOT_PREFIX"], "snapshots/edge")

    def test_no_secret_and_no_local_endpoint_in_the_file(self):
        text = w.render_jsonc(self.config, "x")
        for name in w.WORKER_SECRETS + w.LOCAL_ONLY_VARS:
            self.assertNotIn(name, text)
        # Nor any of the local environment's placeholders.
        for name, value in self.committed["env"]["local"]["vars"].items():
            if name not in self.committed["vars"] and value != self.env["vars"][name]:
                self.assertNotIn(json.dumps(value), text, name)
        # The vars filter drops them even if given.
        got = w.worker_vars(self.describe, {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ACCESS_KEY_ID": "x"})
        self.assertFalse(set(got) & set(w.SECRETS + w.LOCAL_ONLY_VARS))

    def test_secrets_or_a_local_endpoint_in_the_top_level_vars_are_refused(self):
        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            committed = copy.deepcopy(self.committed)
            committed["vars"][name] = "x"
            with self.assertRaisesRegex(w.WiringError, name):
                w.worker_config(self.describe, committed, "media-query", str(ROOT))

    def test_a_committed_production_environment_is_refused(self):
        committed = copy.deepcopy(self.committed)
        committed["env"]["production"] = {"vars": {"MEDIA_TABLE_NAME": "t"}}
        with self.assertRaisesRegex(w.WiringError, "env.production"):
            w.worker_config(self.describe, committed, "media-query", str(ROOT))

    def test_worker_reads_every_var_it_needs_and_nothing_else(self):
        required = set(w.WORKER_REQUIRED) - set(w.WORKER_SECRETS)
        known = set(w.WORKER_REQUIRED) | set(w.WORKER_OPTIONAL)
        self.assertTrue(required, "scripts/worker-settings.json requires no var?")
        vars_ = set(self.env["vars"])
        self.assertLessEqual(required, vars_, "a var the Worker needs is not wired")
        self.assertLessEqual(vars_, known, "a generated var the Worker never reads")
        self.assertLessEqual(set(w.SECRETS), known)

    def test_environment_name_and_top_level(self):
        self.assertEqual(self.env["name"], "media-query-edge")
        self.assertNotEqual(self.env["name"], self.committed["name"])
        self.assertNotIn("vars", self.config, "the committed placeholders must not deploy anywhere")
        self.assertEqual(set(self.config["env"]), {"production"}, "the committed environments are left out")
        self.assertEqual(self.config["name"], self.committed["name"])
        self.assertEqual(self.config["compatibility_date"], self.committed["compatibility_date"])

    def test_paths_are_absolute_and_right(self):
        self.assertEqual(Path(self.config["main"]), ROOT / self.committed["main"])
        self.assertEqual(Path(self.config["build"]["cwd"]), ROOT)
        self.assertEqual(self.config["build"]["command"], self.committed["build"]["command"])
        for d in self.config["build"]["watch_dir"]:
            self.assertTrue(Path(d).is_absolute() and Path(d).is_dir(), d)

    def test_no_build_leaves_the_build_step_out(self):
        config = w.worker_config(self.describe, self.committed, "media-query", str(ROOT), build=False)
        self.assertNotIn("build", config)

    def test_bindings_environments_do_not_inherit_are_refused(self):
        committed = dict(self.committed, kv_namespaces=[{"binding": "K", "id": "x"}])
        with self.assertRaisesRegex(w.WiringError, "kv_namespaces"):
            w.worker_config(self.describe, committed, "media-query", str(ROOT))

    def test_committed_toml_is_inheritable_only(self):
        self.assertLessEqual(set(self.committed) - {"vars", "env"}, w.INHERITABLE)


class CommittedWranglerToml(unittest.TestCase):
    """wrangler.toml: the local placeholders live in the environment `local`;
    the top level, which a plain `wrangler deploy` publishes, cannot serve."""

    def setUp(self):
        self.committed = load_wrangler()
        self.top = self.committed.get("vars", {})
        self.local = self.committed["env"]["local"].get("vars", {})
        self.required = set(w.WORKER_REQUIRED) - set(w.WORKER_SECRETS)
        self.assertTrue(self.required, "scripts/worker-settings.json requires no var?")

    def test_environments(self):
        self.assertEqual(set(self.committed["env"]), {"local"})

    def test_a_plain_deploy_ships_no_placeholder(self):
        wired = set(w.VAR_FROM_OUTPUT) | {w.REGION_VAR}
        self.assertFalse(set(self.top) & wired, "wiring placeholders in the top-level [vars]")
        self.assertFalse(set(self.top) & set(w.LOCAL_ONLY_VARS))
        self.assertFalse(self.required <= set(self.top), "a plain `wrangler deploy` would serve")

    def test_local_has_what_the_worker_needs(self):
        self.assertLessEqual(self.required, set(self.local))
        known = set(w.WORKER_REQUIRED) | set(w.WORKER_OPTIONAL)
        self.assertLessEqual(set(self.local), known, "[env.local.vars] sets a var the Worker never reads")
        # Environments do not inherit [vars]: the local one repeats the tuning.
        for k, v in self.top.items():
            self.assertEqual(self.local.get(k), v, f"[env.local.vars] lacks or changes {k}")

    def test_no_secret_in_any_vars(self):
        tables = {"[vars]": self.top}
        tables.update({f"[env.{e}.vars]": c.get("vars", {}) for e, c in self.committed["env"].items()})
        for where, vars_ in tables.items():
            self.assertFalse(set(vars_) & set(w.WORKER_SECRETS), f"a secret in {where}")

    def test_dev_vars_example_holds_secrets_only(self):
        names = {line.split("=", 1)[0].strip() for line in (ROOT / ".dev.vars.example").read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#")}
        self.assertLessEqual(set(w.SECRETS), names)
        self.assertLessEqual(names, set(w.WORKER_SECRETS))

    def test_dev_vars_are_git_ignored(self):
        def ignored(path):
            r = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
            if r.returncode not in (0, 1):
                self.skipTest("not a git work tree")
            return r.returncode == 0
        for secret_file in (".dev.vars", ".dev.vars.local", ".env", ".env.local"):
            self.assertTrue(ignored(secret_file), f"{secret_file} is not git-ignored")
        self.assertFalse(ignored(".dev.vars.example"))


class DescribeStacksErrors(unittest.TestCase):
    def test_failed_stack(self):
        d = load_fixture()
        d["Stacks"][0]["StackStatus"] = "ROLLBACK_COMPLETE"
        with self.assertRaisesRegex(w.WiringError, "ROLLBACK_COMPLETE"):
            w.worker_vars(d, {})

    def test_missing_output_is_named(self):
        d = load_fixture()
        d["Stacks"][0]["Outputs"] = [o for o in d["Stacks"][0]["Outputs"] if o["OutputKey"] != "ExportBucket"]
        with self.assertRaisesRegex(w.WiringError, "ExportBucket"):
            w.worker_vars(d, {})

    def test_bad_stack_id(self):
        d = load_fixture()
        d["Stacks"][0]["StackId"] = "media-query"
        with self.assertRaises(w.WiringError):
            w.stack_region(d)


class Cli(unittest.TestCase):
    def run_cli(self, *args, stdin=""):
        return subprocess.run([sys.executable, str(HERE / "deploy_wiring.py"), *args],
                              input=stdin, capture_output=True, text=True, cwd=ROOT)

    def test_worker_config_writes_what_the_function_builds(self):
        before = (ROOT / "wrangler.toml").read_bytes()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "deploy" / "wrangler.production.jsonc"
            r = self.run_cli("worker-config", "--describe", str(FIXTURE), "--wrangler-toml", "wrangler.toml",
                             "--repo-root", str(ROOT), "--out", str(out))
            self.assertEqual(r.returncode, 0, r.stderr)
            got = parse_jsonc(out.read_text())
        want = w.worker_config(load_fixture(), load_wrangler(), "media-query", str(ROOT))
        self.assertEqual(got, want)
        self.assertEqual((ROOT / "wrangler.toml").read_bytes(), before)
        self.assertIn("MEDIA_TABLE_NAME = media-query-MediaTable-1RQ9X4T6PZ0K3", r.stderr)

    def test_output(self):
        r = self.run_cli("output", "EdgeReaderUserName", stdin=FIXTURE.read_text())
        self.assertEqual((r.returncode, r.stdout), (0, "media-query-EdgeReaderUser-4FZ8QW2LX7NK\n"))
        r = self.run_cli("output", "NoSuchOutput", stdin=FIXTURE.read_text())
        self.assertEqual(r.returncode, 1)
        self.assertIn("NoSuchOutput", r.stderr)

    def test_resources(self):
        r = self.run_cli("resources", "buckets")
        self.assertEqual(r.stdout.split(), ["MediaBucket", "ExportBucket"])

    def test_secrets_and_key_id(self):
        created = json.dumps({"AccessKey": {
            "UserName": "media-query-EdgeReaderUser-4FZ8QW2LX7NK", "AccessKeyId": "AKIAEXAMPLENEWKEY01",
            "Status": "Active", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "CreateDate": "2026-11-01T17:00:00+00:00"}})
        r = self.run_cli("secrets", stdin=created)
        self.assertEqual(json.loads(r.stdout), {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLENEWKEY01",
                                                "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
        self.assertEqual(r.stderr, "")
        r = self.run_cli("access-key-id", stdin=created)
        self.assertEqual(r.stdout, "AKIAEXAMPLENEWKEY01\n")

    def test_samconfig(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = self.run_cli("samconfig", str(Path(tmp) / "samconfig.toml"))
            self.assertEqual(missing.stdout, "\t\n")


class Keys(unittest.TestCase):
    def key(self, key_id, created, last_used=None, status="Active"):
        return {"UserName": "u", "AccessKeyId": key_id, "Status": status,
                "CreateDate": created, "LastUsedDate": last_used}

    def test_room_for_a_new_key(self):
        self.assertEqual(w.keys_to_delete_first([]), [])
        self.assertEqual(w.keys_to_delete_first([self.key("A", "2026-01-01T00:00:00Z")]), [])

    def test_a_never_used_key_goes_first(self):
        # A key from an interrupted deploy that never reached the Worker.
        keys = [self.key("LIVE", "2026-01-01T00:00:00Z", "2026-11-01T10:00:00Z"),
                self.key("STRAY", "2026-10-01T00:00:00Z")]
        self.assertEqual(w.keys_to_delete_first(keys), ["STRAY"])

    def test_the_key_used_longest_ago_goes(self):
        keys = [self.key("NEW", "2026-10-01T00:00:00Z", "2026-11-01T10:00:00Z"),
                self.key("OLD", "2026-01-01T00:00:00Z", "2026-10-01T09:00:00Z")]
        self.assertEqual(w.keys_to_delete_first(keys), ["OLD"])

    def test_the_recorded_key_in_use_is_kept(self):
        keys = [self.key("IN_WORKER", "2026-10-01T00:00:00Z"),
                self.key("OLD", "2026-01-01T00:00:00Z", "2026-10-01T09:00:00Z")]
        self.assertEqual(w.keys_to_delete_first(keys, in_use="IN_WORKER"), ["OLD"])
        # A record of a key that no longer exists is ignored.
        self.assertEqual(w.keys_to_delete_first(keys, in_use="GONE"), ["IN_WORKER"])

    def test_cli_reads_the_scripts_table(self):
        tsv = ("AKIAOLDKEY000000001\tActive\t2026-01-01T00:00:00Z\t2026-10-01T09:00:00Z\n"
               "AKIANEWKEY000000002\tActive\t2026-10-01T00:00:00Z\tNone\n")
        r = subprocess.run([sys.executable, str(HERE / "deploy_wiring.py"), "keys-to-delete-first"],
                           input=tsv, capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, "AKIANEWKEY000000002\n"), r.stderr)

    def test_an_inactive_key_goes_first(self):
        keys = [self.key("OFF", "2026-10-01T00:00:00Z", "2026-11-01T11:00:00Z", status="Inactive"),
                self.key("ON", "2026-01-01T00:00:00Z", "2026-11-01T10:00:00Z")]
        self.assertEqual(w.keys_to_delete_first(keys), ["OFF"])


class CommittedSamconfig(unittest.TestCase):
    """samconfig.toml: the SAM CLI's defaults for deploy.sh (and by hand)."""

    def setUp(self):
        self.text = (ROOT / "samconfig.toml").read_text()
        self.config = tomllib.loads(self.text)
        self.default = self.config["default"]

    def params(self, command):
        return self.default.get(command, {}).get("parameters", {})

    def test_format(self):
        self.assertEqual(self.config["version"], 0.1)
        self.assertEqual(set(self.config), {"version", "default"})

    def test_stack_name_is_deploy_sh_default_and_no_region(self):
        self.assertEqual(w.samconfig_settings(self.text), {"stack_name": "media-query", "region": ""})
        self.assertIn("${saved_stack:-media-query}", (HERE / "deploy.sh").read_text())
        for command, table in self.default.items():
            self.assertNotIn("region", table.get("parameters", {}), f"a region in [default.{command}]")

    def test_deploy_parameters(self):
        deploy = self.params("deploy")
        self.assertEqual(deploy["capabilities"].split(), ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
        self.assertIs(deploy["resolve_s3"], True)
        self.assertIs(deploy["confirm_changeset"], False)
        self.assertIs(deploy["fail_on_empty_changeset"], False)
        # A new stack takes the template's defaults; an existing one keeps its values.
        self.assertNotIn("parameter_overrides", deploy)

    def test_language_extensions_wherever_sam_reads_the_template(self):
        # template.yaml's Fn::ForEach loops need them; that the template
        # still uses AWS::LanguageExtensions is tests/src/template_deploy.rs.
        for command in ("build", "validate", "deploy"):
            self.assertIs(self.params(command).get("language_extensions"), True, command)


class StackNameAndSamconfig(unittest.TestCase):
    def test_valid(self):
        w.check_stack_name("media-query", "123456789012", "ap-southeast-2")

    def test_upper_case_is_refused(self):
        with self.assertRaisesRegex(w.WiringError, "lower-case"):
            w.check_stack_name("MediaQuery", "123456789012", "us-east-1")

    def test_too_long_for_the_bucket_name(self):
        with self.assertRaisesRegex(w.WiringError, "63"):
            w.check_stack_name("media-query-staging-for-the-team", "123456789012", "ap-southeast-2")

    def test_samconfig_written_by_guided_deploy(self):
        text = '''version = 0.1
[default.deploy.parameters]
stack_name = "media-query"
resolve_s3 = true
s3_prefix = "media-query"
region = "eu-west-1"
confirm_changeset = true
capabilities = "CAPABILITY_IAM"
parameter_overrides = "ExportPrefix=\\"edge-snapshot\\" MinConfidence=\\"50\\""
image_repositories = []
'''
        self.assertEqual(w.samconfig_settings(text), {"stack_name": "media-query", "region": "eu-west-1"})

    def test_region_in_global_parameters(self):
        text = '[default.global.parameters]\nstack_name = "mq"\nregion = "us-west-2"\n'
        self.assertEqual(w.samconfig_settings(text), {"stack_name": "mq", "region": "us-west-2"})


class EmptyingBuckets(unittest.TestCase):
    def test_versions_and_delete_markers(self):
        listing = {"Versions": [{"Key": "a.png", "VersionId": "v1", "IsLatest": True}],
                   "DeleteMarkers": [{"Key": "b.png", "VersionId": "v2", "IsLatest": True}]}
        self.assertEqual(w.delete_objects_payload(listing), {
            "Objects": [{"Key": "a.png", "VersionId": "v1"}, {"Key": "b.png", "VersionId": "v2"}],
            "Quiet": True})

    def test_nothing_left(self):
        self.assertIsNone(w.delete_objects_payload({}))


if __name__ == "__main__":
    unittest.main()
