"""Services (rnats.micro) through nats-py's nats.micro API, against a real nats-server: every
call, discovery and calls by nats-py's client, and the answers compared with those of a
nats-py service of the same definition."""

import asyncio
import dataclasses
import json
import uuid

import pytest

import nats
import nats.micro as nats_micro
import nats.micro.service as nats_micro_service
import rnats
import rnats.micro as micro
from rnats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER, Request, ServiceError
from rnats.micro.service import (
    DEFAULT_QUEUE_GROUP,
    EndpointConfig,
    EndpointStats,
    GroupConfig,
    Service,
    ServiceConfig,
    ServiceInfo,
    ServicePing,
    ServiceStats,
    ServiceVerb,
    control_subject,
)


def w(aw, timeout=5.0):
    """Every await in these tests is bounded."""
    return asyncio.wait_for(aw, timeout)


@pytest.fixture
async def nc(server):
    c = await w(rnats.connect(server.url))
    yield c
    await w(c.close())


@pytest.fixture
async def pc(server):
    """nats-py's own client, on the same server."""
    c = await w(nats.connect(server.url))
    yield c
    await w(c.close())


@pytest.fixture
def name():
    """A service name of this test's own (the server is shared)."""
    return "svc" + uuid.uuid4().hex[:8]


async def settled(nc) -> None:
    """The endpoints just added are on the server (the client's SUBs precede its PING)."""
    await w(nc.flush())


async def first_request(client, subject, data=b""):
    """A request that retries while the server does not have the responder's subscription
    yet (nats-py's flush() can write its PING ahead of a pending SUB)."""
    for _ in range(100):
        try:
            return await w(client.request(subject, data, timeout=2))
        except nats.errors.NoRespondersError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"no responder on {subject}")


async def echo(req: Request) -> None:
    await req.respond(req.data, headers=req.headers)


async def test_module_layout_matches_nats_py():
    import rnats.micro.request as rreq
    import rnats.micro.service as rsvc

    import nats.micro.request as preq

    for mod, ref in ((micro, nats_micro), (rsvc, nats_micro_service), (rreq, preq)):
        public = {n for n in vars(ref) if not n.startswith("_") and not isinstance(getattr(ref, n), type(json))}
        # Names nats-py's module takes from elsewhere (its client classes) are not part of it.
        public -= {"Client", "Msg", "Subscription", "Event", "datetime", "timedelta", "time", "re", "json"}
        public -= {"Any", "AsyncContextManager", "Awaitable", "Callable", "Dict", "List", "Optional"}
        public -= {"Protocol", "overload", "dataclass", "field", "replace", "Enum", "annotations"}
        missing = sorted(n for n in public if not hasattr(mod, n))
        assert missing == [], f"{mod.__name__} lacks {missing}"
    for cls in ("EndpointConfig", "GroupConfig", "ServiceConfig", "EndpointStats", "EndpointInfo"):
        mine = [f.name for f in dataclasses.fields(getattr(rsvc, cls))]
        theirs = [f.name for f in dataclasses.fields(getattr(nats_micro_service, cls))]
        assert mine == theirs, cls
    for cls in ("ServicePing", "ServiceStats", "ServiceInfo"):
        mine = [f.name for f in dataclasses.fields(getattr(rsvc, cls))]
        theirs = [f.name for f in dataclasses.fields(getattr(nats_micro_service, cls))]
        assert mine == theirs, cls
    assert (ERROR_HEADER, ERROR_CODE_HEADER) == ("Nats-Service-Error", "Nats-Service-Error-Code")
    assert control_subject(ServiceVerb.PING) == "$SRV.PING"
    assert control_subject(ServiceVerb.INFO, name="a") == "$SRV.INFO.a"
    assert control_subject(ServiceVerb.STATS, name="a", id="b") == "$SRV.STATS.a.b"


BAD_SERVICE_CONFIGS = [
    {"name": "", "version": "1.0.0"},
    {"name": "a b", "version": "1.0.0"},
    {"name": "a.b", "version": "1.0.0"},
    {"name": "ok", "version": ""},
    {"name": "ok", "version": "1.0"},
    {"name": "ok", "version": "v1.0.0"},
    {"name": "ok", "version": "01.0.0"},
    {"name": "ok", "version": "1.0.0", "queue_group": "a b"},
]
BAD_ENDPOINT_CONFIGS = [
    {"name": ""},
    {"name": "a.b"},
    {"name": "ok", "subject": "a b"},
    {"name": "ok", "subject": "a.>.b"},
    {"name": "ok", "queue_group": "q q"},
]


async def test_invalid_names_raise_what_nats_py_raises():
    for kwargs in BAD_SERVICE_CONFIGS:
        with pytest.raises(ValueError) as theirs:
            await nats_micro.add_service(None, **kwargs)
        with pytest.raises(ValueError) as mine:
            await micro.add_service(None, **kwargs)
        assert str(mine.value) == str(theirs.value), kwargs
    for kwargs in BAD_ENDPOINT_CONFIGS:
        with pytest.raises(ValueError) as theirs:
            nats_micro_service.EndpointConfig(handler=echo, **kwargs)
        with pytest.raises(ValueError) as mine:
            EndpointConfig(handler=echo, **kwargs)
        assert str(mine.value) == str(theirs.value), kwargs
    # Good ones pass both.
    for version in ("1.0.0", "0.0.1-alpha.1", "2.1.3+build.5", "1.0.0-rc.1+x"):
        ServiceConfig(name="a-b_C9", version=version)
        nats_micro_service.ServiceConfig(name="a-b_C9", version=version)


async def test_add_service_endpoints_groups_respond(nc, pc, name):
    seen = []

    async def record(req: Request) -> None:
        seen.append((req.subject, req.data, req.headers))
        await req.respond(b"ok:" + req.data, headers={"X-Answer": "1"})

    svc = await w(
        micro.add_service(
            nc, name=name, version="1.0.0", description="test service", metadata={"team": "a"}, queue_group="sq"
        )
    )
    assert isinstance(svc, Service) and svc.id
    await w(svc.add_endpoint(name="plain", handler=record))
    await w(svc.add_endpoint(EndpointConfig(name="other", handler=record, subject=f"{name}.x", metadata={"m": "1"})))
    await w(svc.add_endpoint(name="own", handler=record, subject=f"{name}.own", queue_group="eq"))
    g = svc.add_group(name=name, queue_group="gq")
    await w(g.add_endpoint(name="in-group", handler=record))
    inner = g.add_group(GroupConfig(name="inner"))
    await w(inner.add_endpoint(name="deep", handler=record, subject="d"))
    g2 = svc.add_group(name=f"{name}.nq")
    await w(g2.add_endpoint(name="svcq", handler=record))
    await settled(nc)

    # Called by nats-py's client.
    m = await w(pc.request("plain", b"1", timeout=2, headers={"H": "v"}))
    assert m.data == b"ok:1" and m.headers == {"X-Answer": "1"}
    for subject in (f"{name}.x", f"{name}.own", f"{name}.in-group", f"{name}.inner.d", f"{name}.nq.svcq"):
        m = await w(pc.request(subject, b"p", timeout=2))
        assert m.data == b"ok:p", subject
    assert seen[0] == ("plain", b"1", {"H": "v"})
    assert [s for s, _, _ in seen[1:]] == [
        f"{name}.x",
        f"{name}.own",
        f"{name}.in-group",
        f"{name}.inner.d",
        f"{name}.nq.svcq",
    ]

    info = svc.info()
    assert isinstance(info, ServiceInfo)
    assert (info.name, info.id, info.version, info.description, info.metadata) == (
        name,
        svc.id,
        "1.0.0",
        "test service",
        {"team": "a"},
    )
    assert [(e.name, e.subject, e.queue_group, e.metadata) for e in info.endpoints] == [
        ("plain", "plain", "sq", None),
        ("other", f"{name}.x", "sq", {"m": "1"}),
        ("own", f"{name}.own", "eq", None),
        ("in-group", f"{name}.in-group", "gq", None),
        ("deep", f"{name}.inner.d", "gq", None),
        ("svcq", f"{name}.nq.svcq", "sq", None),
    ]
    stats = svc.stats()
    assert isinstance(stats, ServiceStats) and stats.id == svc.id and stats.metadata == {"team": "a"}
    assert [(e.name, e.num_requests, e.num_errors, e.last_error) for e in stats.endpoints] == [
        ("plain", 1, 0, None),
        ("other", 1, 0, None),
        ("own", 1, 0, None),
        ("in-group", 1, 0, None),
        ("deep", 1, 0, None),
        ("svcq", 1, 0, None),
    ]
    for e in stats.endpoints:
        assert e.processing_time > 0 and e.average_processing_time == e.processing_time
    await w(svc.stop())
    assert svc.stopped.is_set()


async def test_default_queue_group_and_defaults(nc, name):
    svc = await w(micro.add_service(nc, ServiceConfig(name=name, version="0.1.0")))
    await w(svc.add_endpoint(name=name, handler=echo))
    info = svc.info()
    assert info.description is None and info.metadata == {}
    assert [(e.subject, e.queue_group) for e in info.endpoints] == [(name, DEFAULT_QUEUE_GROUP)]
    await w(svc.stop())


async def test_respond_error_and_raising_handlers(nc, pc, name):
    async def explicit(req: Request) -> None:
        await req.respond_error("400", "bad input", data=b"details", headers={"X-Extra": "e"})

    async def numeric(req: Request) -> None:
        await req.respond_error("409", "conflict")

    async def raises_service_error(req: Request) -> None:
        raise ServiceError("503", "unavailable")

    async def raises(req: Request) -> None:
        raise RuntimeError("boom")

    svc = await w(micro.add_service(nc, name=name, version="1.0.0"))
    g = svc.add_group(name=name)
    await w(g.add_endpoint(name="explicit", handler=explicit))
    await w(g.add_endpoint(name="numeric", handler=numeric))
    await w(g.add_endpoint(name="se", handler=raises_service_error))
    await w(g.add_endpoint(name="raises", handler=raises))
    await settled(nc)

    m = await w(pc.request(f"{name}.explicit", b"", timeout=2))
    assert m.data == b"details"
    assert m.headers == {"X-Extra": "e", ERROR_HEADER: "bad input", ERROR_CODE_HEADER: "400"}
    m = await w(pc.request(f"{name}.numeric", b"", timeout=2))
    assert m.headers == {ERROR_HEADER: "conflict", ERROR_CODE_HEADER: "409"} and m.data == b""
    m = await w(pc.request(f"{name}.se", b"", timeout=2))
    assert m.headers == {ERROR_HEADER: "unavailable", ERROR_CODE_HEADER: "503"}
    m = await w(pc.request(f"{name}.raises", b"", timeout=2))
    assert m.headers == {ERROR_HEADER: "RuntimeError('boom')", ERROR_CODE_HEADER: "500"}

    by_name = {e.name: e for e in svc.stats().endpoints}
    assert by_name["numeric"].num_errors == 1 and by_name["numeric"].last_error == "409:conflict"
    # As nats-py's: a raised error's last_error is its repr (a ServiceError's is code:description).
    assert by_name["se"].num_errors == 1 and by_name["se"].last_error == "503:unavailable"
    assert by_name["raises"].num_errors == 1 and by_name["raises"].last_error == "500:RuntimeError('boom')"
    assert all(e.num_requests == 1 for e in by_name.values())

    await w(svc.reset())
    for e in svc.stats().endpoints:
        assert (e.num_requests, e.num_errors, e.processing_time, e.last_error) == (0, 0, 0, None)
    await w(svc.stop())


async def test_request_without_reply(nc, name):
    got: "asyncio.Future[Exception]" = asyncio.get_running_loop().create_future()

    async def handler(req: Request) -> None:
        try:
            await req.respond(b"x")
        except ValueError as e:
            got.set_result(e)

    svc = await w(micro.add_service(nc, name=name, version="1.0.0"))
    await w(svc.add_endpoint(name=name, handler=handler))
    await w(nc.publish(name, b"no reply"))
    assert "no reply subject" in str(await w(got))
    await w(svc.stop())


async def test_stats_handler(nc, pc, name):
    def custom(e: EndpointStats):
        assert isinstance(e, EndpointStats)
        return {"requests_seen": e.num_requests, "name": e.name}

    svc = await w(micro.add_service(nc, name=name, version="1.0.0", stats_handler=custom))
    await w(svc.add_endpoint(name=name, handler=echo))
    await settled(nc)
    await w(pc.request(name, b"", timeout=2))
    assert svc.stats().endpoints[0].data == {"requests_seen": 1, "name": name}
    m = await w(pc.request(f"$SRV.STATS.{name}", b"", timeout=2))
    assert json.loads(m.data)["endpoints"][0]["data"] == {"requests_seen": 1, "name": name}
    await w(svc.stop())


async def test_stop_drains_and_ends(nc, pc, name):
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(req: Request) -> None:
        started.set()
        await release.wait()
        await req.respond(b"late")

    svc = await w(micro.add_service(nc, name=name, version="1.0.0"))
    await w(svc.add_endpoint(name=name, handler=slow))
    await settled(nc)
    pending = asyncio.ensure_future(pc.request(name, b"", timeout=5))
    await w(started.wait())
    stopping = asyncio.ensure_future(svc.stop())
    await asyncio.sleep(0)
    release.set()
    await w(stopping)
    assert (await w(pending)).data == b"late"
    assert svc.stopped.is_set()
    await w(svc.stop())  # again: nothing
    with pytest.raises(nats.errors.NoRespondersError):
        await w(pc.request(name, b"", timeout=2))
    with pytest.raises(nats.errors.NoRespondersError):
        await w(pc.request(f"$SRV.PING.{name}", b"", timeout=2))


async def test_context_manager_and_instances_share_load(nc, pc, name):
    count = {"a": 0, "b": 0}

    def counting(key):
        async def handler(req: Request) -> None:
            count[key] += 1
            await req.respond(key.encode())

        return handler

    async with Service(nc, ServiceConfig(name=name, version="1.0.0")) as a:
        b = await w(micro.add_service(nc, name=name, version="1.0.0"))
        await w(a.add_endpoint(name=name, handler=counting("a")))
        await w(b.add_endpoint(name=name, handler=counting("b")))
        await settled(nc)
        for _ in range(40):
            await w(pc.request(name, b"", timeout=2))
        assert count["a"] + count["b"] == 40  # the queue group: each request once
        # PING on the name: both instances answer.
        inbox = pc.new_inbox()
        sub = await w(pc.subscribe(inbox))
        await w(pc.publish(f"$SRV.PING.{name}", b"", reply=inbox))
        ids = set()
        for _ in range(2):
            msg = await w(sub.next_msg(timeout=2))
            ping = ServicePing.from_dict(json.loads(msg.data))
            assert ping.name == name and ping.type == "io.nats.micro.v1.ping_response"
            ids.add(ping.id)
        assert ids == {a.id, b.id}
        await w(sub.unsubscribe())
        await w(b.stop())
    assert a.stopped.is_set()


async def test_many_in_flight_from_nats_py(nc, pc, name):
    async def double(req: Request) -> None:
        await req.respond(req.data * 2)

    svc = await w(micro.add_service(nc, name=name, version="1.0.0"))
    await w(svc.add_endpoint(name=name, handler=double))
    await settled(nc)
    answers = await w(asyncio.gather(*(pc.request(name, str(i).encode(), timeout=5) for i in range(300))), 15)
    assert [a.data for a in answers] == [str(i).encode() * 2 for i in range(300)]
    assert svc.stats().endpoints[0].num_requests == 300
    await w(svc.stop())


def _normalize(doc, svc_name):
    """An answer with its instance-specific values blanked (id, start time, the name in the
    subjects, the processing times as "some"), and nats-py's null description and endpoint
    metadata read as rnats' (and Go's) "" and {}."""
    doc = dict(doc)
    for key in ("id", "started", "name"):
        if key in doc:
            doc[key] = "*"
    if "description" in doc and doc["description"] is None:
        doc["description"] = ""
    if "endpoints" in doc:
        eps = []
        for e in doc["endpoints"]:
            e = dict(e, subject=e["subject"].replace(svc_name, "S"))
            if "metadata" in e and e["metadata"] is None:
                e["metadata"] = {}
            for key in ("processing_time", "average_processing_time"):
                if key in e:
                    e[key] = e[key] > 0
            eps.append(e)
        doc["endpoints"] = eps
    return doc


async def test_discovery_answers_match_a_nats_py_service(nc, pc, name):
    async def fail(req: Request) -> None:
        raise ServiceError("418", "teapot")

    async def define(module, client, svc_name):
        svc = await module.add_service(
            client, name=svc_name, version="2.0.1", description="same", metadata={"m": "v"}
        )
        await svc.add_endpoint(name="echo", handler=echo, subject=f"{svc_name}.echo", metadata={"e": "1"})
        grp = svc.add_group(name=svc_name, queue_group="gq")
        await grp.add_endpoint(name="fail", handler=fail)
        return svc

    theirs = await w(define(nats_micro, pc, name + "py"))
    mine = await w(define(micro, nc, name + "rs"))
    await settled(nc)
    for svc_name in (name + "py", name + "rs"):
        await first_request(pc, f"{svc_name}.echo", b"x")
        await first_request(pc, f"{svc_name}.fail", b"x")

    for verb in ("PING", "INFO", "STATS"):
        answers = {}
        for svc_name, svc in ((name + "py", theirs), (name + "rs", mine)):
            by_name = json.loads((await w(pc.request(f"$SRV.{verb}.{svc_name}", b"", timeout=2))).data)
            by_id = json.loads((await w(pc.request(f"$SRV.{verb}.{svc_name}.{svc.id}", b"", timeout=2))).data)
            assert by_name["id"] == svc.id and by_id["id"] == svc.id
            doc = _normalize(by_name, svc_name)
            answers[svc_name] = doc
        assert answers[name + "rs"] == answers[name + "py"], verb
    # The STATS answers parse with nats-py's own dataclasses, and ours read nats-py's.
    for svc_name, svc in ((name + "py", theirs), (name + "rs", mine)):
        data = json.loads((await w(pc.request(f"$SRV.STATS.{svc_name}", b"", timeout=2))).data)
        data["started"] = data["started"][:26].rstrip("Z") + "Z"
        parsed = nats_micro_service.ServiceStats.from_dict(data)
        assert parsed.endpoints[1].num_errors == 1 and parsed.endpoints[1].last_error == "418:teapot"
        ours = ServiceStats.from_dict(data)
        assert ours.endpoints[1].last_error == "418:teapot" and ours.started == parsed.started
        info = nats_micro_service.ServiceInfo.from_dict(
            json.loads((await w(pc.request(f"$SRV.INFO.{svc_name}", b"", timeout=2))).data)
        )
        assert [e.queue_group for e in info.endpoints] == ["q", "gq"]
    # The local views agree too.
    assert _normalize(mine.info().to_dict(), name + "rs") == _normalize(theirs.info().to_dict(), name + "py")
    mine_stats = _normalize(mine.stats().to_dict(), name + "rs")
    theirs_stats = _normalize(theirs.stats().to_dict(), name + "py")
    assert mine_stats == theirs_stats
    await w(theirs.stop())
    await w(mine.stop())


async def test_stats_handler_errors_and_adding_after_stop(nc, pc, name):
    def broken(e: EndpointStats):
        raise RuntimeError("stats boom")

    svc = await w(micro.add_service(nc, name=name, version="1.0.0", stats_handler=broken))
    await w(svc.add_endpoint(name=name, handler=echo))
    await settled(nc)
    # As nats-py: stats() raises what the handler raises.
    with pytest.raises(RuntimeError, match="stats boom"):
        svc.stats()
    # nats-py's STATS answer is lost (its callback raises); rnats answers with null data.
    m = await w(pc.request(f"$SRV.STATS.{name}", b"", timeout=2))
    assert json.loads(m.data)["endpoints"][0]["data"] is None
    await w(svc.stop())
    with pytest.raises(ValueError, match="stopped"):
        await w(svc.add_endpoint(name="late", handler=echo))


async def test_nats_py_program_runs_with_its_imports_changed(server):
    """nats-py's micro example, with `nats` replaced by `rnats` in the imports only."""
    import rnats as nats_mod
    from rnats.micro import add_service as add

    nc = await w(nats_mod.connect(server.url))

    async def greet(req):
        await req.respond(b"Hello, " + req.data + b"!")

    async with await w(add(nc, name="greeter", version="1.0.0", description="A greeting service")) as svc:
        group = svc.add_group(name="greet")
        await w(group.add_endpoint(name="hello", handler=greet))
        answer = await w(nc.request("greet.hello", b"world", timeout=2))
        assert answer.data == b"Hello, world!"
    await w(nc.close())


async def test_a_handler_stops_its_own_service(nc, pc, name):
    svc = await w(micro.add_service(nc, name=name, version="1.0.0"))

    async def quit_handler(req: Request) -> None:
        await req.respond(b"bye")
        await svc.stop()

    await w(svc.add_endpoint(name=name, handler=quit_handler))
    await settled(nc)
    assert (await w(pc.request(name, b"", timeout=2))).data == b"bye"
    await w(svc.stopped.wait())
    with pytest.raises(nats.errors.NoRespondersError):
        await w(pc.request(name, b"", timeout=2))
