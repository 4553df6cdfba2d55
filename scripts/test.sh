#!/usr/bin/env bash
# The whole check, as CI runs it: install the pinned nats-server, then format,
# lint and test the workspace against it. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash "$ROOT/scripts/setup.sh"
export NATS_SERVER_BIN="$ROOT/.tools/bin/nats-server"

echo "==> cargo fmt --all -- --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test --workspace" >&2
cargo test --workspace
