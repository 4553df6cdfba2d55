#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ and runs each one, without cargo-fuzz: the same
# instrumentation flags cargo-fuzz passes (sanitizer coverage, debug assertions, overflow
# checks; no AddressSanitizer: rnats forbids unsafe, and ASan halves the rate), with a nightly
# toolchain when one is installed, otherwise the stable one with RUSTC_BOOTSTRAP=1.
#
#   scripts/fuzz.sh                 every target for 10 s (what the test command runs)
#   scripts/fuzz.sh --runs 10000000 every target for 10 million executions
#   scripts/fuzz.sh --time 600 parse    one target for 10 minutes
#   scripts/fuzz.sh --minimize      then merge each corpus, minimized, into fuzz/regress/
#
# New inputs go to fuzz/corpus/<target>/ (ignored by git); fuzz/seeds/ and fuzz/regress/ are
# read, never written, except by --minimize. A crash stops the script with libFuzzer's report
# and the input in fuzz/artifacts/<target>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

limit=(-max_total_time=10)
minimize=0
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) limit=(-runs="$2"); shift 2 ;;
        --time) limit=(-max_total_time="$2"); shift 2 ;;
        --minimize) minimize=1; shift ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(parse headers info connection ack_subject kv_key object_name)
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
# --target keeps the flags off build scripts and proc macros, as cargo-fuzz does.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    cargo "${toolchain[@]}" build --release --bins --target "$host" --quiet
bin="$ROOT/fuzz/target/$host/release"

for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    inputs=("corpus/$t" "seeds/$t")
    [[ -d "regress/$t" ]] && inputs+=("regress/$t")
    stats="$("$bin/$t" "${inputs[@]}" -dict=nats.dict "${limit[@]}" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" 2>&1)" || {
        echo "$stats" | tail -40 >&2
        echo "fuzz.sh: $t crashed; the input is in fuzz/artifacts/$t/" >&2
        exit 1
    }
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$stats")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' <<<"$stats")"
    echo "fuzz $t: $runs executions, $rate/s, 0 crashes, corpus $(ls "corpus/$t" | wc -l) inputs"
    if [[ $minimize -eq 1 ]]; then
        mkdir -p "regress/$t"
        "$bin/$t" -merge=1 "regress/$t" "corpus/$t" "seeds/$t" -dict=nats.dict >/dev/null 2>&1
        echo "  regress/$t: $(ls "regress/$t" | wc -l) inputs after merging"
    fi
done
