"""Services (nats-py's ``nats.micro.service``) on ``rnats::service``.

rnats runs the service: the discovery subjects and their PING/INFO/STATS answers, the
endpoints' subscriptions and queue groups, the statistics, the name and version rules, the
drain on :meth:`Service.stop`. Each endpoint's requests reach Python in batches (the hub's
wake-ups); its handler runs on one task per endpoint, one request after another, as nats-py's
subscription callback does.

Differences from nats-py, all on the side of the ADR-32 services of other clients:
:meth:`Request.respond_error` with a numeric code (and no extra headers) counts an error in
the endpoint's statistics, as a handler that raises does; :meth:`Service.reset` zeroes the
counters; the processing time of a request runs from its receipt to its first answer.
"""

import asyncio
import datetime
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, AsyncContextManager, Callable, Deque, Dict, List, Optional, Protocol, overload

from .request import Handler, Request, ServiceError

DEFAULT_QUEUE_GROUP = "q"
"""Queue Group name used across all services."""

DEFAULT_PREFIX = "$SRV"
"""The root of all control subjects."""

INFO_RESPONSE_TYPE = "io.nats.micro.v1.info_response"
"""The ``type`` of an INFO answer."""
PING_RESPONSE_TYPE = "io.nats.micro.v1.ping_response"
"""The ``type`` of a PING answer."""
STATS_RESPONSE_TYPE = "io.nats.micro.v1.stats_response"
"""The ``type`` of a STATS answer."""

SEMVER_REGEX = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
"""A service version: SemVer 2.0.0."""
NAME_REGEX = re.compile(r"^[A-Za-z0-9\-_]+$")
"""A service or endpoint name."""
SUBJECT_REGEX = re.compile(r"^[^ >]*[>]?$")
"""An endpoint subject or a queue group."""

_NAME = NAME_REGEX
_SUBJECT = SUBJECT_REGEX
_SEMVER = SEMVER_REGEX


class ServiceVerb(str, Enum):
    """The discovery requests a service answers."""

    PING = "PING"
    STATS = "STATS"
    INFO = "INFO"


def control_subject(
    verb: ServiceVerb,
    name: Optional[str] = None,
    id: Optional[str] = None,  # noqa: A002 - nats-py's name
    prefix: str = DEFAULT_PREFIX,
) -> str:
    """The discovery subject of ``verb``: for all services, for those named ``name``, or for
    the instance ``id`` of ``name``."""
    if name is None and id is None:
        return f"{prefix}.{verb.value}"
    if id is None:
        return f"{prefix}.{verb.value}.{name}"
    return f"{prefix}.{verb.value}.{name}.{id}"


StatsHandler = Callable[["EndpointStats"], Any]
"""A function giving an endpoint's custom statistics (the ``data`` of STATS) from its
current statistics."""


@dataclass
class EndpointConfig:
    """An endpoint: ``name``, ``handler``, and optionally ``subject`` (default: the name),
    ``queue_group`` (default: the group's or service's) and ``metadata``."""

    name: str
    handler: Handler
    queue_group: Optional[str] = None
    subject: Optional[str] = None
    metadata: Optional[Dict[str, str]] = None

    def __post_init__(self) -> None:
        """Validates the fields (``ValueError``, nats-py's texts)."""
        if not self.name:
            raise ValueError("Name cannot be empty.")
        if not _NAME.match(self.name):
            raise ValueError("Invalid name. Name must contain only alphanumeric characters, underscores, and hyphens.")
        if self.subject and not _SUBJECT.match(self.subject):
            raise ValueError("Invalid subject. Subject must not contain spaces, and can only have '>' at the end.")
        if self.queue_group and not _SUBJECT.match(self.queue_group):
            raise ValueError("Invalid queue group. Queue group must not contain spaces.")


@dataclass
class GroupConfig:
    """A group: a subject prefix ``name`` and a default ``queue_group`` for its endpoints."""

    name: str
    queue_group: Optional[str] = None


@dataclass
class ServiceConfig:
    """A service: ``name`` (``A-Z a-z 0-9 - _``), SemVer ``version``, and optionally
    ``description``, ``metadata``, ``queue_group`` and a ``stats_handler`` giving each
    endpoint's ``data`` in :meth:`Service.stats`."""

    name: str
    version: str
    description: Optional[str] = None
    metadata: Optional[Dict[str, str]] = None
    queue_group: Optional[str] = None
    stats_handler: Optional[StatsHandler] = None

    def __post_init__(self) -> None:
        """Validates the fields (``ValueError``, nats-py's texts)."""
        if not self.name:
            raise ValueError("Name cannot be empty.")
        if not _NAME.match(self.name):
            raise ValueError("Invalid name. It must contain only alphanumeric characters, dashes, and underscores.")
        if not self.version:
            raise ValueError("Version cannot be empty.")
        if not _SEMVER.match(self.version):
            raise ValueError("Invalid version. It must follow semantic versioning (e.g., 1.0.0, 2.1.3-alpha.1).")
        if self.queue_group and not _SUBJECT.match(self.queue_group):
            raise ValueError("Invalid queue group. It must contain only alphanumeric characters, dashes, and underscores.")


@dataclass
class EndpointStats:
    """One endpoint's statistics (times in nanoseconds)."""

    name: str
    subject: str
    queue_group: Optional[str]
    num_requests: int
    num_errors: int
    processing_time: int
    average_processing_time: int
    last_error: Optional[str] = None
    data: Optional[Any] = None

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "EndpointStats":
        """From the STATS answer's item."""
        return cls(
            name=d["name"],
            subject=d["subject"],
            queue_group=d.get("queue_group"),
            num_requests=d.get("num_requests", 0),
            num_errors=d.get("num_errors", 0),
            processing_time=d.get("processing_time", 0),
            average_processing_time=d.get("average_processing_time", 0),
            last_error=d.get("last_error") or None,
            data=d.get("data"),
        )

    def to_dict(self) -> Dict[str, Any]:
        """As in the STATS answer."""
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "num_requests": self.num_requests,
            "num_errors": self.num_errors,
            "last_error": self.last_error or "",
            "processing_time": self.processing_time,
            "average_processing_time": self.average_processing_time,
            "data": self.data,
        }


@dataclass
class EndpointInfo:
    """One endpoint's description."""

    name: str
    subject: str
    queue_group: Optional[str]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "EndpointInfo":
        """From the INFO answer's item."""
        return cls(name=d["name"], subject=d["subject"], queue_group=d.get("queue_group"), metadata=d.get("metadata") or {})

    def to_dict(self) -> Dict[str, Any]:
        """As in the INFO answer."""
        return {"name": self.name, "subject": self.subject, "queue_group": self.queue_group, "metadata": self.metadata}


def _time(text: str) -> datetime.datetime:
    """An RFC 3339 time (any precision, ``Z`` or an offset) as a naive UTC datetime, as
    nats-py keeps ``started``."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", text)
    if not m:
        raise ValueError(f"invalid time {text!r}: not RFC 3339")
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    base = base.replace(microsecond=int(frac))
    zone = m.group(3)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        base -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return base


class ServiceIdentity(Protocol):
    """The fields that identify a service instance."""

    id: str
    name: str
    version: str
    metadata: Dict[str, str]


@dataclass
class ServicePing(ServiceIdentity):
    """The answer to a PING."""

    id: str
    name: str
    version: str
    metadata: Dict[str, str] = field(default_factory=dict)
    type: str = PING_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ServicePing":
        """From a PING answer."""
        return cls(id=data["id"], name=data["name"], version=data["version"], metadata=data.get("metadata") or {})

    def to_dict(self) -> Dict[str, Any]:
        """As a PING answer."""
        return {"type": self.type, "id": self.id, "name": self.name, "version": self.version, "metadata": self.metadata}


@dataclass
class ServiceStats(ServiceIdentity):
    """A service instance's statistics."""

    id: str
    name: str
    version: str
    started: datetime.datetime
    endpoints: List[EndpointStats] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    type: str = STATS_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ServiceStats":
        """From a STATS answer."""
        return cls(
            id=d["id"],
            name=d["name"],
            version=d["version"],
            started=_time(d["started"]),
            endpoints=[EndpointStats.from_dict(e) for e in d.get("endpoints") or []],
            metadata=d.get("metadata") or {},
        )

    def to_dict(self) -> Dict[str, Any]:
        """As a STATS answer."""
        return {
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "started": self.started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "endpoints": [e.to_dict() for e in self.endpoints],
            "metadata": self.metadata,
        }


@dataclass
class ServiceInfo:
    """A service instance's description."""

    name: str
    id: str
    version: str
    description: Optional[str] = None
    endpoints: List[EndpointInfo] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    type: str = INFO_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ServiceInfo":
        """From an INFO answer."""
        return cls(
            id=d["id"],
            name=d["name"],
            version=d["version"],
            description=d.get("description"),
            endpoints=[EndpointInfo.from_dict(e) for e in d.get("endpoints") or []],
            metadata=d.get("metadata") or {},
            type=d.get("type", INFO_RESPONSE_TYPE),
        )

    def to_dict(self) -> Dict[str, Any]:
        """As an INFO answer."""
        return {
            "type": self.type,
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "endpoints": [e.to_dict() for e in self.endpoints],
            "metadata": self.metadata,
        }


class Endpoint:
    """An endpoint of a running service: its request batches (taken from rnats on the hub's
    wake-ups) and the task running its handler, one request after another."""

    def __init__(self, service: "Service", config: EndpointConfig) -> None:
        self._service = service
        self._name = config.name
        self._subject = config.subject or config.name
        self._queue_group = config.queue_group or DEFAULT_QUEUE_GROUP
        self._handler = config.handler
        self._metadata = config.metadata
        self._raw: Any = None
        self._items: Deque[Any] = deque()
        self._ended = False
        self._event = asyncio.Event()
        self._task: Optional["asyncio.Task[None]"] = None

    def _wake(self) -> None:
        if self._raw is None:
            return
        items, ended = self._raw.take()
        self._items.extend(items)
        self._ended = self._ended or ended
        self._event.set()

    async def _run(self) -> None:
        while True:
            while self._items:
                request = Request(self._items.popleft())
                try:
                    await self._handler(request)
                except Exception as error:  # noqa: BLE001 - answered as the service's error
                    try:
                        if isinstance(error, ServiceError):
                            await request.respond_error(error.code, error.description)
                        else:
                            await request.respond_error("500", repr(error))
                    except Exception:  # noqa: BLE001 - no reply subject, closed connection
                        pass
            if self._ended:
                return
            self._event.clear()
            await self._event.wait()


class EndpointManager(Protocol):
    """What adds endpoints: a :class:`Service` or a :class:`Group`."""

    @overload
    async def add_endpoint(self, config: EndpointConfig) -> None: ...

    @overload
    async def add_endpoint(
        self,
        *,
        name: str,
        handler: Handler,
        queue_group: Optional[str] = None,
        subject: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> None: ...

    async def add_endpoint(self, config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Adds an endpoint."""


class GroupManager(Protocol):
    """What adds groups: a :class:`Service` or a :class:`Group`."""

    @overload
    def add_group(self, *, name: str, queue_group: Optional[str] = None) -> "Group": ...

    @overload
    def add_group(self, config: GroupConfig) -> "Group": ...

    def add_group(self, config: Optional[GroupConfig] = None, **kwargs: Any) -> "Group":
        """Adds a group."""


class Group(GroupManager, EndpointManager):
    """A subject prefix (and default queue group) for endpoints: ``add_endpoint``,
    ``add_group``."""

    def __init__(self, service: "Service", config: GroupConfig) -> None:
        self._service = service
        self._prefix = config.name
        self._queue_group = config.queue_group

    @overload
    async def add_endpoint(self, config: EndpointConfig) -> None: ...

    @overload
    async def add_endpoint(
        self,
        *,
        name: str,
        handler: Handler,
        queue_group: Optional[str] = None,
        subject: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> None: ...

    async def add_endpoint(self, config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Adds an endpoint whose subject is this group's prefix, ``.``, and the endpoint's
        subject (default: its name); its queue group defaults to the group's."""
        config = replace(config, **kwargs) if config else EndpointConfig(**kwargs)
        config = replace(
            config,
            subject=f"{self._prefix.strip('.')}.{config.subject or config.name}".strip("."),
            queue_group=config.queue_group or self._queue_group,
        )
        await self._service.add_endpoint(config)

    @overload
    def add_group(self, *, name: str, queue_group: Optional[str] = None) -> "Group": ...

    @overload
    def add_group(self, config: GroupConfig) -> "Group": ...

    def add_group(self, config: Optional[GroupConfig] = None, **kwargs: Any) -> "Group":
        """A group inside this one (prefixes joined with ``.``; the queue group defaults to
        this group's)."""
        config = replace(config, **kwargs) if config else GroupConfig(**kwargs)
        config = replace(
            config,
            name=f"{self._prefix}.{config.name}",
            queue_group=config.queue_group or self._queue_group,
        )
        return Group(self._service, config)


class Service(AsyncContextManager):  # type: ignore[type-arg]
    """A running service (made by :func:`rnats.micro.add_service`; also an async context
    manager that starts and stops it)."""

    def __init__(self, client: Any, config: ServiceConfig) -> None:
        self._client = client
        self._config = config
        self._name = config.name
        self._version = config.version
        self._description = config.description
        self._metadata = config.metadata or {}
        self._queue_group = config.queue_group
        self._stats_handler = config.stats_handler
        self._prefix = DEFAULT_PREFIX
        self._raw: Any = None
        self._endpoints: List[Endpoint] = []
        self._stopped = asyncio.Event()
        self._local = threading.local()

    @property
    def id(self) -> str:
        """The instance's unique id (empty before :meth:`start`)."""
        return self._raw.id() if self._raw is not None else ""

    def _stats_hook(self, text: str) -> Optional[str]:
        """The stats handler as rnats calls it (for STATS answers and :meth:`stats`): an
        endpoint's statistics as JSON in, the handler's ``data`` as JSON out. What it raises
        is kept for :meth:`stats` (called on this thread) to raise; a STATS answer gets
        ``null``."""
        handler = self._stats_handler
        if handler is None:
            return None
        try:
            return json.dumps(handler(EndpointStats.from_dict(json.loads(text))))
        except BaseException as error:
            if getattr(self._local, "capture", False) and self._local.error is None:
                self._local.error = error
            raise

    async def start(self) -> None:
        """Starts the service (``add_service`` does): it answers PING, INFO and STATS.
        Does nothing when started already."""
        if self._raw is not None:
            return
        from .. import _rnats

        fut = asyncio.get_running_loop().create_future()
        _rnats.svc_start(
            self._client._client(),
            self._client._hub,
            fut,
            self._name,
            self._version,
            description=self._description,
            metadata=dict(self._metadata) if self._metadata else None,
            queue_group=self._queue_group,
            stats_hook=self._stats_hook if self._stats_handler is not None else None,
        )
        self._raw = await fut

    @overload
    async def add_endpoint(self, config: EndpointConfig) -> None: ...

    @overload
    async def add_endpoint(
        self,
        *,
        name: str,
        handler: Handler,
        queue_group: Optional[str] = None,
        subject: Optional[str] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> None: ...

    async def add_endpoint(self, config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Adds an endpoint: ``name``, ``handler`` (a coroutine function taking a
        :class:`Request`), ``subject`` (default: the name), ``queue_group`` (default: the
        service's, else ``q``), ``metadata``. ``ValueError`` once the service is stopped."""
        config = replace(config, **kwargs) if config else EndpointConfig(**kwargs)
        config = replace(config, queue_group=config.queue_group or self._queue_group)
        if self._raw is None:
            await self.start()
        ep = Endpoint(self, config)
        fut = asyncio.get_running_loop().create_future()
        self._raw.add_endpoint(
            self._client._hub,
            fut,
            ep._wake,
            config.name,
            subject=ep._subject,
            queue_group=config.queue_group,
            metadata=dict(config.metadata) if config.metadata else None,
        )
        ep._raw = await fut
        ep._task = asyncio.get_running_loop().create_task(ep._run())
        ep._wake()
        self._endpoints.append(ep)

    @overload
    def add_group(self, *, name: str, queue_group: Optional[str] = None) -> Group: ...

    @overload
    def add_group(self, config: GroupConfig) -> Group: ...

    def add_group(self, config: Optional[GroupConfig] = None, **kwargs: Any) -> Group:
        """A group of endpoints: ``name`` (a subject prefix) and ``queue_group`` (default:
        the service's)."""
        config = replace(config, **kwargs) if config else GroupConfig(**kwargs)
        config = replace(config, queue_group=config.queue_group or self._queue_group)
        return Group(self, config)

    def stats(self) -> ServiceStats:
        """The service's statistics (rnats' counters; each endpoint's ``data`` from the
        ``stats_handler``, through JSON). Raises what the ``stats_handler`` raises."""
        self._local.capture, self._local.error = True, None
        try:
            text = self._raw.stats()
            error = self._local.error
        finally:
            self._local.capture, self._local.error = False, None
        if error is not None:
            raise error
        return ServiceStats.from_dict(json.loads(text))

    def info(self) -> ServiceInfo:
        """The service's description: name, id, version, description, metadata, endpoints."""
        info = ServiceInfo.from_dict(json.loads(self._raw.info()))
        # As nats-py's: the description and the endpoints' metadata as configured (None
        # when unset; rnats' INFO answer has "" and {}, as other clients' do).
        info.description = self._description
        if len(info.endpoints) == len(self._endpoints):
            for e, ep in zip(info.endpoints, self._endpoints):
                e.metadata = ep._metadata  # type: ignore[assignment]
        return info

    async def reset(self) -> None:
        """Resets every endpoint's statistics (requests, errors, processing time, last
        error)."""
        self._raw.reset()

    async def stop(self) -> None:
        """Stops the service: its subscriptions are drained, and the requests already
        received are handled before this returns (waiting at most 5 s for the handlers; a
        handler calling ``stop`` is not waited for). Does nothing the second time."""
        if self._stopped.is_set() or self._raw is None:
            self._stopped.set()
            return
        fut = asyncio.get_running_loop().create_future()
        self._raw.stop(self._client._hub, fut)
        await fut
        me = asyncio.current_task()
        tasks = [ep._task for ep in self._endpoints if ep._task is not None and ep._task is not me]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._endpoints = []
        self._stopped.set()

    @property
    def stopped(self) -> asyncio.Event:
        """Set once :meth:`stop` has run."""
        return self._stopped

    async def __aenter__(self) -> "Service":
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.stop()
