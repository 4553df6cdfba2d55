"""Key-Value stores (nats-py's ``nats.js.kv``) on ``rnats::kv``.

Every operation (key rules, compare-and-set, delete and purge markers, the watchers' ordered
consumers and their end-of-initial-data signal) is rnats'; this module gives it nats-py's
shape: :class:`KeyValue` with its ``Entry``, ``BucketStatus`` and ``KeyWatcher``, and nats-py's
error classes (:mod:`rnats.js.errors`).

A watcher yields ``None`` once, after the entries that existed when it started (at once for
an empty bucket or with ``updates_only``), as nats-py's does; what follows are changes.
"""

import asyncio
import datetime
import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Union

from .. import errors as _core_errors
from . import api, errors

if TYPE_CHECKING:  # pragma: no cover
    from .client import JetStreamContext

KV_OP = "KV-Operation"
KV_DEL = "DEL"
KV_PURGE = "PURGE"
MSG_ROLLUP_SUBJECT = "sub"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _error(kind: str, detail: str) -> Exception:
    """The nats-py exception for a Key-Value failure the Rust side names by ``kind``."""
    if kind == "invalid_key":
        return errors.InvalidKeyError(detail)
    if kind == "invalid_bucket":
        return errors.InvalidBucketNameError(detail)
    if kind == "deleted":
        return errors.KeyNotFoundError(op=KV_DEL, message=None)
    if kind == "not_found":
        return errors.KeyNotFoundError()
    if kind == "bucket_not_found":
        return errors.BucketNotFoundError(code=404, description=detail)
    if kind == "wrong_last":
        return errors.KeyWrongLastSequenceError(description=detail)
    return errors.Error(detail)


def _deleted(t: Any) -> Exception:
    """nats-py's ``KeyNotFoundError`` for a get that found a delete or purge marker."""
    bucket, key, value, revision, delta, created, op = t
    entry = KeyValue.Entry(bucket, key, value, revision, None, _created(created), op)
    return errors.KeyNotFoundError(entry, op)


def _created(ns: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(microseconds=ns // 1000)


async def _await(call: Any, *args: Any, **kwargs: Any) -> Any:
    fut = asyncio.get_running_loop().create_future()
    call(*args[:1], fut, *args[1:], **kwargs)
    return await fut


class KeyValue:
    """A Key-Value bucket: made by ``js.create_key_value`` or ``js.key_value``.

    Values are ``bytes``; keys follow the NATS Key-Value rules (``validate_keys=False``
    skips the client-side check, as nats-py 2.11+ allows).
    """

    @dataclass
    class Entry:
        """One value of a key: ``operation`` is ``None`` for a value, ``"DEL"`` or
        ``"PURGE"`` for a marker; ``delta`` is how many newer entries a watcher or history
        had still to deliver; ``created`` when it was stored."""

        bucket: str
        key: str
        value: Optional[bytes]
        revision: Optional[int]
        delta: Optional[int]
        created: Optional[datetime.datetime]
        operation: Optional[str]

    @dataclass(frozen=True)
    class BucketStatus:
        """A bucket's status: its stream's info and name."""

        stream_info: api.StreamInfo
        bucket: str

        @property
        def values(self) -> int:
            """How many values (messages) the bucket holds."""
            return self.stream_info.state.messages

        @property
        def history(self) -> int:
            """Values kept per key."""
            return self.stream_info.config.max_msgs_per_subject

        @property
        def ttl(self) -> Optional[float]:
            """How long a value lives, in seconds (``None``: for ever)."""
            return self.stream_info.config.max_age

        @property
        def marker_ttl(self) -> Optional[float]:
            """How long limit markers live, in seconds (``None``: not enabled)."""
            return self.stream_info.config.subject_delete_marker_ttl

    class KeyWatcher:
        """The entries of a watch, as an async iterator (``None`` marks the end of the
        initial data) or one by one with :meth:`updates`; :meth:`stop` ends it."""

        def __init__(self, kv: "KeyValue") -> None:
            self._kv = kv
            self._w: Any = None
            self._items: Deque[Optional["KeyValue.Entry"]] = deque()
            self._ended = False
            self._waiter: Optional[asyncio.Future] = None

        def _wake(self) -> None:
            if self._w is None:
                return
            items, ended = self._w.take()
            self._items.extend(None if t is None else self._kv._entry(t) for t in items)
            self._ended = self._ended or ended
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        async def _next(self) -> Optional["KeyValue.Entry"]:
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
            """Stops the watcher: iteration ends after what was already received."""
            if self._w is not None:
                self._w.stop()
            self._ended = True
            self._items.clear()
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        async def updates(self, timeout: float = 5.0) -> Optional["KeyValue.Entry"]:
            """The next entry (``None``: end of initial data); ``rnats.errors.TimeoutError``
            after ``timeout`` seconds without one."""
            try:
                return await asyncio.wait_for(self._next(), timeout)
            except asyncio.TimeoutError:
                raise _core_errors.TimeoutError() from None
            except StopAsyncIteration:
                raise _core_errors.TimeoutError() from None

        def __aiter__(self) -> "KeyValue.KeyWatcher":
            return self

        async def __anext__(self) -> Optional["KeyValue.Entry"]:
            return await self._next()

    def __init__(self, name: str, stream: str, pre: str, js: "JetStreamContext", store: Any) -> None:
        self._name = name
        self._stream = stream
        self._pre = pre
        self._js = js
        self._store = store

    @property
    def _hub(self) -> Any:
        return self._js._nc._hub

    def _entry(self, t: Any) -> "KeyValue.Entry":
        bucket, key, value, revision, delta, created, op = t
        return KeyValue.Entry(bucket, key, value, revision, delta, _created(created), op)

    async def get(self, key: str, revision: Optional[int] = None, validate_keys: bool = True) -> "KeyValue.Entry":
        """The key's latest entry, or the one at ``revision``. ``KeyNotFoundError`` when the
        key has no value (never set, deleted or purged, or another key's revision)."""
        return self._entry(await _await(self._store.get, self._hub, key, revision, validate_keys))

    async def put(self, key: str, value: bytes, validate_keys: bool = True) -> int:
        """Stores ``value`` under ``key``; returns the revision."""
        return await _await(self._store.put, self._hub, key, bytes(value), validate_keys)

    async def create(self, key: str, value: bytes, validate_keys: bool = True, msg_ttl: Optional[float] = None) -> int:
        """Stores ``value`` only if ``key`` has no value (``msg_ttl``: its TTL in seconds);
        ``KeyWrongLastSequenceError`` when it has one. Returns the revision."""
        return await _await(self._store.create, self._hub, key, bytes(value), validate_keys, msg_ttl)

    async def update(self, key: str, value: bytes, last: Optional[int] = None, validate_keys: bool = True) -> int:
        """Stores ``value`` only if the key's last revision is ``last`` (0 or ``None``: the
        key has none); ``KeyWrongLastSequenceError`` otherwise. Returns the revision."""
        return await _await(self._store.update, self._hub, key, bytes(value), int(last or 0), validate_keys)

    async def delete(
        self, key: str, last: Optional[int] = None, validate_keys: bool = True, msg_ttl: Optional[float] = None
    ) -> bool:
        """Puts a delete marker (history kept); with ``last``, only if that is the key's last
        revision. ``msg_ttl`` is ignored, as in nats-py."""
        return await _await(self._store.delete, self._hub, key, last, validate_keys)

    async def purge(self, key: str, msg_ttl: Optional[float] = None) -> bool:
        """Removes every revision of ``key`` behind a purge marker (``msg_ttl``: its TTL)."""
        return await _await(self._store.purge, self._hub, key, msg_ttl)

    async def purge_deletes(self, olderthan: int = 30 * 60) -> bool:
        """Removes the delete and purge markers older than ``olderthan`` seconds (0 or less:
        all of them), with the history behind them."""
        return await _await(self._store.purge_deletes, self._hub, float(olderthan))

    async def status(self) -> "KeyValue.BucketStatus":
        """The bucket's status (its stream's info)."""
        from .manager import _stream_info

        raw = await _await(self._store.status, self._hub)
        return KeyValue.BucketStatus(stream_info=_stream_info(json.loads(raw)), bucket=self._name)

    async def watchall(self, **kwargs: Any) -> "KeyValue.KeyWatcher":
        """A watcher of every key (same options as :meth:`watch`)."""
        return await self.watch(">", **kwargs)

    async def keys(self, filters: Optional[List[str]] = None, **kwargs: Any) -> List[str]:
        """The keys holding a value, only those matching ``filters`` (key filters, applied
        by the server) when given; ``NoKeysError`` when there are none."""
        keys = await _await(self._store.keys, self._hub, list(filters) if filters else None)
        if not keys:
            raise errors.NoKeysError()
        return keys

    async def history(self, key: str) -> List["KeyValue.Entry"]:
        """Every entry kept for ``key``, oldest first; ``NoKeysError`` when there are none."""
        try:
            raw = await _await(self._store.history, self._hub, key)
        except errors.KeyNotFoundError:
            raw = []
        if not raw:
            raise errors.NoKeysError()
        return [self._entry(t) for t in raw]

    async def watch(
        self,
        keys: Union[str, List[str]],
        headers_only: bool = False,
        include_history: bool = False,
        ignore_deletes: bool = False,
        meta_only: bool = False,
        inactive_threshold: Optional[float] = None,
        updates_only: bool = False,
    ) -> "KeyValue.KeyWatcher":
        """Watches ``keys`` (a key, a filter, or a list of them): each key's latest entry
        (every kept one with ``include_history``), then ``None``, then changes.
        ``ignore_deletes`` leaves markers out, ``meta_only`` (or ``headers_only``) the values,
        ``updates_only`` starts with changes. ``inactive_threshold`` is accepted for nats-py's
        signature (rnats' watchers use their own)."""
        watcher = KeyValue.KeyWatcher(self)
        key_list = [keys] if isinstance(keys, str) else list(keys)
        watcher._w = await _await(
            self._store.watch,
            self._hub,
            watcher._wake,
            key_list,
            include_history=include_history,
            ignore_deletes=ignore_deletes,
            meta_only=meta_only or headers_only,
            updates_only=updates_only,
        )
        watcher._wake()
        return watcher


__all__ = ["KeyValue", "KV_OP", "KV_DEL", "KV_PURGE", "MSG_ROLLUP_SUBJECT"]
