"""The same client on other event loops and through each wake-up path of the completion hub:
uvloop, the `call_soon_threadsafe` fallback (a loop without `add_reader`), several loops one
after the other, and many requests in flight (each answer reaches its own caller)."""

import asyncio

import pytest
import uvloop

import rnats
from rnats.aio import client as client_mod


async def _exercise(url: str) -> None:
    """Subscribe with a callback, publish, request/reply (sequential and 200 in flight)."""
    async with await rnats.connect(url) as nc:
        got = []
        done = asyncio.Event()

        async def on_msg(msg):
            got.append(msg.data)
            if len(got) == 50:
                done.set()

        await nc.subscribe("loops.msgs", cb=on_msg)

        async def echo(msg):
            await msg.respond(b"re:" + msg.data)

        await nc.subscribe("loops.echo", cb=echo)
        await nc.flush()
        for i in range(50):
            await nc.publish("loops.msgs", str(i).encode())
        await asyncio.wait_for(done.wait(), 10)
        assert got == [str(i).encode() for i in range(50)]

        answer = await nc.request("loops.echo", b"one", timeout=5)
        assert answer.data == b"re:one"

        async def ask(i: int) -> bytes:
            return (await nc.request("loops.echo", str(i).encode(), timeout=10)).data

        answers = await asyncio.wait_for(asyncio.gather(*(ask(i) for i in range(200))), 30)
        assert answers == [f"re:{i}".encode() for i in range(200)]

        with pytest.raises(rnats.errors.NoRespondersError):
            await nc.request("loops.nobody", b"", timeout=5)


def test_uvloop(server):
    uvloop.run(_exercise(server.url))


def test_fallback_without_add_reader(server):
    """A loop whose add_reader is not implemented (as Windows' proactor loop): the hub wakes
    it with call_soon_threadsafe instead."""

    async def main():
        loop = asyncio.get_running_loop()

        def no_reader(*args, **kwargs):
            raise NotImplementedError

        loop.add_reader = no_reader  # this loop instance only
        await _exercise(server.url)
        hub = client_mod._HUBS[loop]
        assert hub.fileno() >= 0  # it has a socket pair, but the loop could not watch it
        # A job may still be arriving (a late event of the last request): the fallback must
        # drain it by itself, through call_soon_threadsafe, while the loop runs.
        for _ in range(100):
            if hub.pending() == 0:
                break
            await asyncio.sleep(0.01)
        assert hub.pending() == 0

    asyncio.run(main())


def test_one_loop_after_another(server):
    """asyncio.run() makes and closes a loop per call; each gets its own hub."""
    for _ in range(3):
        asyncio.run(_exercise(server.url))


def test_request_answer_after_caller_gave_up(server):
    """An answer arriving after the caller's wait_for cancelled its future is dropped
    quietly; the hub keeps working."""

    async def main():
        async with await rnats.connect(server.url) as nc:

            async def slow_echo(msg):
                await asyncio.sleep(0.2)
                await msg.respond(msg.data)

            await nc.subscribe("loops.slow", cb=slow_echo)
            await nc.flush()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(nc.request("loops.slow", b"x", timeout=5), 0.05)
            await asyncio.sleep(0.3)  # the late answer arrives and is dropped
            assert (await nc.request("loops.slow", b"y", timeout=5)).data == b"y"

    asyncio.run(main())
