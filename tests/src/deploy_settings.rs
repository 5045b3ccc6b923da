//! The deploy wiring's data on the Worker's settings,
//! `scripts/worker-settings.json` (read by `scripts/deploy_wiring.py`),
//! against the settings the Worker reads, declared in
//! [`media_query_domain::worker_settings`] (whose constants
//! `Config::from_env` in `edge/src/worker_glue.rs` reads). Tests only.
//!
//! Both ways: the file's `required`, `optional` and secrets are the
//! Worker's; the vars the wiring sets (from the stack's outputs and its
//! region) and the secrets cover every setting the Worker requires; every
//! var it sets is one the Worker reads, and no secret; the local-only vars
//! (never deployed) are optional settings of the Worker.

use crate::repo_root;
use media_query_domain::worker_settings as worker;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// The file, from the repository root.
const FILE: &str = "scripts/worker-settings.json";

/// Its keys, each read by `scripts/deploy_wiring.py`.
const KEYS: [&str; 7] = [
    "required",
    "optional",
    "secrets",
    "optional-secrets",
    "region-var",
    "var-from-output",
    "local-only",
];

/// The committed file.
fn committed() -> Json {
    let path = repo_root().join(FILE);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FILE} is not JSON: {e}"))
}

/// A list of the Worker's settings as a set.
fn declared(list: &'static [&'static str]) -> BTreeSet<&'static str> {
    list.iter().copied().collect()
}

/// The names of `key`: a list of strings, each once.
fn names<'j>(json: &'j Json, key: &str, problems: &mut Vec<String>) -> BTreeSet<&'j str> {
    let Some(list) = json[key].as_array() else {
        problems.push(format!("{FILE}: \"{key}\" is not a list of names"));
        return BTreeSet::new();
    };
    let mut set = BTreeSet::new();
    for v in list {
        match v.as_str() {
            Some(name) if set.insert(name) => {}
            Some(name) => problems.push(format!("{FILE}: {name} twice in \"{key}\"")),
            None => problems.push(format!("{FILE}: \"{key}\" holds {v}, not a name")),
        }
    }
    set
}

/// The file's list `key` against the Worker's `worker_settings::constant`.
fn same_as_the_workers(
    problems: &mut Vec<String>,
    key: &str,
    got: &BTreeSet<&str>,
    constant: &str,
    want: &'static [&'static str],
) {
    let want: BTreeSet<&str> = want.iter().copied().collect();
    for name in got.difference(&want) {
        problems.push(format!(
            "{FILE}'s \"{key}\" has {name}, which is not in worker_settings::{constant} \
             (domain/src/worker_settings.rs, what the Worker reads): remove it from {FILE}"
        ));
    }
    for name in want.difference(got) {
        problems.push(format!(
            "{FILE}'s \"{key}\" lacks {name}, which is in worker_settings::{constant} \
             (domain/src/worker_settings.rs, what the Worker reads): add it to {FILE}"
        ));
    }
}

/// What is wrong with `json` as the deploy wiring's data on the Worker's
/// settings, one message a problem, each naming the file to change.
fn wiring_problems(json: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = json.as_object() else {
        return vec![format!("{FILE} is not a JSON object")];
    };
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let expected = BTreeSet::from(KEYS);
    if keys != expected {
        problems.push(format!(
            "{FILE}'s keys are {keys:?}, expected {expected:?} (scripts/deploy_wiring.py reads \
             them): change {FILE}, or deploy_wiring.py and this test with it"
        ));
    }

    let required = names(json, "required", &mut problems);
    same_as_the_workers(
        &mut problems,
        "required",
        &required,
        "REQUIRED",
        worker::REQUIRED,
    );
    let optional = names(json, "optional", &mut problems);
    same_as_the_workers(
        &mut problems,
        "optional",
        &optional,
        "OPTIONAL",
        worker::OPTIONAL,
    );
    let secrets = names(json, "secrets", &mut problems);
    same_as_the_workers(
        &mut problems,
        "secrets",
        &secrets,
        "SECRETS",
        worker::SECRETS,
    );
    let optional_secrets = names(json, "optional-secrets", &mut problems);
    same_as_the_workers(
        &mut problems,
        "optional-secrets",
        &optional_secrets,
        "OPTIONAL_SECRETS",
        worker::OPTIONAL_SECRETS,
    );
    let local_only = names(json, "local-only", &mut problems);

    // The var deploy_wiring.py sets from the stack's region.
    let region = json["region-var"].as_str();
    if region != Some(worker::AWS_REGION) {
        problems.push(format!(
            "{FILE}'s \"region-var\" is {}: the Worker reads the region as {} \
             (worker_settings::AWS_REGION): change {FILE}",
            json["region-var"],
            worker::AWS_REGION
        ));
    }
    let Some(from_output) = json["var-from-output"].as_object() else {
        problems.push(format!(
            "{FILE}: \"var-from-output\" is not an object {{var: stack output}}"
        ));
        return problems;
    };
    for (var, output) in from_output {
        if output.as_str().is_none_or(|o| o.is_empty()) {
            problems.push(format!(
                "{FILE}: \"var-from-output\" sets {var} from {output}, not an output's name"
            ));
        }
    }
    let wired: BTreeSet<&str> = from_output
        .keys()
        .map(String::as_str)
        .chain(region)
        .collect();

    // Every setting the Worker requires is wired or a secret.
    for name in worker::REQUIRED {
        if !wired.contains(*name) && !secrets.contains(*name) {
            problems.push(format!(
                "{name}: the Worker requires it (worker_settings::REQUIRED), and {FILE} neither \
                 sets it from a stack output (\"var-from-output\") nor lists it in \"secrets\": \
                 the deployed Worker would answer 500; add it to {FILE}"
            ));
        }
    }
    // Every var wired is one the Worker reads, and no secret.
    let all_secrets = declared(worker::SECRETS)
        .union(&declared(worker::OPTIONAL_SECRETS))
        .copied()
        .collect::<BTreeSet<&str>>();
    for name in &wired {
        if !worker::is_read(name) {
            problems.push(format!(
                "{name}: {FILE} sets it, and the Worker never reads it (it is not in \
                 worker_settings::REQUIRED or OPTIONAL, domain/src/worker_settings.rs): remove \
                 it from {FILE}, or read it in edge/src/worker_glue.rs and declare it"
            ));
        }
        if all_secrets.contains(*name) {
            problems.push(format!(
                "{name}: {FILE} sets it as a var, and it is a secret (never in a configuration \
                 file): remove it from \"var-from-output\" in {FILE}"
            ));
        }
        if local_only.contains(*name) {
            problems.push(format!(
                "{name}: {FILE} both sets it and lists it in \"local-only\" (never deployed): \
                 change {FILE}"
            ));
        }
    }
    // The local-only vars (dropped from the deployed vars) are optional.
    let optional_vars = declared(worker::OPTIONAL);
    for name in &local_only {
        if !optional_vars.contains(*name) || all_secrets.contains(*name) {
            problems.push(format!(
                "{name}: {FILE}'s \"local-only\" vars must be optional settings of the Worker \
                 (worker_settings::OPTIONAL), no secret: change {FILE}"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assert_problem(problems: &[String], words: &[&str]) {
        assert!(
            problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
            "expected a problem naming {words:?}, got {problems:#?}"
        );
    }

    #[test]
    fn the_deploy_wiring_sets_what_the_worker_reads() {
        let problems = wiring_problems(&committed());
        assert!(
            problems.is_empty(),
            "{FILE} against the Worker's settings (domain/src/worker_settings.rs):\n  {}",
            problems.join("\n  ")
        );
    }

    #[test]
    fn a_required_setting_left_unset_is_reported() {
        let mut json = committed();
        json["var-from-output"]
            .as_object_mut()
            .expect("var-from-output")
            .remove(worker::SNAPSHOT_BUCKET);
        assert_problem(
            &wiring_problems(&json),
            &["SNAPSHOT_BUCKET: the Worker requires it", FILE],
        );

        let mut json = committed();
        json["secrets"] = json!([worker::AWS_ACCESS_KEY_ID]);
        let problems = wiring_problems(&json);
        assert_problem(
            &problems,
            &["\"secrets\" lacks AWS_SECRET_ACCESS_KEY", FILE],
        );
        assert_problem(
            &problems,
            &["AWS_SECRET_ACCESS_KEY: the Worker requires it", FILE],
        );

        let mut json = committed();
        json["region-var"] = json!("REGION");
        assert_problem(
            &wiring_problems(&json),
            &["\"region-var\" is \"REGION\"", FILE],
        );

        let mut json = committed();
        json["required"] = json!(["AWS_REGION", "MEDIA_TABLE_NAME"]);
        assert_problem(
            &wiring_problems(&json),
            &["\"required\" lacks SNAPSHOT_BUCKET"],
        );
    }

    #[test]
    fn a_setting_the_worker_never_reads_is_reported() {
        let mut json = committed();
        json["var-from-output"]["SNAPSHOT_BUKET"] = json!("ExportBucket");
        assert_problem(
            &wiring_problems(&json),
            &["SNAPSHOT_BUKET", "never reads it", FILE],
        );

        let mut json = committed();
        json["var-from-output"][worker::AWS_SESSION_TOKEN] = json!("Token");
        assert_problem(
            &wiring_problems(&json),
            &["AWS_SESSION_TOKEN", "it is a secret"],
        );

        let mut json = committed();
        json["local-only"] = json!([worker::AWS_ENDPOINT_URL, worker::MEDIA_TABLE_NAME]);
        let problems = wiring_problems(&json);
        assert_problem(
            &problems,
            &["MEDIA_TABLE_NAME", "\"local-only\" vars must be optional"],
        );
        assert_problem(&problems, &["MEDIA_TABLE_NAME", "both sets it"]);

        let mut json = committed();
        json["optional"]
            .as_array_mut()
            .expect("optional")
            .push(json!("EXPORT_TTL_SECONDS"));
        assert_problem(
            &wiring_problems(&json),
            &[
                "\"optional\" has EXPORT_TTL_SECONDS",
                "worker_settings::OPTIONAL",
            ],
        );

        let mut json = committed();
        let object = json.as_object_mut().expect("an object");
        let local = object.remove("local-only").expect("local-only");
        object.insert("local_only".into(), local);
        let problems = wiring_problems(&json);
        assert_problem(&problems, &["keys are", "local_only", FILE]);
        assert_problem(&problems, &["\"local-only\" is not a list"]);
    }
}
