//! Replays the fuzz targets' committed seeds (`fuzz/corpus/<target>/`) on
//! stable, in the normal test run, through the target's own checks,
//! `fuzz/src/checks.rs`, compiled here as a module. The crash regressions
//! (`domain/vectors/fuzz.json`) are shared vectors, replayed by
//! `tests/vectors.rs` on both targets; the Lambda targets' seeds and
//! regressions by the Lambda crate's `tests/fuzz_corpus.rs`. CI never
//! builds libFuzzer; `scripts/fuzz.sh` runs the fuzzer itself (nightly).
#![cfg(not(target_arch = "wasm32"))]

#[path = "../../fuzz/src/checks.rs"]
mod checks;

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
/// every target has seeds. (The Lambda targets' seeds are replayed by the
/// Lambda crate's `tests/fuzz_corpus.rs`.)
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
