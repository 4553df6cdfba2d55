"""JetStream (nats-py's ``nats.js.client.JetStreamContext``) on ``rnats::jetstream``.

Publishing, pulls, push and ordered consumers are rnats'; this module gives them nats-py's
shape: ``PubAck`` objects, ``publish_async`` futures, ``PullSubscription.fetch`` returning
lists of ``Msg``, ``PushSubscription`` being a ``Subscription`` (callbacks with auto-ack,
``messages``, ``next_msg``).
"""

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional

from .. import errors as _core_errors
from ..aio.msg import Msg
from ..aio.subscription import Subscription
from . import api
from . import errors as js_errors
from .manager import JetStreamManager, _check_name

if TYPE_CHECKING:  # pragma: no cover
    from ..aio.client import Client as NATS
    from .kv import KeyValue
    from .object_store import ObjectStore

Callback = Callable[[Msg], Awaitable[None]]

NO_RESPONDERS_STATUS = "503"
NATS_HDR_LINE = bytearray(b"NATS/1.0")
NATS_HDR_LINE_SIZE = len(NATS_HDR_LINE)
DEFAULT_JS_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_JS_SUB_PENDING_BYTES_LIMIT = 256 * 1024 * 1024
KV_STREAM_TEMPLATE = "KV_{bucket}"
KV_PRE_TEMPLATE = "$KV.{bucket}."
KV_MAX_HISTORY = 64
OBJ_STREAM_TEMPLATE = "OBJ_{bucket}"
OBJ_ALL_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.>"
OBJ_ALL_META_PRE_TEMPLATE = "$O.{bucket}.M.>"
VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


def _pub_ack(t: Any) -> api.PubAck:
    stream, seq, duplicate, domain, val = t
    return api.PubAck(stream=stream, seq=seq, domain=domain, duplicate=duplicate or None, val=val)


def _with_expectations(headers: Optional[Dict[str, Any]], stream: Optional[str]) -> Optional[Dict[str, Any]]:
    if stream is None:
        return headers
    hdr = dict(headers or {})
    hdr[api.Header.EXPECTED_STREAM.value] = stream
    return hdr


def _ttl(msg_ttl: Optional[float]) -> Optional[float]:
    if msg_ttl is None:
        return None
    if not isinstance(msg_ttl, (int, float)) or isinstance(msg_ttl, bool):
        raise TypeError("nats: msg_ttl must be a number of seconds")
    return float(int(msg_ttl))


class JetStreamContext(JetStreamManager):
    """JetStream: publish with acknowledgements, pull and push consumers, and every
    :class:`JetStreamManager` call."""

    def __init__(
        self,
        conn: "NATS",
        prefix: str = api.DEFAULT_PREFIX,
        domain: Optional[str] = None,
        timeout: float = 5,
        publish_async_max_pending: int = 4000,
    ) -> None:
        if domain is not None:
            prefix = f"$JS.{domain}.API"
        if not isinstance(publish_async_max_pending, int) or publish_async_max_pending < 1:
            raise ValueError("nats: publish_async_max_pending must be a positive int")
        self._nc = conn
        self._prefix = prefix
        self._timeout = timeout
        from .. import _rnats

        self._js = _rnats.jetstream(conn._client(), prefix, float(timeout), publish_async_max_pending)
        self._publish_async_futures: Dict[int, asyncio.Future] = {}
        self._publish_async_completed_event = asyncio.Event()
        self._publish_async_completed_event.set()
        self._publish_async_pending_semaphore = asyncio.Semaphore(publish_async_max_pending)
        self._publish_async_id = 0

    @property
    def _jsm(self) -> JetStreamManager:
        return self

    # ------------------------------------------------------------------ publish

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: Optional[float] = None,
        stream: Optional[str] = None,
        headers: Optional[Dict[str, Any]] = None,
        msg_ttl: Optional[float] = None,
    ) -> api.PubAck:
        """Publish and wait for the stream's acknowledgement (``timeout`` defaults to the
        context's). ``stream`` sets ``Nats-Expected-Stream``; ``msg_ttl`` a per-message TTL in
        seconds. ``NoStreamResponseError`` when no stream stores ``subject``."""
        if timeout is None:
            timeout = self._timeout
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise _core_errors.BadTimeoutError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._js.publish(self._nc._hub, fut, subject, payload, _with_expectations(headers, stream), float(timeout), _ttl(msg_ttl))
        return _pub_ack(await fut)

    async def publish_async(
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: Optional[float] = None,
        stream: Optional[str] = None,
        headers: Optional[Dict] = None,
        msg_ttl: Optional[float] = None,
    ) -> "asyncio.Future[api.PubAck]":
        """Publish without waiting: returns a future of the :class:`api.PubAck`. With
        ``publish_async_max_pending`` acknowledgements outstanding, waits (up to
        ``wait_stall`` seconds, then ``TooManyStalledMsgsError``) for one to arrive."""
        sem = self._publish_async_pending_semaphore
        if wait_stall is None or not sem.locked():
            await sem.acquire()
        else:
            try:
                await asyncio.wait_for(sem.acquire(), timeout=wait_stall)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                raise js_errors.TooManyStalledMsgsError() from None
        self._publish_async_id += 1
        pid = self._publish_async_id
        try:
            self._js.publish_async(
                self._nc._hub, self._on_acks, pid, subject, payload, _with_expectations(headers, stream), _ttl(msg_ttl)
            )
        except BaseException:
            sem.release()
            raise
        future = asyncio.get_running_loop().create_future()
        self._publish_async_futures[pid] = future
        self._publish_async_completed_event.clear()
        return future

    def _on_acks(self) -> None:
        """Called (once per batch) when acknowledgements of ``publish_async`` arrived."""
        futures = self._publish_async_futures
        release = self._publish_async_pending_semaphore.release
        for pid, ok, value in self._js.take_acks():
            release()
            fut = futures.pop(pid, None)
            if fut is None or fut.done():
                continue
            if ok:
                fut.set_result(_pub_ack(value))
            else:
                fut.set_exception(value)
        if not futures:
            self._publish_async_completed_event.set()

    def publish_async_pending(self) -> int:
        """How many ``publish_async`` acknowledgements are outstanding."""
        return len(self._publish_async_futures)

    async def publish_async_completed(self) -> None:
        """Wait until every ``publish_async`` acknowledgement arrived."""
        await self._publish_async_completed_event.wait()

    # ------------------------------------------------------------------ push

    async def subscribe(
        self,
        subject: str,
        queue: Optional[str] = None,
        cb: Optional[Callback] = None,
        durable: Optional[str] = None,
        stream: Optional[str] = None,
        config: Optional[api.ConsumerConfig] = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        idle_heartbeat: Optional[float] = None,
        flow_control: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        deliver_policy: Optional[api.DeliverPolicy] = None,
        headers_only: Optional[bool] = None,
        inactive_threshold: Optional[float] = None,
    ) -> "JetStreamContext.PushSubscription":
        """Subscribe to a push consumer on ``subject``: an existing durable, or one created
        (ephemeral unless ``durable``; ``queue`` makes it a durable of that name with that
        deliver group). With ``cb`` and not ``manual_ack``, each message is acknowledged after
        the callback returns. ``ordered_consumer`` delivers in order, once each, recreating
        the consumer on gaps."""
        if not isinstance(subject, str) or not subject:
            raise _core_errors.BadSubjectError()
        if cb is not None and not asyncio.iscoroutinefunction(cb):
            raise _core_errors.InvalidCallbackTypeError()
        if stream is None:
            stream = await self.find_stream_name_by_subject(subject)
        if ordered_consumer:
            if queue:
                raise js_errors.Error("nats: queues not supported with ordered consumers")
            config = api.ConsumerConfig() if config is None else config.evolve()
            if not config.filter_subjects:
                config.filter_subject = subject
            if deliver_policy:
                config.deliver_policy = deliver_policy
            if headers_only:
                config.headers_only = headers_only
            return await self._ordered(stream, config, cb, idle_heartbeat, pending_msgs_limit, pending_bytes_limit)
        if queue:
            if durable and durable != queue:
                raise js_errors.Error(f"cannot create queue subscription '{queue}' to consumer '{durable}'")
            durable = queue
        consumer = None
        consumer_info = None
        if durable:
            try:
                consumer_info = await self.consumer_info(stream, durable)
                consumer = durable
            except js_errors.NotFoundError:
                consumer_info = None
        if consumer_info is not None:
            config = consumer_info.config
            group = config.deliver_group
            if not group:
                if queue:
                    raise js_errors.Error("cannot create a queue subscription for a consumer without a deliver group")
                if consumer_info.push_bound:
                    raise js_errors.Error("consumer is already bound to a subscription")
            elif not queue:
                raise js_errors.Error(f"cannot create a subscription for a consumer with a deliver group {group}")
            elif queue != group:
                raise js_errors.Error(
                    f"cannot create a queue subscription {queue} for a consumer with a deliver group {group}"
                )
        else:
            config = api.ConsumerConfig() if config is None else config.evolve()
            if not config.durable_name:
                config.durable_name = durable
            if not config.deliver_group:
                config.deliver_group = queue
            if not config.headers_only:
                config.headers_only = headers_only
            if deliver_policy:
                config.deliver_policy = deliver_policy
            if inactive_threshold:
                config.inactive_threshold = inactive_threshold
            if config.deliver_subject is None:
                config.deliver_subject = self._nc.new_inbox()
            if not config.filter_subjects:
                config.filter_subject = subject
            config.flow_control = flow_control
            if idle_heartbeat:
                config.idle_heartbeat = idle_heartbeat
            info = await self.add_consumer(stream, config=config)
            consumer = info.name
        return await self.subscribe_bind(
            stream=stream,
            config=config,
            consumer=consumer,
            cb=cb,
            manual_ack=manual_ack,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
        )

    async def subscribe_bind(
        self,
        stream: str,
        config: api.ConsumerConfig,
        consumer: str,
        cb: Optional[Callback] = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
    ) -> "JetStreamContext.PushSubscription":
        """Subscribe to the existing push consumer ``consumer`` of ``stream``."""
        if cb is not None and not asyncio.iscoroutinefunction(cb):
            raise _core_errors.InvalidCallbackTypeError()
        if ordered_consumer:
            return await self._ordered(stream, config, cb, config.idle_heartbeat, pending_msgs_limit, pending_bytes_limit)
        _check_name("stream", stream)
        _check_name("consumer", consumer)
        if config.deliver_subject is None:
            raise TypeError("config.deliver_subject is required")
        if cb is not None and not manual_ack and config.ack_policy not in (api.AckPolicy.NONE, api.AckPolicy.FLOW_CONTROL):
            cb = self._auto_ack_callback(cb)
        psub = self._push_sub(config.deliver_subject, config.deliver_group or "", cb, stream, consumer,
                              pending_msgs_limit, pending_bytes_limit)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._js.push_bind(self._nc._hub, fut, stream, consumer, psub._wake)
        return self._start_push(psub, await fut)

    async def _ordered(self, stream, config, cb, idle_heartbeat, pending_msgs_limit, pending_bytes_limit):
        _check_name("stream", stream)
        subject = config.filter_subject or ""
        psub = self._push_sub(subject, "", cb, stream, None, pending_msgs_limit, pending_bytes_limit)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._js.ordered(self._nc._hub, fut, stream, json.dumps(config.as_dict()), psub._wake, heartbeat=idle_heartbeat)
        return self._start_push(psub, await fut)

    def _push_sub(self, subject, queue, cb, stream, consumer, msgs_limit, bytes_limit):
        nc = self._nc
        nc._client()
        nc._sid += 1
        core = Subscription(nc, nc._sid, subject, queue, cb, None, 0, msgs_limit, bytes_limit)
        return JetStreamContext.PushSubscription(self, core, stream, consumer)

    def _start_push(self, psub, rsub) -> "JetStreamContext.PushSubscription":
        psub._rsub = rsub
        if psub._pending_msgs_limit > 0 and psub._pending_bytes_limit > 0:
            rsub.set_pending_limits(psub._pending_msgs_limit, psub._pending_bytes_limit)
        psub._start()
        if psub._task is not None:
            nc = self._nc
            nc._cb_subs.add(psub)
            nc._tasks.add(psub._task)
            psub._task.add_done_callback(nc._tasks.discard)
        return psub

    @staticmethod
    def _auto_ack_callback(callback: Callback) -> Callback:
        async def new_callback(msg: Msg) -> None:
            await callback(msg)
            try:
                await msg.ack()
            except _core_errors.MsgAlreadyAckdError:
                pass

        return new_callback

    # ------------------------------------------------------------------ pull

    async def pull_subscribe(
        self,
        subject: str,
        durable: Optional[str] = None,
        stream: Optional[str] = None,
        config: Optional[api.ConsumerConfig] = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        inbox_prefix: Optional[bytes] = None,
    ) -> "JetStreamContext.PullSubscription":
        """A pull subscription on ``subject``: the durable ``durable`` if it exists, else a
        consumer created from ``config`` (filtered on ``subject``)."""
        if not isinstance(subject, str) or not subject:
            raise _core_errors.BadSubjectError()
        if stream is None:
            stream = await self.find_stream_name_by_subject(subject)
        should_create = True
        if durable:
            try:
                await self.consumer_info(stream, durable)
                should_create = False
            except js_errors.NotFoundError:
                pass
        consumer_name = durable
        if should_create:
            config = api.ConsumerConfig() if config is None else config.evolve()
            if not config.filter_subjects:
                config.filter_subject = subject
            if durable:
                config.name = durable
                config.durable_name = durable
            else:
                consumer_name = self._nc.new_inbox().rsplit(".", 1)[-1]
                config.name = consumer_name
            await self.add_consumer(stream, config=config)
        return await self.pull_subscribe_bind(
            durable=durable,
            stream=stream,
            inbox_prefix=inbox_prefix,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
            name=consumer_name,
        )

    async def pull_subscribe_bind(
        self,
        consumer: Optional[str] = None,
        stream: Optional[str] = None,
        inbox_prefix: Optional[bytes] = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        name: Optional[str] = None,
        durable: Optional[str] = None,
    ) -> "JetStreamContext.PullSubscription":
        """A pull subscription on the existing consumer ``consumer`` (or ``durable``/``name``)
        of ``stream``."""
        if not stream:
            raise ValueError("nats: stream name is required")
        consumer_name = durable or name or consumer
        _check_name("stream", stream)
        _check_name("consumer", consumer_name)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._js.pull_bind(self._nc._hub, fut, stream, consumer_name)
        return JetStreamContext.PullSubscription(self, await fut, stream, consumer_name, b"")

    @classmethod
    def is_status_msg(cls, msg: Optional[Msg]) -> Optional[str]:
        """The ``Status`` header of a control message, or ``None``."""
        if msg is None or msg.headers is None:
            return None
        return msg.headers.get(api.Header.STATUS.value)

    # ------------------------------------------------------------------ subscriptions

    # ------------------------------------------------------------------ Key-Value

    async def key_value(self, bucket: str) -> "KeyValue":
        """Binds to the Key-Value bucket ``bucket``: ``BucketNotFoundError`` when it does
        not exist, ``InvalidBucketNameError`` for a bad name."""
        from .. import _rnats
        from .kv import KeyValue

        if not isinstance(bucket, str) or VALID_BUCKET_RE.match(bucket) is None:
            raise js_errors.InvalidBucketNameError()
        fut = asyncio.get_running_loop().create_future()
        _rnats.kv_bind(self._js, self._nc._hub, fut, bucket)
        store = await fut
        return KeyValue(bucket, KV_STREAM_TEMPLATE.format(bucket=bucket), KV_PRE_TEMPLATE.format(bucket=bucket), self, store)

    async def create_key_value(self, config: Optional[api.KeyValueConfig] = None, **params: Any) -> "KeyValue":
        """Creates a Key-Value bucket from ``config`` and/or keyword fields of
        :class:`api.KeyValueConfig` (``bucket``, ``history``, ``ttl``, ``max_bytes``,
        ``storage``, ``limit_marker_ttl``…); returns it."""
        from .. import _rnats
        from .kv import KeyValue

        if config is None:
            config = api.KeyValueConfig(bucket=params["bucket"])
        config = config.evolve(**params)
        if not isinstance(config.bucket, str) or VALID_BUCKET_RE.match(config.bucket) is None:
            raise js_errors.InvalidBucketNameError()
        if config.history > KV_MAX_HISTORY:
            raise js_errors.KeyHistoryTooLargeError()
        if config.limit_marker_ttl is not None and config.limit_marker_ttl > 0:
            info = await self.account_info()
            if not info.api.level or info.api.level < 1:
                raise js_errors.KeyValueLimitMarkerTTLNotSupportedError()
        fut = asyncio.get_running_loop().create_future()
        _rnats.kv_create(
            self._js,
            self._nc._hub,
            fut,
            config.bucket,
            description=config.description,
            history=int(config.history or 1),
            ttl=None if not config.ttl else float(config.ttl),
            max_value_size=config.max_value_size,
            max_bytes=config.max_bytes,
            memory=config.storage == api.StorageType.MEMORY,
            replicas=int(config.replicas or 1),
            limit_marker_ttl=None if not config.limit_marker_ttl else float(config.limit_marker_ttl),
        )
        store = await fut
        b = config.bucket
        return KeyValue(b, KV_STREAM_TEMPLATE.format(bucket=b), KV_PRE_TEMPLATE.format(bucket=b), self, store)

    async def delete_key_value(self, bucket: str) -> bool:
        """Deletes the Key-Value bucket ``bucket`` (its stream)."""
        from .. import _rnats

        if not isinstance(bucket, str) or VALID_BUCKET_RE.match(bucket) is None:
            raise js_errors.InvalidBucketNameError()
        fut = asyncio.get_running_loop().create_future()
        _rnats.kv_delete(self._js, self._nc._hub, fut, bucket)
        return await fut

    async def object_store(self, bucket: str) -> "ObjectStore":
        """Binds to the Object Store bucket ``bucket``: ``BucketNotFoundError`` when it does
        not exist, ``InvalidBucketNameError`` for a bad name."""
        from .. import _rnats
        from .object_store import ObjectStore

        if not isinstance(bucket, str) or VALID_BUCKET_RE.match(bucket) is None:
            raise js_errors.InvalidBucketNameError()
        fut = asyncio.get_running_loop().create_future()
        _rnats.os_bind(self._js, self._nc._hub, fut, bucket)
        store = await fut
        return ObjectStore(bucket, OBJ_STREAM_TEMPLATE.format(bucket=bucket), self, store)

    async def create_object_store(
        self,
        bucket: Optional[str] = None,
        config: Optional[api.ObjectStoreConfig] = None,
        **params: Any,
    ) -> "ObjectStore":
        """Creates an Object Store bucket from ``bucket``, ``config`` and/or keyword fields of
        :class:`api.ObjectStoreConfig` (``description``, ``ttl`` in seconds, ``max_bytes``,
        ``storage``, ``replicas``, ``placement``); returns it. ``InvalidBucketNameError`` for a
        bad name."""
        from .. import _rnats
        from .object_store import ObjectStore

        if config is None:
            config = api.ObjectStoreConfig(bucket=bucket)
        elif bucket is not None:
            config = config.evolve(bucket=bucket)
        config = config.evolve(**params)
        if not isinstance(config.bucket, str) or VALID_BUCKET_RE.match(config.bucket) is None:
            raise js_errors.InvalidBucketNameError()
        placement = None
        if config.placement is not None:
            placement = json.dumps(config.placement.as_dict())
        fut = asyncio.get_running_loop().create_future()
        _rnats.os_create(
            self._js,
            self._nc._hub,
            fut,
            config.bucket,
            description=config.description,
            ttl=None if not config.ttl else float(config.ttl),
            max_bytes=config.max_bytes,
            memory=config.storage == api.StorageType.MEMORY,
            replicas=int(config.replicas or 1),
            placement=placement,
        )
        store = await fut
        return ObjectStore(config.bucket, OBJ_STREAM_TEMPLATE.format(bucket=config.bucket), self, store)

    async def delete_object_store(self, bucket: str) -> bool:
        """Deletes the Object Store bucket ``bucket`` (its stream and every object in it)."""
        from .. import _rnats

        if not isinstance(bucket, str) or VALID_BUCKET_RE.match(bucket) is None:
            raise js_errors.InvalidBucketNameError()
        fut = asyncio.get_running_loop().create_future()
        _rnats.os_delete(self._js, self._nc._hub, fut, bucket)
        return await fut

    class PushSubscription(Subscription):
        """A push (or ordered) consumer's subscription: a :class:`Subscription` (callback,
        ``messages``, ``next_msg``) that also knows its stream and consumer."""

        def __init__(self, js: "JetStreamContext", sub: Subscription, stream: str, consumer: Optional[str]) -> None:
            self.__dict__.update(sub.__dict__)
            self._js = js
            self._stream = stream
            self._consumer = consumer

        async def consumer_info(self) -> api.ConsumerInfo:
            """The consumer's current info (for an ordered consumer: the consumer serving
            it now, which is replaced after a gap)."""
            consumer = self._consumer or self._rsub.consumer_name()
            if consumer is None:
                raise js_errors.Error("nats: the ordered consumer is being recreated")
            return await self._js.consumer_info(self._stream, consumer)

        @property
        def delivered(self) -> int:
            """Messages handed to the program so far."""
            return self._delivered

        @delivered.setter
        def delivered(self, value: int) -> None:
            self._delivered = value

    class PullSubscription:
        """A pull consumer: ``fetch`` batches of messages."""

        def __init__(self, js: "JetStreamContext", sub: Any, stream: str, consumer: str, deliver: bytes = b"") -> None:
            self._js = js
            self._rsub = sub
            self._stream = stream
            self._consumer = consumer
            self._deliver = deliver
            self._delivered = 0
            self._closed = False

        @property
        def pending_msgs(self) -> int:
            """Messages received but not returned by ``fetch`` (none: each fetch hands over
            its whole batch)."""
            return 0

        @property
        def pending_bytes(self) -> int:
            """Bytes received but not returned by ``fetch`` (none)."""
            return 0

        @property
        def delivered(self) -> int:
            """Messages returned by ``fetch`` so far."""
            return self._delivered

        async def unsubscribe(self) -> None:
            """Stop using this subscription (the consumer itself stays)."""
            if self._closed:
                raise _core_errors.BadSubscriptionError()
            self._closed = True

        async def consumer_info(self) -> api.ConsumerInfo:
            """The consumer's current info."""
            return await self._js.consumer_info(self._stream, self._consumer)

        async def fetch(self, batch: int = 1, timeout: Optional[float] = 5, heartbeat: Optional[float] = None) -> List[Msg]:
            """Up to ``batch`` messages: those available now, else waiting up to ``timeout``
            seconds (``None``: as long as it takes) for the first. ``rnats.errors.TimeoutError``
            when none came (``FetchTimeoutError`` when only heartbeats did).

            Each fetch is one pull with its own inbox: a fetch cancelled while messages are on
            their way leaves them to be redelivered after the consumer's ack wait."""
            if self._closed:
                raise ValueError("nats: invalid subscription")
            if not isinstance(batch, int) or isinstance(batch, bool):
                raise TypeError(f"nats: batch must be an int, not {type(batch).__name__}")
            if batch < 1:
                raise ValueError("nats: invalid batch size")
            if timeout is not None:
                if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
                    raise TypeError("nats: timeout must be a number of seconds")
                if timeout <= 0:
                    raise ValueError("nats: invalid fetch timeout")
            if heartbeat is not None and (not isinstance(heartbeat, (int, float)) or heartbeat <= 0):
                raise ValueError("nats: invalid heartbeat")
            expires = timeout - 0.0001 if timeout else None
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            self._rsub.fetch(self._js._nc._hub, fut, batch, expires, None if heartbeat is None else float(heartbeat))
            raw = await fut
            nc = self._js._nc
            msgs = [Msg(nc, s, r, d, h) for (s, r, d, h) in raw]
            self._delivered += len(msgs)
            return msgs
