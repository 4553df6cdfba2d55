"""Fixtures: real nats-server processes on free loopback ports.

The server binary is found through NATS_SERVER_BIN, then <repo>/.tools/bin/nats-server, then
PATH. Every test is bounded: a hang dumps the stacks and ends the run (faulthandler), and the
tests bound their own awaits with timeouts.
"""

import faulthandler
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TEST_LIMIT_S = 60


def server_binary() -> str:
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        return env
    local = REPO / ".tools" / "bin" / "nats-server"
    if local.is_file():
        return str(local)
    found = shutil.which("nats-server")
    if found:
        return found
    pytest.exit("nats-server not found: set NATS_SERVER_BIN or run scripts/setup.sh", returncode=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One nats-server process; `stop()` and `start()` again keep the same port."""

    def __init__(self, *args: str, port: int = 0) -> None:
        self.args = list(args)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [server_binary(), "-a", "127.0.0.1", "-p", str(self.port), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("nats-server did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="session")
def server():
    """A server shared by the tests that do not change it."""
    s = Server().start()
    yield s
    s.stop()


@pytest.fixture
def make_server():
    """A factory of servers owned by one test (stopped after it)."""
    made = []

    def make(*args: str, port: int = 0) -> Server:
        s = Server(*args, port=port).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture(autouse=True)
def hang_guard():
    """A test that hangs beyond TEST_LIMIT_S dumps every thread's stack and ends the run."""
    faulthandler.dump_traceback_later(TEST_LIMIT_S, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def js_server(tmp_path_factory):
    """A JetStream-enabled server (``-js``, its store in a temporary directory) shared by the
    JetStream tests; each test uses streams of its own names."""
    store = tmp_path_factory.mktemp("js-store")
    s = Server("-js", "-sd", str(store)).start()
    yield s
    s.stop()
