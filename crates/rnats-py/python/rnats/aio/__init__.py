"""The asyncio client: :mod:`rnats.aio.client`, :mod:`rnats.aio.msg`, :mod:`rnats.aio.subscription`."""
