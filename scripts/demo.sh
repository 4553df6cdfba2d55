#!/usr/bin/env bash
# Starts a throwaway nats-server on a free loopback port and runs the
# quickstart example against it. The server is stopped however this exits.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash "$ROOT/scripts/setup.sh"
BIN="$ROOT/.tools/bin/nats-server"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp "${TMPDIR:-/tmp}/rnats-demo-server.XXXXXX")"
STORE="$(mktemp -d "${TMPDIR:-/tmp}/rnats-demo-js.XXXXXX")"

SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$LOG"
    rm -rf "$STORE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$BIN" -a 127.0.0.1 -p "$PORT" -js -sd "$STORE" >"$LOG" 2>&1 &
SERVER_PID=$!

# Wait (up to ~10 s) until the server accepts connections.
ready=""
for _ in $(seq 1 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()' "$PORT" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    echo "demo: nats-server did not start on 127.0.0.1:$PORT; its log:" >&2
    cat "$LOG" >&2
    exit 1
fi

echo "demo: nats-server $("$BIN" --version | sed 's/^nats-server: //') listening on nats://127.0.0.1:$PORT" >&2
echo "demo: the Rust quickstart (crates/rnats/examples/quickstart.rs)" >&2
cargo run -q -p rnats --example quickstart -- "nats://127.0.0.1:$PORT"
if [[ "${RNATS_SKIP_PYTHON:-}" != "1" ]]; then
    echo "demo: the Python quickstart (crates/rnats-py/examples/quickstart.py: nats-py's, with rnats imports)" >&2
    "$ROOT/.venv/bin/python" "$ROOT/crates/rnats-py/examples/quickstart.py" "nats://127.0.0.1:$PORT"
fi
