//! Replays the corpus of the fuzz targets whose checks need this crate
//! (`checks::LAMBDA_TARGETS`: the SQS and SNS envelopes of S3 events) on
//! stable, in the normal test run. The domain crate's
//! `tests/fuzz_corpus.rs` replays every other target; CI never builds
//! libFuzzer, `scripts/fuzz.sh` runs the fuzzer itself (nightly).

#[path = "../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;
#[path = "../../fuzz/src/envelope.rs"]
mod envelope;

use std::path::Path;

/// A Lambda target's check, by name.
fn target(name: &str) -> fn(&[u8]) {
    match name {
        "s3_envelope" => envelope::s3_envelope,
        _ => panic!("no check for the Lambda fuzz target `{name}`"),
    }
}

#[test]
fn the_lambda_targets_corpus_replays() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut n = 0;
    for name in checks::LAMBDA_TARGETS {
        let check = target(name);
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(name))
            .unwrap_or_else(|e| panic!("corpus/{name}: {e}"))
            .map(|e| e.expect("directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus/{name} has no seeds");
        for file in files {
            let data = std::fs::read(&file).expect("read seed");
            // A panic names its seed: the check's own message says why.
            println!("{name}: {}", file.display());
            check(&data);
            n += 1;
        }
    }
    println!("fuzz corpus of the Lambda targets: {n} inputs replayed");
}

#[test]
fn the_lambda_targets_regressions_replay() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../domain/vectors/fuzz.json")).expect("JSON");
    for (i, c) in v["cases"].as_array().expect("cases").iter().enumerate() {
        let name = c["target"].as_str().expect("`target`");
        if !checks::LAMBDA_TARGETS.contains(&name) {
            continue;
        }
        let data = c["input"]
            .as_str()
            .unwrap_or_else(|| panic!("case {i}: a Lambda target's case gives `input`"));
        println!("fuzz.json case {i}");
        target(name)(data.as_bytes());
    }
}
