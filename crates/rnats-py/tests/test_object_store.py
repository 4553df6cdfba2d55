"""Object Store (rnats.js.object_store) through nats-py's API, against real JetStream servers."""

import asyncio
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

import nats
import rnats
from rnats import errors
from rnats.js import api
from rnats.js import errors as jserrors
from rnats.js.object_store import ObjectStore

CHUNK = 128 * 1024


def w(aw, timeout=10.0):
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
    return "O" + uuid.uuid4().hex[:10]


def digest_of(data: bytes) -> str:
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


def meta_subject(bucket: str, name: str) -> str:
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


async def test_bucket_management_and_status(nc, bucket):
    js = nc.jetstream()
    with pytest.raises(jserrors.BucketNotFoundError):
        await w(js.object_store(bucket))
    with pytest.raises(jserrors.InvalidBucketNameError):
        await w(js.object_store("bad.name"))
    with pytest.raises(jserrors.InvalidBucketNameError):
        await w(js.create_object_store("bad name"))
    with pytest.raises(jserrors.InvalidBucketNameError):
        await w(js.delete_object_store("bad*"))
    store = await w(js.create_object_store(bucket, description="d", ttl=3600))
    assert isinstance(store, ObjectStore)
    st = await w(store.status())
    assert isinstance(st, ObjectStore.ObjectStoreStatus)
    assert st.bucket == bucket and st.description == "d" and st.ttl == 3600
    assert st.replicas == 1 and st.sealed is False and st.size == 0
    assert st.storage_type == api.StorageType.FILE
    assert st.stream_info.config.name == f"OBJ_{bucket}"
    bound = await w(js.object_store(bucket))
    await w(bound.put("x", b"1"))
    assert (await w(store.status())).size > 0
    assert await w(js.delete_object_store(bucket)) is True
    with pytest.raises(jserrors.BucketNotFoundError):
        await w(js.object_store(bucket))
    with pytest.raises(jserrors.NotFoundError):
        await w(js.delete_object_store(bucket))
    # A config object, memory storage.
    cfg = api.ObjectStoreConfig(bucket=bucket, storage=api.StorageType.MEMORY, max_bytes=10_000_000)
    store = await w(js.create_object_store(config=cfg))
    st = await w(store.status())
    assert st.storage_type == api.StorageType.MEMORY and st.stream_info.config.max_bytes == 10_000_000
    assert await w(js.delete_object_store(bucket)) is True


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1])
async def test_sizes_from_bytes_and_files(nc, bucket, size):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    data = os.urandom(size)
    info = await w(store.put("obj", data))
    assert isinstance(info, api.ObjectInfo)
    assert (info.name, info.bucket, info.size, info.deleted) == ("obj", bucket, size, False)
    assert info.chunks == (size + CHUNK - 1) // CHUNK
    assert info.digest == digest_of(data)
    assert info.options.max_chunk_size == CHUNK and isinstance(info.mtime, str)
    res = await w(store.get("obj"))
    assert isinstance(res, ObjectStore.ObjectResult)
    assert res.data == data and res.info.digest == info.digest and res.info.size == size
    # Streamed out into a file-like: data stays empty, as nats-py's.
    out = io.BytesIO()
    res = await w(store.get("obj", writeinto=out))
    assert res.data == b"" and out.getvalue() == data
    # Streamed in from a file-like (a new version replaces the old).
    info2 = await w(store.put("obj", io.BytesIO(data)))
    assert info2.digest == info.digest and info2.nuid != info.nuid and info2.size == size
    assert (await w(store.get("obj"))).data == data
    got = await w(store.get_info("obj"))
    assert got.nuid == info2.nuid and got.digest == info.digest


async def test_put_kinds_meta_and_real_files(nc, bucket, tmp_path):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    info = await w(store.put("s", "héllo"))
    assert (await w(store.get("s"))).data == "héllo".encode()
    assert info.size == len("héllo".encode())
    await w(store.put("ba", bytearray(b"ab")))
    assert (await w(store.get("ba"))).data == b"ab"
    # A meta: its name is used when the name is empty; a small chunk size; headers.
    meta = api.ObjectMeta(
        name="m",
        description="desc",
        headers={"A": ["1", "2"], "B": "x"},
        options=api.ObjectMetaOptions(max_chunk_size=10),
    )
    info = await w(store.put("", b"0123456789abcdefghijk", meta=meta))
    assert info.name == "m" and info.chunks == 3 and info.description == "desc"
    assert info.headers == {"A": ["1", "2"], "B": ["x"]}
    got = await w(store.get_info("m"))
    assert got.options.max_chunk_size == 10 and got.headers == info.headers
    assert (await w(store.get("m"))).data == b"0123456789abcdefghijk"
    # Real files, binary and text mode (nats-py reads a text file's buffer; writes to it too).
    src = tmp_path / "src.bin"
    payload = os.urandom(3 * CHUNK + 7)
    src.write_bytes(payload)
    with open(src, "rb") as f:
        await w(store.put("file", f))
    with open(src, "r", encoding="latin-1") as f:
        await w(store.put("text", f))
    dst = tmp_path / "dst.bin"
    with open(dst, "wb") as f:
        await w(store.get("file", writeinto=f))
    assert dst.read_bytes() == payload
    with open(dst, "w", encoding="latin-1") as f:
        await w(store.get("text", writeinto=f))
    assert dst.read_bytes() == payload
    # A file-like whose read() returns str.
    await w(store.put("sio", io.StringIO("text ✓")))
    assert (await w(store.get("sio"))).data == "text ✓".encode()
    with pytest.raises(TypeError):
        await w(store.put("bad", 42))
    with pytest.raises(jserrors.InvalidObjectNameError):
        await w(store.put("", b"x"))
    with pytest.raises(jserrors.InvalidObjectNameError):
        await w(store.get(""))


async def test_file_likes_are_read_in_pieces(nc, bucket):
    """A file-like is read with read(n) for a bounded n, never whole (read() / read(-1)), and
    writeinto receives bounded pieces."""
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))

    class Recording(io.RawIOBase):
        def __init__(self, size):
            self.left, self.asked = size, []

        def read(self, n=-1):
            self.asked.append(n)
            n = min(n, self.left) if n >= 0 else self.left
            self.left -= n
            return b"z" * n

    src = Recording(5 * 1024 * 1024 + 3)
    info = await w(store.put("pieces", src))
    assert info.size == 5 * 1024 * 1024 + 3
    assert src.asked and all(0 < n <= 1024 * 1024 for n in src.asked)
    assert len(src.asked) >= 6

    class Sink:
        def __init__(self):
            self.sizes, self.digest = [], hashlib.sha256()

        def write(self, b):
            self.sizes.append(len(b))
            self.digest.update(b)
            return len(b)

    sink = Sink()
    res = await w(store.get("pieces", writeinto=sink))
    assert res.data == b"" and sum(sink.sizes) == info.size
    assert all(0 < n <= 1024 * 1024 for n in sink.sizes) and len(sink.sizes) >= 6
    assert sink.digest.digest() == hashlib.sha256(b"z" * info.size).digest()


async def test_file_like_failures_are_raised_and_leave_nothing(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))

    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def readable(self):
            return True

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk on fire")
            return b"x" * min(n, 1000)

    with pytest.raises(OSError, match="disk on fire"):
        await w(store.put("broken", Broken()))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("broken"))
    # Only metas are left: the chunks written were purged.
    assert (await w(store.status())).stream_info.state.messages == 0

    class NotBytes(io.RawIOBase):
        def read(self, n=-1):
            return 12

    with pytest.raises(TypeError):
        await w(store.put("nb", NotBytes()))

    await w(store.put("ok", os.urandom(3 * CHUNK)))

    class FullDisk:
        def write(self, b):
            raise OSError("no space")

    with pytest.raises(OSError, match="no space"):
        await w(store.get("ok", writeinto=FullDisk()))


async def test_cancelled_put_leaves_nothing(nc, bucket):
    """A put whose await is cancelled fails on its next read and purges what it wrote."""
    import threading

    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    entered, gate = threading.Event(), threading.Event()

    class Endless(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, n=-1):
            self.calls += 1
            if self.calls == 4:
                entered.set()
                gate.wait(30)
            return b"x" * n

    put = asyncio.ensure_future(store.put("c", Endless()))
    loop = asyncio.get_running_loop()
    assert await w(loop.run_in_executor(None, entered.wait, 10))
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    gate.set()
    # The purge runs after the cancellation: wait (bounded) for the chunks to go.
    messages = None
    for _ in range(200):
        messages = (await w(store.status())).stream_info.state.messages
        if messages == 0:
            break
        await asyncio.sleep(0.05)
    assert messages == 0
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("c"))


async def test_calls_on_a_deleted_bucket(nc, bucket):
    """nats-py's classes when the bucket's stream is gone (rnats' Direct Get then has no
    responders: the bucket is looked up to tell that from JetStream being away)."""
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    await w(store.put("a", b"1"))
    await w(js.delete_object_store(bucket))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("a"))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get("a"))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.delete("a"))
    with pytest.raises(jserrors.ObjectDeletedError):
        await w(store.update_meta("a", api.ObjectMeta(name="a")))
    for call in (store.put("b", b"x"), store.list(), store.status()):
        with pytest.raises(jserrors.NotFoundError):
            await w(call)


async def test_delete_get_info_list(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    with pytest.raises(jserrors.NotFoundError):
        await w(store.list())
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("nope"))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get("nope"))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.delete("nope"))
    await w(store.put("a", b"aaa"))
    await w(store.put("b", os.urandom(CHUNK + 1)))
    assert sorted(i.name for i in await w(store.list())) == ["a", "b"]
    assert await w(store.delete("b")) is None
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("b"))
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get("b"))
    # Deleting a deleted object: nats-py looks it up first and finds nothing.
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.delete("b"))
    info = await w(store.get_info("b", show_deleted=True))
    assert info.deleted is True and info.size == 0
    res = await w(store.get("b", show_deleted=True))
    assert res.info.deleted is True and res.data == b""
    listed = {i.name: i.deleted for i in await w(store.list())}
    assert listed == {"a": False, "b": True}
    assert [i.name for i in await w(store.list(ignore_deletes=True))] == ["a"]
    # The chunks of the deleted object are gone: a chunk and two metas are left.
    assert (await w(store.status())).stream_info.state.messages == 3


async def test_update_meta(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    await w(store.put("a", b"content"))
    await w(store.put("other", b"o"))
    assert await w(store.update_meta("a", api.ObjectMeta(name="a", description="new", headers={"H": "v"}))) is None
    info = await w(store.get_info("a"))
    assert info.description == "new" and info.headers == {"H": ["v"]}
    with pytest.raises(jserrors.ObjectAlreadyExists):
        await w(store.update_meta("a", api.ObjectMeta(name="other")))
    with pytest.raises(jserrors.ObjectDeletedError):
        await w(store.update_meta("nope", api.ObjectMeta(name="x")))
    # A rename keeps the content readable under the new name only.
    await w(store.update_meta("a", api.ObjectMeta(name="renamed")))
    assert (await w(store.get("renamed"))).data == b"content"
    with pytest.raises(jserrors.ObjectNotFoundError):
        await w(store.get_info("a"))


async def test_watch(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    # An empty bucket: the None marker at once.
    empty = await w(store.watch())
    assert await w(empty.updates(timeout=5)) is None
    await w(empty.stop())
    await w(store.put("a", b"1"))
    await w(store.put("a", b"2"))
    await w(store.put("b", b"3"))
    await w(store.delete("b"))
    watcher = await w(store.watch())
    seen = [await w(watcher.updates()) for _ in range(3)]
    assert [(i.name, i.deleted) for i in seen[:2]] == [("a", False), ("b", True)] and seen[2] is None
    await w(store.put("c", b"4"))
    upd = await w(watcher.updates())
    assert upd.name == "c" and upd.size == 1
    with pytest.raises(errors.TimeoutError):
        await watcher.updates(timeout=0.2)
    await w(watcher.stop())
    # ignore_deletes: deleted objects left out, the marker still comes.
    nodel = await w(store.watch(ignore_deletes=True))
    names = []
    async for info in nodel:
        if info is None:
            break
        names.append(info.name)
    assert names == ["a", "c"]
    await w(nodel.stop())
    # include_history: every stored meta (each meta is a rollup of its subject: one each).
    hist = await w(store.watch(include_history=True))
    got = []
    while (info := await w(hist.updates())) is not None:
        got.append(info.name)
    assert sorted(got) == ["a", "b", "c"]
    await w(hist.stop())
    # updates_only: no marker (as nats-py), only changes.
    upd_only = await w(store.watch(updates_only=True, meta_only=True))
    await w(store.put("d", b"5"))
    info = await w(upd_only.updates())
    assert info is not None and info.name == "d"
    await w(upd_only.stop())


async def test_seal(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    await w(store.put("a", b"1"))
    assert await w(store.seal()) is None
    assert (await w(store.status())).sealed is True
    with pytest.raises(jserrors.Error):
        await w(store.put("b", b"2"))
    assert (await w(store.get("a"))).data == b"1"


async def test_links(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    other = await w(js.create_object_store(bucket + "x"))
    target = await w(other.put("t", os.urandom(CHUNK + 5)))
    link = await w(store.add_link("l", target))
    assert link.is_link() and link.options.link.bucket == bucket + "x" and link.options.link.name == "t"
    res = await w(store.get("l"))
    assert res.info.name == "t" and res.info.digest == target.digest
    out = io.BytesIO()
    await w(store.get("l", writeinto=out))
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(res.data).digest()
    blink = await w(store.add_bucket_link("bl", other))
    assert blink.is_link() and blink.options.link.name is None
    with pytest.raises(jserrors.LinkIsABucketError):
        await w(store.get("bl"))
    await w(store.put("obj", b"x"))
    with pytest.raises(jserrors.ObjectAlreadyExists):
        await w(store.add_link("obj", target))
    await w(other.delete("t"))
    deleted = await w(other.get_info("t", show_deleted=True))
    with pytest.raises(jserrors.ObjectDeletedError):
        await w(store.add_link("l2", deleted))
    await w(js.delete_object_store(bucket + "x"))


async def test_digest_mismatch_and_bad_meta(nc, bucket):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    info = await w(store.put("t", os.urandom(CHUNK + 3)))
    forged = info.as_dict()
    forged.pop("mtime", None)
    forged["digest"] = digest_of(b"something else")
    await w(js.publish(meta_subject(bucket, "t"), json.dumps(forged).encode(), headers={"Nats-Rollup": "sub"}))
    with pytest.raises(jserrors.DigestMismatchError):
        await w(store.get("t"))
    with pytest.raises(jserrors.DigestMismatchError):
        await w(store.get("t", writeinto=io.BytesIO()))
    await w(js.publish(meta_subject(bucket, "junk"), b"not json", headers={"Nats-Rollup": "sub"}))
    with pytest.raises(jserrors.BadObjectMetaError):
        await w(store.get_info("junk"))
    with pytest.raises(jserrors.BadObjectMetaError):
        await w(store.get("junk"))


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17])
async def test_interop_with_nats_py(nc, js_server, bucket, size):
    js = nc.jetstream()
    store = await w(js.create_object_store(bucket))
    other = await w(nats.connect(js_server.url))
    try:
        pystore = await w(other.jetstream().object_store(bucket))
        data = os.urandom(size)
        # nats-py puts, rnats reads.
        pinfo = await w(pystore.put("from-py", data))
        got = await w(store.get("from-py"))
        assert got.data == data and got.info.digest == pinfo.digest == digest_of(data)
        assert got.info.size == size and got.info.nuid == pinfo.nuid
        # rnats puts, nats-py reads.
        rinfo = await w(store.put("from-rnats", io.BytesIO(data)))
        pgot = await w(pystore.get("from-rnats"))
        assert pgot.data == data and pgot.info.digest == rinfo.digest
        assert pgot.info.size == size and pgot.info.chunks == rinfo.chunks
        # A link made by rnats is followed by nats-py.
        await w(store.add_link("link", rinfo))
        assert (await w(pystore.get("link"))).data == data
        await w(store.delete("link"))
        # Each lists the other's objects; deletes are seen by both.
        names = sorted(i.name for i in await w(pystore.list(ignore_deletes=True)))
        assert names == ["from-py", "from-rnats"]
        await w(pystore.delete("from-rnats"))
        with pytest.raises(jserrors.ObjectNotFoundError):
            await w(store.get("from-rnats"))
        await w(store.delete("from-py"))
        with pytest.raises(nats.js.errors.ObjectNotFoundError):
            await w(pystore.get("from-py"))
    finally:
        await w(other.close())


BIG_CHILD = textwrap.dedent(
    """
    import asyncio, hashlib, json, os, resource, sys
    import rnats

    BIG = 256 * 1024 * 1024
    PIECE = 1024 * 1024

    def hwm_kib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return -1

    def sha_of(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while piece := f.read(PIECE):
                h.update(piece)
        return h.hexdigest()

    async def main(url, bucket, folder):
        src, dst = os.path.join(folder, "src"), os.path.join(folder, "dst")
        h = hashlib.sha256()
        with open(src, "wb") as f:
            for _ in range(BIG // PIECE):
                piece = os.urandom(PIECE)
                h.update(piece)
                f.write(piece)
        want = h.hexdigest()
        nc = await rnats.connect(url)
        store = await nc.jetstream().object_store(bucket)
        start = hwm_kib()
        with open(src, "rb") as f:
            info = await asyncio.wait_for(store.put("big", f), 240)
        with open(dst, "wb") as f:
            res = await asyncio.wait_for(store.get("big", writeinto=f), 240)
        await nc.close()
        print(json.dumps({
            "size": info.size, "same": sha_of(dst) == want, "data": len(res.data),
            "start_kib": start, "hwm_kib": hwm_kib(),
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }))

    asyncio.run(main(*sys.argv[1:4]))
    """
)


async def test_256_mib_object_streams_in_bounded_memory(nc, js_server, bucket, tmp_path):
    """A 256 MiB object put from a file and got into a file by a child process of its own,
    whose peak resident memory (VmHWM) stays under 64 MiB."""
    import faulthandler

    faulthandler.dump_traceback_later(600, exit=True, file=sys.stderr)
    js = nc.jetstream()
    await w(js.create_object_store(bucket))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BIG_CHILD,
        js_server.url,
        bucket,
        str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 550)
    assert proc.returncode == 0, err.decode()
    got = json.loads(out.decode().strip().splitlines()[-1])
    print(f"256 MiB put+get: peak {got['hwm_kib'] / 1024:.1f} MiB (at start {got['start_kib'] / 1024:.1f})")
    assert got["size"] == 256 * 1024 * 1024 and got["same"] is True and got["data"] == 0
    assert got["hwm_kib"] < 64 * 1024, got
    await w(js.delete_object_store(bucket), 60)
