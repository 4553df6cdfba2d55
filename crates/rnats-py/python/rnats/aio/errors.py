"""nats-py's deprecated exception names (``nats.aio.errors``): each a subclass of the
matching :mod:`rnats.errors` class, as in nats-py (so ``except ErrTimeout`` does not catch
the ``rnats.errors.TimeoutError`` the client raises; catch the new names)."""

from .. import errors


class NatsError(errors.Error):
    """Deprecated: use rnats.errors.Error."""


class ErrConnectionClosed(errors.ConnectionClosedError):
    """Deprecated: use rnats.errors.ConnectionClosedError."""


class ErrDrainTimeout(errors.DrainTimeoutError):
    """Deprecated: use rnats.errors.DrainTimeoutError."""


class ErrInvalidUserCredentials(errors.InvalidUserCredentialsError):
    """Deprecated: use rnats.errors.InvalidUserCredentialsError."""


class ErrInvalidCallbackType(errors.InvalidCallbackTypeError):
    """Deprecated: use rnats.errors.InvalidCallbackTypeError."""


class ErrConnectionReconnecting(errors.ConnectionReconnectingError):
    """Deprecated: use rnats.errors.ConnectionReconnectingError."""


class ErrConnectionDraining(errors.ConnectionDrainingError):
    """Deprecated: use rnats.errors.ConnectionDrainingError."""


class ErrMaxPayload(errors.MaxPayloadError):
    """Deprecated: use rnats.errors.MaxPayloadError."""


class ErrStaleConnection(errors.StaleConnectionError):
    """Deprecated: use rnats.errors.StaleConnectionError."""


class ErrJsonParse(errors.JsonParseError):
    """Deprecated: use rnats.errors.JsonParseError."""


class ErrSecureConnRequired(errors.SecureConnRequiredError):
    """Deprecated: use rnats.errors.SecureConnRequiredError."""


class ErrSecureConnWanted(errors.SecureConnWantedError):
    """Deprecated: use rnats.errors.SecureConnWantedError."""


class ErrSecureConnFailed(errors.SecureConnFailedError):
    """Deprecated: use rnats.errors.SecureConnFailedError."""


class ErrBadSubscription(errors.BadSubscriptionError):
    """Deprecated: use rnats.errors.BadSubscriptionError."""


class ErrBadSubject(errors.BadSubjectError):
    """Deprecated: use rnats.errors.BadSubjectError."""


class ErrSlowConsumer(errors.SlowConsumerError):
    """Deprecated: use rnats.errors.SlowConsumerError."""


class ErrTimeout(errors.TimeoutError):
    """Deprecated: use rnats.errors.TimeoutError."""


class ErrBadTimeout(errors.BadTimeoutError):
    """Deprecated: use rnats.errors.BadTimeoutError."""


class ErrAuthorization(errors.AuthorizationError):
    """Deprecated: use rnats.errors.AuthorizationError."""


class ErrNoServers(errors.NoServersError):
    """Deprecated: use rnats.errors.NoServersError."""
