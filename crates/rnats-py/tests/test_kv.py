"""Key-Value (rnats.js.kv) through nats-py's API, against real JetStream servers."""

import asyncio
import datetime
import uuid

import pytest

import nats
import rnats
from rnats import errors
from rnats.js import errors as jserrors
from rnats.js.kv import KeyValue


def w(aw, timeout=5.0):
    """Every await in these tests is bounded."""
    return asyncio.wait_for(aw, timeout)


@pytest.fixture
async def nc(js_server):
    c = await w(rnats.connect(js_server.url))
    yield c
    await w(c.close())


@pytest.fixture
def bucket():
    """A bucket name of this test's own (the server is shared)."""
    return "B" + uuid.uuid4().hex[:10]


async def test_bucket_management_and_errors(nc, bucket):
    js = nc.jetstream()
    with pytest.raises(jserrors.BucketNotFoundError):
        await w(js.key_value(bucket))
    with pytest.raises(jserrors.InvalidBucketNameError):
        await w(js.key_value("bad.name"))
    with pytest.raises(jserrors.KeyHistoryTooLargeError):
        await w(js.create_key_value(bucket=bucket, history=65))
    kv = await w(js.create_key_value(bucket=bucket, history=5, ttl=3600, description="d"))
    assert isinstance(kv, KeyValue)
    st = await w(kv.status())
    assert st.bucket == bucket and st.history == 5 and st.ttl == 3600 and st.values == 0
    kv2 = await w(js.key_value(bucket))
    await w(kv2.put("a", b"1"))
    assert (await w(kv.status())).values == 1
    assert await w(js.delete_key_value(bucket)) is True
    with pytest.raises(jserrors.BucketNotFoundError):
        await w(js.key_value(bucket))


async def test_put_get_create_update_delete_purge(nc, bucket):
    js = nc.jetstream()
    kv = await w(js.create_key_value(bucket=bucket, history=10))
    r1 = await w(kv.put("k.one", b"v1"))
    e = await w(kv.get("k.one"))
    assert (e.bucket, e.key, e.value, e.revision, e.operation) == (bucket, "k.one", b"v1", r1, None)
    assert isinstance(e.created, datetime.datetime)
    r2 = await w(kv.put("k.one", b"v2"))
    assert (await w(kv.get("k.one", revision=r1))).value == b"v1"
    assert (await w(kv.get("k.one"))).revision == r2
    # create: only when absent
    with pytest.raises(jserrors.KeyWrongLastSequenceError):
        await w(kv.create("k.one", b"x"))
    r3 = await w(kv.create("k.two", b"c"))
    # update with last
    with pytest.raises(jserrors.KeyWrongLastSequenceError):
        await w(kv.update("k.two", b"u", last=r3 - 1))
    r4 = await w(kv.update("k.two", b"u", last=r3))
    assert (await w(kv.get("k.two"))).value == b"u" and r4 > r3
    # delete, then get and create again
    assert await w(kv.delete("k.two")) is True
    with pytest.raises(jserrors.KeyNotFoundError):
        await w(kv.get("k.two"))
    await w(kv.create("k.two", b"again"))
    # delete with a wrong last revision
    with pytest.raises(jserrors.KeyWrongLastSequenceError):
        await w(kv.delete("k.two", last=1))
    # history and purge
    hist = await w(kv.history("k.one"))
    assert [h.value for h in hist] == [b"v1", b"v2"]
    assert await w(kv.purge("k.one")) is True
    with pytest.raises(jserrors.KeyNotFoundError):
        await w(kv.get("k.one"))
    hist = await w(kv.history("k.one"))
    assert [h.operation for h in hist] == ["PURGE"]
    with pytest.raises(jserrors.NoKeysError):
        await w(kv.history("nothing"))
    with pytest.raises(jserrors.KeyNotFoundError):
        await w(kv.get("missing"))
    # purge_deletes removes the markers
    assert await w(kv.purge_deletes(olderthan=0)) is True
    with pytest.raises(jserrors.NoKeysError):
        await w(kv.history("k.one"))


async def test_keys_filtered_and_invalid_keys(nc, bucket):
    js = nc.jetstream()
    kv = await w(js.create_key_value(bucket=bucket))
    with pytest.raises(jserrors.NoKeysError):
        await w(kv.keys())
    for k in ("a.x", "a.y", "b.x"):
        await w(kv.put(k, b"1"))
    await w(kv.delete("a.y"))
    assert sorted(await w(kv.keys())) == ["a.x", "b.x"]
    assert sorted(await w(kv.keys(filters=["a.>"]))) == ["a.x"]
    assert sorted(await w(kv.keys(filters=["*.x"]))) == ["a.x", "b.x"]
    for bad in ("", ".a", "a b", "a..b"):
        with pytest.raises(jserrors.InvalidKeyError):
            await w(kv.put(bad, b"1"))
        with pytest.raises(jserrors.InvalidKeyError):
            await w(kv.get(bad))
    # The opt-out: a key the rules refuse but the server takes.
    with pytest.raises(jserrors.InvalidKeyError):
        await w(kv.put("a:b=c", b"1"))
    rev = await w(kv.put("a:b=c", b"1", validate_keys=False))
    assert (await w(kv.get("a:b=c", validate_keys=False))).revision == rev


async def test_watch_options(nc, bucket):
    js = nc.jetstream()
    kv = await w(js.create_key_value(bucket=bucket, history=5))
    # empty bucket: the marker at once
    wa = await w(kv.watchall())
    assert await w(wa.updates()) is None
    await w(kv.put("a", b"1"))
    await w(kv.put("a", b"2"))
    await w(kv.put("b", b"3"))
    await w(kv.delete("b"))
    e = await w(wa.updates())
    assert (e.key, e.value) == ("a", b"1")
    await w(wa.stop())

    got = []
    wt = await w(kv.watch("a", include_history=True))
    async for e in wt:
        if e is None:
            break
        got.append(e.value)
    assert got == [b"1", b"2"]
    await w(kv.put("a", b"4"))
    assert (await w(wt.updates())).value == b"4"
    await w(wt.stop())

    wt = await w(kv.watchall(ignore_deletes=True, meta_only=True))
    first = []
    async for e in wt:
        if e is None:
            break
        first.append((e.key, e.value))
    assert first == [("a", b"")]
    await w(wt.stop())

    wt = await w(kv.watchall())
    last = []
    async for e in wt:
        if e is None:
            break
        last.append((e.key, e.operation))
    assert sorted(last) == [("a", None), ("b", "DEL")]
    await w(wt.stop())

    wt = await w(kv.watch(["a", "c"], updates_only=True))
    assert await w(wt.updates()) is None
    await w(kv.put("c", b"5"))
    e = await w(wt.updates())
    assert (e.key, e.value, e.delta) == ("c", b"5", 0)
    await w(wt.stop())
    with pytest.raises(errors.TimeoutError):
        await wt.updates(timeout=0.1)


async def test_watch_across_server_restart(make_server, tmp_path):
    s = make_server("-js", "-sd", str(tmp_path))
    nc = await w(rnats.connect(s.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1))
    try:
        js = nc.jetstream()
        kv = await w(js.create_key_value(bucket="restart"))
        await w(kv.put("k", b"before"))
        wt = await w(kv.watchall())
        assert (await w(wt.updates())).value == b"before"
        assert await w(wt.updates()) is None
        s.stop()
        s.start()
        for _ in range(100):
            try:
                await w(kv.put("k", b"after"), 1.0)
                break
            except Exception:
                await asyncio.sleep(0.1)
        seen = []
        for _ in range(3):
            e = await w(wt.updates(timeout=10), 12)
            if e is not None:
                seen.append(e.value)
            if b"after" in seen:
                break
        assert b"after" in seen
        await w(wt.stop())
    finally:
        await w(nc.close())


async def test_interop_with_nats_py(js_server, nc, bucket):
    js = nc.jetstream()
    kv = await w(js.create_key_value(bucket=bucket, history=3))
    other = await w(nats.connect(js_server.url))
    try:
        okv = await w(other.jetstream().key_value(bucket))
        r = await w(okv.put("x", b"from-nats-py"))
        e = await w(kv.get("x"))
        assert (e.value, e.revision) == (b"from-nats-py", r)
        await w(kv.put("x", b"from-rnats"))
        oe = await w(okv.get("x"))
        assert oe.value == b"from-rnats"
        assert [h.value for h in await w(kv.history("x"))] == [h.value for h in await w(okv.history("x"))]
        assert (await w(kv.status())).values == (await w(okv.status())).values
    finally:
        await w(other.close())
