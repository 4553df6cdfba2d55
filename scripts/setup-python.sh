#!/usr/bin/env bash
# The Python bindings (crates/rnats-py): creates the git-ignored virtualenv <repo>/.venv/
# (idempotent), installs the pinned tools into it from PyPI, and builds + installs the
# `rnats` Python package into it with `maturin develop` (an editable install: the Python
# sources stay in crates/rnats-py/python, the built extension is copied next to them).
# Needs only python3 (with venv) and the Rust toolchain. Called by scripts/setup.sh.
#
# Rebuilding is left to cargo: when nothing changed, `maturin develop` takes a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CRATE="$ROOT/crates/rnats-py"

# Pinned: the versions the bindings were tested with (cryptography: tests/test_auth.py makes its
# TLS certificates, NKeys and JWTs with it).
PINS=(maturin==1.16.0 pytest==9.2.0 pytest-asyncio==1.5.0 nats-py==2.16.0 cryptography==50.0.2 uvloop==0.23.0)

if [[ ! -x "$PY" ]]; then
    echo "setup: creating the virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi

# Install the pins only when they differ from what is there (`pip freeze` is fast; pip
# itself resolving four pins against PyPI takes seconds).
want="$(printf '%s\n' "${PINS[@]}" | tr '[:upper:]_' '[:lower:]-' | sort)"
have="$("$PY" -m pip freeze --disable-pip-version-check 2>/dev/null | tr '[:upper:]_' '[:lower:]-' | sort)"
if [[ -n "$(comm -23 <(echo "$want") <(echo "$have"))" ]]; then
    echo "setup: installing ${PINS[*]} into $VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
fi

# Release build: the bindings are about speed, and the tests exercise the optimised code.
# The crate is its own workspace: its target/ is crates/rnats-py/target unless
# CARGO_TARGET_DIR says otherwise.
start=$SECONDS
echo "setup: building the rnats Python package (maturin develop --release)" >&2
(
    cd "$CRATE"
    VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --release --quiet >&2
)
# The import is the proof that the build is usable.
"$PY" -c "import rnats, rnats._rnats" || {
    echo "setup: the built rnats package does not import" >&2
    exit 1
}
echo "setup: python package built in $(( SECONDS - start ))s" >&2
