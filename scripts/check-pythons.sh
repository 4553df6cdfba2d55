#!/usr/bin/env bash
# The abi3 wheel on the oldest and newest CPython the package claims (3.9 and 3.13): builds
# the wheel with maturin (`maturin build --release`, reusing the release build of
# setup-python.sh), installs it with the test tools into a git-ignored venv per interpreter
# (<repo>/.venv-py<version>/) and runs the pytest suite there. Interpreters are found as
# python3.9 / python3.13 on PATH or under pyenv; one that is missing is reported and
# skipped (set RNATS_REQUIRE_PYTHONS=1 to make that an error). Called by scripts/test.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="$ROOT/crates/rnats-py/target/wheels"

# Per interpreter: the newest test tools that still support it (pytest 9 needs 3.10).
declare -A PINS=(
    [3.9]="pytest==8.4.2 pytest-asyncio==1.2.0 nats-py==2.16.0 uvloop==0.23.0 cryptography==50.0.2"
    [3.13]="pytest==9.2.0 pytest-asyncio==1.5.0 nats-py==2.16.0 uvloop==0.23.0 cryptography==50.0.2"
)

find_python() {
    local v="$1"
    if command -v "python$v" >/dev/null 2>&1 && "python$v" -c 'import sys' >/dev/null 2>&1; then
        command -v "python$v"
        return
    fi
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    local found
    found="$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)"
    [[ -n "$found" ]] && echo "$found"
}

rm -rf "$WHEELS"
(
    cd "$ROOT/crates/rnats-py"
    VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" \
        "$ROOT/.venv/bin/maturin" build --release --quiet -o "$WHEELS" >&2
)
wheel="$(ls "$WHEELS"/rnats-*-cp39-abi3-*.whl)"

status=0
for v in 3.9 3.13; do
    py="$(find_python "$v" || true)"
    if [[ -z "$py" ]]; then
        echo "check-pythons: no python$v found: skipped" >&2
        [[ "${RNATS_REQUIRE_PYTHONS:-}" == "1" ]] && status=1
        continue
    fi
    venv="$ROOT/.venv-py$v"
    [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check ${PINS[$v]} >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel" >&2
    echo "check-pythons: $("$venv/bin/python" -V) with $(basename "$wheel")" >&2
    # Run from outside the source tree so the installed wheel is what gets imported.
    (cd "$venv" && "$venv/bin/python" -m pytest "$ROOT/crates/rnats-py/tests" -q -p no:cacheprovider) || status=1
done
exit $status
