"""nats-py's `nats.micro` against rnats services (run by tests/it/service.rs).

    service_interop.py discover <url> <name>
        Discovers the services named <name> with PING, INFO and STATS on all three subject
        levels, reads every answer with nats.micro's own types (ServicePing, ServiceInfo,
        ServiceStats.from_dict), calls each endpoint with "hello" and "error", and prints one
        JSON summary line.

    service_interop.py serve <url>
        Runs a nats.micro service `py-svc` 1.2.3 (endpoints `echo` on py.echo, `fail` on
        py.fail answering error 418 "teapot", a group `grp` with `upper`), prints
        "READY <id>", and stops (drains) when a message arrives on py.quit.
"""

import asyncio
import json
import sys

import nats
from nats.micro import add_service
from nats.micro.service import ServiceInfo, ServicePing, ServiceStats

ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"


async def gather(nc, subject, window=0.5):
    """Every answer to one request on `subject` within `window` seconds."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, b"", reply=inbox)
    answers = []
    loop = asyncio.get_running_loop()
    end = loop.time() + window
    while True:
        left = end - loop.time()
        if left <= 0:
            break
        try:
            msg = await sub.next_msg(timeout=left)
        except nats.errors.TimeoutError:
            break
        answers.append(json.loads(msg.data))
    await sub.unsubscribe()
    return answers


async def discover(url, name):
    nc = await nats.connect(url)
    out = {}
    pings = await gather(nc, "$SRV.PING")
    pings = [ServicePing.from_dict(p) for p in pings if p.get("name") == name]
    out["ping_all"] = len(pings)
    by_name = [ServicePing.from_dict(p) for p in await gather(nc, f"$SRV.PING.{name}")]
    out["ping_name"] = len(by_name)
    ids = sorted(p.id for p in by_name)
    out["ids"] = ids
    out["types"] = sorted({p.type for p in by_name})
    info = [ServiceInfo.from_dict(i) for i in await gather(nc, f"$SRV.INFO.{name}.{ids[0]}")]
    out["info"] = [
        {
            "name": i.name,
            "id": i.id,
            "version": i.version,
            "description": i.description,
            "metadata": i.metadata,
            "endpoints": [
                {"name": e.name, "subject": e.subject, "queue_group": e.queue_group, "metadata": e.metadata}
                for e in i.endpoints
            ],
        }
        for i in info
    ]
    calls = {}
    for endpoint in info[0].endpoints:
        subject = endpoint.subject
        for payload in (b"hello", b"error"):
            msg = await nc.request(subject, payload, timeout=2)
            headers = msg.headers or {}
            calls[f"{endpoint.name}:{payload.decode()}"] = {
                "data": msg.data.decode(),
                "error": headers.get(ERROR_HEADER),
                "code": headers.get(ERROR_CODE_HEADER),
            }
    out["calls"] = calls
    stats = [ServiceStats.from_dict(s) for s in await gather(nc, f"$SRV.STATS.{name}")]
    out["stats"] = [
        {
            "id": s.id,
            "type": s.type,
            "started": s.started.isoformat(),
            "endpoints": [
                {
                    "name": e.name,
                    "num_requests": e.num_requests,
                    "num_errors": e.num_errors,
                    "last_error": e.last_error,
                    "data": e.data,
                    "processing_time_positive": e.processing_time > 0,
                }
                for e in s.endpoints
            ],
        }
        for s in stats
    ]
    print(json.dumps(out), flush=True)
    await nc.drain()


async def serve(url):
    nc = await nats.connect(url)
    svc = await add_service(
        nc,
        name="py-svc",
        version="1.2.3",
        description="a nats-py service",
        metadata={"lang": "python"},
    )

    async def echo(req):
        await req.respond(req.data)

    async def fail(req):
        await req.respond_error("418", "teapot", b"no coffee")

    async def upper(req):
        await req.respond(req.data.upper())

    await svc.add_endpoint(name="echo", subject="py.echo", handler=echo, metadata={"kind": "echo"})
    await svc.add_endpoint(name="fail", subject="py.fail", handler=fail)
    group = svc.add_group(name="grp", queue_group="gq")
    await group.add_endpoint(name="upper", handler=upper)

    quit_event = asyncio.Event()

    async def on_quit(msg):
        quit_event.set()

    await nc.subscribe("py.quit", cb=on_quit)
    await nc.flush()
    print(f"READY {svc.id}", flush=True)
    await asyncio.wait_for(quit_event.wait(), timeout=60)
    await svc.stop()
    await nc.drain()
    print("STOPPED", flush=True)


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "discover":
        asyncio.run(discover(url, sys.argv[3]))
    elif mode == "serve":
        asyncio.run(serve(url))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
