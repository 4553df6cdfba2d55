//! Runs every fuzz target's checks over its committed inputs: the hand-written seeds
//! (`fuzz/seeds/<target>/`) and the corpus a fuzzing run left, minimized (`fuzz/regress/
//! <target>/`). On a stable toolchain this is what the test command does for the fuzz
//! targets; with cargo-fuzz the same functions run under libFuzzer.

use std::path::Path;

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut total = 0;
    for (name, check) in rnats_fuzz_checks::TARGETS {
        let mut count = 0;
        for dir in ["seeds", "regress"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("a readable directory entry").path();
                let data = std::fs::read(&path).expect("a readable input");
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{name}: {} fails", path.display());
                count += 1;
            }
        }
        assert!(count > 0, "no committed inputs for the fuzz target {name}");
        eprintln!("{name}: {count} inputs");
        total += count;
    }
    eprintln!("{total} inputs replayed");
}
