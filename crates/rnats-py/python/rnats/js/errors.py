"""JetStream exceptions with nats-py's names, hierarchy and texts (``nats.js.errors``).

Errors the server answers (a JSON ``error`` object, or a status) are raised as the
:class:`APIError` subclass of their HTTP-like ``code``; ``code``, ``err_code`` and
``description`` are kept on the exception.
"""

from typing import Any, Dict, NoReturn, Optional

from .. import errors as _core


class Error(_core.Error):
    """Base class of the JetStream errors."""

    def __init__(self, description: Optional[str] = None) -> None:
        super().__init__(description)
        self.description = description

    def __str__(self) -> str:
        return f"nats: JetStream.{type(self).__name__} {self.description or ''}"


class APIError(Error):
    """An error answered by the JetStream API: ``code`` (HTTP-like), ``err_code`` (the
    server's precise code), ``description``, and for some errors ``stream`` and ``seq``."""

    code: Optional[int]
    err_code: Optional[int]
    description: Optional[str]
    stream: Optional[str]
    seq: Optional[int]

    def __init__(
        self,
        code: Optional[int] = None,
        description: Optional[str] = None,
        err_code: Optional[int] = None,
        stream: Optional[str] = None,
        seq: Optional[int] = None,
    ) -> None:
        Exception.__init__(self, code, description, err_code)
        self.code = code
        self.err_code = err_code
        self.description = description
        self.stream = stream
        self.seq = seq

    @classmethod
    def from_error(cls, err: Dict[str, Any]) -> NoReturn:
        """Raises the subclass of ``err["code"]`` built from a JSON error object."""
        raise _from_api(err.get("code"), err.get("err_code"), err.get("description"))

    @classmethod
    def from_msg(cls, msg: Any) -> NoReturn:
        """Raises the error a status message (``Status``/``Description`` headers) stands for."""
        headers = getattr(msg, "headers", None)
        if not headers:
            raise APIError()
        code = headers.get("Status")
        if code == "503":
            raise ServiceUnavailableError()
        raise APIError(code=int(code) if code and code.isdigit() else None, description=headers.get("Description"))

    def __str__(self) -> str:
        return f"nats: {type(self).__name__}: code={self.code} err_code={self.err_code} description='{self.description}'"


class ServiceUnavailableError(APIError):
    """Code 503: JetStream (or the stream's leader) is not available."""


class ServerError(APIError):
    """Code 500: the server failed."""


class NotFoundError(APIError):
    """Code 404: the stream, consumer or message does not exist."""


class BadRequestError(APIError):
    """Code 400: the request (a configuration, a name…) was refused."""


class ConsumerInvalidResetError(BadRequestError):
    """A consumer reset that its deliver policy does not allow (err_code 10204)."""


class NoStreamResponseError(Error):
    """A publish that no stream answered (nobody stores its subject)."""

    def __str__(self) -> str:
        return "nats: no response from stream"


class TooManyStalledMsgsError(Error):
    """``publish_async`` waited too long for room among the outstanding acknowledgements."""

    def __str__(self) -> str:
        return "nats: stalled with too many outstanding async published messages"


class FetchTimeoutError(_core.TimeoutError):
    """A fetch ended without messages though the server was heard from (heartbeats)."""

    def __str__(self) -> str:
        return "nats: fetch timeout"


class ConsumerSequenceMismatchError(Error):
    """An ordered or heartbeat-monitored consumer saw a gap in its sequence."""

    def __init__(self, stream_resume_sequence=None, consumer_sequence=None, last_consumer_sequence=None) -> None:
        super().__init__()
        self.stream_resume_sequence = stream_resume_sequence
        self.consumer_sequence = consumer_sequence
        self.last_consumer_sequence = last_consumer_sequence

    def __str__(self) -> str:
        gap = (self.last_consumer_sequence or 0) - (self.consumer_sequence or 0)
        return (
            f"nats: sequence mismatch for consumer at sequence {self.consumer_sequence} "
            f"({gap} sequences behind), should restart consumer from stream sequence {self.stream_resume_sequence}"
        )


class BucketNotFoundError(NotFoundError):
    """The Key-Value or Object Store bucket does not exist."""


class BadBucketError(APIError):
    """The stream behind a bucket is not a valid bucket."""


class KeyValueError(APIError):
    """Base class of the Key-Value errors."""


class KeyDeletedError(KeyValueError, NotFoundError):
    """The key was deleted (``entry`` and ``op`` hold the marker)."""

    def __init__(self, entry=None, op=None) -> None:
        super().__init__()
        self.entry = entry
        self.op = op

    def __str__(self) -> str:
        return "nats: key was deleted"


class KeyNotFoundError(KeyValueError, NotFoundError):
    """The key does not exist (or was deleted or purged: ``entry``/``op``)."""

    def __init__(self, entry=None, op=None, message=None) -> None:
        super().__init__()
        self.entry = entry
        self.op = op
        self.message = message

    def __str__(self) -> str:
        return "nats: key not found" + (f": {self.message}" if self.message else "")


class KeyWrongLastSequenceError(KeyValueError, BadRequestError):
    """A compare-and-set on a key found another last revision."""

    def __init__(self, description=None) -> None:
        super().__init__(description=description)

    def __str__(self) -> str:
        return f"nats: {self.description}"


class NoKeysError(KeyValueError):
    """The bucket holds no keys (or no history for the key)."""

    def __str__(self) -> str:
        return "nats: no keys found"


class KeyHistoryTooLargeError(KeyValueError):
    """A Key-Value history above 64."""

    def __str__(self) -> str:
        return "nats: history limited to a max of 64"


class InvalidKeyError(Error):
    """A key that is not valid for a Key-Value bucket."""


class InvalidBucketNameError(Error):
    """A bucket name that is not valid."""


class InvalidObjectNameError(Error):
    """An object name that is not valid."""


class BadObjectMetaError(Error):
    """Object Store metadata that cannot be read."""


class LinkIsABucketError(Error):
    """An Object Store link that names a bucket, not an object."""


class DigestMismatchError(Error):
    """An object whose content does not match its digest."""


class ObjectNotFoundError(NotFoundError):
    """The object does not exist."""


class ObjectDeletedError(NotFoundError):
    """The object was deleted."""


class ObjectAlreadyExists(Error):
    """The object exists already."""


class KeyValueLimitMarkerTTLNotSupportedError(Error):
    """``limit_marker_ttl`` on a server without per-message TTLs (before 2.11)."""

    def __str__(self) -> str:
        return "nats: limit marker TTLs not supported by server"


_BY_CODE = {503: ServiceUnavailableError, 500: ServerError, 404: NotFoundError, 400: BadRequestError}


def _from_api(code: Optional[int], err_code: Optional[int], description: Optional[str]) -> APIError:
    """The exception for an API error (used by the Rust side): the class of its code."""
    cls = _BY_CODE.get(code, APIError)
    if err_code == 10204:
        cls = ConsumerInvalidResetError
    return cls(code=code, description=description, err_code=err_code)
