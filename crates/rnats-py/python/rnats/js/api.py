"""JetStream API data classes with nats-py's names, fields and defaults (``nats.js.api``).

Every class is a dataclass deriving from :class:`Base`: ``from_response(dict)`` reads a JSON
answer (unknown keys ignored), ``as_dict()`` writes the JSON form (``None`` fields left out),
``evolve(**kw)`` copies with changes. Durations are float seconds here and integer
nanoseconds on the wire; timestamps are UTC ``datetime`` here and RFC 3339 on the wire.
"""

import dataclasses
import datetime
import re
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Tuple, Type, TypeVar

DEFAULT_PREFIX = "$JS.API"
INBOX_PREFIX = b"_INBOX."
SCHEDULE_YEARLY = "@yearly"
SCHEDULE_MONTHLY = "@monthly"
SCHEDULE_WEEKLY = "@weekly"
SCHEDULE_DAILY = "@daily"
SCHEDULE_HOURLY = "@hourly"

_NANOSECOND = 10**9


class Header(str, Enum):
    """Header names JetStream uses."""

    BATCH_COMMIT = "Nats-Batch-Commit"
    BATCH_ID = "Nats-Batch-Id"
    BATCH_SEQUENCE = "Nats-Batch-Sequence"
    CONSUMER_STALLED = "Nats-Consumer-Stalled"
    DESCRIPTION = "Description"
    EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
    EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
    EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
    EXPECTED_STREAM = "Nats-Expected-Stream"
    INCR = "Nats-Incr"
    LAST_CONSUMER = "Nats-Last-Consumer"
    LAST_STREAM = "Nats-Last-Stream"
    MSG_ID = "Nats-Msg-Id"
    MSG_TTL = "Nats-TTL"
    ROLLUP = "Nats-Rollup"
    SCHEDULE = "Nats-Schedule"
    SCHEDULE_NEXT = "Nats-Schedule-Next"
    SCHEDULE_ROLLUP = "Nats-Schedule-Rollup"
    SCHEDULE_SOURCE = "Nats-Schedule-Source"
    SCHEDULE_TARGET = "Nats-Schedule-Target"
    SCHEDULE_TIME_ZONE = "Nats-Schedule-Time-Zone"
    SCHEDULE_TTL = "Nats-Schedule-TTL"
    SCHEDULER = "Nats-Scheduler"
    STATUS = "Status"


class StatusCode(str, Enum):
    """Status codes of JetStream control messages."""

    SERVICE_UNAVAILABLE = "503"
    NO_MESSAGES = "404"
    REQUEST_TIMEOUT = "408"
    CONFLICT = "409"
    CONTROL_MESSAGE = "100"


class RetentionPolicy(str, Enum):
    """How a stream keeps messages."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class StorageType(str, Enum):
    """Where a stream keeps messages."""

    FILE = "file"
    MEMORY = "memory"


class DiscardPolicy(str, Enum):
    """What a full stream does with a new message."""

    OLD = "old"
    NEW = "new"


class StoreCompression(str, Enum):
    """Compression of a stream's storage."""

    NONE = "none"
    S2 = "s2"


class PersistMode(str, Enum):
    """How a stream persists writes (server 2.12+)."""

    DEFAULT = "default"
    ASYNC = "async"


class AckPolicy(str, Enum):
    """How a consumer's messages are acknowledged."""

    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    FLOW_CONTROL = "flow_control"


class DeliverPolicy(str, Enum):
    """Where a consumer starts in its stream."""

    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class ReplayPolicy(str, Enum):
    """How fast a consumer replays stored messages."""

    INSTANT = "instant"
    ORIGINAL = "original"


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def _parse_time(value: Any) -> Any:
    """An RFC 3339 string (nanoseconds allowed) as a UTC datetime; anything else as is."""
    if not isinstance(value, str):
        return value
    m = _RFC3339.match(value.strip())
    if m is None:
        return value
    base, frac, tz = m.groups()
    s = base + ("." + (frac[:6].ljust(6, "0")) if frac else "") + ("+00:00" if tz in (None, "Z") else tz)
    return datetime.datetime.fromisoformat(s).astimezone(datetime.timezone.utc)


def _format_time(value: Any) -> Any:
    """A datetime as an RFC 3339 UTC string (naive means UTC); strings pass through."""
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.isoformat().replace("+00:00", "Z").replace(".000000", "")


_B = TypeVar("_B", bound="Base")


class Base:
    """Common behaviour of the API data classes.

    Subclasses declare their wire conversions: ``_nanos`` (seconds here, nanoseconds on the
    wire; ``None`` sent as 0 unless listed in ``_nanos_omit_none``), ``_times`` (datetimes)
    and ``_nested`` (field → class; lists of them are converted item by item). Enum fields
    read from the wire stay plain strings, as in nats-py (the enums are ``str`` subclasses:
    they compare equal).
    """

    _nanos: ClassVar[Tuple[str, ...]] = ()
    _nanos_omit_none: ClassVar[Tuple[str, ...]] = ()
    _times: ClassVar[Tuple[str, ...]] = ()
    _nested: ClassVar[Dict[str, Any]] = {}

    @classmethod
    def from_response(cls: Type[_B], resp: Dict[str, Any]) -> _B:
        """An instance from a JSON answer; keys the class does not know are ignored."""
        params: Dict[str, Any] = {}
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        for key, value in resp.items():
            if key not in names:
                continue
            if value is not None:
                if key in cls._nanos:
                    value = [v / _NANOSECOND for v in value] if isinstance(value, list) else value / _NANOSECOND
                elif key in cls._times:
                    value = _parse_time(value)
                elif key in cls._nested:
                    kind = _resolve(cls._nested[key])
                    if isinstance(value, list):
                        value = [kind.from_response(v) for v in value]
                    elif isinstance(value, dict) and kind is Tier:
                        value = {k: kind.from_response(v) for k, v in value.items()}
                    else:
                        value = kind.from_response(value)
            params[key] = value
        return cls(**params)

    def evolve(self: _B, **params: Any) -> _B:
        """A copy with ``params`` changed."""
        return dataclasses.replace(self, **params)  # type: ignore[type-var]

    def as_dict(self) -> Dict[str, object]:
        """The JSON form: ``None`` fields left out (``None`` durations sent as 0), nested
        classes as dicts, enums as their values, durations in nanoseconds, times in RFC 3339."""
        out: Dict[str, object] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name in self._nanos and not (value is None and f.name in self._nanos_omit_none):
                if isinstance(value, list):
                    value = [int(v * _NANOSECOND) for v in value]
                else:
                    value = 0 if value is None else int(value * _NANOSECOND)
            if value is None:
                continue
            out[f.name] = _to_wire(value)
        return out


def _to_wire(value: Any) -> Any:
    if isinstance(value, Base):
        return value.as_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime.datetime):
        return _format_time(value)
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


def _resolve(kind: Any) -> Any:
    return globals()[kind] if isinstance(kind, str) else kind


@dataclass
class PubAck(Base):
    """A stream's acknowledgement of a published message."""

    stream: str
    seq: int
    domain: Optional[str] = None
    duplicate: Optional[bool] = None
    batch_id: Optional[str] = None
    batch_size: Optional[int] = None
    val: Optional[str] = None

    @classmethod
    def from_response(cls, resp: Dict[str, Any]) -> "PubAck":
        """From the JSON acknowledgement (wire ``batch``/``count`` are ``batch_id``/``batch_size``)."""
        resp = dict(resp)
        if "batch" in resp:
            resp["batch_id"] = resp.pop("batch")
        if "count" in resp:
            resp["batch_size"] = resp.pop("count")
        return super().from_response(resp)


@dataclass
class Placement(Base):
    """Where a stream's replicas are placed."""

    cluster: Optional[str] = None
    tags: Optional[List[str]] = None


@dataclass
class ExternalStream(Base):
    """A stream in another account or domain (its API prefix)."""

    api: str
    deliver: Optional[str] = None


@dataclass
class StreamConsumerSource(Base):
    """A consumer a source reads through."""

    name: str
    deliver_subject: str


@dataclass
class SubjectTransform(Base):
    """A subject mapping from ``src`` to ``dest``."""

    src: str
    dest: str


@dataclass
class StreamSource(Base):
    """A stream that another sources or mirrors."""

    name: str
    opt_start_seq: Optional[int] = None
    opt_start_time: Optional[datetime.datetime] = None
    filter_subject: Optional[str] = None
    external: Optional[ExternalStream] = None
    subject_transforms: Optional[List[SubjectTransform]] = None
    consumer: Optional[StreamConsumerSource] = None

    _times = ("opt_start_time",)
    _nested = {"external": ExternalStream, "subject_transforms": SubjectTransform, "consumer": StreamConsumerSource}


@dataclass
class StreamSourceInfo(Base):
    """The state of a mirror or source."""

    name: str
    lag: Optional[int] = None
    active: Optional[int] = None
    error: Optional[Dict[str, Any]] = None


@dataclass
class LostStreamData(Base):
    """Messages a stream lost."""

    msgs: Optional[List[int]] = None
    bytes: Optional[int] = None


@dataclass
class StreamState(Base):
    """A stream's message counts and sequences."""

    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    deleted: Optional[List[int]] = None
    num_deleted: Optional[int] = None
    lost: Optional[LostStreamData] = None
    subjects: Optional[Dict[str, int]] = None

    _nested = {"lost": LostStreamData}


@dataclass
class RePublish(Base):
    """Republishing of stored messages from ``src`` to ``dest``."""

    src: Optional[str] = None
    dest: Optional[str] = None
    headers_only: Optional[bool] = None


@dataclass
class StreamConsumerLimits(Base):
    """Defaults and limits for a stream's consumers."""

    inactive_threshold: Optional[float] = None
    max_ack_pending: Optional[int] = None

    _nanos = ("inactive_threshold",)


@dataclass
class StreamConfig(Base):
    """A stream's configuration."""

    name: Optional[str] = None
    description: Optional[str] = None
    subjects: Optional[List[str]] = None
    retention: Optional[RetentionPolicy] = None
    max_consumers: Optional[int] = None
    max_msgs: Optional[int] = None
    max_bytes: Optional[int] = None
    discard: Optional[DiscardPolicy] = DiscardPolicy.OLD
    discard_new_per_subject: bool = False
    max_age: Optional[float] = None
    max_msgs_per_subject: int = -1
    max_msg_size: Optional[int] = -1
    storage: Optional[StorageType] = None
    num_replicas: Optional[int] = None
    no_ack: bool = False
    template_owner: Optional[str] = None
    duplicate_window: float = 0
    placement: Optional[Placement] = None
    mirror: Optional[StreamSource] = None
    sources: Optional[List[StreamSource]] = None
    sealed: bool = False
    deny_delete: bool = False
    deny_purge: bool = False
    allow_rollup_hdrs: bool = False
    first_seq: Optional[int] = None
    republish: Optional[RePublish] = None
    subject_transform: Optional[SubjectTransform] = None
    allow_direct: Optional[bool] = None
    mirror_direct: Optional[bool] = None
    compression: Optional[StoreCompression] = None
    allow_msg_ttl: Optional[bool] = None
    allow_msg_schedules: Optional[bool] = None
    allow_atomic: Optional[bool] = None
    allow_batched: Optional[bool] = None
    allow_msg_counter: Optional[bool] = None
    persist_mode: Optional[PersistMode] = None
    metadata: Optional[Dict[str, str]] = None
    consumer_limits: Optional[StreamConsumerLimits] = None
    subject_delete_marker_ttl: Optional[float] = None

    _nanos = ("max_age", "duplicate_window", "subject_delete_marker_ttl")
    _nanos_omit_none = ("subject_delete_marker_ttl",)
    _nested = {
        "placement": Placement,
        "mirror": StreamSource,
        "sources": StreamSource,
        "republish": RePublish,
        "subject_transform": SubjectTransform,
        "consumer_limits": StreamConsumerLimits,
    }


@dataclass
class PeerInfo(Base):
    """A replica's state."""

    name: Optional[str] = None
    current: Optional[bool] = None
    offline: Optional[bool] = None
    active: Optional[int] = None
    lag: Optional[int] = None


@dataclass
class ClusterInfo(Base):
    """The cluster serving a stream or consumer."""

    leader: Optional[str] = None
    name: Optional[str] = None
    replicas: Optional[List[PeerInfo]] = None
    raft_group: Optional[str] = None
    leader_since: Optional[datetime.datetime] = None
    traffic_acc: Optional[str] = None

    _times = ("leader_since",)
    _nested = {"replicas": PeerInfo}


@dataclass
class StreamInfo(Base):
    """A stream's configuration and state."""

    config: StreamConfig
    state: StreamState
    mirror: Optional[StreamSourceInfo] = None
    sources: Optional[List[StreamSourceInfo]] = None
    cluster: Optional[ClusterInfo] = None
    did_create: Optional[bool] = None
    created: Optional[datetime.datetime] = None

    _times = ("created",)
    _nested = {
        "config": StreamConfig,
        "state": StreamState,
        "mirror": StreamSourceInfo,
        "sources": StreamSourceInfo,
        "cluster": ClusterInfo,
    }


class StreamsListIterator:
    """An iterator of :class:`StreamInfo` over a listing's page(s)."""

    def __init__(self, offset: int, total: int, streams: List[Dict[str, Any]]) -> None:
        self.offset = offset
        self.total = total
        self.streams = streams
        self._index = 0

    def __iter__(self) -> Iterator[StreamInfo]:
        return self

    def __next__(self) -> StreamInfo:
        if self._index >= len(self.streams):
            raise StopIteration
        item = self.streams[self._index]
        self._index += 1
        return item if isinstance(item, StreamInfo) else StreamInfo.from_response(item)


@dataclass
class ConsumerConfig(Base):
    """A consumer's configuration."""

    name: Optional[str] = None
    durable_name: Optional[str] = None
    description: Optional[str] = None
    deliver_policy: Optional[DeliverPolicy] = DeliverPolicy.ALL
    opt_start_seq: Optional[int] = None
    opt_start_time: Optional[datetime.datetime] = None
    ack_policy: Optional[AckPolicy] = AckPolicy.EXPLICIT
    ack_wait: Optional[float] = None
    max_deliver: Optional[int] = None
    backoff: Optional[List[float]] = None
    filter_subject: Optional[str] = None
    filter_subjects: Optional[List[str]] = None
    replay_policy: Optional[ReplayPolicy] = ReplayPolicy.INSTANT
    rate_limit_bps: Optional[int] = None
    sample_freq: Optional[str] = None
    max_waiting: Optional[int] = None
    max_ack_pending: Optional[int] = None
    flow_control: Optional[bool] = None
    idle_heartbeat: Optional[float] = None
    headers_only: Optional[bool] = None
    deliver_subject: Optional[str] = None
    deliver_group: Optional[str] = None
    inactive_threshold: Optional[float] = None
    num_replicas: Optional[int] = None
    mem_storage: Optional[bool] = None
    metadata: Optional[Dict[str, str]] = None
    pause_until: Optional[str] = None

    _nanos = ("ack_wait", "idle_heartbeat", "inactive_threshold", "backoff")
    _times = ("opt_start_time",)

    def as_dict(self) -> Dict[str, object]:
        """The JSON form (see :meth:`Base.as_dict`); no ``backoff`` when it is ``None``."""
        out = super().as_dict()
        if self.backoff is None:
            out.pop("backoff", None)
        return out


@dataclass
class SequenceInfo(Base):
    """A consumer's position: its own sequence and the stream's."""

    consumer_seq: int
    stream_seq: int
    last_active: Optional[datetime.datetime] = None

    _times = ("last_active",)


@dataclass
class ConsumerInfo(Base):
    """A consumer's configuration and state."""

    name: str
    stream_name: str
    config: ConsumerConfig
    created: datetime.datetime
    delivered: Optional[SequenceInfo] = None
    ack_floor: Optional[SequenceInfo] = None
    num_ack_pending: Optional[int] = None
    num_redelivered: Optional[int] = None
    num_waiting: Optional[int] = None
    num_pending: Optional[int] = None
    cluster: Optional[ClusterInfo] = None
    push_bound: Optional[bool] = None
    paused: Optional[bool] = None
    pause_remaining: Optional[str] = None

    _times = ("created",)
    _nested = {"config": ConsumerConfig, "delivered": SequenceInfo, "ack_floor": SequenceInfo, "cluster": ClusterInfo}


@dataclass
class ConsumerPause(Base):
    """The answer to pausing or resuming a consumer."""

    paused: bool
    pause_until: Optional[str] = None
    pause_remaining: Optional[str] = None


@dataclass
class ConsumerReset(Base):
    """The answer to resetting a consumer."""

    info: ConsumerInfo
    reset_seq: int

    _nested = {"info": ConsumerInfo}


@dataclass
class AccountLimits(Base):
    """An account's JetStream limits (-1 is unlimited)."""

    max_memory: int
    max_storage: int
    max_streams: int
    max_consumers: int
    max_ack_pending: int
    memory_max_stream_bytes: int
    storage_max_stream_bytes: int
    max_bytes_required: bool


@dataclass
class Tier(Base):
    """Usage and limits of one storage tier."""

    memory: int
    storage: int
    streams: int
    consumers: int
    limits: AccountLimits

    _nested = {"limits": AccountLimits}


@dataclass
class APIStats(Base):
    """JetStream API statistics."""

    total: int
    errors: int
    level: Optional[int] = None


@dataclass
class AccountInfo(Base):
    """An account's JetStream usage, limits and API statistics."""

    memory: int
    storage: int
    streams: int
    consumers: int
    limits: AccountLimits
    api: APIStats
    domain: Optional[str] = None
    tiers: Optional[Dict[str, Tier]] = None

    _nested = {"limits": AccountLimits, "api": APIStats, "tiers": Tier}


@dataclass
class RawStreamMsg(Base):
    """A message read from a stream by sequence or subject."""

    subject: Optional[str] = None
    seq: Optional[int] = None
    data: Optional[bytes] = None
    hdrs: Optional[bytes] = None
    headers: Optional[Dict] = None
    stream: Optional[str] = None
    time: Optional[datetime.datetime] = None

    _times = ("time",)

    @property
    def sequence(self) -> Optional[int]:
        """The message's sequence in the stream (same as ``seq``)."""
        return self.seq

    @property
    def header(self) -> Optional[Dict]:
        """The headers (same as ``headers``)."""
        return self.headers


@dataclass
class KeyValueConfig(Base):
    """A Key-Value bucket's configuration."""

    bucket: str
    description: Optional[str] = None
    max_value_size: Optional[int] = None
    history: int = 1
    ttl: Optional[float] = None
    max_bytes: Optional[int] = None
    storage: Optional[StorageType] = None
    replicas: int = 1
    placement: Optional[Placement] = None
    republish: Optional[RePublish] = None
    direct: Optional[bool] = None
    limit_marker_ttl: Optional[float] = None

    _nanos = ("ttl", "limit_marker_ttl")
    _nested = {"placement": Placement, "republish": RePublish}


@dataclass
class StreamPurgeRequest(Base):
    """A purge: below ``seq``, matching ``filter``, keeping ``keep``."""

    seq: Optional[int] = None
    filter: Optional[str] = None
    keep: Optional[int] = None


@dataclass
class ObjectStoreConfig(Base):
    """An Object Store bucket's configuration."""

    bucket: Optional[str] = None
    description: Optional[str] = None
    ttl: Optional[float] = None
    max_bytes: Optional[int] = None
    storage: Optional[StorageType] = None
    replicas: int = 1
    placement: Optional[Placement] = None

    _nanos = ("ttl",)
    _nested = {"placement": Placement}


@dataclass
class ObjectLink(Base):
    """A link to an object or a bucket."""

    bucket: str
    name: Optional[str] = None


@dataclass
class ObjectMetaOptions(Base):
    """Options of an object: a link, the chunk size."""

    link: Optional[ObjectLink] = None
    max_chunk_size: Optional[int] = None

    _nested = {"link": ObjectLink}


@dataclass
class ObjectMeta(Base):
    """An object's name, description, headers and options."""

    name: Optional[str] = None
    description: Optional[str] = None
    headers: Optional[dict] = None
    options: Optional[ObjectMetaOptions] = None

    _nested = {"options": ObjectMetaOptions}


@dataclass
class ObjectInfo(Base):
    """An object's metadata and state."""

    name: str
    bucket: str
    nuid: str
    size: Optional[int] = None
    mtime: Optional[str] = None
    chunks: Optional[int] = None
    digest: Optional[str] = None
    deleted: Optional[bool] = False
    description: Optional[str] = None
    headers: Optional[dict] = None
    options: Optional[ObjectMetaOptions] = None

    _nested = {"options": ObjectMetaOptions}

    @property
    def meta(self) -> ObjectMeta:
        """The object's :class:`ObjectMeta`."""
        return ObjectMeta(name=self.name, description=self.description, headers=self.headers, options=self.options)

    def is_link(self) -> bool:
        """True when the object is a link."""
        return self.options is not None and self.options.link is not None

