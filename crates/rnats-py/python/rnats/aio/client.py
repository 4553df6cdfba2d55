"""The asyncio client (nats-py's ``nats.aio.client.Client``) on the rnats Rust core."""

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional, Union
from urllib.parse import ParseResult, urlparse

from .. import _rnats, errors
from .msg import Msg
from .subscription import (
    DEFAULT_SUB_PENDING_BYTES_LIMIT,
    DEFAULT_SUB_PENDING_MSGS_LIMIT,
    Subscription,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..js import JetStreamContext, JetStreamManager

__version__ = "2.16.0"
__lang__ = "python3"

DEFAULT_INBOX_PREFIX = b"_INBOX"
DEFAULT_PENDING_SIZE = 2 * 1024 * 1024
DEFAULT_RECONNECT_TIME_WAIT = 2
DEFAULT_MAX_RECONNECT_ATTEMPTS = 60
DEFAULT_PING_INTERVAL = 120
DEFAULT_MAX_OUTSTANDING_PINGS = 2
DEFAULT_MAX_PAYLOAD_SIZE = 1048576
DEFAULT_MAX_FLUSHER_QUEUE_SIZE = 1024
DEFAULT_FLUSH_TIMEOUT = 10
DEFAULT_CONNECT_TIMEOUT = 2
DEFAULT_DRAIN_TIMEOUT = 30

Callback = Callable[[], Awaitable[None]]
ErrorCallback = Callable[[Exception], Awaitable[None]]

_logger = logging.getLogger("rnats.aio.client")

__all__ = ["Client", "Msg", "Subscription", "DEFAULT_SUB_PENDING_MSGS_LIMIT", "DEFAULT_SUB_PENDING_BYTES_LIMIT"]


def _check_cb(name: str, cb: Any) -> None:
    if cb is not None and not asyncio.iscoroutinefunction(cb):
        raise errors.InvalidCallbackTypeError(f"nats: {name} must be a coroutine function")


def _url(server: str) -> str:
    if "://" not in server:
        server = "nats://" + server
    return server


def _redacted(url: str) -> ParseResult:
    """A ParseResult of ``url`` without its credentials."""
    u = urlparse(_url(url))
    if u.username is not None or u.password is not None:
        host = u.hostname or ""
        if u.port:
            host = f"{host}:{u.port}"
        u = u._replace(netloc=host)
    return u


class Client:
    """An asyncio NATS client: create it, then ``await nc.connect(...)`` (or use
    :func:`rnats.connect`). Also an async context manager that closes on exit."""

    msg_class = Msg

    DISCONNECTED = 0
    CONNECTED = 1
    CLOSED = 2
    RECONNECTING = 3
    CONNECTING = 4
    DRAINING_SUBS = 5
    DRAINING_PUBS = 6

    def __init__(self) -> None:
        self._c = None  # the Rust client once connected
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._closed = False
        self._error_cb: Optional[ErrorCallback] = None
        self._disconnected_cb: Optional[Callback] = None
        self._reconnected_cb: Optional[Callback] = None
        self._closed_cb: Optional[Callback] = None
        self._lame_duck_mode_cb: Optional[Callback] = None
        self._discovered_server_cb: Optional[Callback] = None
        self._closed_cb_ran = False
        self._last_error: Optional[Exception] = None
        self._drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
        self._sid = 0
        # Callback subscriptions, so drain() can wait until their callbacks are done.
        self._cb_subs: "weakref.WeakSet[Subscription]" = weakref.WeakSet()
        self._tasks: set = set()
        self.options: Dict[str, Any] = {}
        self._stats = {"in_msgs": 0, "out_msgs": 0, "in_bytes": 0, "out_bytes": 0, "reconnects": 0, "errors_received": 0}

    def __repr__(self) -> str:
        return f"<rnats client v{__version__}>"

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # ------------------------------------------------------------------ connect

    async def connect(
        self,
        servers: Union[str, List[str]] = ["nats://localhost:4222"],  # noqa: B006
        error_cb: Optional[ErrorCallback] = None,
        disconnected_cb: Optional[Callback] = None,
        closed_cb: Optional[Callback] = None,
        discovered_server_cb: Optional[Callback] = None,
        reconnected_cb: Optional[Callback] = None,
        name: Optional[str] = None,
        pedantic: bool = False,
        verbose: bool = False,
        allow_reconnect: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        reconnect_time_wait: float = DEFAULT_RECONNECT_TIME_WAIT,
        max_reconnect_attempts: int = DEFAULT_MAX_RECONNECT_ATTEMPTS,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        max_outstanding_pings: int = DEFAULT_MAX_OUTSTANDING_PINGS,
        dont_randomize: bool = False,
        flusher_queue_size: int = DEFAULT_MAX_FLUSHER_QUEUE_SIZE,
        no_echo: bool = False,
        tls: Any = None,
        tls_hostname: Optional[str] = None,
        tls_handshake_first: bool = False,
        user: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        signature_cb: Any = None,
        user_jwt_cb: Any = None,
        user_credentials: Any = None,
        nkeys_seed: Optional[str] = None,
        nkeys_seed_str: Optional[str] = None,
        inbox_prefix: Union[str, bytes] = DEFAULT_INBOX_PREFIX,
        pending_size: int = DEFAULT_PENDING_SIZE,
        flush_timeout: Optional[float] = None,
        ws_connection_headers: Any = None,
        reconnect_to_server_handler: Any = None,
        lame_duck_mode_cb: Optional[Callback] = None,
        skip_subject_validation: bool = False,
    ) -> None:
        """Connect to ``servers`` (a URL or a list of URLs).

        Supported now: ``name``, ``servers``, ``connect_timeout``, ``allow_reconnect``,
        ``max_reconnect_attempts``, ``reconnect_time_wait``, ``ping_interval``,
        ``max_outstanding_pings``, ``dont_randomize``, ``no_echo``, ``user``/``password``,
        ``token``, ``inbox_prefix``, ``pending_size``, ``drain_timeout`` and the callbacks
        ``error_cb``, ``disconnected_cb``, ``reconnected_cb``, ``closed_cb``,
        ``discovered_server_cb``, ``lame_duck_mode_cb``. TLS contexts, NKeys, JWT/creds and callables for credentials
        raise ``NotImplementedError`` (not yet bound).
        """
        unsupported = {
            "tls": tls, "tls_hostname": tls_hostname, "signature_cb": signature_cb,
            "user_jwt_cb": user_jwt_cb, "user_credentials": user_credentials,
            "nkeys_seed": nkeys_seed, "nkeys_seed_str": nkeys_seed_str,
            "ws_connection_headers": ws_connection_headers,
            "reconnect_to_server_handler": reconnect_to_server_handler,
        }
        for key, value in unsupported.items():
            if value is not None:
                raise NotImplementedError(f"rnats: the {key!r} option is not supported yet")
        if tls_handshake_first:
            raise NotImplementedError("rnats: the 'tls_handshake_first' option is not supported yet")
        for key, value in (("user", user), ("password", password), ("token", token)):
            if value is not None and not isinstance(value, str):
                raise NotImplementedError(f"rnats: {key} must be a str (callables are not supported yet)")
        for cb_name, cb in (
            ("error_cb", error_cb), ("disconnected_cb", disconnected_cb), ("closed_cb", closed_cb),
            ("reconnected_cb", reconnected_cb), ("discovered_server_cb", discovered_server_cb),
            ("lame_duck_mode_cb", lame_duck_mode_cb),
        ):
            _check_cb(cb_name, cb)
        if self._c is not None and not self._closed:
            raise errors.Error("nats: already connected")
        if isinstance(servers, str):
            servers = [servers]
        if not servers:
            raise errors.NoServersError()
        if isinstance(inbox_prefix, bytes):
            inbox_prefix = inbox_prefix.decode()
        self._error_cb = error_cb
        self._disconnected_cb = disconnected_cb
        self._reconnected_cb = reconnected_cb
        self._closed_cb = closed_cb
        self._lame_duck_mode_cb = lame_duck_mode_cb
        self._discovered_server_cb = discovered_server_cb
        self._drain_timeout = drain_timeout
        self.options = {
            "servers": [_redacted(s).geturl() for s in servers], "name": name, "allow_reconnect": allow_reconnect,
            "connect_timeout": connect_timeout, "reconnect_time_wait": reconnect_time_wait,
            "max_reconnect_attempts": max_reconnect_attempts, "ping_interval": ping_interval,
            "max_outstanding_pings": max_outstanding_pings, "dont_randomize": dont_randomize,
            "no_echo": no_echo, "inbox_prefix": inbox_prefix, "pending_size": pending_size,
            "drain_timeout": drain_timeout, "verbose": verbose, "pedantic": pedantic,
        }
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        _rnats.connect(
            loop, fut, [_url(s) for s in servers], self._on_event,
            name=name, no_echo=no_echo, connect_timeout=float(connect_timeout),
            allow_reconnect=allow_reconnect, max_reconnect_attempts=int(max_reconnect_attempts),
            reconnect_time_wait=float(reconnect_time_wait), ping_interval=float(ping_interval),
            max_outstanding_pings=int(max_outstanding_pings), dont_randomize=dont_randomize,
            user=user, password=password, token=token, inbox_prefix=inbox_prefix,
            pending_size=int(pending_size),
        )
        try:
            self._c = await fut
        except errors.Error as e:
            self._last_error = e
            if self._error_cb is not None:
                await self._error_cb(e)
            raise
        self._loop = loop
        self._closed = False
        self._closed_cb_ran = False

    # ------------------------------------------------------------------ events

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_cb(self, cb, *args) -> None:
        try:
            await cb(*args)
        except Exception as e:  # a failing callback must not take the client down
            _logger.error("rnats: callback %r failed: %r", cb, e)

    async def _report_error(self, e: Exception) -> None:
        self._last_error = e
        self._stats["errors_received"] += 1
        if self._error_cb is not None:
            await self._run_cb(self._error_cb, e)
        else:
            _logger.error("nats: encountered error", exc_info=e)

    def _on_event(self, kind: str, err: Optional[Exception]) -> None:
        if kind == "disconnected":
            if self._disconnected_cb is not None:
                self._spawn(self._run_cb(self._disconnected_cb))
        elif kind == "reconnected":
            if self._reconnected_cb is not None:
                self._spawn(self._run_cb(self._reconnected_cb))
        elif kind == "discovered":
            if self._discovered_server_cb is not None:
                self._spawn(self._run_cb(self._discovered_server_cb))
        elif kind == "lame_duck":
            if self._lame_duck_mode_cb is not None:
                self._spawn(self._run_cb(self._lame_duck_mode_cb))
        elif kind == "closed":
            self._closed = True
            self._spawn(self._after_close())
        elif err is not None:
            self._spawn(self._report_error(err))

    async def _after_close(self) -> None:
        if self._closed_cb_ran:
            return
        self._closed_cb_ran = True
        if self._disconnected_cb is not None:
            await self._run_cb(self._disconnected_cb)
        if self._closed_cb is not None:
            await self._run_cb(self._closed_cb)

    # ------------------------------------------------------------------ core calls

    def _client(self):
        if self._c is None:
            raise errors.ConnectionClosedError()
        return self._c

    async def publish(
        self, subject: str, payload: bytes = b"", reply: str = "", headers: Optional[Dict[str, str]] = None
    ) -> None:
        """Publish ``payload`` to ``subject`` (optionally with a ``reply`` subject and
        ``headers``). Returns once the message is buffered for sending; ``flush()`` waits
        until the server has it."""
        c = self._c
        if c is None:
            raise errors.ConnectionClosedError()
        pending = c.publish(subject, payload, reply, headers)
        if pending is not None:  # write buffer full: wait for room
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            pending.wait(loop, fut)
            await fut

    async def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: Optional[Callable[[Msg], Awaitable[None]]] = None,
        future: Optional[asyncio.Future] = None,
        max_msgs: int = 0,
        pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed), in queue group ``queue`` if given.

        With ``cb`` (a coroutine function) each message is passed to it, in order, one at a
        time; otherwise read them with ``sub.messages`` or ``await sub.next_msg()``.
        ``max_msgs`` > 0 unsubscribes automatically after that many messages.
        """
        if not isinstance(subject, str):
            raise TypeError(f"subject must be a str, not {type(subject).__name__}")
        if not isinstance(queue, str):
            raise TypeError(f"queue must be a str, not {type(queue).__name__}")
        if not subject:
            raise errors.BadSubjectError()
        if cb is not None and not asyncio.iscoroutinefunction(cb):
            raise errors.InvalidCallbackTypeError()
        if future is not None:
            raise NotImplementedError("rnats: subscribe(future=...) is not supported")
        if not isinstance(max_msgs, int) or max_msgs < 0:
            raise ValueError("max_msgs must be a non-negative int")
        client = self._client()
        self._sid += 1
        sub = Subscription(self, self._sid, subject, queue, cb, None, max_msgs, pending_msgs_limit, pending_bytes_limit)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.subscribe(loop, fut, subject, queue, sub._wake, max_msgs)
        sub._rsub = await fut
        if pending_msgs_limit > 0 and pending_bytes_limit > 0:
            sub._rsub.set_pending_limits(pending_msgs_limit, pending_bytes_limit)
        sub._start()
        if sub._task is not None:
            self._cb_subs.add(sub)
            # The loop keeps only weak references to tasks: hold the callback task.
            self._tasks.add(sub._task)
            sub._task.add_done_callback(self._tasks.discard)
        return sub

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: Optional[Dict[str, Any]] = None,
    ) -> Msg:
        """Send a request and return the first answer.

        Raises ``rnats.errors.TimeoutError`` after ``timeout`` seconds and
        ``rnats.errors.NoRespondersError`` when nobody listens on ``subject``.
        """
        if old_style:
            raise NotImplementedError("rnats: old_style requests are not supported")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise errors.BadTimeoutError()
        client = self._client()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.request(loop, fut, subject, payload, None if timeout is None else float(timeout), headers)
        s, r, d, h = await fut
        return Msg(self, s, r, d, h)

    async def rtt(self, timeout: float = 10) -> float:
        """The round-trip time to the server in seconds (one PING/PONG);
        ``rnats.errors.TimeoutError`` after ``timeout`` seconds."""
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise errors.BadTimeoutError()
        client = self._client()
        if self._closed:
            raise errors.ConnectionClosedError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.rtt(loop, fut, None if timeout is None else float(timeout))
        return await fut

    async def force_reconnect(self) -> None:
        """Drop the current connection and connect again (to the next server of the pool);
        subscriptions are replayed and unsent publishes kept."""
        client = self._client()
        if self._closed:
            raise errors.ConnectionClosedError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.force_reconnect(loop, fut)
        await fut

    def new_inbox(self) -> str:
        """A new unique inbox subject (``<inbox_prefix>.<unique id>``)."""
        if self._c is not None:
            return self._c.new_inbox()
        import uuid

        prefix = self.options.get("inbox_prefix", "_INBOX")
        return f"{prefix}.{uuid.uuid4().hex}"

    async def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        """Wait until the server has processed everything sent so far
        (``FlushTimeoutError`` after ``timeout`` seconds)."""
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise errors.BadTimeoutError()
        client = self._client()
        if self._closed:
            raise errors.ConnectionClosedError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.flush(loop, fut, None if timeout is None else float(timeout))
        await fut

    async def drain(self) -> None:
        """Drain every subscription (messages already sent are still delivered and
        processed), flush, then close. ``DrainTimeoutError`` after ``drain_timeout``."""
        client = self._client()
        if self._closed:
            raise errors.ConnectionClosedError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        start = loop.time()
        client.drain(loop, fut, float(self._drain_timeout) if self._drain_timeout else None)
        await fut
        # Every message delivered before the drain is also processed by its callback.
        tasks = [s._task for s in list(self._cb_subs) if s._task is not None and not s._task.done()]
        if tasks:
            left = None
            if self._drain_timeout:
                left = max(0.001, self._drain_timeout - (loop.time() - start))
            _, pending = await asyncio.wait(tasks, timeout=left)
            if pending:
                self._closed = True
                await self._after_close()
                raise errors.DrainTimeoutError()
        self._closed = True
        await self._after_close()

    async def close(self) -> None:
        """Close the connection (idempotent): flushes what was published, ends
        subscriptions, then runs ``disconnected_cb`` and ``closed_cb``."""
        if self._c is None or self._closed:
            self._closed = True
            return
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._c.close(loop, fut)
        await fut
        self._closed = True
        await self._after_close()

    # ------------------------------------------------------------------ JetStream

    def jetstream(self, **opts: Any) -> "JetStreamContext":
        """A JetStream context on this connection (keywords: ``prefix``, ``domain``,
        ``timeout``, ``publish_async_max_pending``)."""
        from ..js import JetStreamContext

        return JetStreamContext(self, **opts)

    def jsm(self, **opts: Any) -> "JetStreamManager":
        """A JetStream manager on this connection (keywords: ``prefix``, ``timeout``)."""
        from ..js import JetStreamManager

        return JetStreamManager(self, **opts)

    # ------------------------------------------------------------------ properties

    def _state(self) -> str:
        if self._c is None:
            return "closed" if self._closed else "disconnected"
        if self._closed:
            return "closed"
        return self._c.state()

    @property
    def is_connected(self) -> bool:
        """True while connected."""
        return self._state() == "connected"

    @property
    def is_closed(self) -> bool:
        """True once closed (or never connected)."""
        return self._c is None or self._state() == "closed"

    @property
    def is_reconnecting(self) -> bool:
        """True while the connection is lost and being re-established."""
        return self._state() == "reconnecting"

    @property
    def is_connecting(self) -> bool:
        """True during the first connect."""
        return False

    @property
    def is_draining(self) -> bool:
        """True while draining."""
        return self._state() == "draining"

    @property
    def is_draining_pubs(self) -> bool:
        """True while draining publishes (part of ``is_draining`` here)."""
        return self.is_draining

    @property
    def connected_url(self) -> Optional[ParseResult]:
        """The URL of the server connected to (without credentials), or ``None``."""
        if self._c is None or not self.is_connected:
            return None
        url = self._c.connected_url()
        return None if url is None else _redacted(url)

    @property
    def servers(self) -> List[ParseResult]:
        """The server pool's URLs (without credentials)."""
        if self._c is None:
            return [_redacted(s) for s in self.options.get("servers", [])]
        return [_redacted(s) for s in self._c.servers()]

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts."""
        return DEFAULT_MAX_PAYLOAD_SIZE if self._c is None else self._c.max_payload()

    @property
    def client_id(self) -> Optional[int]:
        """The id the server gave this client."""
        return None if self._c is None else self._c.client_id()

    @property
    def last_error(self) -> Optional[Exception]:
        """The last error reported to ``error_cb`` (or raised by ``connect``)."""
        return self._last_error

    @property
    def pending_data_size(self) -> int:
        """Bytes waiting to be written (not tracked yet: 0)."""
        return 0

    @property
    def stats(self) -> Dict[str, int]:
        """Counters: ``in_msgs``, ``out_msgs``, ``in_bytes``, ``out_bytes``, ``reconnects``,
        ``errors_received``."""
        if self._c is not None:
            i, o, ib, ob, rc = self._c.stats()
            self._stats.update(in_msgs=i, out_msgs=o, in_bytes=ib, out_bytes=ob, reconnects=rc)
        return self._stats
