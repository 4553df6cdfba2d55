"""Messages as delivered to subscriptions and returned by requests (nats-py's ``Msg``)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional

from .. import errors

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client


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

    async def respond(self, data: bytes) -> None:
        """Publish ``data`` to this message's reply subject."""
        if not self.reply:
            raise errors.Error("nats: no reply subject available")
        if self._client is None:
            raise errors.Error("nats: client not set")
        await self._client.publish(self.reply, data)
