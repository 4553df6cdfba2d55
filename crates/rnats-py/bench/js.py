"""Side-by-side JetStream micro benchmark, rnats vs nats-py (not run in CI).

    .venv/bin/python crates/rnats-py/bench/js.py nats://127.0.0.1:4222   # a server with -js

Rows: 10k sequential ``js.publish`` (msg/s), 50k ``publish_async`` then
``publish_async_completed`` (msg/s), and fetching 50k stored messages with
``fetch(batch=500)`` acking each (msg/s). Memory streams, 16 B payloads, best of 3 runs.
"""

import asyncio
import sys
import time
import uuid


async def fresh_stream(js):
    name = "B" + uuid.uuid4().hex[:8].upper()
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"], storage="memory")
    return name, f"{name.lower()}.x"


async def publish_seq(mod, url, n=10_000):
    nc = await mod.connect(url)
    js = nc.jetstream()
    name, subj = await fresh_stream(js)
    payload = b"x" * 16
    start = time.perf_counter()
    for _ in range(n):
        await js.publish(subj, payload)
    elapsed = time.perf_counter() - start
    await js.delete_stream(name)
    await nc.close()
    return n / elapsed


async def publish_async(mod, url, n=50_000):
    nc = await mod.connect(url)
    js = nc.jetstream()
    name, subj = await fresh_stream(js)
    payload = b"x" * 16
    start = time.perf_counter()
    for _ in range(n):
        await js.publish_async(subj, payload)
    await asyncio.wait_for(js.publish_async_completed(), 120)
    elapsed = time.perf_counter() - start
    info = await js.stream_info(name)
    assert info.state.messages == n, info.state.messages
    await js.delete_stream(name)
    await nc.close()
    return n / elapsed


async def fetch_ack(mod, url, n=50_000):
    nc = await mod.connect(url)
    js = nc.jetstream()
    name, subj = await fresh_stream(js)
    for _ in range(n):
        await js.publish_async(subj, b"x" * 16)
    await asyncio.wait_for(js.publish_async_completed(), 120)
    psub = await js.pull_subscribe(subj, "bench", stream=name)
    got = 0
    start = time.perf_counter()
    while got < n:
        msgs = await psub.fetch(batch=500, timeout=5)
        for m in msgs:
            await m.ack()
        got += len(msgs)
    await nc.flush()
    elapsed = time.perf_counter() - start
    await js.delete_stream(name)
    await nc.close()
    return n / elapsed


async def main():
    url = sys.argv[1]
    import nats

    import rnats

    rows = [("js.publish 10k sequential", publish_seq), ("publish_async 50k + completed", publish_async),
            ("fetch(500) + ack 50k", fetch_ack)]
    print(f"{'row':<32}{'nats-py msg/s':>16}{'rnats msg/s':>16}{'ratio':>8}")
    for label, fn in rows:
        theirs = max([await fn(nats, url) for _ in range(3)])
        ours = max([await fn(rnats, url) for _ in range(3)])
        print(f"{label:<32}{theirs:>16,.0f}{ours:>16,.0f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
