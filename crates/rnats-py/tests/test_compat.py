"""nats-py compatibility: a nats-py program run with only its imports changed, interop with
nats-py itself, the exception hierarchy, and event-loop lifetimes."""

import asyncio
import inspect
import subprocess
import sys

import pytest

import rnats
from rnats import errors

# A program written for nats-py 2.16 (in the style of its README), printing what it sees.
NATS_PY_PROGRAM = '''
import asyncio
import sys

import nats
from nats.errors import ConnectionClosedError, NoServersError, TimeoutError


async def main():
    nc = await nats.connect(sys.argv[1], name="compat")

    async def message_handler(msg):
        print(f"Received a message on '{msg.subject} {msg.reply}': {msg.data.decode()}")

    sub = await nc.subscribe("foo", cb=message_handler)
    await nc.publish("foo", b"Hello")
    await nc.publish("foo", b"World")
    await nc.publish("foo", b"!!!!!", headers={"Foo": "Bar"})
    await nc.flush()
    await asyncio.sleep(0.1)
    await sub.unsubscribe()

    sub = await nc.subscribe("bar")
    await nc.publish("bar", b"First")
    await nc.publish("bar", b"Second")
    count = 0
    async for msg in sub.messages:
        print(f"iterated: {msg.data.decode()} headers={msg.headers}")
        count += 1
        if count == 2:
            break
    await sub.unsubscribe()

    sub = await nc.subscribe("baz")
    await nc.publish("baz", b"next")
    msg = await sub.next_msg(timeout=1)
    print("next_msg:", msg.data)
    try:
        await sub.next_msg(timeout=0.1)
    except TimeoutError:
        print("next_msg timed out")

    async def help_request(msg):
        await msg.respond(b"I can help with " + msg.data)

    sub = await nc.subscribe("help", "workers", help_request)
    response = await nc.request("help", b"help me", timeout=1)
    print(f"Received response: {response.data.decode()}")
    try:
        await nc.request("nobody", b"x", timeout=0.5)
    except nats.errors.NoRespondersError:
        print("no responders")
    await sub.unsubscribe()

    await nc.drain()
    print("closed:", nc.is_closed)
    try:
        await nc.publish("foo", b"late")
    except ConnectionClosedError:
        print("publish after drain: connection closed")


if __name__ == "__main__":
    asyncio.run(main())
'''


def run(program: str, url: str) -> str:
    out = subprocess.run([sys.executable, "-c", program, url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_nats_py_program_runs_with_only_the_import_changed(server):
    original = run(NATS_PY_PROGRAM, server.url)  # nats-py itself (pinned 2.16.0)
    changed = NATS_PY_PROGRAM.replace("import nats\n", "import rnats as nats\n").replace(
        "from nats.errors", "from rnats.errors"
    )
    assert changed != NATS_PY_PROGRAM
    ported = run(changed, server.url)
    assert ported == original
    assert "Received response: I can help with help me" in ported


async def test_interop_with_nats_py(server):
    import nats as natspy

    theirs = await asyncio.wait_for(natspy.connect(server.url), 5)
    ours = await asyncio.wait_for(rnats.connect(server.url), 5)
    try:
        async def answer(msg):
            await msg.respond(b"from nats-py: " + msg.data)

        await theirs.subscribe("interop.svc", cb=answer)
        await theirs.flush()
        # nats-py's flush() writes its PING straight to the socket while the SUB still waits
        # in its pending buffer for the flusher task, so the PONG can come back before the
        # server has the subscription: ask again (bounded) while nobody answers yet.
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            try:
                r = await asyncio.wait_for(ours.request("interop.svc", b"hi", timeout=2), 5)
                break
            except errors.NoRespondersError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.01)
        assert r.data == b"from nats-py: hi"

        sub = await ours.subscribe("interop.hdr")
        await ours.flush()
        await theirs.publish("interop.hdr", b"x", headers={"K": "V"})
        m = await asyncio.wait_for(sub.next_msg(timeout=2), 5)
        assert m.data == b"x" and m.headers == {"K": "V"}
    finally:
        await asyncio.wait_for(theirs.close(), 5)
        await asyncio.wait_for(ours.close(), 5)


def test_exception_hierarchy_matches_nats_py():
    import nats.errors as theirs

    for name, cls in inspect.getmembers(theirs, inspect.isclass):
        if not issubclass(cls, theirs.Error) or not hasattr(errors, name):
            continue
        ours = getattr(errors, name)
        their_bases = [b.__name__ for b in cls.__mro__]
        our_bases = [b.__name__ for b in ours.__mro__]
        assert our_bases == their_bases, name
    assert issubclass(errors.TimeoutError, asyncio.TimeoutError)
    assert str(errors.TimeoutError()) == "nats: timeout"
    assert str(errors.NoRespondersError()) == "nats: no responders available for request"
    for name in ("Error", "TimeoutError", "NoRespondersError", "ConnectionClosedError", "BadSubjectError",
                 "MaxPayloadError", "NoServersError", "AuthorizationError", "FlushTimeoutError",
                 "DrainTimeoutError", "SlowConsumerError", "BadHeaderError", "OutboundBufferLimitError"):
        assert str(getattr(errors, name)()) == str(getattr(theirs, name)()) if name != "SlowConsumerError" else True


def test_coroutines_are_real_coroutines(server):
    """Public async methods return coroutines: create_task and asyncio.run accept them."""

    async def main():
        nc = await rnats.connect(server.url)
        task = asyncio.ensure_future(nc.publish("x", b""))
        await asyncio.wait_for(task, 5)
        await asyncio.wait_for(asyncio.get_running_loop().create_task(nc.close()), 5)

    asyncio.run(main())


def test_several_event_loops_and_an_unclosed_client(server):
    """A client per asyncio.run(), one never closed: no errors, nothing printed."""
    program = """
import asyncio, sys, rnats

async def use(url, close):
    nc = await rnats.connect(url)
    sub = await nc.subscribe("loops")
    await nc.publish("loops", b"x")
    assert (await sub.next_msg(timeout=2)).data == b"x"
    if close:
        await nc.close()

for i in range(5):
    asyncio.run(use(sys.argv[1], close=(i % 2 == 0)))
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", program, server.url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"
    assert out.stderr == ""


@pytest.mark.parametrize("name", ["rnats.aio.client", "rnats.aio.msg", "rnats.aio.subscription", "rnats.errors"])
def test_module_paths(name):
    __import__(name)


def test_exit_right_after_close_never_aborts(server):
    """Regression: a tokio thread taking the GIL while CPython finalized was ended with
    pthread_exit, which aborts a Rust thread (SIGABRT at exit, seen in 1 of 3 runs)."""
    program = """
import asyncio, sys, rnats

async def main(url):
    nc = await rnats.connect(url)
    async def cb(msg):
        pass
    for i in range(5):
        await nc.subscribe("exit.%d" % i, cb=cb)
        await nc.subscribe("exit.it.%d" % i)
    await nc.publish("exit.0", b"x")
    await nc.drain()

asyncio.run(main(sys.argv[1]))
"""
    for _ in range(12):
        out = subprocess.run([sys.executable, "-c", program, server.url], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, (out.returncode, out.stderr)


def test_quickstart_example_prints_what_nats_py_prints(js_server):
    """The demo's Python quickstart (crates/rnats-py/examples/quickstart.py, run by
    scripts/demo.sh) gives the same output on rnats as on nats-py itself."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    program = path.read_text()
    assert "import rnats as nats  #" in program
    ours = run(program, js_server.url)
    theirs = run(program.replace("import rnats as nats  #", "import nats  #"), js_server.url)
    assert ours == theirs
    assert "request answered: b'I can help with NATS'" in ours
    assert "pulled b'order 2' (stream sequence 3)" in ours
