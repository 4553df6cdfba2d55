"""The asyncio client (nats-py's ``nats.aio.client.Client``) on the rnats Rust core."""

import asyncio
import logging
import os
import re
import ssl
import weakref
from collections import UserString
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import ParseResult, urlparse

from .. import _rnats, _tls, errors
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
JWTCallback = Callable[[], Union[bytearray, bytes]]
SignatureCallback = Callable[[str], bytes]
TokenCallback = Callable[[], str]
CredentialCallback = Callable[[], str]


class RawCredentials(UserString):
    """The text of a ``.creds`` file (user JWT and NKey seed), for ``user_credentials=``
    when it is not in a file. Its ``repr`` never shows the text."""

    def __repr__(self) -> str:
        return "RawCredentials(<redacted>)"


Credentials = Union[str, Tuple[str, str], RawCredentials, Path]

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class ServerVersion:
    """The server's version (INFO ``version``) as nats-py's ``ServerVersion``: ``major``,
    ``minor``, ``patch``, ``prerelease``, ``build``, ``dev``; parsed on first use
    (``ValueError`` if it is not semantic versioning)."""

    def __init__(self, server_version: str) -> None:
        self._server_version = server_version
        self._parts: Optional[Dict[str, Any]] = None

    def parse_version(self) -> None:
        """Parse the version string (done on first access to a part)."""
        m = _SEMVER.match(self._server_version)
        if m is None:
            raise ValueError(f"{self._server_version} is not a valid Semantic Version")
        pre = m.group("prerelease") or ""
        build = m.group("build") or ""
        self._parts = {
            "major": int(m.group("major")),
            "minor": int(m.group("minor")),
            "patch": int(m.group("patch")),
            "prerelease": pre,
            "build": build,
            "dev": f"{pre}+{build}" if build else pre,
        }

    def _get(self, key: str) -> Any:
        if self._parts is None:
            self.parse_version()
        assert self._parts is not None
        return self._parts[key]

    @property
    def major(self) -> int:
        """The major version."""
        return self._get("major")

    @property
    def minor(self) -> int:
        """The minor version."""
        return self._get("minor")

    @property
    def patch(self) -> int:
        """The patch version."""
        return self._get("patch")

    @property
    def prerelease(self) -> str:
        """The pre-release part (after ``-``), or ``""``."""
        return self._get("prerelease")

    @property
    def build(self) -> str:
        """The build metadata (after ``+``), or ``""``."""
        return self._get("build")

    @property
    def dev(self) -> str:
        """``prerelease``, with ``+build`` when there is build metadata."""
        return self._get("dev")

    def __repr__(self) -> str:
        return f"<nats server v{self._server_version}>"

_logger = logging.getLogger("rnats.aio.client")

__all__ = [
    "Client", "Msg", "Subscription", "ServerVersion", "RawCredentials",
    "DEFAULT_SUB_PENDING_MSGS_LIMIT", "DEFAULT_SUB_PENDING_BYTES_LIMIT",
]


def _check_cb(name: str, cb: Any) -> None:
    if cb is not None and not asyncio.iscoroutinefunction(cb):
        raise errors.InvalidCallbackTypeError(f"nats: {name} must be a coroutine function")


def _url(server: str) -> str:
    if "://" not in server:
        server = "nats://" + server
    return server


def _host_port(url: str) -> str:
    """``host:port`` of ``url`` (default port 4222), to tell given servers from discovered."""
    u = urlparse(_url(url))
    return f"{(u.hostname or '').lower()}:{u.port or 4222}"


def _redacted(url: str) -> ParseResult:
    """A ParseResult of ``url`` without its credentials."""
    u = urlparse(_url(url))
    if u.username is not None or u.password is not None:
        host = u.hostname or ""
        if u.port:
            host = f"{host}:{u.port}"
        u = u._replace(netloc=host)
    return u


def _hub_for(loop: asyncio.AbstractEventLoop) -> "_rnats.Hub":
    """The completion hub of ``loop`` (one per loop, made on first use): tokio tasks queue
    results in it and the loop runs them in batches (see ``src/wake.rs``)."""
    hub = _HUBS.get(loop)
    if hub is None:
        hub = _rnats.Hub()
        fd = hub.fileno()
        try:
            if fd < 0:
                raise NotImplementedError
            loop.add_reader(fd, hub.drain)
        except NotImplementedError:  # e.g. the proactor loop on Windows
            hub.use_loop(loop)
        _HUBS[loop] = hub
    return hub


# Event loop -> its hub; an entry goes with its loop.
_HUBS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _rnats.Hub]" = weakref.WeakKeyDictionary()


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
        self._hub = None  # the completion hub of self._loop
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
        self._flush_timeout: Optional[float] = None
        self._sid = 0
        # Callback subscriptions, so drain() can wait until their callbacks are done.
        self._cb_subs: "weakref.WeakSet[Subscription]" = weakref.WeakSet()
        self._tasks: set = set()
        self.options: Dict[str, Any] = {}
        self._connecting = False
        self._given_servers: set = set()
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
        tls: Optional[ssl.SSLContext] = None,
        tls_hostname: Optional[str] = None,
        tls_handshake_first: bool = False,
        user: Optional[Union[str, CredentialCallback]] = None,
        password: Optional[Union[str, CredentialCallback]] = None,
        token: Optional[Union[str, TokenCallback]] = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        signature_cb: Optional[SignatureCallback] = None,
        user_jwt_cb: Optional[JWTCallback] = None,
        user_credentials: Optional[Credentials] = None,
        nkeys_seed: Optional[str] = None,
        nkeys_seed_str: Optional[str] = None,
        inbox_prefix: Union[str, bytes] = DEFAULT_INBOX_PREFIX,
        pending_size: int = DEFAULT_PENDING_SIZE,
        flush_timeout: Optional[float] = None,
        ws_connection_headers: Any = None,
        reconnect_to_server_handler: Any = None,
        lame_duck_mode_cb: Optional[Callback] = None,
        skip_subject_validation: bool = False,
        tls_cert_file: Optional[str] = None,
        tls_key_file: Optional[str] = None,
    ) -> None:
        """Connect to ``servers`` (a URL or a list of URLs).

        Authentication (as nats-py): ``user``/``password`` and ``token``, each a ``str`` or a
        zero-argument callable returning one, asked again at every connect and reconnect;
        ``user_credentials`` (a ``.creds`` file path, a ``(jwt_file, seed_file)`` tuple, or
        :class:`RawCredentials`); ``nkeys_seed`` (a seed file) or ``nkeys_seed_str``;
        ``user_jwt_cb`` (returns the user JWT as bytes) with ``signature_cb`` (gets the
        nonce as ``str``, returns the base64 signature as bytes). A raising credential
        callable fails that connection attempt with an ``AuthorizationError`` naming it.

        TLS: ``tls`` (an ``ssl.SSLContext``; its CA certificates, ``verify_mode``,
        ``check_hostname`` and the client certificate of ``load_cert_chain`` are honoured,
        see :mod:`rnats._tls`), ``tls_hostname`` (the name verified), ``tls_handshake_first``.
        rnats-only: ``tls_cert_file``/``tls_key_file`` give the client certificate
        explicitly (PEM files). A ``tls://`` URL without a context verifies against the
        system roots. A certificate that does not verify raises
        :class:`rnats.errors.CertificateVerificationError` (an
        ``ssl.SSLCertVerificationError``).

        Not supported (``NotImplementedError``): ``ws_connection_headers``,
        ``reconnect_to_server_handler``.
        """
        for key, value in (("ws_connection_headers", ws_connection_headers),
                           ("reconnect_to_server_handler", reconnect_to_server_handler)):
            if value is not None:
                raise NotImplementedError(f"rnats: the {key!r} option is not supported yet")
        for key, value in (("user", user), ("password", password), ("token", token)):
            if value is not None and not isinstance(value, str) and not callable(value):
                raise TypeError(f"{key} must be a str or a callable returning one, not {type(value).__name__}")
        for key, value in (("signature_cb", signature_cb), ("user_jwt_cb", user_jwt_cb)):
            if value is not None and not callable(value):
                raise TypeError(f"{key} must be callable")
        creds_file: Optional[str] = None
        creds_text: Optional[str] = None
        creds_pair: Optional[Tuple[str, str]] = None
        if user_credentials is not None:
            if isinstance(user_credentials, UserString):
                creds_text = str(user_credentials.data)
            elif isinstance(user_credentials, (str, os.PathLike)):
                creds_file = os.fspath(user_credentials)
            elif isinstance(user_credentials, tuple) and len(user_credentials) == 2:
                creds_pair = (os.fspath(user_credentials[0]), os.fspath(user_credentials[1]))
            else:
                raise TypeError(
                    "user_credentials must be a .creds file path, a (jwt_file, seed_file) tuple or RawCredentials"
                )
        tls_args = None
        if tls is not None:
            tls_args = _tls.read_context(tls, tls_cert_file, tls_key_file)
        elif tls_cert_file is not None or tls_key_file is not None or tls_hostname is not None:
            # No context: the default verification (system roots), with these additions.
            tls_args = _tls.read_context(ssl.create_default_context(), tls_cert_file, tls_key_file)
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
        self._flush_timeout = flush_timeout
        self.options = {
            "servers": [_redacted(s).geturl() for s in servers], "name": name, "allow_reconnect": allow_reconnect,
            "connect_timeout": connect_timeout, "reconnect_time_wait": reconnect_time_wait,
            "max_reconnect_attempts": max_reconnect_attempts, "ping_interval": ping_interval,
            "max_outstanding_pings": max_outstanding_pings, "dont_randomize": dont_randomize,
            "no_echo": no_echo, "inbox_prefix": inbox_prefix, "pending_size": pending_size,
            "drain_timeout": drain_timeout, "verbose": verbose, "pedantic": pedantic,
            "tls_handshake_first": tls_handshake_first,
        }
        # Never a secret here: no user, password, token, seed, JWT or callable.
        if tls is not None:
            self.options["tls"] = tls
        if tls_hostname:
            self.options["tls_hostname"] = tls_hostname
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        hub = _hub_for(loop)
        _rnats.connect(
            hub, fut, [_url(s) for s in servers], self._on_event,
            name=name, no_echo=no_echo, connect_timeout=float(connect_timeout),
            allow_reconnect=allow_reconnect, max_reconnect_attempts=int(max_reconnect_attempts),
            reconnect_time_wait=float(reconnect_time_wait), ping_interval=float(ping_interval),
            max_outstanding_pings=int(max_outstanding_pings), dont_randomize=dont_randomize,
            user=user, password=password, token=token, inbox_prefix=inbox_prefix,
            pending_size=int(pending_size), creds_file=creds_file, creds_text=creds_text,
            creds_pair=creds_pair, nkeys_seed=None if nkeys_seed is None else os.fspath(nkeys_seed),
            nkeys_seed_str=nkeys_seed_str, user_jwt_cb=user_jwt_cb, signature_cb=signature_cb,
            tls=tls_args, tls_hostname=tls_hostname, tls_handshake_first=bool(tls_handshake_first),
        )
        self._connecting = True
        self._given_servers = {_host_port(s) for s in servers}
        try:
            self._c = await fut
        except errors.Error as e:
            self._last_error = e
            if self._error_cb is not None:
                await self._error_cb(e)
            raise
        finally:
            self._connecting = False
        self._hub = hub
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
            pending.wait(self._hub, fut)
            if not self._flush_timeout:
                await fut
                return
            # As nats-py: wait at most flush_timeout, then report FlushTimeoutError to
            # error_cb and return; the message stays queued and goes out when there is room.
            try:
                await asyncio.wait_for(asyncio.shield(fut), self._flush_timeout)
            except asyncio.TimeoutError:
                await self._report_error(errors.FlushTimeoutError())

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
        client.subscribe(self._hub, fut, subject, queue, sub._wake, max_msgs)
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
        client.request(self._hub, fut, subject, payload, None if timeout is None else float(timeout), headers)
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
        client.rtt(self._hub, fut, None if timeout is None else float(timeout))
        return await fut

    async def force_reconnect(self) -> None:
        """Drop the current connection and connect again (to the next server of the pool);
        subscriptions are replayed and unsent publishes kept."""
        client = self._client()
        if self._closed:
            raise errors.ConnectionClosedError()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        client.force_reconnect(self._hub, fut)
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
        client.flush(self._hub, fut, None if timeout is None else float(timeout))
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
        client.drain(self._hub, fut, float(self._drain_timeout) if self._drain_timeout else None)
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
        self._c.close(self._hub, fut)
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
        """True while ``connect()`` is waiting for its first connection."""
        return self._connecting

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
    def client_ip(self) -> Optional[str]:
        """The client's IP address as the server sees it (INFO ``client_ip``), or ``None``."""
        if self._c is None:
            return None
        return self._c.server_info().get("client_ip") or None

    @property
    def last_error(self) -> Optional[Exception]:
        """The last error reported to ``error_cb`` (or raised by ``connect``)."""
        return self._last_error

    @property
    def pending_data_size(self) -> int:
        """Bytes buffered for writing. Always 0 in rnats: the Rust core keeps its write
        buffer behind its connection lock and does not expose its size, and a publish
        returns once buffered there (nats-py counts its own pending list)."""
        return 0

    @property
    def discovered_servers(self) -> List[ParseResult]:
        """The servers learned from the cluster (INFO ``connect_urls``), not given to
        ``connect``; without credentials."""
        if self._c is None:
            return []
        return [_redacted(s) for s in self._c.servers() if _host_port(s) not in self._given_servers]

    @property
    def connected_server_version(self) -> ServerVersion:
        """The version of the server connected to (``0.0.0-unknown`` before connecting)."""
        if self._c is None:
            return ServerVersion("0.0.0-unknown")
        return ServerVersion(self._c.server_info().get("version") or "0.0.0-unknown")

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The ``ssl.SSLContext`` given as ``tls``, else a new default context (as nats-py;
        rnats itself verifies with rustls against the system roots then)."""
        ctx = self.options.get("tls")
        if ctx is None:
            ctx = ssl.create_default_context()
        return ctx

    @property
    def stats(self) -> Dict[str, int]:
        """Counters: ``in_msgs``, ``out_msgs``, ``in_bytes``, ``out_bytes``, ``reconnects``,
        ``errors_received``."""
        if self._c is not None:
            i, o, ib, ob, rc = self._c.stats()
            self._stats.update(in_msgs=i, out_msgs=o, in_bytes=ib, out_bytes=ob, reconnects=rc)
        return self._stats
