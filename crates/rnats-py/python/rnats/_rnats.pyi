"""Type stubs for the Rust extension module (internal: use rnats.aio.client.Client)."""

import asyncio
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

_Payload = Union[bytes, bytearray, memoryview]
_Headers = Optional[Dict[str, Union[str, List[str]]]]
_MsgTuple = Tuple[str, str, bytes, Optional[Dict[str, str]]]

def connect(
    event_loop: asyncio.AbstractEventLoop,
    fut: "asyncio.Future[Client]",
    servers: List[str],
    on_event: Callable[[str, Optional[BaseException]], None],
    *,
    name: Optional[str] = ...,
    no_echo: bool = ...,
    connect_timeout: float = ...,
    allow_reconnect: bool = ...,
    max_reconnect_attempts: int = ...,
    reconnect_time_wait: float = ...,
    ping_interval: float = ...,
    max_outstanding_pings: int = ...,
    dont_randomize: bool = ...,
    user: Optional[Union[str, Callable[[], str]]] = ...,
    password: Optional[Union[str, Callable[[], str]]] = ...,
    token: Optional[Union[str, Callable[[], str]]] = ...,
    inbox_prefix: Optional[str] = ...,
    pending_size: int = ...,
    flusher_queue_size: Optional[int] = ...,
    pending_msgs_limit: Optional[int] = ...,
    pending_bytes_limit: Optional[int] = ...,
    retry_on_initial_connect: bool = ...,
    creds_file: Optional[str] = ...,
    creds_text: Optional[str] = ...,
    creds_pair: Optional[Tuple[str, str]] = ...,
    nkeys_seed: Optional[str] = ...,
    nkeys_seed_str: Optional[str] = ...,
    user_jwt_cb: Optional[Callable[[], Union[str, bytes, bytearray]]] = ...,
    signature_cb: Optional[Callable[[str], Union[str, bytes, bytearray]]] = ...,
    tls: Optional[Tuple[List[bytes], bool, bool, Optional[Tuple[str, Optional[str]]]]] = ...,
    tls_hostname: Optional[str] = ...,
    tls_required: bool = ...,
    tls_handshake_first: bool = ...,
) -> None:
    """Connects and completes ``fut`` with a :class:`Client`.

    ``user``/``password``/``token``: a ``str`` or a callable asked at every connect.
    ``creds_file``/``creds_text``/``creds_pair`` (JWT file, seed file), ``nkeys_seed`` (file)
    / ``nkeys_seed_str``, or ``user_jwt_cb`` with ``signature_cb`` (nonce in, base64
    signature out) for NKey/JWT. ``tls``: ``rnats._tls.read_context``'s answer (CA
    certificates in DER, verify, check_hostname, client certificate files); ``tls_hostname``
    the name verified; ``tls_required`` TLS on every server; ``tls_handshake_first``.
    """

class Pending:
    def wait(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None: ...

class Hub:
    """The completion hub of one event loop: tokio tasks queue results, the loop runs them."""

    def __init__(self) -> None: ...
    def fileno(self) -> int: ...
    def use_loop(self, event_loop: asyncio.AbstractEventLoop) -> None: ...
    def drain(self) -> None: ...
    def pending(self) -> int: ...

class Client:
    def publish(self, subject: str, payload: _Payload, reply: str, headers: _Headers) -> Optional[Pending]: ...
    def subscribe(
        self,
        hub: Hub,
        fut: "asyncio.Future[Subscription]",
        subject: str,
        queue: str,
        wake: Callable[[], None],
        max_msgs: int,
    ) -> None: ...
    def request(
        self,
        hub: Hub,
        fut: "asyncio.Future[_MsgTuple]",
        subject: str,
        payload: _Payload,
        timeout: Optional[float],
        headers: _Headers,
    ) -> None: ...
    def flush(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]", timeout: Optional[float]) -> None: ...
    def drain(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]", timeout: Optional[float]) -> None: ...
    def close(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None: ...
    def rtt(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[float]", timeout: Optional[float]) -> None: ...
    def force_reconnect(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None: ...
    def new_inbox(self) -> str: ...
    def state(self) -> str: ...
    def connected_url(self) -> Optional[str]: ...
    def max_payload(self) -> int: ...
    def client_id(self) -> int: ...
    def server_info(self) -> Dict[str, Any]: ...
    def stats(self) -> Tuple[int, int, int, int, int]: ...
    def servers(self) -> List[str]: ...

class Subscription:
    def take(self) -> Tuple[List[_MsgTuple], bool]: ...
    def unsubscribe(self, limit: int) -> None: ...
    def drain(self, event_loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None: ...
    def pending(self) -> int: ...
    def dropped(self) -> int: ...
    def set_pending_limits(self, messages: int, bytes: int) -> None: ...
