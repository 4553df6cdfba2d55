#!/usr/bin/env bash
# Alternated pairs of `bench worker` runs on one nats-server: how the "pairs" figures of
# bench/README.md are measured. Each pair runs A then B (odd pairs) or B then A (even pairs)
# back to back, so slow and fast moments of a shared machine fall on both sides alike; the
# figure is the median of the pairs' ratios B/A, never one run's rate.
#
#   bench/pairs.sh [-n PAIRS] SCENARIO A B
#
# A and B are each CLIENT (rnats, async-nats, raw-tcp: the bench binary of this checkout) or
# BINARY:CLIENT (another build's bench binary, e.g. a copy of bench/target/release/bench made
# before a change). Examples:
#
#   bench/pairs.sh -n 20 svc-64 async-nats rnats            # the two clients
#   bench/pairs.sh -n 30 svc-64 /tmp/bench-before:rnats rnats   # two builds of rnats
#
# The server is the one scripts/setup.sh installs (or $NATS_SERVER_BIN), on 127.0.0.1 with a
# port it picks itself and JetStream in a temporary directory, stopped at the end. Build the
# bench first: (cd bench && cargo build --release).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pairs=10
if [[ "${1:-}" == "-n" ]]; then
    pairs="$2"
    shift 2
fi
if [[ $# -ne 3 ]] || ! [[ "$pairs" =~ ^[1-9][0-9]*$ ]]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
scenario="$1"
default_bin="$ROOT/bench/target/release/bench"
server="${NATS_SERVER_BIN:-$ROOT/.tools/bin/nats-server}"
[[ -x "$server" ]] || { echo "pairs: no nats-server at $server (run scripts/setup.sh)" >&2; exit 1; }

# "CLIENT" or "BINARY:CLIENT" -> "BINARY CLIENT"
side() {
    if [[ "$1" == *:* ]]; then echo "${1%:*} ${1##*:}"; else echo "$default_bin $1"; fi
}
read -r bin_a client_a <<<"$(side "$2")"
read -r bin_b client_b <<<"$(side "$3")"
for bin in "$bin_a" "$bin_b"; do
    [[ -x "$bin" ]] || { echo "pairs: no bench binary at $bin (cd bench && cargo build --release)" >&2; exit 1; }
done

work="$(mktemp -d)"
"$server" -a 127.0.0.1 -p -1 -js -sd "$work/js" >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 100); do
    port="$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")"
    [[ -n "$port" ]] && break
    sleep 0.05
done
[[ -n "$port" ]] || { echo "pairs: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
url="nats://127.0.0.1:$port"

# One run's rate, from the worker's JSON line.
rate() {
    "$1" worker --client "$2" --scenario "$scenario" --url "$url" |
        sed -n 's/.*"rate":\([0-9.eE+-]*\).*/\1/p'
}

echo "pairs: $scenario, A = $client_a ($bin_a), B = $client_b ($bin_b), $pairs pairs" >&2
for i in $(seq "$pairs"); do
    if (( i % 2 )); then
        a="$(rate "$bin_a" "$client_a")"; b="$(rate "$bin_b" "$client_b")"
    else
        b="$(rate "$bin_b" "$client_b")"; a="$(rate "$bin_a" "$client_a")"
    fi
    [[ -n "$a" && -n "$b" ]] || { echo "pairs: a run printed no rate" >&2; exit 1; }
    echo "$a $b" | tee -a "$work/pairs" | awk '{ printf "pair %d: A %.1fk B %.1fk B/A %.3f\n", n, $1/1000, $2/1000, $2/$1 }' n="$i" >&2
done
# Medians: of the ratios, and of each side's rates.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio="$(awk '{ print $2 / $1 }' "$work/pairs" | median)"
ahead="$(awk '$2 > $1' "$work/pairs" | wc -l)"
med_a="$(awk '{ print $1 }' "$work/pairs" | median)"
med_b="$(awk '{ print $2 }' "$work/pairs" | median)"
printf '%s: median of the pairs'"'"' ratios B/A %.3f (B ahead in %d of %d); median rates A %.1fk, B %.1fk\n' \
    "$scenario" "$ratio" "$ahead" "$pairs" "$(awk '{ print $1 / 1000 }' <<<"$med_a")" "$(awk '{ print $1 / 1000 }' <<<"$med_b")"
