"""Type stubs for the Rust extension module (internal: use rnats.aio.client.Client)."""

import asyncio
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

_Payload = Union[bytes, bytearray, memoryview]
_Headers = Optional[Dict[str, Union[str, List[str]]]]
_MsgTuple = Tuple[str, str, bytes, Optional[Dict[str, str]]]

def connect(
    hub: "Hub",
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
    def wait(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...

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
    def flush(self, hub: Hub, fut: "asyncio.Future[None]", timeout: Optional[float]) -> None: ...
    def drain(self, hub: Hub, fut: "asyncio.Future[None]", timeout: Optional[float]) -> None: ...
    def close(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...
    def rtt(self, hub: Hub, fut: "asyncio.Future[float]", timeout: Optional[float]) -> None: ...
    def force_reconnect(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...
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
    def drain(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...
    def pending(self) -> int: ...
    def dropped(self) -> int: ...
    def set_pending_limits(self, messages: int, bytes: int) -> None: ...

# ---------------------------------------------------------------------------------------------
# JetStream (src/js.rs). Configs and infos cross as JSON strings; `fut` is completed with the
# value named in its annotation.

_Loop = asyncio.AbstractEventLoop
# (stream, seq, duplicate, domain, val)
_PubAckTuple = Tuple[str, int, bool, Optional[str], Optional[str]]
# (subject, seq, data, headers as (name, value) pairs, time in ns since the epoch)
_RawMsgTuple = Tuple[str, int, bytes, List[Tuple[str, str]], int]

def jetstream(client: Client, prefix: str, timeout: float, max_pending: int) -> JetStream: ...
def ack_payload(kind: str, delay: Optional[float] = ...) -> bytes: ...
def ack_metadata(reply: str) -> Tuple[str, str, int, int, int, int, int, Optional[str]]: ...

class JetStream:
    def prefix(self) -> str: ...
    def account_info(self, hub: Hub, fut: "asyncio.Future[str]") -> None: ...
    def add_stream(self, hub: Hub, fut: "asyncio.Future[str]", config: str) -> None: ...
    def update_stream(self, hub: Hub, fut: "asyncio.Future[str]", config: str) -> None: ...
    def delete_stream(self, hub: Hub, fut: "asyncio.Future[bool]", name: str) -> None: ...
    def stream_info(
        self,
        hub: Hub,
        fut: "asyncio.Future[str]",
        name: str,
        subjects_filter: Optional[str] = ...,
        deleted_details: bool = ...,
    ) -> None: ...
    def streams_info(self, hub: Hub, fut: "asyncio.Future[str]", subject: Optional[str] = ...) -> None: ...
    def find_stream(self, hub: Hub, fut: "asyncio.Future[str]", subject: str) -> None: ...
    def purge_stream(
        self,
        hub: Hub,
        fut: "asyncio.Future[bool]",
        name: str,
        seq: Optional[int] = ...,
        subject: Optional[str] = ...,
        keep: Optional[int] = ...,
    ) -> None: ...
    def add_consumer(self, hub: Hub, fut: "asyncio.Future[str]", stream: str, config: str) -> None: ...
    def delete_consumer(self, hub: Hub, fut: "asyncio.Future[bool]", stream: str, consumer: str) -> None: ...
    def consumer_info(self, hub: Hub, fut: "asyncio.Future[str]", stream: str, consumer: str) -> None: ...
    def consumers_info(self, hub: Hub, fut: "asyncio.Future[str]", stream: str) -> None: ...
    def pause_consumer(
        self, hub: Hub, fut: "asyncio.Future[str]", stream: str, consumer: str, pause_until: str
    ) -> None: ...
    def resume_consumer(self, hub: Hub, fut: "asyncio.Future[str]", stream: str, consumer: str) -> None: ...
    def get_msg(
        self,
        hub: Hub,
        fut: "asyncio.Future[_RawMsgTuple]",
        stream: str,
        seq: Optional[int] = ...,
        subject: Optional[str] = ...,
        next: bool = ...,
        direct: bool = ...,
    ) -> None: ...
    def delete_msg(self, hub: Hub, fut: "asyncio.Future[bool]", stream: str, seq: int) -> None: ...
    def publish(
        self,
        hub: Hub,
        fut: "asyncio.Future[_PubAckTuple]",
        subject: str,
        payload: _Payload,
        headers: _Headers = ...,
        timeout: Optional[float] = ...,
        ttl: Optional[float] = ...,
    ) -> None: ...
    def publish_async(
        self,
        hub: Hub,
        wake: Callable[[], None],
        id: int,
        subject: str,
        payload: _Payload,
        headers: _Headers = ...,
        ttl: Optional[float] = ...,
    ) -> None: ...
    def take_acks(self) -> List[Tuple[int, bool, Union[_PubAckTuple, BaseException]]]: ...
    def pull_bind(self, hub: Hub, fut: "asyncio.Future[PullSub]", stream: str, consumer: str) -> None: ...
    def push_bind(
        self,
        hub: Hub,
        fut: "asyncio.Future[JsSubscription]",
        stream: str,
        consumer: str,
        wake: Callable[[], None],
    ) -> None: ...
    def ordered(
        self,
        hub: Hub,
        fut: "asyncio.Future[JsSubscription]",
        stream: str,
        config: str,
        wake: Callable[[], None],
        heartbeat: Optional[float] = ...,
    ) -> None: ...

class PullSub:
    def name(self) -> str: ...
    def fetch(
        self,
        hub: Hub,
        fut: "asyncio.Future[List[_MsgTuple]]",
        batch: int,
        expires: Optional[float] = ...,
        heartbeat: Optional[float] = ...,
    ) -> None: ...

class JsSubscription:
    def take(self) -> Tuple[List[_MsgTuple], bool]: ...
    def consumer_name(self) -> Optional[str]: ...
    def unsubscribe(self, limit: int) -> None: ...
    def drain(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...
    def pending(self) -> int: ...
    def dropped(self) -> int: ...
    def set_pending_limits(self, messages: int, bytes: int) -> None: ...

# Key-Value (src/kv.rs). Entries: (bucket, key, value, revision, delta, created ns, op).
_EntryTuple = Tuple[str, str, bytes, int, int, int, Optional[str]]

def kv_create(
    js: JetStream,
    hub: Hub,
    fut: "asyncio.Future[KvStore]",
    bucket: str,
    description: Optional[str] = ...,
    history: int = ...,
    ttl: Optional[float] = ...,
    max_value_size: Optional[int] = ...,
    max_bytes: Optional[int] = ...,
    memory: bool = ...,
    replicas: int = ...,
    limit_marker_ttl: Optional[float] = ...,
) -> None: ...
def kv_bind(js: JetStream, hub: Hub, fut: "asyncio.Future[KvStore]", bucket: str) -> None: ...
def kv_delete(js: JetStream, hub: Hub, fut: "asyncio.Future[bool]", bucket: str) -> None: ...

class KvStore:
    def bucket(self) -> str: ...
    def put(self, hub: Hub, fut: "asyncio.Future[int]", key: str, value: bytes, validate_keys: bool = ...) -> None: ...
    def get(
        self, hub: Hub, fut: "asyncio.Future[_EntryTuple]", key: str, revision: Optional[int] = ..., validate_keys: bool = ...
    ) -> None: ...
    def create(
        self, hub: Hub, fut: "asyncio.Future[int]", key: str, value: bytes, validate_keys: bool = ..., ttl: Optional[float] = ...
    ) -> None: ...
    def update(
        self, hub: Hub, fut: "asyncio.Future[int]", key: str, value: bytes, last: int, validate_keys: bool = ...
    ) -> None: ...
    def delete(
        self, hub: Hub, fut: "asyncio.Future[bool]", key: str, last: Optional[int] = ..., validate_keys: bool = ...
    ) -> None: ...
    def purge(self, hub: Hub, fut: "asyncio.Future[bool]", key: str, ttl: Optional[float] = ...) -> None: ...
    def purge_deletes(self, hub: Hub, fut: "asyncio.Future[bool]", older_than: float) -> None: ...
    def history(self, hub: Hub, fut: "asyncio.Future[List[_EntryTuple]]", key: str, validate_keys: bool = ...) -> None: ...
    def keys(self, hub: Hub, fut: "asyncio.Future[List[str]]", filters: Optional[List[str]] = ...) -> None: ...
    def status(self, hub: Hub, fut: "asyncio.Future[str]") -> None: ...
    def watch(
        self,
        hub: Hub,
        fut: "asyncio.Future[KvWatch]",
        wake: Callable[[], None],
        keys: List[str],
        include_history: bool = ...,
        ignore_deletes: bool = ...,
        meta_only: bool = ...,
        updates_only: bool = ...,
    ) -> None: ...

class KvWatch:
    def take(self) -> Tuple[List[Optional[_EntryTuple]], bool]: ...
    def stop(self) -> None: ...

# Services (src/svc.rs): rnats.micro on rnats::service.
def svc_start(
    client: Client,
    hub: Hub,
    fut: "asyncio.Future[SvcService]",
    name: str,
    version: str,
    description: Optional[str] = ...,
    metadata: Optional[Dict[str, str]] = ...,
    queue_group: Optional[str] = ...,
    stats_hook: Optional[Callable[[str], Optional[str]]] = ...,
) -> None: ...

class SvcService:
    def id(self) -> str: ...
    def info(self) -> str: ...
    def stats(self) -> str: ...
    def reset(self) -> None: ...
    def is_stopped(self) -> bool: ...
    def add_endpoint(
        self,
        hub: Hub,
        fut: "asyncio.Future[SvcEndpoint]",
        wake: Callable[[], None],
        name: str,
        subject: Optional[str] = ...,
        queue_group: Optional[str] = ...,
        metadata: Optional[Dict[str, str]] = ...,
    ) -> None: ...
    def stop(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...

class SvcEndpoint:
    def take(self) -> Tuple[List[SvcRequest], bool]: ...

class SvcRequest:
    def subject(self) -> str: ...
    def data(self) -> bytes: ...
    def headers(self) -> Optional[Dict[str, str]]: ...
    def respond(self, data: _Payload, headers: _Headers = ...) -> None: ...
    def respond_error(self, code: int, description: str, data: _Payload, headers: _Headers = ...) -> None: ...

# Object Store (src/os.rs). Infos: (the stored meta's JSON, the meta message's time in ns).
_InfoTuple = Tuple[str, int]

def os_create(
    js: JetStream,
    hub: Hub,
    fut: "asyncio.Future[ObjStore]",
    bucket: str,
    description: Optional[str] = ...,
    ttl: Optional[float] = ...,
    max_bytes: Optional[int] = ...,
    memory: bool = ...,
    replicas: int = ...,
    placement: Optional[str] = ...,
) -> None: ...
def os_bind(js: JetStream, hub: Hub, fut: "asyncio.Future[ObjStore]", bucket: str) -> None: ...
def os_delete(js: JetStream, hub: Hub, fut: "asyncio.Future[bool]", bucket: str) -> None: ...

class ObjStore:
    def bucket(self) -> str: ...
    def info(self, hub: Hub, fut: "asyncio.Future[_InfoTuple]", name: str, show_deleted: bool = ...) -> None: ...
    def put(
        self,
        hub: Hub,
        fut: "asyncio.Future[_InfoTuple]",
        name: str,
        data: Any,
        from_file: bool = ...,
        description: Optional[str] = ...,
        headers: Optional[Dict[str, List[str]]] = ...,
        chunk_size: Optional[int] = ...,
    ) -> OsTask: ...
    def get(
        self,
        hub: Hub,
        fut: "asyncio.Future[Tuple[str, int, Optional[bytes]]]",
        name: str,
        show_deleted: bool = ...,
        write: Optional[Callable[[bytes], Any]] = ...,
    ) -> OsTask: ...
    def delete(self, hub: Hub, fut: "asyncio.Future[None]", name: str) -> None: ...
    def update_meta(
        self,
        hub: Hub,
        fut: "asyncio.Future[_InfoTuple]",
        name: str,
        new_name: Optional[str] = ...,
        description: Optional[str] = ...,
        headers: Optional[Dict[str, List[str]]] = ...,
    ) -> None: ...
    def add_link(self, hub: Hub, fut: "asyncio.Future[_InfoTuple]", name: str, target: str) -> None: ...
    def add_bucket_link(self, hub: Hub, fut: "asyncio.Future[_InfoTuple]", name: str, other: "ObjStore") -> None: ...
    def seal(self, hub: Hub, fut: "asyncio.Future[None]") -> None: ...
    def status(self, hub: Hub, fut: "asyncio.Future[str]") -> None: ...
    def list(self, hub: Hub, fut: "asyncio.Future[List[_InfoTuple]]", include_deleted: bool = ...) -> None: ...
    def watch(
        self,
        hub: Hub,
        fut: "asyncio.Future[ObjWatch]",
        wake: Callable[[], None],
        include_history: bool = ...,
        ignore_deletes: bool = ...,
        updates_only: bool = ...,
    ) -> None: ...

class ObjWatch:
    def take(self) -> Tuple[List[Optional[_InfoTuple]], bool]: ...
    def stop(self) -> None: ...

class OsTask:
    def cancel(self) -> None: ...
