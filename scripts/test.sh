#!/usr/bin/env bash
# The whole check, as CI runs it: install the pinned nats-server (and build the Python
# bindings into .venv/), then format, lint and test the workspace against it, lint the library
# without its default features, compile the two separate workspaces (bench/, fuzz/) so they
# cannot rot, lint the Python bindings' crate (a workspace of its own) and run their pytest
# suite. Exits non-zero on the first
# failure; prints each step's duration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash "$ROOT/scripts/setup.sh"
export NATS_SERVER_BIN="$ROOT/.tools/bin/nats-server"

# Runs one step: its command line, then how long it took.
step() {
    local start=$SECONDS
    echo "==> $*" >&2
    "$@"
    echo "<== $(( SECONDS - start ))s: $*" >&2
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
# The API docs build without a broken link or a missing doc.
RUSTDOCFLAGS="-D warnings" step cargo doc --workspace --no-deps
# Without JetStream and Key-Value (the `jetstream` and `kv` features, the defaults): what cfg
# leaves behind must still be warning-free and pass, and the tests that need them are
# compiled out. (The kv tests' nats-py interop needs the .venv that setup.sh built above.)
step cargo clippy -p rnats --no-default-features --all-targets -- -D warnings
step cargo test -p rnats --no-default-features
# The optional features, off by default (`blocking`, `metrics`): linted, documented, and their
# tests run.
step cargo clippy -p rnats --all-features --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" step cargo doc -p rnats --no-deps --all-features
step cargo test -p rnats --all-features --test it -- blocking:: metrics::
# bench/ and fuzz/ are workspaces of their own (own Cargo.lock and target/), which the
# workspace commands above never build. Checking (not building) the fuzz targets needs no
# nightly toolchain: only `cargo fuzz run` adds the sanitizer flags. Nor does it link, so
# libfuzzer-sys is pointed at a libFuzzer archive that need not exist
# (CUSTOM_LIBFUZZER_PATH) instead of compiling libFuzzer's C++ sources: no C++ compiler
# needed, and ~30 s saved.
step cargo fmt --manifest-path bench/Cargo.toml --all -- --check
step cargo clippy --manifest-path bench/Cargo.toml --all-targets -- -D warnings
step cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
CUSTOM_LIBFUZZER_PATH="$ROOT/fuzz/target/check-only/libfuzzer.a" \
    step cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
# (This includes the chaos soak, crates/rnats/tests/soak.rs, for its default 45 s of load;
# RNATS_SOAK_SECS=300 makes it the 5-minute run.)
step cargo test --workspace
# The fuzz targets' checks over their committed inputs (fuzz/seeds, fuzz/regress) on the
# stable toolchain; then each target under libFuzzer for 10 s (scripts/fuzz.sh), which needs
# a C++ compiler for libFuzzer itself.
step cargo test --manifest-path fuzz/Cargo.toml -p rnats-fuzz-checks
# Instructions per message of the protocol core's hot paths against perf/instructions.txt
# (valgrind; skipped with a message where it is not installed): +10 % fails.
step bash "$ROOT/scripts/perf-guard.sh"
if command -v c++ >/dev/null 2>&1; then
    step bash "$ROOT/scripts/fuzz.sh"
else
    echo "test: no C++ compiler, so no libFuzzer runs (the replay above covered the inputs)" >&2
fi
# crates/rnats-py is an extension module: its test binaries could not link libpython, so it
# is a workspace of its own, linted here and built by maturin in setup.sh.
step cargo fmt --manifest-path crates/rnats-py/Cargo.toml --all -- --check
step cargo clippy --manifest-path crates/rnats-py/Cargo.toml --all-targets -- -D warnings

# The Python suite against real servers. pytest's exit code 5 means "no tests collected":
# a broken test path, not a pass, so it fails the run with a clear message.
pytest_suite() {
    local rc=0
    "$ROOT/.venv/bin/python" -m pytest "$ROOT/crates/rnats-py/tests" -q -p no:cacheprovider || rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "test: pytest collected no tests in crates/rnats-py/tests" >&2
        return 1
    fi
    return $rc
}
step pytest_suite
# The same suite on the wheel users install, under the oldest and newest CPython it claims.
step bash "$ROOT/scripts/check-pythons.sh"
