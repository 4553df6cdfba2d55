"""Key-Value interop with nats-py, run by crates/rnats/tests/it/kv.rs.

Usage: kv_interop.py write|read <url> <bucket>

write: changes the bucket with nats-py (puts, create, update, delete, purge), then reads it.
read:  reads the bucket with nats-py.
Reading prints one JSON object: every entry a history watcher delivers before its
end-of-initial-data marker ([key, revision, operation, value]), the keys, and each key's value.
"""

import asyncio
import json
import sys

import nats


async def write(kv):
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    await kv.put("a", b"3")
    await kv.delete("b")
    rev = await kv.create("c", b"4")
    await kv.update("c", b"5", last=rev)
    await kv.purge("a")
    await kv.put("d.x", b"6")
    await kv.create("b", b"7")  # over the delete marker


async def read(kv):
    watcher = await kv.watchall(include_history=True)
    history = []
    while True:
        entry = await watcher.updates(timeout=5)
        if entry is None:
            break
        history.append(
            [entry.key, entry.revision, entry.operation or "PUT", (entry.value or b"").decode()]
        )
    await watcher.stop()
    keys = sorted(await kv.keys())
    values = {key: (await kv.get(key)).value.decode() for key in keys}
    return {"history": history, "keys": keys, "values": values}


async def main():
    mode, url, bucket = sys.argv[1:4]
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(bucket)
        if mode == "write":
            await write(kv)
        elif mode != "read":
            raise SystemExit(f"unknown mode {mode!r}")
        print(json.dumps(await read(kv)))
    finally:
        await nc.close()


asyncio.run(main())
