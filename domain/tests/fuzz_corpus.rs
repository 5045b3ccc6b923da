//! Replays the fuzz targets' inputs on stable, in the normal test run: every
//! committed seed (`fuzz/corpus/<target>/`) and every crash regression
//! (`domain/vectors/fuzz.json`) goes through the target's own checks,
//! `fuzz/src/checks.rs`, compiled here as a module. CI never builds
//! libFuzzer; `scripts/fuzz.sh` runs the fuzzer itself (nightly).
#![cfg(not(target_arch = "wasm32"))]

#[path = "../../fuzz/src/checks.rs"]
mod checks;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

/// Runs one input through a target's check; a failure is returned, so
/// that one run reports every failing input.
fn replay(target: &str, what: &str, data: &[u8]) -> Result<(), String> {
    let check = checks::target(target).ok_or_else(|| format!("{what}: no target `{target}`"))?;
    std::panic::catch_unwind(|| check(data)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        format!("{target}: {what}: {message}")
    })
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} input(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The targets, their sources and their corpus directories agree, and
/// every target has seeds. (The Lambda targets' seeds are replayed by
/// `scripts/fuzz.sh`, which builds the Lambda crate.)
#[test]
fn every_fuzz_target_has_a_corpus() {
    let fuzz = fuzz_dir();
    let names = |dir: &Path, ext: Option<&str>| -> Vec<String> {
        files(dir)
            .iter()
            .filter(|p| ext.is_none_or(|e| p.extension().is_some_and(|x| x == e)))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let mut targets: Vec<String> = checks::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(checks::LAMBDA_TARGETS.iter().map(|n| n.to_string()))
        .collect();
    targets.sort();
    assert_eq!(names(&fuzz.join("fuzz_targets"), Some("rs")), targets);
    assert_eq!(names(&fuzz.join("corpus"), None), targets);
    for t in &targets {
        let seeds = files(&fuzz.join("corpus").join(t)).len();
        assert!(
            (1..=100).contains(&seeds),
            "corpus/{t}: {seeds} seeds; keep the committed corpus small"
        );
    }
}

#[test]
fn fuzz_corpus_replays() {
    let corpus = fuzz_dir().join("corpus");
    let mut failures = Vec::new();
    let mut n = 0;
    for (target, _) in checks::TARGETS {
        for file in files(&corpus.join(target)) {
            let data = std::fs::read(&file).expect("read seed");
            let name = file.file_name().unwrap().to_string_lossy();
            failures.extend(replay(target, &name, &data).err());
            n += 1;
        }
    }
    println!("fuzz corpus: {n} inputs replayed");
    report(failures);
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn fuzz_regressions_replay() {
    let v: Value = serde_json::from_str(include_str!("../vectors/fuzz.json")).expect("JSON");
    let cases = v["cases"].as_array().expect("`cases` is an array");
    let mut failures = Vec::new();
    let mut skipped = 0;
    for (i, c) in cases.iter().enumerate() {
        let target = c["target"].as_str().expect("`target`");
        if checks::LAMBDA_TARGETS.contains(&target) {
            // Needs the Lambda crate; `scripts/fuzz.sh` replays its corpus.
            skipped += 1;
            continue;
        }
        let data = match (c["input"].as_str(), c["input_hex"].as_str()) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(hex)) => unhex(hex),
            _ => panic!("case {i}: give exactly one of `input` and `input_hex`"),
        };
        failures.extend(replay(target, &format!("fuzz.json case {i}"), &data).err());
    }
    println!(
        "fuzz regressions: {} inputs replayed, {skipped} of Lambda targets skipped",
        cases.len() - skipped
    );
    report(failures);
}
