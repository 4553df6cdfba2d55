"""Messages as delivered to subscriptions and returned by requests (nats-py's ``Msg``).

JetStream messages are the same class: ``ack``, ``nak``, ``in_progress``, ``term`` and
``metadata`` work on any message whose reply subject is a ``$JS.ACK`` subject. The ack
payloads and the reply-subject parse are rnats' (``_rnats.ack_payload``/``ack_metadata``).
"""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from .. import _rnats, errors

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

_ACK = _rnats.ack_payload("ack")
_NAK = _rnats.ack_payload("nak")
_WPI = _rnats.ack_payload("wpi")
_TERM = _rnats.ack_payload("term")


@dataclass
class Msg:
    """A received message: ``subject``, ``reply`` (``""`` when none), ``data``, ``headers``."""

    _client: "Client"
    subject: str = ""
    reply: str = ""
    data: bytes = b""
    headers: Optional[Dict[str, str]] = None
    _metadata: Optional[Any] = None
    _ackd: bool = False
    _sid: Optional[int] = None

    class Ack:
        """The acknowledgement payloads and the token positions of a v2 ``$JS.ACK`` subject."""

        Ack = b"+ACK"
        Nak = b"-NAK"
        Progress = b"+WPI"
        Term = b"+TERM"
        Prefix0 = "$JS"
        Prefix1 = "ACK"
        Domain = 2
        AccHash = 3
        Stream = 4
        Consumer = 5
        NumDelivered = 6
        StreamSeq = 7
        ConsumerSeq = 8
        Timestamp = 9
        NumPending = 10

    @dataclass(frozen=True)
    class Metadata:
        """A JetStream message's metadata, from its reply subject: stream and consumer
        sequences, pending and delivery counts, the time it was stored, stream, consumer and
        domain (``None`` for old-style subjects, ``""`` when the server names none)."""

        sequence: "Msg.Metadata.SequencePair"
        num_pending: int
        num_delivered: int
        timestamp: datetime.datetime
        stream: str
        consumer: str
        domain: Optional[str] = None

        @dataclass(frozen=True)
        class SequencePair:
            """A consumer sequence and a stream sequence."""

            consumer: int
            stream: int

        @classmethod
        def _from_reply(cls, reply: str) -> "Msg.Metadata":
            if not reply:
                raise errors.NotJSMessageError()
            stream, consumer, delivered, sseq, cseq, ts, pending, domain = _rnats.ack_metadata(reply)
            return cls(
                sequence=cls.SequencePair(consumer=cseq, stream=sseq),
                num_pending=pending,
                num_delivered=delivered,
                timestamp=datetime.datetime.fromtimestamp(ts / 1_000_000_000.0, datetime.timezone.utc),
                stream=stream,
                consumer=consumer,
                domain=domain,
            )

    @property
    def header(self) -> Optional[Dict[str, str]]:
        """The headers (same as ``headers``; nats-py's older name)."""
        return self.headers

    @property
    def sid(self) -> int:
        """The id of the subscription that received the message."""
        if self._sid is None:
            raise errors.Error("nats: sid is not set")
        return self._sid

    @property
    def is_acked(self) -> bool:
        """True once ``ack``, ``ack_sync``, ``nak`` or ``term`` was sent."""
        return self._ackd

    async def respond(self, data: bytes) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply:
            raise errors.Error("nats: no reply subject available")
        if self._client is None:
            raise errors.Error("nats: client not set")
        await self._client.publish(self.reply, data)

    def _check_reply(self) -> None:
        if not self.reply:
            raise errors.NotJSMessageError()
        if self._ackd:
            raise errors.MsgAlreadyAckdError(self)

    async def ack(self) -> None:
        """Acknowledge a JetStream message (``MsgAlreadyAckdError`` the second time)."""
        self._check_reply()
        await self._client.publish(self.reply, _ACK)
        self._ackd = True

    async def ack_sync(self, timeout: float = 1.0) -> "Msg":
        """Acknowledge and wait for the server to confirm it; returns its answer."""
        self._check_reply()
        resp = await self._client.request(self.reply, _ACK, timeout=timeout)
        self._ackd = True
        return resp

    async def nak(self, delay: Union[int, float, None] = None) -> None:
        """Ask for redelivery, after ``delay`` seconds if given."""
        self._check_reply()
        payload = _rnats.ack_payload("nak", float(delay)) if delay else _NAK
        await self._client.publish(self.reply, payload)
        self._ackd = True

    async def in_progress(self) -> None:
        """Tell the server the message is still being worked on (resets its ack wait);
        may be sent many times."""
        if not self.reply:
            raise errors.NotJSMessageError()
        await self._client.publish(self.reply, _WPI)

    async def term(self) -> None:
        """Stop redelivery of this message for good."""
        self._check_reply()
        await self._client.publish(self.reply, _TERM)
        self._ackd = True

    @property
    def metadata(self) -> "Msg.Metadata":
        """The JetStream metadata parsed from the reply subject (``NotJSMessageError`` for
        other messages); parsed once."""
        md = self._metadata
        if md is None:
            md = Msg.Metadata._from_reply(self.reply)
            self._metadata = md
        return md
