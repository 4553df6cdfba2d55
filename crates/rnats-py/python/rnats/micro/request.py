"""A service request and the errors a handler raises (nats-py's ``nats.micro.request``)."""

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional

ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"


class Request:
    """A request to an endpoint: ``subject``, ``headers``, ``data``; answered with
    :meth:`respond` or :meth:`respond_error` (through rnats' service request, which keeps the
    endpoint's statistics)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._data: Optional[bytes] = None

    @property
    def subject(self) -> str:
        """The subject the request came on."""
        return self._raw.subject()

    @property
    def headers(self) -> Optional[Dict[str, str]]:
        """The request's headers (``None`` without any)."""
        return self._raw.headers()

    @property
    def data(self) -> bytes:
        """The request's payload."""
        if self._data is None:
            self._data = self._raw.data()
        return self._data

    async def respond(self, data: bytes = b"", headers: Optional[Dict[str, str]] = None) -> None:
        """Answers with ``data`` (and ``headers``). ``ValueError`` when the request has no
        reply subject."""
        self._raw.respond(data, headers)

    async def respond_error(
        self, code: str, description: str, data: bytes = b"", headers: Optional[Dict[str, str]] = None
    ) -> None:
        """Answers with an error: ``Nats-Service-Error`` (``description``) and
        ``Nats-Service-Error-Code`` (``code``) headers, ``data`` as the payload (a numeric
        ``code`` without extra ``headers`` counts as an error in the endpoint's statistics).
        ``ValueError`` when the request has no reply subject."""
        text = str(code)
        if text.isdigit() and int(text) < 65536 and str(int(text)) == text:
            self._raw.respond_error(int(text), description, data, headers or None)
            return
        merged = dict(headers or {})
        merged.update({ERROR_HEADER: description, ERROR_CODE_HEADER: text})
        self._raw.respond(data, merged)


Handler = Callable[[Request], Awaitable[None]]
"""A function that handles a service request."""


@dataclass
class ServiceError(Exception):
    """Raised by a handler: answered as an error with ``code`` and ``description``."""

    code: str
    description: str

    def __repr__(self) -> str:
        return f"{self.code}:{self.description}"

    def to_dict(self) -> Dict[str, Any]:
        """As a dict."""
        return {"code": self.code, "description": self.description}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ServiceError":
        """From a dict."""
        return cls(code=data.get("code", ""), description=data.get("description", ""))
