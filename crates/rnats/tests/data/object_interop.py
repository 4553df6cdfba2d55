"""Object Store interop with nats-py, run by crates/rnats/tests/it/object_store.rs.

Usage: object_interop.py write|read <url> <bucket>

write: puts the test objects with nats-py (see OBJECTS), then prints what nats-py says of them.
read:  reads every object of the bucket with nats-py (which checks the digest).
Both print one JSON object: name -> {"size", "digest" (the info's), "computed" (SHA-256 of
the bytes read, formatted as ADR-20 says)}.
"""

import asyncio
import base64
import hashlib
import json
import sys

import nats


def data(n):
    return bytes((i * 31) % 251 for i in range(n))


OBJECTS = {
    "empty": 0,
    "one": 1,
    "chunk": 128 * 1024,
    "chunk+1": 128 * 1024 + 1,
    "multi": 300_000,
    "ünï/cødé name.txt": 11,
}


def digest(b):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).decode()


async def read(obs):
    out = {}
    for info in await obs.list():
        got = await obs.get(info.name)
        out[info.name] = {
            "size": len(got.data or b""),
            "digest": info.digest,
            "computed": digest(got.data or b""),
        }
    return out


async def main():
    mode, url, bucket = sys.argv[1:4]
    nc = await nats.connect(url)
    try:
        obs = await nc.jetstream().object_store(bucket)
        if mode == "write":
            for name, size in OBJECTS.items():
                await obs.put(name, data(size))
        elif mode != "read":
            raise SystemExit(f"unknown mode {mode!r}")
        print(json.dumps(await read(obs)))
    finally:
        await nc.close()


asyncio.run(main())
