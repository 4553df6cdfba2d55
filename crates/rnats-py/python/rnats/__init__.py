"""rnats: nats-py's asyncio API on the rnats Rust client.

A nats-py program runs with its imports changed (``import rnats as nats``)::

    import rnats as nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    await nc.publish("greet", b"hello")
    await nc.close()
"""

from typing import List, Union

from .aio.client import Client as NATS
from .aio.client import __version__

__all__ = ["connect", "NATS", "__version__"]


async def connect(servers: Union[str, List[str]] = ["nats://localhost:4222"], **options) -> NATS:  # noqa: B006
    """Connect to a NATS server (or cluster) and return the connected client.

    Takes ``servers`` (a URL or a list of URLs) and the keyword options of
    :meth:`rnats.aio.client.Client.connect`.
    """
    nc = NATS()
    await nc.connect(servers, **options)
    return nc
