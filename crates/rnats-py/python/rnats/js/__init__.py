"""JetStream (nats-py's ``nats.js``): ``JetStreamContext``, ``JetStreamManager`` and ``api``."""

from . import api
from .client import JetStreamContext
from .manager import JetStreamManager

__all__ = ["api", "JetStreamContext", "JetStreamManager"]
