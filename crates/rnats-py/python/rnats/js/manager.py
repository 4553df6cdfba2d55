"""JetStream management (nats-py's ``nats.js.manager.JetStreamManager``) on rnats.

Configurations go to the Rust side as JSON (``as_dict()``), where rnats deserializes and
validates them and makes the API call; answers come back as JSON read by the data classes'
``from_response``.
"""

import asyncio
import datetime
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

from .. import _rnats
from . import api

if TYPE_CHECKING:  # pragma: no cover
    from ..aio.client import Client as NATS

_BAD_NAME_CHARS = (">", "*", ".", " ", "/", "\\", "\t", "\r", "\n")


# rnats re-serializes the server's answers from its own types: a few fields come out where the
# server leaves them out (Go's omitempty), others are left out at a value the server sends.
# These tables put them back the way the server (and so nats-py) shows them.
_STREAM_DROP_EMPTY = ("sources",)
_STATE_DROP_ZERO = ("num_deleted",)
_STREAM_CONFIG_DEFAULTS = {"compression": "none", "allow_direct": False, "mirror_direct": False, "allow_msg_ttl": False}
_CONSUMER_DROP_FALSE = ("paused", "push_bound")
_CONSUMER_CONFIG_DEFAULTS = {"num_replicas": 0}


def _stream_info(d: Dict[str, Any]) -> api.StreamInfo:
    for k in _STREAM_DROP_EMPTY:
        if d.get(k) == []:
            del d[k]
    state = d.get("state") or {}
    for k in _STATE_DROP_ZERO:
        if state.get(k) == 0:
            del state[k]
    cluster = d.get("cluster")
    if isinstance(cluster, dict) and cluster.get("replicas") == []:
        del cluster["replicas"]
    config = d.get("config")
    if isinstance(config, dict):
        for k, v in _STREAM_CONFIG_DEFAULTS.items():
            config.setdefault(k, v)
    return api.StreamInfo.from_response(d)


def _consumer_info(d: Dict[str, Any]) -> api.ConsumerInfo:
    for k in _CONSUMER_DROP_FALSE:
        if d.get(k) is False:
            del d[k]
    config = d.get("config")
    if isinstance(config, dict):
        for k, v in _CONSUMER_CONFIG_DEFAULTS.items():
            config.setdefault(k, v)
    return api.ConsumerInfo.from_response(d)


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"nats: {kind} name must be a str, not {type(name).__name__}")
    if not name or any(c in name for c in _BAD_NAME_CHARS):
        raise ValueError(f"nats: invalid {kind} name {name!r}")


class JetStreamManager:
    """JetStream management: account info, streams, consumers, stored messages."""

    def __init__(self, conn: "NATS", prefix: str = api.DEFAULT_PREFIX, timeout: float = 5) -> None:
        self._nc = conn
        self._prefix = prefix
        self._timeout = timeout
        self._js = _rnats.jetstream(conn._client(), prefix, float(timeout), 4000)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        getattr(self._js, method)(self._nc._hub, fut, *args, **kwargs)
        return await fut

    async def account_info(self) -> api.AccountInfo:
        """The account's JetStream usage, limits and API statistics."""
        return api.AccountInfo.from_response(json.loads(await self._call("account_info")))

    async def find_stream_name_by_subject(self, subject: str) -> str:
        """The name of the stream that stores ``subject`` (``NotFoundError`` if none)."""
        if not isinstance(subject, str) or not subject:
            raise ValueError("nats: invalid subject")
        return await self._call("find_stream", subject)

    async def stream_info(
        self, name: str, subjects_filter: Optional[str] = None, deleted_details: bool = False
    ) -> api.StreamInfo:
        """A stream's configuration and state: per-subject counts for ``subjects_filter``
        (every page fetched), the deleted sequences with ``deleted_details`` (an rnats
        addition)."""
        _check_name("stream", name)
        raw = await self._call("stream_info", name, subjects_filter=subjects_filter, deleted_details=deleted_details)
        return _stream_info(json.loads(raw))

    async def add_stream(self, config: Optional[api.StreamConfig] = None, **params: Any) -> api.StreamInfo:
        """Create a stream from ``config`` and/or keyword fields of :class:`api.StreamConfig`."""
        config = config.evolve(**params) if config is not None else api.StreamConfig(**params)
        _check_name("stream", config.name)
        raw = await self._call("add_stream", json.dumps(config.as_dict()))
        return _stream_info(json.loads(raw))

    async def update_stream(self, config: Optional[api.StreamConfig] = None, **params: Any) -> api.StreamInfo:
        """Update a stream's configuration."""
        config = config.evolve(**params) if config is not None else api.StreamConfig(**params)
        _check_name("stream", config.name)
        raw = await self._call("update_stream", json.dumps(config.as_dict()))
        return _stream_info(json.loads(raw))

    async def delete_stream(self, name: str) -> bool:
        """Delete a stream with its messages and consumers; ``True``."""
        _check_name("stream", name)
        return await self._call("delete_stream", name)

    async def purge_stream(
        self, name: str, seq: Optional[int] = None, subject: Optional[str] = None, keep: Optional[int] = None
    ) -> bool:
        """Purge a stream: all messages, those below ``seq``, matching ``subject``, or all but
        the newest ``keep``; ``True``."""
        _check_name("stream", name)
        return await self._call("purge_stream", name, seq=seq, subject=subject, keep=keep)

    async def streams_info(self, offset: int = 0) -> List[api.StreamInfo]:
        """The info of every stream (from ``offset``)."""
        items = json.loads(await self._call("streams_info"))
        return [_stream_info(i) for i in items[offset:]]

    async def streams_info_iterator(self, offset: int = 0) -> Iterable[api.StreamInfo]:
        """The info of every stream as a :class:`api.StreamsListIterator`."""
        items = json.loads(await self._call("streams_info"))
        return api.StreamsListIterator(offset, len(items), [_stream_info(i) for i in items[offset:]])

    async def add_consumer(
        self, stream: str, config: Optional[api.ConsumerConfig] = None, timeout: Optional[float] = None, **params: Any
    ) -> api.ConsumerInfo:
        """Create (or update) a consumer on ``stream`` from ``config`` and/or keyword fields of
        :class:`api.ConsumerConfig`."""
        _check_name("stream", stream)
        config = config.evolve(**params) if config is not None else api.ConsumerConfig(**params)
        for kind, name in (("consumer", config.name), ("durable", config.durable_name)):
            if name is not None:
                _check_name(kind, name)
        raw = await self._call("add_consumer", stream, json.dumps(config.as_dict()))
        return _consumer_info(json.loads(raw))

    async def delete_consumer(self, stream: str, consumer: str) -> bool:
        """Delete a consumer; ``True``."""
        _check_name("stream", stream)
        _check_name("consumer", consumer)
        return await self._call("delete_consumer", stream, consumer)

    async def consumer_info(self, stream: str, consumer: str, timeout: Optional[float] = None) -> api.ConsumerInfo:
        """A consumer's configuration and state."""
        _check_name("stream", stream)
        _check_name("consumer", consumer)
        return _consumer_info(json.loads(await self._call("consumer_info", stream, consumer)))

    async def consumers_info(self, stream: str, offset: Optional[int] = None) -> List[api.ConsumerInfo]:
        """The info of every consumer of ``stream`` (from ``offset``)."""
        _check_name("stream", stream)
        items = json.loads(await self._call("consumers_info", stream))
        return [_consumer_info(i) for i in items[offset or 0 :]]

    async def pause_consumer(
        self, stream: str, consumer: str, pause_until: str, timeout: Optional[float] = None
    ) -> api.ConsumerPause:
        """Pause a consumer until ``pause_until`` (an RFC 3339 time; server 2.11+)."""
        _check_name("stream", stream)
        _check_name("consumer", consumer)
        if isinstance(pause_until, datetime.datetime):
            pause_until = api._format_time(pause_until)
        raw = await self._call("pause_consumer", stream, consumer, pause_until)
        return api.ConsumerPause.from_response(json.loads(raw))

    async def resume_consumer(self, stream: str, consumer: str, timeout: Optional[float] = None) -> api.ConsumerPause:
        """Resume a paused consumer (server 2.11+)."""
        _check_name("stream", stream)
        _check_name("consumer", consumer)
        return api.ConsumerPause.from_response(json.loads(await self._call("resume_consumer", stream, consumer)))

    async def get_msg(
        self,
        stream_name: str,
        seq: Optional[int] = None,
        subject: Optional[str] = None,
        direct: Optional[bool] = False,
        next: Optional[bool] = False,  # noqa: A002 - nats-py's name
    ) -> api.RawStreamMsg:
        """A stored message: by ``seq``, the last one of ``subject``, or with ``next`` the
        first one of ``subject`` at or after ``seq``; through Direct Get with ``direct``."""
        _check_name("stream", stream_name)
        if seq is not None and (not isinstance(seq, int) or seq < 0):
            raise ValueError("nats: invalid sequence")
        subj, sseq, data, headers, ts = await self._call(
            "get_msg", stream_name, seq=seq, subject=subject, next=bool(next), direct=bool(direct)
        )
        hdrs = dict(headers) if headers else None
        return api.RawStreamMsg(
            subject=subj,
            seq=sseq,
            data=data,
            headers=hdrs,
            stream=stream_name,
            time=datetime.datetime.fromtimestamp(ts / 1_000_000_000, datetime.timezone.utc),
        )

    async def get_last_msg(self, stream_name: str, subject: str, direct: Optional[bool] = False) -> api.RawStreamMsg:
        """The last message stored under ``subject``."""
        return await self.get_msg(stream_name, subject=subject, direct=direct)

    async def delete_msg(self, stream_name: str, seq: int) -> bool:
        """Delete one stored message; ``True``."""
        _check_name("stream", stream_name)
        if not isinstance(seq, int) or seq < 0:
            raise ValueError("nats: invalid sequence")
        return await self._call("delete_msg", stream_name, seq)


