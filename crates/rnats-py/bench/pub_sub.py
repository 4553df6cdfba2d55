"""Side-by-side micro benchmark, rnats vs nats-py (not run in CI).

    .venv/bin/python crates/rnats-py/bench/pub_sub.py nats://127.0.0.1:4222 [count]

Rows: publish 16 B (await nc.publish in a loop, then flush), pub+sub 16 B (one client
publishes, a callback subscription on another client counts), sequential request 16 B p50.
Best of 3 runs each.
"""

import asyncio
import statistics
import sys
import time


async def pub(mod, url, n):
    nc = await mod.connect(url)
    payload = b"x" * 16
    start = time.perf_counter()
    for _ in range(n):
        await nc.publish("bench.pub", payload)
    await nc.flush(timeout=60)
    elapsed = time.perf_counter() - start
    await nc.close()
    return n / elapsed


async def pubsub(mod, url, n):
    sub_nc = await mod.connect(url)
    pub_nc = await mod.connect(url)
    done = asyncio.Event()
    count = 0

    async def cb(msg):
        nonlocal count
        count += 1
        if count == n:
            done.set()

    await sub_nc.subscribe("bench.ps", cb=cb, pending_msgs_limit=n + 1, pending_bytes_limit=1 << 30)
    await sub_nc.flush()
    payload = b"x" * 16
    start = time.perf_counter()
    for _ in range(n):
        await pub_nc.publish("bench.ps", payload)
    await pub_nc.flush(timeout=60)
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    await pub_nc.close()
    await sub_nc.close()
    return n / elapsed


async def req(mod, url, n):
    srv = await mod.connect(url)
    cli = await mod.connect(url)

    async def echo(msg):
        await msg.respond(msg.data)

    await srv.subscribe("bench.req", cb=echo)
    await srv.flush()
    lat = []
    payload = b"x" * 16
    for _ in range(n):
        t = time.perf_counter()
        await cli.request("bench.req", payload, timeout=5)
        lat.append(time.perf_counter() - t)
    await cli.close()
    await srv.close()
    return statistics.median(lat) * 1e6


async def main():
    url = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    import nats

    import rnats

    for name, fn, count, unit in (("pub 16 B", pub, n, "msg/s"), ("pub+sub 16 B", pubsub, n // 2, "msg/s"),
                                  ("req 16 B p50", req, 2000, "µs")):
        for mod in (nats, rnats):
            runs = [await fn(mod, url, count) for _ in range(3)]
            best = min(runs) if unit == "µs" else max(runs)
            print(f"{name:14} {mod.__name__:6} {best:12,.0f} {unit}", flush=True)


asyncio.run(main())
