//! Replays every fuzz target's committed seed corpus (`fuzz/corpus/<target>/`)
//! and every input that once crashed it (`fuzz/regressions/<target>/`)
//! through the harness the libFuzzer targets call, on the stable toolchain
//! and without sanitizers: what the fuzzer found stays found. The long runs
//! themselves are `fuzz/run.sh`.

use std::path::Path;

use supervisor::fuzzing::TARGETS;
use supervisor_tests::workspace_root;

/// The files of `dir`, sorted, or none if it does not exist.
fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_seed_corpus_and_a_fuzz_target() {
    let fuzz = workspace_root().join("fuzz");
    for (name, _) in TARGETS {
        assert!(
            !inputs(&fuzz.join("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name}/ holds no seed input"
        );
        assert!(
            fuzz.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .exists(),
            "fuzz/fuzz_targets/{name}.rs is missing"
        );
    }
}

#[test]
fn corpus_and_regressions_replay_clean() {
    let fuzz = workspace_root().join("fuzz");
    let mut replayed = 0;
    for (name, harness) in TARGETS {
        for kind in ["corpus", "regressions"] {
            for file in inputs(&fuzz.join(kind).join(name)) {
                let data = std::fs::read(&file)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
                let outcome = std::panic::catch_unwind(|| harness(&data));
                assert!(
                    outcome.is_ok(),
                    "{name} fails on {} (replay with: cargo +nightly fuzz run {name} {})",
                    file.display(),
                    file.display()
                );
                replayed += 1;
            }
        }
    }
    assert!(replayed >= TARGETS.len(), "only {replayed} inputs replayed");
}
