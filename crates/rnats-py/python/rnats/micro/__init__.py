"""Services (nats-py's ``nats.micro``) on ``rnats::service``: ``add_service`` and the
``Service`` it returns, with endpoints, groups, statistics and discovery (PING, INFO, STATS
on ``$SRV``) answered by rnats."""

from dataclasses import replace
from typing import Any, Optional

from .request import Handler, Request, ServiceError
from .service import EndpointConfig, Group, GroupConfig, Service, ServiceConfig


async def add_service(nc: Any, config: Optional[ServiceConfig] = None, **kwargs: Any) -> Service:
    """Starts a service on ``nc`` from ``config`` and/or the fields of
    :class:`ServiceConfig` (``name``, ``version``, ``description``, ``metadata``,
    ``queue_group``, ``stats_handler``)."""
    config = replace(config, **kwargs) if config else ServiceConfig(**kwargs)
    service = Service(nc, config)
    await service.start()
    return service


__all__ = ["add_service"]
