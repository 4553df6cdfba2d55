"""Exceptions raised by rnats, with nats-py's names, hierarchy and texts.

``str()`` of an exception built without arguments is nats-py's text (``"nats: timeout"``);
when rnats has a detail to add (``TimeoutError("request to 'x' timed out")``) it follows
after a colon.
"""

import asyncio
import ssl


class Error(Exception):
    """Base class of every rnats (and nats-py) error."""

    _text = ""

    def __str__(self) -> str:
        detail = str(self.args[0]) if self.args and self.args[0] not in (None, "") else ""
        if self._text and detail and detail != self._text:
            return f"{self._text}: {detail}"
        return detail or self._text


class TimeoutError(Error, asyncio.TimeoutError):  # noqa: A001 - nats-py's name
    """An operation did not complete in time (also an ``asyncio.TimeoutError``)."""

    _text = "nats: timeout"


class NoRespondersError(Error):
    """A request found nobody subscribed to its subject (status 503)."""

    _text = "nats: no responders available for request"


class StaleConnectionError(Error):
    """The server stopped answering pings."""

    _text = "nats: stale connection"


class OutboundBufferLimitError(Error):
    """Disconnected, and the reconnect buffer (``pending_size``) is full."""

    _text = "nats: outbound buffer limit exceeded"


class UnexpectedEOF(StaleConnectionError):
    """The server closed the connection unexpectedly."""

    _text = "nats: unexpected EOF"


class FlushTimeoutError(TimeoutError):
    """``flush()`` did not complete in time."""

    _text = "nats: flush timeout"


class ConnectionClosedError(Error):
    """The client is closed."""

    _text = "nats: connection closed"


class SecureConnRequiredError(Error):
    """The server requires TLS."""

    _text = "nats: secure connection required"


class SecureConnWantedError(Error):
    """TLS was wanted but the server does not offer it."""

    _text = "nats: secure connection not available"


class SecureConnFailedError(Error):
    """The TLS handshake or configuration failed."""

    _text = "nats: secure connection failed"


class TLSError(ssl.SSLError, SecureConnFailedError):
    """The TLS handshake failed (an alert from the server, a protocol mismatch). Also an
    ``ssl.SSLError`` (so ``except ssl.SSLError`` and ``except OSError`` catch it) and a
    :class:`SecureConnFailedError`. rnats-only name."""

    def __str__(self) -> str:
        return Error.__str__(self)


class CertificateVerificationError(ssl.SSLCertVerificationError, SecureConnFailedError):
    """The server's certificate did not verify (unknown issuer, expired, wrong name). Also
    an ``ssl.SSLCertVerificationError`` (hence ``ssl.SSLError``), as nats-py's handshake
    raises it, and a :class:`SecureConnFailedError`. rnats-only name."""

    def __str__(self) -> str:
        return Error.__str__(self)


class BadSubscriptionError(Error):
    """The subscription is not valid (for example, unsubscribed twice)."""

    _text = "nats: invalid subscription"


class BadSubjectError(Error):
    """A subject or queue group is invalid (empty, whitespace, misplaced wildcards)."""

    _text = "nats: invalid subject"


class BadHeaderError(Error):
    """A header name or value is invalid."""

    _text = "nats: invalid header"


class SlowConsumerError(Error):
    """A subscription fell behind and messages were dropped (reported to ``error_cb``)."""

    _text = "nats: slow consumer, messages dropped"

    def __init__(self, *args, subject="", reply="", sid=0, sub=None):
        super().__init__(*args)
        self.subject = subject
        self.reply = reply
        self.sid = sid
        self.sub = sub


class BadTimeoutError(Error):
    """A timeout argument is invalid."""

    _text = "nats: timeout invalid"


class AuthorizationError(Error):
    """The server refused the credentials."""

    _text = "nats: authorization failed"


class NoServersError(Error):
    """No server of the pool could be connected to."""

    _text = "nats: no servers available for connection"


class JsonParseError(Error):
    """A JSON document could not be parsed."""

    _text = "nats: connect message, json parse err"


class MaxPayloadError(Error):
    """The message is larger than the server's ``max_payload``."""

    _text = "nats: maximum payload exceeded"


class DrainTimeoutError(TimeoutError):
    """``drain()`` did not complete within ``drain_timeout``."""

    _text = "nats: draining connection timed out"


class ConnectionDrainingError(Error):
    """The client is draining: no new subscriptions or requests."""

    _text = "nats: connection draining"


class ConnectionReconnectingError(Error):
    """The client is reconnecting."""

    _text = "nats: connection reconnecting"


class InvalidUserCredentialsError(Error):
    """The user credentials are invalid."""

    _text = "nats: invalid user credentials"


class InvalidCallbackTypeError(Error):
    """A callback is not a coroutine function."""

    _text = "nats: callbacks must be coroutine functions"


class ProtocolError(Error):
    """The server broke the protocol."""

    _text = "nats: protocol error"


class ServerNotInPoolError(Error):
    """The selected server is not in the pool."""

    _text = "nats: selected server is not in the pool"


class NotJSMessageError(Error):
    """The message is not a JetStream message."""

    _text = "nats: not a JetStream message"


class MsgAlreadyAckdError(Error):
    """The message was already acknowledged."""

    def __init__(self, msg=None):
        super().__init__()
        self._msg = msg

    def __str__(self) -> str:
        return f"nats: message was already acknowledged: {self._msg}"
