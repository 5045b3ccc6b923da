//! The fuzz targets' checks, one function per target.
//!
//! Each `fuzz_targets/<target>.rs` is a one-line call into [`checks`] (or
//! [`envelope`]), and `domain/tests/fuzz_corpus.rs` compiles `checks.rs` on
//! stable to replay the committed corpus and the crash regressions, so the
//! fuzzer and CI check exactly the same invariants.

pub mod checks;
#[cfg(feature = "lambda")]
pub mod envelope;
