"""Subscriptions (nats-py's ``Subscription``): a callback, ``messages`` or ``next_msg``.

Messages are buffered on the Rust side; the event loop is woken once per burst and the
consumer (the callback task, the iterator or ``next_msg``) takes the whole batch at once.
"""

import asyncio
from collections import deque
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, Optional

from .. import errors
from .msg import Msg

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

DEFAULT_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_SUB_PENDING_BYTES_LIMIT = 128 * 1024 * 1024


class _Ended(Exception):
    pass


class Subscription:
    """A subscription made by :meth:`rnats.aio.client.Client.subscribe`."""

    def __init__(
        self,
        conn: "Client",
        id: int = 0,  # noqa: A002 - nats-py's name
        subject: str = "",
        queue: str = "",
        cb: Optional[Callable[[Msg], Awaitable[None]]] = None,
        future: Optional[asyncio.Future] = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
    ) -> None:
        self._conn = conn
        self._id = id
        self._subject = subject
        self._queue = queue
        self._cb = cb
        self._max_msgs = max_msgs
        self._pending_msgs_limit = pending_msgs_limit
        self._pending_bytes_limit = pending_bytes_limit
        self._rsub = None  # the Rust subscription, set by the client
        self._local: deque = deque()
        self._waiter: Optional[asyncio.Future] = None
        self._ended = False
        self._unsubscribed = False
        self._delivered = 0
        self._task: Optional[asyncio.Task] = None

    def __repr__(self) -> str:
        return f"<rnats subscription subject={self._subject!r} queue={self._queue!r}>"

    @property
    def subject(self) -> str:
        """The subject subscribed to."""
        return self._subject

    @property
    def queue(self) -> str:
        """The queue group (``""`` when none)."""
        return self._queue

    @property
    def delivered(self) -> int:
        """Messages handed to the program so far."""
        return self._delivered

    @property
    def pending_msgs(self) -> int:
        """Messages received but not yet consumed."""
        pending = len(self._local)
        if self._rsub is not None:
            pending += self._rsub.pending()
        return pending

    @property
    def pending_bytes(self) -> int:
        """Bytes of payload received but not yet consumed (those already taken from Rust)."""
        return sum(len(m.data) for m in self._local)

    @property
    def messages(self) -> AsyncIterator[Msg]:
        """An async iterator over the messages; it ends when the subscription ends."""
        if self._cb is not None:
            raise errors.Error("nats: cannot iterate over messages with a callback subscription")
        return self._iterate()

    async def _iterate(self):
        while True:
            try:
                msg = await self._next()
            except _Ended:
                return
            yield msg

    # Called by the Rust side (through call_soon_threadsafe) when messages arrived.
    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _refill(self) -> None:
        batch, ended = self._rsub.take()
        if batch:
            client = self._conn
            sid = self._id
            self._local.extend(Msg(client, s, r, d, h, None, False, sid) for (s, r, d, h) in batch)
        if ended:
            self._ended = True

    async def _next(self) -> Msg:
        while True:
            if self._local:
                self._delivered += 1
                return self._local.popleft()
            if self._ended:
                raise _Ended()
            self._refill()
            if self._local or self._ended:
                continue
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def next_msg(self, timeout: Optional[float] = 1.0) -> Msg:
        """The next message; ``rnats.errors.TimeoutError`` after ``timeout`` seconds."""
        if self._cb is not None:
            raise errors.Error("nats: next_msg cannot be used in async subscriptions")
        if self._local:
            self._delivered += 1
            return self._local.popleft()
        try:
            if timeout is None:
                return await self._next()
            return await asyncio.wait_for(self._next(), timeout)
        except asyncio.TimeoutError:
            raise errors.TimeoutError() from None
        except _Ended:
            if self._conn.is_closed:
                raise errors.ConnectionClosedError() from None
            raise errors.BadSubscriptionError("nats: subscription ended") from None

    def _start(self) -> None:
        if self._cb is not None:
            self._task = asyncio.get_running_loop().create_task(self._run_callbacks())

    async def _run_callbacks(self) -> None:
        cb = self._cb
        while True:
            try:
                msg = await self._next()
            except _Ended:
                return
            try:
                await cb(msg)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # delivered to error_cb, as nats-py does
                await self._conn._report_error(e)

    async def unsubscribe(self, limit: int = 0) -> None:
        """Stop now (``limit == 0``) or after ``limit`` messages in total."""
        if not isinstance(limit, int) or limit < 0:
            raise ValueError("limit must be a non-negative int")
        if self._conn.is_closed:
            raise errors.ConnectionClosedError()
        if self._unsubscribed:
            raise errors.BadSubscriptionError()
        if limit == 0:
            self._unsubscribed = True
        self._rsub.unsubscribe(limit)

    async def drain(self) -> None:
        """Stop without losing messages: those already sent are still delivered (and the
        callback, if any, has processed them) before this returns."""
        if self._conn.is_closed:
            raise errors.ConnectionClosedError()
        if self._unsubscribed:
            raise errors.BadSubscriptionError()
        self._unsubscribed = True
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._rsub.drain(self._conn._hub, fut)
        await fut
        if self._task is not None:
            await asyncio.shield(self._task)
