"""Object Stores (nats-py's ``nats.js.object_store``) on ``rnats::object_store``.

Chunking, SHA-256 digests, links, meta messages and the watchers' ordered consumers are
rnats'; this module gives them nats-py's shape: :class:`ObjectStore` with its
``ObjectResult``, ``ObjectStoreStatus`` and ``ObjectWatcher``, the dataclasses of
:mod:`rnats.js.api` and nats-py's error classes (:mod:`rnats.js.errors`).

Content is streamed across the boundary, never held whole unless asked for:

- :meth:`ObjectStore.put` of a file-like reads it with ``read(n)`` (1 MiB at a time) on a
  thread of the Rust runtime, through a bounded queue, while the put chunks, hashes and
  publishes; ``bytes`` and ``str`` are stored from memory.
- :meth:`ObjectStore.get` with ``writeinto`` writes the content into that file-like 1 MiB at a
  time as it arrives (from a thread, as nats-py's executor does); without it the result's
  ``data`` holds the bytes.

rnats extensions (not in nats-py 2.16): :meth:`ObjectStore.add_link` and
:meth:`ObjectStore.add_bucket_link`. Differences from nats-py 2.16 (where nats-py is not
consistent with the other NATS clients): :meth:`ObjectStore.update_meta` renames an object
(``ObjectAlreadyExists`` only when the new name is taken, where nats-py refuses every rename)
and keeps it readable; a ``get`` of a link honours ``writeinto``; ``ObjectInfo.mtime`` is the
time the meta message was stored (an RFC 3339 text).
"""

import asyncio
import datetime
import io
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Union

from .. import errors as _core_errors
from . import api, errors

if TYPE_CHECKING:  # pragma: no cover
    from .client import JetStreamContext

MSG_ROLLUP_SUBJECT = "sub"
VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
VALID_KEY_RE = re.compile(r"^[-/_=\.a-zA-Z0-9]+$")

OBJ_STREAM_TEMPLATE = "OBJ_{bucket}"
OBJ_ALL_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.>"
OBJ_ALL_META_PRE_TEMPLATE = "$O.{bucket}.M.>"
OBJ_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.{obj}"
OBJ_META_PRE_TEMPLATE = "$O.{bucket}.M.{obj}"
OBJ_NO_PENDING = "0"
OBJ_DEFAULT_CHUNK_SIZE = 128 * 1024  # 128k
OBJ_DIGEST_TYPE = "SHA-256="
OBJ_DIGEST_TEMPLATE = OBJ_DIGEST_TYPE + "{digest}"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _error(kind: str, detail: str) -> Exception:
    """The nats-py exception for an Object Store failure the Rust side names by ``kind``."""
    if kind == "not_found":
        return errors.ObjectNotFoundError(code=404, description=detail)
    if kind == "deleted":
        return errors.ObjectDeletedError(code=404, description=detail)
    if kind == "bucket_not_found":
        return errors.BucketNotFoundError(code=404, description=detail)
    if kind == "digest_mismatch":
        return errors.DigestMismatchError(detail)
    if kind == "exists":
        return errors.ObjectAlreadyExists(detail)
    if kind == "bad_meta":
        return errors.BadObjectMetaError(detail)
    if kind == "link_is_bucket":
        return errors.LinkIsABucketError(detail)
    if kind == "invalid" and "bucket name" in detail:
        return errors.InvalidBucketNameError(detail)
    return errors.Error(detail)


def _mtime(ns: int) -> str:
    return (_EPOCH + datetime.timedelta(microseconds=ns // 1000)).isoformat()


def _info(t: Any) -> api.ObjectInfo:
    """An :class:`api.ObjectInfo` from the Rust side's ``(json, modified ns)``."""
    raw, ns = t
    info = api.ObjectInfo.from_response(json.loads(raw))
    info.mtime = _mtime(ns)
    return info


def _headers(headers: Optional[Dict[str, Any]]) -> Optional[Dict[str, List[str]]]:
    """Headers as the meta stores them: a name to a list of values (a lone ``str`` is one)."""
    if not headers:
        return None
    out: Dict[str, List[str]] = {}
    for name, value in headers.items():
        if isinstance(value, str):
            out[str(name)] = [value]
        elif isinstance(value, (list, tuple)):
            out[str(name)] = [str(v) for v in value]
        else:
            raise TypeError(f"nats: header {name!r} must be a str or a list of str")
    return out


async def _await(call: Any, *args: Any, **kwargs: Any) -> Any:
    fut = asyncio.get_running_loop().create_future()
    call(*args[:1], fut, *args[1:], **kwargs)
    return await fut


async def _await_task(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``_await`` for a put or a get: a cancelled await stops the Rust side (a put fails on
    its next read and purges what it wrote; a get's read ends)."""
    fut = asyncio.get_running_loop().create_future()
    task = call(*args[:1], fut, *args[1:], **kwargs)
    try:
        return await fut
    except asyncio.CancelledError:
        task.cancel()
        raise


class ObjectStore:
    """An Object Store bucket: made by ``js.create_object_store`` or ``js.object_store``.

    Objects are stored in chunks (128 KiB unless ``meta.options.max_chunk_size`` says
    otherwise) with their SHA-256 digest, checked on every read.
    """

    @dataclass
    class ObjectResult:
        """What :meth:`ObjectStore.get` returns: the object's info and its content (empty
        when it was written into ``writeinto``)."""

        info: api.ObjectInfo
        data: Optional[bytes] = bytes()

    @dataclass(frozen=True)
    class ObjectStoreStatus:
        """A bucket's status: its stream's info and name."""

        stream_info: api.StreamInfo
        bucket: str

        @property
        def description(self) -> Optional[str]:
            """The bucket's description."""
            return self.stream_info.config.description

        @property
        def ttl(self) -> Optional[float]:
            """How long objects live, in seconds (``None``: for ever)."""
            return self.stream_info.config.max_age

        @property
        def storage_type(self) -> Optional[api.StorageType]:
            """File or memory storage."""
            return self.stream_info.config.storage

        @property
        def replicas(self) -> Optional[int]:
            """How many replicas the bucket's stream has."""
            return self.stream_info.config.num_replicas

        @property
        def sealed(self) -> bool:
            """Whether the bucket is sealed (read-only)."""
            return bool(self.stream_info.config.sealed)

        @property
        def size(self) -> int:
            """Bytes stored (chunks and metas)."""
            return self.stream_info.state.bytes

    class ObjectWatcher:
        """The infos of a watch, as an async iterator (``None`` marks the end of the initial
        data, except with ``updates_only``) or one by one with :meth:`updates`; :meth:`stop`
        ends it."""

        def __init__(self, js: Any, updates_only: bool = False) -> None:
            self._js = js
            self._w: Any = None
            self._updates_only = updates_only
            self._items: Deque[Optional[api.ObjectInfo]] = deque()
            self._ended = False
            self._waiter: Optional[asyncio.Future] = None

        def _wake(self) -> None:
            if self._w is None:
                return
            items, ended = self._w.take()
            for t in items:
                if t is None:
                    if not self._updates_only:
                        self._items.append(None)
                else:
                    self._items.append(_info(t))
            self._ended = self._ended or ended
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        async def _next(self) -> Optional[api.ObjectInfo]:
            while not self._items:
                if self._ended:
                    raise StopAsyncIteration
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            return self._items.popleft()

        async def stop(self) -> None:
            """Stops the watcher: iteration ends."""
            if self._w is not None:
                self._w.stop()
            self._ended = True
            self._items.clear()
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        async def updates(self, timeout: float = 5.0) -> Optional[api.ObjectInfo]:
            """The next info (``None``: end of initial data); ``rnats.errors.TimeoutError``
            after ``timeout`` seconds without one."""
            try:
                return await asyncio.wait_for(self._next(), timeout)
            except asyncio.TimeoutError:
                raise _core_errors.TimeoutError() from None
            except StopAsyncIteration:
                raise _core_errors.TimeoutError() from None

        def __aiter__(self) -> "ObjectStore.ObjectWatcher":
            return self

        async def __anext__(self) -> Optional[api.ObjectInfo]:
            return await self._next()

    def __init__(self, name: str, stream: str, js: "JetStreamContext", store: Any = None) -> None:
        self._name = name
        self._stream = stream
        self._js = js
        self._store = store

    @property
    def _hub(self) -> Any:
        return self._js._nc._hub

    async def get_info(self, name: str, show_deleted: Optional[bool] = False) -> api.ObjectInfo:
        """The object's info. ``ObjectNotFoundError`` when it does not exist, or is deleted
        (unless ``show_deleted``); ``BadObjectMetaError`` when its meta cannot be read."""
        _check_name(name)
        return _info(await _await(self._store.info, self._hub, name, bool(show_deleted)))

    async def get(
        self,
        name: str,
        writeinto: Optional[io.BufferedIOBase] = None,
        show_deleted: Optional[bool] = False,
    ) -> "ObjectStore.ObjectResult":
        """The object (a link is followed, to this or another bucket). With ``writeinto`` (a
        file-like: its ``buffer.write`` if it has a ``buffer``, else its ``write``) the content
        is written into it as it arrives and ``data`` stays empty; without, ``data`` holds it.
        ``ObjectNotFoundError``, ``LinkIsABucketError`` for a link to a bucket,
        ``DigestMismatchError`` when the content read is not what was stored."""
        _check_name(name)
        write = None
        if writeinto is not None:
            write = writeinto.buffer.write if hasattr(writeinto, "buffer") else writeinto.write
        raw, ns, data = await _await_task(self._store.get, self._hub, name, bool(show_deleted), write)
        return ObjectStore.ObjectResult(info=_info((raw, ns)), data=b"" if data is None else data)

    async def put(
        self,
        name: str,
        data: Union[str, bytes, io.BufferedIOBase],
        meta: Optional[api.ObjectMeta] = None,
    ) -> api.ObjectInfo:
        """Stores ``data`` as ``name`` (``meta.name`` when ``name`` is empty), replacing any
        object of that name; returns its info. ``data`` is ``bytes``, ``str`` (UTF-8) or a
        file-like with a ``read(n)`` (binary, or text whose ``buffer`` is read): it is read
        in 1 MiB pieces as the chunks are sent, never whole."""
        if meta is None:
            meta = api.ObjectMeta(name=name)
        elif name:
            meta = meta.evolve(name=name)
        _check_name(meta.name)
        chunk_size = OBJ_DEFAULT_CHUNK_SIZE
        if meta.options is not None and meta.options.max_chunk_size:
            chunk_size = int(meta.options.max_chunk_size)
        from_file = False
        if isinstance(data, str):
            data = data.encode()
        elif isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif isinstance(data, bytes):
            pass
        elif isinstance(data, io.TextIOBase) and hasattr(data, "buffer"):
            data, from_file = data.buffer, True
        elif hasattr(data, "read"):
            from_file = True
        else:
            raise TypeError("nats: invalid type for object store")
        t = await _await_task(
            self._store.put,
            self._hub,
            meta.name,
            data,
            from_file=from_file,
            description=meta.description,
            headers=_headers(meta.headers),
            chunk_size=chunk_size,
        )
        return _info(t)

    async def status(self) -> "ObjectStore.ObjectStoreStatus":
        """The bucket's status (its stream's info)."""
        from .manager import _stream_info

        raw = await _await(self._store.status, self._hub)
        return ObjectStore.ObjectStoreStatus(stream_info=_stream_info(json.loads(raw)), bucket=self._name)

    async def seal(self) -> None:
        """Seals the bucket: no further changes are allowed."""
        await _await(self._store.seal, self._hub)

    async def update_meta(self, name: str, meta: api.ObjectMeta) -> None:
        """Sets the object's name (``meta.name``), description and headers; its content
        stays. ``ObjectDeletedError`` when the object does not exist or is deleted,
        ``ObjectAlreadyExists`` when the new name is another object's."""
        _check_name(name)
        new_name = meta.name if meta.name and meta.name != name else None
        await _await(
            self._store.update_meta,
            self._hub,
            name,
            new_name=new_name,
            description=meta.description,
            headers=_headers(meta.headers),
        )

    async def watch(
        self,
        ignore_deletes: bool = False,
        include_history: bool = False,
        meta_only: bool = False,
        updates_only: bool = False,
    ) -> "ObjectStore.ObjectWatcher":
        """Watches the bucket: each object's latest info (every stored one with
        ``include_history``), then ``None``, then changes. ``ignore_deletes`` leaves deleted
        objects out; ``updates_only`` starts with changes (and sends no ``None``, as nats-py);
        ``meta_only`` is accepted for nats-py's signature (a watch only reads metas)."""
        watcher = ObjectStore.ObjectWatcher(self, updates_only=updates_only)
        watcher._w = await _await(
            self._store.watch,
            self._hub,
            watcher._wake,
            include_history=include_history,
            ignore_deletes=ignore_deletes,
            updates_only=updates_only,
        )
        watcher._wake()
        return watcher

    async def delete(self, name: str) -> None:
        """Deletes the object (its chunks are purged, a deleted meta stays).
        ``ObjectNotFoundError`` when it does not exist or is deleted already."""
        _check_name(name)
        await _await(self._store.delete, self._hub, name)

    async def list(self, ignore_deletes: bool = False) -> List[api.ObjectInfo]:
        """The infos of the bucket's objects (deleted ones too unless ``ignore_deletes``);
        ``NotFoundError`` when there are none, as in nats-py."""
        raw = await _await(self._store.list, self._hub, not ignore_deletes)
        if not raw:
            raise errors.NotFoundError()
        return [_info(t) for t in raw]

    async def add_link(self, name: str, target: api.ObjectInfo) -> api.ObjectInfo:
        """rnats extension: stores ``name`` as a link to the object ``target`` (an info from
        this or another bucket); a ``get`` of ``name`` reads the target. The target must not
        be deleted nor a link; ``ObjectAlreadyExists`` when ``name`` is an object (a link or a
        deleted object is replaced). Returns the link's info."""
        _check_name(name)
        if target.deleted:
            raise errors.ObjectDeletedError(code=404, description=f"cannot link to {target.name!r}: it is deleted")
        raw = json.dumps(target.as_dict())
        return _info(await _await(self._store.add_link, self._hub, name, raw))

    async def add_bucket_link(self, name: str, bucket: "ObjectStore") -> api.ObjectInfo:
        """rnats extension: stores ``name`` as a link to the bucket ``bucket`` (a ``get`` of
        it raises ``LinkIsABucketError``). Returns the link's info."""
        _check_name(name)
        return _info(await _await(self._store.add_bucket_link, self._hub, name, bucket._store))


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise errors.InvalidObjectNameError("an object name must be a non-empty str")


__all__ = ["ObjectStore", "MSG_ROLLUP_SUBJECT", "VALID_BUCKET_RE", "VALID_KEY_RE", "OBJ_DEFAULT_CHUNK_SIZE"]
