#!/usr/bin/env bash
# The performance guard: instructions per message of the protocol core's hot paths (parse,
# encode, the connection's publish and delivery), counted by valgrind — stable on a noisy
# machine, unlike times — against the counts recorded in perf/instructions.txt. Fails when a
# case costs more than 10 % over its record.
#
#   scripts/perf-guard.sh            compare (what the test command runs)
#   scripts/perf-guard.sh --record   rewrite perf/instructions.txt with the counts measured now
#
# Each case runs twice under `valgrind --tool=cachegrind --cache-sim=no`: over 20 blocks of
# 1,000 messages and over none; the difference divided by 20,000 is the cost of one message,
# the set-up subtracted. The cases are crates/rnats-proto/examples/instructions.rs. Counts
# depend on the compiler: after a toolchain update, re-record (and say so in the commit).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RECORD="$ROOT/perf/instructions.txt"
BLOCKS=20
LIMIT_PERCENT=10

if ! command -v valgrind >/dev/null 2>&1; then
    echo "perf-guard: valgrind is not installed, so instruction counts cannot be measured; skipped" >&2
    exit 0
fi
record=0
[[ "${1:-}" == "--record" ]] && record=1

cargo build --release --quiet -p rnats-proto --example instructions
bin="$ROOT/target/release/examples/instructions"

# Instructions executed by one run of the example.
irefs() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*I *refs: *//p' | tr -d ','
}

declare -A measured
for case in $("$bin" --list); do
    full="$(irefs "$case" "$BLOCKS")"
    base="$(irefs "$case" 0)"
    measured[$case]=$(( (full - base) / (BLOCKS * 1000) ))
done

if [[ $record -eq 1 ]]; then
    {
        echo "# Instructions per message of the protocol core's hot paths, measured by"
        echo "# scripts/perf-guard.sh --record ($(rustc --version))."
        echo "# scripts/perf-guard.sh fails the test command when a case exceeds its count by more than ${LIMIT_PERCENT} %."
        for case in $("$bin" --list); do
            echo "$case ${measured[$case]}"
        done
    } >"$RECORD"
    echo "perf-guard: recorded $RECORD"
    cat "$RECORD"
    exit 0
fi

failed=0
while read -r case count; do
    [[ -z "$case" || "$case" == \#* ]] && continue
    now="${measured[$case]:-}"
    if [[ -z "$now" ]]; then
        echo "perf-guard: $case is recorded but no longer measured" >&2
        failed=1
        continue
    fi
    change=$(( (now - count) * 100 / count ))
    verdict=ok
    if (( now * 100 > count * (100 + LIMIT_PERCENT) )); then
        verdict="REGRESSION (over +${LIMIT_PERCENT} %)"
        failed=1
    fi
    printf 'perf-guard: %-18s %6d instructions/msg (recorded %6d, %+d %%) %s\n' \
        "$case" "$now" "$count" "$change" "$verdict"
done <"$RECORD"
if [[ $failed -ne 0 ]]; then
    echo "perf-guard: a hot path got slower; find the cause, or re-record with --record and say why in the commit" >&2
    exit 1
fi
