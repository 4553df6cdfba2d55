"""An rnats.micro service (rnats' Python bindings, nats-py's nats.micro API), for
tests/it/service_python.rs: the Rust client discovers and calls it.

    micro_service.py <url>
        Runs service `py-micro` 2.0.0 (endpoints `echo` on pm.echo with metadata, `fail` on
        pm.fail answering error 418 "teapot" with data "no coffee", `boom` on pm.boom raising
        ServiceError 503 "down", a group `pg` (queue group `pq`) with `upper`, and a
        stats_handler), prints "READY <id>", and on a message on pm.quit prints its own
        statistics as one JSON line, stops (drains), prints "STOPPED" and exits.

Exits with status 3 and a reason on stderr when rnats.micro cannot be imported (the
bindings are not built into this Python).
"""

import asyncio
import json
import sys

try:
    import rnats
    from rnats.micro import add_service
    from rnats.micro.request import ServiceError
except ImportError as error:  # the bindings are not built into this Python
    print(f"rnats.micro is not importable: {error}", file=sys.stderr)
    sys.exit(3)


async def main(url: str) -> None:
    nc = await rnats.connect(url)
    svc = await add_service(
        nc,
        name="py-micro",
        version="2.0.0",
        description="an rnats.micro service",
        metadata={"lang": "python", "client": "rnats"},
        stats_handler=lambda e: {"endpoint": e.name},
    )

    async def echo(req):
        await req.respond(req.data, headers=req.headers)

    async def fail(req):
        await req.respond_error("418", "teapot", b"no coffee")

    async def boom(req):
        raise ServiceError("503", "down")

    async def upper(req):
        await req.respond(req.data.upper())

    await svc.add_endpoint(name="echo", subject="pm.echo", handler=echo, metadata={"kind": "echo"})
    await svc.add_endpoint(name="fail", subject="pm.fail", handler=fail)
    await svc.add_endpoint(name="boom", subject="pm.boom", handler=boom)
    group = svc.add_group(name="pg", queue_group="pq")
    await group.add_endpoint(name="upper", handler=upper)

    quit_event = asyncio.Event()

    async def on_quit(msg):
        quit_event.set()

    await nc.subscribe("pm.quit", cb=on_quit)
    await nc.flush()
    print(f"READY {svc.id}", flush=True)
    await quit_event.wait()
    print(json.dumps(svc.stats().to_dict()), flush=True)
    await svc.stop()
    print("STOPPED", flush=True)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
