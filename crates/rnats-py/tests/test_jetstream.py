"""JetStream (rnats.js) through the nats-py-shaped API, against a real JetStream server."""

import asyncio
import dataclasses
import datetime
import time
import uuid

import pytest

import nats
import nats.js.api
import nats.js.errors
import rnats
import rnats.js
from rnats import errors
from rnats.aio.msg import Msg
from rnats.aio.subscription import Subscription
from rnats.js import JetStreamContext, JetStreamManager, api
from rnats.js import errors as jserrors


def w(aw, timeout=5.0):
    """Every await in these tests is bounded."""
    return asyncio.wait_for(aw, timeout)


@pytest.fixture
async def nc(js_server):
    c = await w(rnats.connect(js_server.url))
    yield c
    await w(c.close())


@pytest.fixture
def name():
    """A stream name of this test's own (the server is shared)."""
    return "T" + uuid.uuid4().hex[:10].upper()


async def make_stream(js, name, **kw):
    return await w(js.add_stream(name=name, subjects=[f"{name.lower()}.>"], **kw))


async def eventually(check, timeout=3.0):
    """Polls the coroutine function `check` until it returns a true value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await w(check())
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Modules, classes, data classes


def test_modules_reexport_like_nats_py():
    assert rnats.js.api is api
    assert rnats.js.JetStreamContext is JetStreamContext
    assert rnats.js.JetStreamManager is JetStreamManager
    assert issubclass(JetStreamContext, JetStreamManager)
    assert issubclass(JetStreamContext.PushSubscription, Subscription)
    for mod in ("client", "manager", "api", "errors"):
        __import__(f"rnats.js.{mod}")


def _mro_names(cls):
    out = []
    for c in cls.__mro__:
        if c is Exception:
            break
        mod = c.__module__.replace("rnats.", "").replace("nats.", "")
        out.append(f"{mod}.{c.__name__}")
    return out


def test_error_classes_and_hierarchy_match_nats_py():
    names = [n for n, v in vars(nats.js.errors).items() if isinstance(v, type) and issubclass(v, Exception)]
    names = [n for n in names if getattr(nats.js.errors, n).__module__ == "nats.js.errors"]
    assert len(names) >= 29
    for n in names:
        ours = getattr(jserrors, n)
        assert _mro_names(ours) == _mro_names(getattr(nats.js.errors, n)), n
    # texts of default instances
    for n in ("NoStreamResponseError", "TooManyStalledMsgsError", "FetchTimeoutError", "NotFoundError", "Error"):
        assert str(getattr(jserrors, n)()) == str(getattr(nats.js.errors, n)()), n
    e = jserrors.APIError(code=404, description="x", err_code=10059)
    assert (e.code, e.err_code, e.description, e.stream, e.seq) == (404, 10059, "x", None, None)
    with pytest.raises(jserrors.NotFoundError):
        jserrors.APIError.from_error({"code": 404, "err_code": 10059, "description": "stream not found"})
    assert isinstance(jserrors.FetchTimeoutError(), errors.TimeoutError)
    assert isinstance(jserrors.FetchTimeoutError(), asyncio.TimeoutError)


API_CLASSES = [
    "PubAck", "Placement", "ExternalStream", "StreamConsumerSource", "StreamSource", "StreamSourceInfo",
    "LostStreamData", "StreamState", "RePublish", "SubjectTransform", "StreamConsumerLimits", "StreamConfig",
    "PeerInfo", "ClusterInfo", "StreamInfo", "ConsumerConfig", "SequenceInfo", "ConsumerInfo", "ConsumerPause",
    "ConsumerReset", "AccountLimits", "Tier", "APIStats", "AccountInfo", "RawStreamMsg", "KeyValueConfig",
    "StreamPurgeRequest", "ObjectStoreConfig", "ObjectLink", "ObjectMetaOptions", "ObjectMeta", "ObjectInfo",
]


def test_api_dataclasses_have_nats_py_fields_and_defaults():
    for n in API_CLASSES:
        theirs = {f.name: f.default for f in dataclasses.fields(getattr(nats.js.api, n))}
        ours = {f.name: f.default for f in dataclasses.fields(getattr(api, n))}
        assert list(ours) == list(theirs), n
        assert ours == theirs, n
    for n in ("RetentionPolicy", "StorageType", "DiscardPolicy", "StoreCompression", "PersistMode", "AckPolicy",
              "DeliverPolicy", "ReplayPolicy", "Header", "StatusCode"):
        assert {m.name: m.value for m in getattr(api, n)} == {m.name: m.value for m in getattr(nats.js.api, n)}, n
    assert api.AckPolicy.EXPLICIT == "explicit"


def test_api_conversions_agree_with_nats_py():
    t = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)
    kw = dict(durable_name="d", ack_wait=1.5, backoff=[1.0, 2.5], opt_start_time=t, idle_heartbeat=None,
              deliver_policy=api.DeliverPolicy.BY_START_TIME)
    ours = api.ConsumerConfig(**kw).as_dict()
    theirs = nats.js.api.ConsumerConfig(**kw).as_dict()
    assert ours == {k: (v.value if hasattr(v, "value") else v) for k, v in theirs.items()}
    sc = dict(name="S", subjects=["a"], max_age=2.0, duplicate_window=3.5, retention=api.RetentionPolicy.WORK_QUEUE)
    assert api.StreamConfig(**sc).as_dict() == {
        k: (v.value if hasattr(v, "value") else v) for k, v in nats.js.api.StreamConfig(**sc).as_dict().items()
    }
    wire = {"config": {"name": "S", "max_age": 2_000_000_000, "subjects": ["a"], "retention": "workqueue"},
            "state": {"messages": 1, "bytes": 2, "first_seq": 1, "last_seq": 1, "consumer_count": 0},
            "created": "2026-01-02T03:04:05.123456789Z", "unknown_field": 1}
    si = api.StreamInfo.from_response(wire)
    assert si.config.max_age == 2.0 and si.config.retention == api.RetentionPolicy.WORK_QUEUE
    assert si.created == t
    assert si.config.evolve(max_age=3.0).max_age == 3.0 and si.config.max_age == 2.0
    ack = api.PubAck.from_response({"stream": "S", "seq": 3, "batch": "b", "count": 2})
    assert (ack.batch_id, ack.batch_size) == ("b", 2)


def test_msg_metadata_parse_matches_nats_py():
    for reply in ("$JS.ACK.ORDERS.proc.2.15.9.1700000000123456789.4",
                  "$JS.ACK.hub.ACCHASH.ORDERS.proc.1.3.3.1700000000000000000.0.xyz",
                  "$JS.ACK._.ACCHASH.ORDERS.proc.1.3.3.1700000000000000000.0.xyz"):
        ours = Msg(None, reply=reply).metadata
        theirs = nats.aio.msg.Msg(None, reply=reply).metadata
        assert dataclasses.asdict(ours) == dataclasses.asdict(theirs), reply
    with pytest.raises(errors.NotJSMessageError):
        Msg(None, reply="_INBOX.x").metadata
    with pytest.raises(errors.NotJSMessageError):
        Msg(None).metadata


# ---------------------------------------------------------------------------------------------
# Manager


async def test_manager_streams(nc, name):
    jsm = nc.jsm()
    assert isinstance(jsm, JetStreamManager) and not isinstance(jsm, JetStreamContext)
    before = await w(jsm.account_info())
    assert isinstance(before, api.AccountInfo) and before.limits.max_streams == -1
    cfg = api.StreamConfig(name=name, subjects=[f"{name.lower()}.>"], storage=api.StorageType.MEMORY)
    info = await w(jsm.add_stream(cfg, max_msgs=100, max_age=60))
    assert isinstance(info, api.StreamInfo)
    assert info.config.name == name and info.config.max_msgs == 100 and info.config.max_age == 60.0
    assert info.config.storage == api.StorageType.MEMORY and isinstance(info.created, datetime.datetime)
    assert (await w(jsm.account_info())).streams >= 1
    info = await w(jsm.update_stream(info.config.evolve(max_msgs=50, description="d")))
    assert info.config.max_msgs == 50 and info.config.description == "d"
    assert await w(jsm.find_stream_name_by_subject(f"{name.lower()}.x")) == name
    js = nc.jetstream()
    for i in range(6):
        await w(js.publish(f"{name.lower()}.{i % 3}", b"m"))
    info = await w(jsm.stream_info(name, subjects_filter=">"))
    assert info.state.messages == 6 and info.state.subjects == {f"{name.lower()}.{i}": 2 for i in range(3)}
    assert name in [s.config.name for s in await w(jsm.streams_info())]
    assert name in [s.config.name for s in await w(jsm.streams_info_iterator())]
    assert await w(jsm.purge_stream(name, subject=f"{name.lower()}.0")) is True
    assert (await w(jsm.stream_info(name))).state.messages == 4
    assert await w(jsm.purge_stream(name, keep=1)) is True
    assert (await w(jsm.stream_info(name))).state.messages == 1
    assert await w(jsm.purge_stream(name)) is True
    assert (await w(jsm.stream_info(name))).state.messages == 0
    assert await w(jsm.delete_stream(name)) is True
    with pytest.raises(jserrors.NotFoundError):
        await w(jsm.stream_info(name))


async def test_manager_consumers(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    ci = await w(js.add_consumer(name, durable_name="dur", ack_wait=3.5, max_deliver=4,
                                 filter_subject=f"{name.lower()}.a"))
    assert isinstance(ci, api.ConsumerInfo)
    assert (ci.name, ci.stream_name, ci.config.ack_wait, ci.config.max_deliver) == ("dur", name, 3.5, 4)
    assert ci.config.ack_policy == api.AckPolicy.EXPLICIT
    ci2 = await w(js.add_consumer(name, api.ConsumerConfig(name="eph", deliver_policy=api.DeliverPolicy.NEW)))
    assert ci2.config.deliver_policy == api.DeliverPolicy.NEW
    assert (await w(js.consumer_info(name, "dur"))).config.filter_subject == f"{name.lower()}.a"
    assert sorted(c.name for c in await w(js.consumers_info(name))) == ["dur", "eph"]
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    paused = await w(js.pause_consumer(name, "dur", api._format_time(until)))
    assert isinstance(paused, api.ConsumerPause) and paused.paused
    assert (await w(js.consumer_info(name, "dur"))).paused is True
    assert (await w(js.resume_consumer(name, "dur"))).paused is False
    with pytest.raises(ValueError):
        await js.pause_consumer(name, "dur", "tomorrow")
    assert await w(js.delete_consumer(name, "eph")) is True
    with pytest.raises(jserrors.NotFoundError) as e:
        await w(js.consumer_info(name, "eph"))
    assert (e.value.code, e.value.err_code) == (404, 10014)


async def test_get_and_delete_msg(nc, name):
    js = nc.jetstream()
    await make_stream(js, name, allow_direct=True)
    s = name.lower()
    await w(js.publish(f"{s}.a", b"one", headers={"X-K": "v"}))
    await w(js.publish(f"{s}.b", b"two"))
    await w(js.publish(f"{s}.a", b"three"))
    m = await w(js.get_msg(name, seq=1))
    assert (m.subject, m.seq, m.data, m.headers["X-K"], m.stream) == (f"{s}.a", 1, b"one", "v", name)
    assert isinstance(m.time, datetime.datetime) and m.sequence == 1
    assert (await w(js.get_last_msg(name, f"{s}.a"))).data == b"three"
    assert (await w(js.get_msg(name, seq=2, subject=f"{s}.a", next=True))).seq == 3
    for direct in (False, True):
        assert (await w(js.get_msg(name, seq=2, direct=direct))).data == b"two"
        assert (await w(js.get_last_msg(name, f"{s}.b", direct=direct))).seq == 2
    assert await w(js.delete_msg(name, 2)) is True
    info = await w(js.stream_info(name, deleted_details=True))
    assert info.state.deleted == [2] and info.state.num_deleted == 1
    with pytest.raises(jserrors.NotFoundError):
        await w(js.get_msg(name, seq=2))


# ---------------------------------------------------------------------------------------------
# Publish


async def test_publish_acks_dedup_and_expectations(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.p"
    ack = await w(js.publish(subj, b"a", headers={api.Header.MSG_ID: "id-1"}))
    assert isinstance(ack, api.PubAck) and (ack.stream, ack.seq, ack.duplicate) == (name, 1, None)
    dup = await w(js.publish(subj, b"a", headers={"Nats-Msg-Id": "id-1"}))
    assert (dup.seq, dup.duplicate) == (1, True)
    assert (await w(js.publish(subj, b"b", stream=name))).seq == 2
    with pytest.raises(jserrors.BadRequestError) as e:
        await w(js.publish(subj, b"c", stream="OTHER"))
    assert e.value.err_code == 10060
    with pytest.raises(jserrors.APIError) as e:
        await w(js.publish(subj, b"c", headers={"Nats-Expected-Last-Sequence": "1"}))
    assert e.value.err_code == 10071
    assert (await w(js.publish(subj, b"c", headers={"Nats-Expected-Last-Sequence": "2"}))).seq == 3


async def test_publish_without_stream(nc):
    js = nc.jetstream()
    start = time.monotonic()
    with pytest.raises(jserrors.NoStreamResponseError):
        await w(js.publish("no.stream.here", b"x"))
    assert time.monotonic() - start < 1.0
    fut = await w(js.publish_async("no.stream.here", b"x"))
    with pytest.raises(jserrors.NoStreamResponseError):
        await w(fut)
    assert nc.is_connected


async def test_publish_async_pipelined(nc, name):
    js = nc.jetstream(publish_async_max_pending=100)
    await make_stream(js, name)
    futs = [await w(js.publish_async(f"{name.lower()}.x", b"%d" % i)) for i in range(1000)]
    assert js.publish_async_pending() <= 100
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0
    acks = [f.result() for f in futs]
    assert [a.seq for a in acks] == list(range(1, 1001))
    assert all(isinstance(a, api.PubAck) and a.stream == name for a in acks)
    fut = await w(js.publish_async(f"{name.lower()}.x", b"h", stream="WRONG"))
    with pytest.raises(jserrors.BadRequestError):
        await w(fut)


async def test_publish_async_stall(nc, name):
    js = nc.jetstream(publish_async_max_pending=1, timeout=0.5)
    # Someone listens on the subject but never answers: the ack stays outstanding.
    silent = await w(nc.subscribe(f"{name.lower()}.silent"))
    first = await w(js.publish_async(f"{name.lower()}.silent", b"x"))
    assert js.publish_async_pending() == 1
    with pytest.raises(jserrors.TooManyStalledMsgsError):
        await w(js.publish_async(f"{name.lower()}.silent", b"y", wait_stall=0.05))
    with pytest.raises(errors.TimeoutError):
        await w(first)
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0
    await w(silent.unsubscribe())


# ---------------------------------------------------------------------------------------------
# Pull


async def test_pull_fetch_ack_and_consumer_info(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.pull"
    for i in range(10):
        await w(js.publish(subj, b"m%d" % i, headers={"N": str(i)}))
    psub = await w(js.pull_subscribe(subj, "worker"))
    assert isinstance(psub, JetStreamContext.PullSubscription)
    msgs = await w(psub.fetch(4, timeout=2))
    assert [m.data for m in msgs] == [b"m0", b"m1", b"m2", b"m3"]
    assert isinstance(msgs[0], Msg) and msgs[0].headers["N"] == "0"
    md = msgs[1].metadata
    assert (md.stream, md.consumer, md.sequence.stream, md.sequence.consumer) == (name, "worker", 2, 2)
    assert (md.num_delivered, md.num_pending, md.domain) == (1, 8, None)
    assert isinstance(md.timestamp, datetime.datetime) and md.timestamp.tzinfo is not None
    for m in msgs:
        await w(m.ack())
        assert m.is_acked
    with pytest.raises(errors.MsgAlreadyAckdError):
        await w(msgs[0].ack())

    async def floor():
        ci = await psub.consumer_info()
        return ci.ack_floor.stream_seq == 4 and ci

    ci = await eventually(floor)
    assert ci and ci.num_pending == 6 and ci.num_ack_pending == 0
    rest = await w(psub.fetch(100, timeout=1))
    assert len(rest) == 6 and psub.delivered == 10
    await w(rest[-1].ack_sync())
    one = await w(js.publish(subj, b"x"))
    (m,) = await w(psub.fetch(timeout=1))
    assert m.metadata.sequence.stream == one.seq
    # a bound second subscription to the same durable
    psub2 = await w(js.pull_subscribe_bind("worker", name))
    assert (await w(psub2.consumer_info())).name == "worker"
    await w(psub.unsubscribe())
    with pytest.raises(errors.BadSubscriptionError):
        await w(psub.unsubscribe())


async def test_fetch_timeout_and_bad_args(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    psub = await w(js.pull_subscribe(f"{name.lower()}.t", "d"))
    start = time.monotonic()
    with pytest.raises(errors.TimeoutError):
        await w(psub.fetch(1, timeout=0.3))
    with pytest.raises(asyncio.TimeoutError):
        await w(psub.fetch(10, timeout=0.3))
    assert 0.5 <= time.monotonic() - start < 2.5
    with pytest.raises(jserrors.FetchTimeoutError):  # heartbeats came, messages did not
        await w(psub.fetch(2, timeout=0.6, heartbeat=0.1))
    with pytest.raises(ValueError):
        await psub.fetch(0)
    with pytest.raises(ValueError):
        await psub.fetch(1, timeout=0)
    with pytest.raises(TypeError):
        await psub.fetch("3")
    with pytest.raises(ValueError):
        await js.add_stream(name="bad.name", subjects=["x"])
    with pytest.raises(ValueError):
        await js.add_stream(name="OK", subjects=["x"], max_msgs="lots")
    with pytest.raises(TypeError):
        await js.publish(f"{name.lower()}.t", "not bytes")
    with pytest.raises(errors.BadSubjectError):
        await js.publish("bad subject", b"x")
    with pytest.raises(ValueError):
        await js.consumer_info(name, "a.b")
    # the connection is still up and working
    assert nc.is_connected
    await w(js.publish(f"{name.lower()}.t", b"ok"))
    assert [m.data for m in await w(psub.fetch(5, timeout=1))] == [b"ok"]


async def test_nak_with_delay_redelivers(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.n"
    await w(js.publish(subj, b"again"))
    psub = await w(js.pull_subscribe(subj, "n"))
    (m,) = await w(psub.fetch(1, timeout=1))
    start = time.monotonic()
    await w(m.nak(delay=0.5))
    assert m.is_acked
    (m2,) = await w(psub.fetch(1, timeout=3))
    assert time.monotonic() - start >= 0.4
    assert m2.data == b"again" and m2.metadata.num_delivered == 2
    await w(m2.nak())
    (m3,) = await w(psub.fetch(1, timeout=2))
    assert m3.metadata.num_delivered == 3
    await w(m3.ack())


async def test_term_and_in_progress(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.t"
    await w(js.add_consumer(name, durable_name="t", ack_wait=1.0, filter_subject=subj))
    psub = await w(js.pull_subscribe_bind("t", name))
    await w(js.publish(subj, b"a"))
    (m,) = await w(psub.fetch(1, timeout=1))
    await w(m.term())
    with pytest.raises(errors.MsgAlreadyAckdError):
        await w(m.term())
    with pytest.raises(errors.TimeoutError):
        await w(psub.fetch(1, timeout=1.5))  # terminated: never redelivered
    await w(js.publish(subj, b"b"))
    (m,) = await w(psub.fetch(1, timeout=1))
    for _ in range(4):  # 1.6 s of work on a 1 s ack wait
        await asyncio.sleep(0.4)
        await w(m.in_progress())
    assert not m.is_acked
    ci = await w(psub.consumer_info())
    assert ci.num_redelivered == 0 and ci.num_ack_pending == 1
    await w(m.ack())


# ---------------------------------------------------------------------------------------------
# Push


async def test_push_callback_auto_acks(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.cb"
    got = []
    done = asyncio.Event()

    async def cb(msg):
        got.append(msg)
        if len(got) == 5:
            done.set()

    sub = await w(js.subscribe(subj, cb=cb, durable="pusher", idle_heartbeat=1.0))
    assert isinstance(sub, JetStreamContext.PushSubscription) and isinstance(sub, Subscription)
    for i in range(5):
        await w(js.publish(subj, b"%d" % i))
    await w(done.wait())
    assert [m.data for m in got] == [b"0", b"1", b"2", b"3", b"4"]

    async def all_acked():
        ci = await sub.consumer_info()
        return ci.num_ack_pending == 0 and ci.ack_floor.stream_seq == 5 and ci

    ci = await eventually(all_acked)
    assert ci and ci.name == "pusher" and not ci.config.flow_control and ci.push_bound
    assert got[0].is_acked
    await w(sub.unsubscribe())


async def test_push_manual_ack_next_msg_and_bind(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.m"
    for i in range(3):
        await w(js.publish(subj, b"%d" % i))
    sub = await w(js.subscribe(subj, durable="manual", manual_ack=True,
                               deliver_policy=api.DeliverPolicy.ALL))
    m = await w(sub.next_msg(timeout=2))
    assert m.data == b"0" and m.metadata.consumer == "manual"
    await w(m.ack())
    msgs = []
    async for m in sub.messages:
        msgs.append(m)
        await m.ack()
        if len(msgs) == 2:
            break
    assert [m.data for m in msgs] == [b"1", b"2"] and sub.delivered == 3
    with pytest.raises(errors.TimeoutError):
        await sub.next_msg(timeout=0.2)
    await w(sub.unsubscribe())
    # bound again to the same durable once the first subscription is gone
    ci = await w(js.consumer_info(name, "manual"))
    sub2 = await w(js.subscribe_bind(name, ci.config, "manual", manual_ack=True))
    await w(js.publish(subj, b"3"))
    m = await w(sub2.next_msg(timeout=2))
    assert m.data == b"3"
    await w(m.ack_sync())
    await w(sub2.unsubscribe())


async def test_ordered_consumer_recovers_across_a_gap(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.o"
    for i in range(5):
        await w(js.publish(subj, b"%d" % i))
    sub = await w(js.subscribe(subj, ordered_consumer=True, idle_heartbeat=0.5))
    got = [await w(sub.next_msg(timeout=2)) for _ in range(5)]
    assert [m.data for m in got] == [b"%d" % i for i in range(5)]
    assert got[-1].metadata.sequence.stream == 5
    first = await w(sub.consumer_info())
    assert first.config.ack_policy == api.AckPolicy.NONE and first.config.mem_storage
    assert [c.name for c in await w(js.consumers_info(name))] == [first.name]
    # Delete the consumer under it: the ordered consumer recreates one from stream seq 6.
    await w(js.delete_consumer(name, first.name))
    for i in range(5, 10):
        await w(js.publish(subj, b"%d" % i))
    more = [await w(sub.next_msg(timeout=5), 6) for _ in range(5)]
    assert [m.data for m in more] == [b"%d" % i for i in range(5, 10)]
    assert [m.metadata.sequence.stream for m in more] == list(range(6, 11))
    second = await w(sub.consumer_info())
    assert second.name != first.name and second.name == more[-1].metadata.consumer
    await w(sub.unsubscribe())


# ---------------------------------------------------------------------------------------------
# Errors


async def test_api_errors_have_codes(nc, name):
    js = nc.jetstream()
    with pytest.raises(jserrors.NotFoundError) as e:
        await w(js.stream_info(name))
    assert (e.value.code, e.value.err_code) == (404, 10059) and "stream not found" in e.value.description
    assert isinstance(e.value, jserrors.APIError) and isinstance(e.value, errors.Error)
    with pytest.raises(jserrors.NotFoundError):
        await w(js.delete_stream(name))
    with pytest.raises(jserrors.NotFoundError):
        await w(js.find_stream_name_by_subject(f"{name.lower()}.nothing"))
    await make_stream(js, name)
    with pytest.raises(jserrors.BadRequestError) as e:  # overlapping subjects
        await w(js.add_stream(name=name + "X", subjects=[f"{name.lower()}.>"]))
    assert e.value.code == 400 and e.value.err_code == 10065
    with pytest.raises(jserrors.BadRequestError):  # a stream's name cannot change
        await w(js.add_stream(name=name, subjects=["other.subject"], storage=api.StorageType.MEMORY))


async def test_jetstream_unavailable(server):
    nc = await w(rnats.connect(server.url))
    try:
        js = nc.jetstream(timeout=1)
        with pytest.raises(jserrors.ServiceUnavailableError):
            await w(js.account_info())
        with pytest.raises(jserrors.NoStreamResponseError):
            await w(js.publish("foo", b"x"))
    finally:
        await w(nc.close())


# ---------------------------------------------------------------------------------------------
# Interop with nats-py


async def test_interop_with_nats_py(nc, js_server, name):
    pnc = await w(nats.connect(js_server.url))
    try:
        pjs = pnc.jetstream()
        await w(pjs.add_stream(name=name, subjects=[f"{name.lower()}.>"]))
        subj = f"{name.lower()}.i"
        for i in range(20):
            await w(pjs.publish(subj, b"%d" % i))
        await w(pjs.add_consumer(name, durable_name="shared", ack_policy="explicit"))
        js = nc.jetstream()
        psub = await w(js.pull_subscribe_bind("shared", name))
        got = []
        while len(got) < 20:
            batch = await w(psub.fetch(8, timeout=1))
            for m in batch:
                await m.ack()
            got.extend(batch)
        assert [m.data for m in got] == [b"%d" % i for i in range(20)]
        await w(nc.flush())

        async def agreed():
            theirs = await pjs.consumer_info(name, "shared")
            return theirs.ack_floor.stream_seq == 20 and theirs

        theirs = await eventually(agreed)
        assert theirs and theirs.num_ack_pending == 0 and theirs.num_pending == 0
        ours = await w(js.consumer_info(name, "shared"))
        assert (ours.ack_floor.stream_seq, ours.delivered.stream_seq) == (
            theirs.ack_floor.stream_seq, theirs.delivered.stream_seq)
        # rnats publishes, nats-py fetches
        ack = await w(js.publish(subj, b"from rnats"))
        ppsub = await w(pjs.pull_subscribe_bind("shared", name))
        (pm,) = await w(ppsub.fetch(1, timeout=2))
        assert pm.data == b"from rnats" and pm.metadata.sequence.stream == ack.seq
        await w(pm.ack())
        theirs_info = await w(pjs.stream_info(name))
        ours_info = await w(js.stream_info(name))
        assert (ours_info.state.messages, ours_info.state.last_seq) == (
            theirs_info.state.messages, theirs_info.state.last_seq)
        assert ours_info.config.name == theirs_info.config.name
    finally:
        await w(pnc.close())


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k not in ("metadata", "subjects"):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


async def test_infos_read_the_same_as_nats_py(nc, js_server, name):
    pnc = await w(nats.connect(js_server.url))
    try:
        pjs, js = pnc.jetstream(), nc.jetstream()
        await w(pjs.add_stream(name=name, subjects=[f"{name.lower()}.>"], max_msgs=10, max_age=30))
        await w(pjs.publish(f"{name.lower()}.a", b"x"))
        await w(pjs.add_consumer(name, durable_name="pull1", ack_wait=2, max_deliver=3))
        await w(pjs.add_consumer(name, durable_name="push1", deliver_subject="dlv." + name, idle_heartbeat=5,
                                 flow_control=True, ack_policy="none"))
        moving = ("last_active", "created", "ts", "leader_since")
        for method, args in (("stream_info", (name,)), ("consumer_info", (name, "pull1")),
                             ("consumer_info", (name, "push1"))):
            theirs = _flat(dataclasses.asdict(await w(getattr(pjs, method)(*args))))
            ours = _flat(dataclasses.asdict(await w(getattr(js, method)(*args))))
            diff = {k: (theirs.get(k), ours.get(k)) for k in set(theirs) | set(ours)
                    if theirs.get(k) != ours.get(k) and not k.endswith(moving)}
            assert diff == {}, (method, args)
    finally:
        await w(pnc.close())


# ---------------------------------------------------------------------------------------------
# A nats-py JetStream program, run with only its imports changed

JS_PROGRAM = '''
import asyncio
import sys

import nats
from nats.errors import TimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType
from nats.js.errors import NoStreamResponseError, NotFoundError


async def main():
    url, name = sys.argv[1], sys.argv[2]
    subj = name.lower()
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info(name)
    except NotFoundError as e:
        print("not found:", e.code, e.err_code)
    info = await js.add_stream(name=name, subjects=[subj + ".>"], storage=StorageType.MEMORY, max_msgs=1000)
    print("stream:", info.config.name, info.config.subjects, info.config.storage, info.config.max_msgs)
    for i in range(5):
        ack = await js.publish(subj + ".orders", f"order {i}".encode(), headers={"Nats-Msg-Id": str(i)})
        print("ack:", ack.stream, ack.seq, ack.duplicate)
    dup = await js.publish(subj + ".orders", b"again", headers={"Nats-Msg-Id": "0"})
    print("dup:", dup.seq, dup.duplicate)
    try:
        await js.publish("nobody.stores.this", b"x")
    except NoStreamResponseError:
        print("no stream")
    futs = [await js.publish_async(subj + ".bulk", b"bulk %d" % i) for i in range(50)]
    await js.publish_async_completed()
    print("async:", [f.result().seq for f in futs][:3], futs[-1].result().seq)

    psub = await js.pull_subscribe(subj + ".orders", "worker")
    msgs = await psub.fetch(3, timeout=2)
    for msg in msgs:
        md = msg.metadata
        print("pulled:", msg.data, md.sequence.stream, md.sequence.consumer, md.num_pending, md.num_delivered)
        await msg.ack()
    msgs = await psub.fetch(10, timeout=2)
    print("rest:", [m.data for m in msgs])
    await msgs[0].nak()
    for m in msgs[1:]:
        await m.ack_sync()
    (m,) = await psub.fetch(1, timeout=2)
    print("redelivered:", m.data, m.metadata.num_delivered)
    await m.term()
    try:
        await psub.fetch(1, timeout=0.5)
    except TimeoutError:
        print("fetch timed out")
    ci = await psub.consumer_info()
    print("consumer:", ci.name, ci.num_pending, ci.config.ack_policy)

    done = asyncio.Event()
    seen = []

    async def cb(msg):
        seen.append(msg.data)
        if len(seen) == 50:
            done.set()

    sub = await js.subscribe(subj + ".bulk", cb=cb, durable="push", deliver_policy=DeliverPolicy.ALL)
    await asyncio.wait_for(done.wait(), 5)
    print("pushed:", len(seen), seen[0], seen[-1])
    await sub.unsubscribe()

    osub = await js.subscribe(subj + ".orders", ordered_consumer=True)
    print("ordered:", [(await osub.next_msg(2)).data for _ in range(5)])

    got = await js.get_msg(name, seq=2)
    print("get_msg:", got.subject == subj + ".orders", got.seq, got.data)
    last = await js.get_last_msg(name, subj + ".bulk")
    print("last:", last.seq, last.data)
    await js.delete_consumer(name, "worker")
    print("purged:", await js.purge_stream(name))
    print("state:", (await js.stream_info(name)).state.messages)
    print("deleted:", await js.delete_stream(name))
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
'''


def _run(program: str, *args: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_nats_py_jetstream_program_runs_with_only_the_imports_changed(js_server, name):
    original = _run(JS_PROGRAM, js_server.url, name)  # nats-py 2.16.0 itself
    changed = JS_PROGRAM.replace("import nats\n", "import rnats as nats\n").replace("from nats.", "from rnats.")
    assert "from nats" not in changed and "import nats\n" not in changed
    ported = _run(changed, js_server.url, name)
    assert ported == original
    assert "redelivered: b'order 3' 2" in ported and "pushed: 50" in ported


async def test_close_with_outstanding_acks_and_push_subscription(js_server, name):
    nc = await w(rnats.connect(js_server.url))
    js = nc.jetstream()
    await make_stream(js, name)
    got = []

    async def cb(msg):
        got.append(msg.data)

    sub = await w(js.subscribe(f"{name.lower()}.c", cb=cb))
    futs = [await w(js.publish_async(f"{name.lower()}.c", b"%d" % i)) for i in range(200)]
    await w(nc.close())
    # Every future is settled: an ack, or the connection's end.
    done, pending = await w(asyncio.wait(futs, timeout=4))
    assert not pending
    for f in done:
        assert f.exception() is None or isinstance(f.exception(), errors.Error)
    with pytest.raises(errors.ConnectionClosedError):
        await sub.unsubscribe()
    assert nc.is_closed


async def test_push_flow_control_and_queue_group(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.fc"
    for i in range(300):
        await js.publish_async(subj, b"x" * 1024)
    await w(js.publish_async_completed())
    # Flow control and heartbeats are answered by rnats; all 300 arrive.
    sub = await w(js.subscribe(subj, flow_control=True, idle_heartbeat=0.5, manual_ack=True))
    ci = await w(sub.consumer_info())
    assert ci.config.flow_control is True and ci.config.idle_heartbeat == 0.5
    n = 0
    while n < 300:
        m = await w(sub.next_msg(timeout=3))
        await m.ack()
        n += 1
    await w(sub.unsubscribe())
    # Two members of one queue group share the consumer "workers".
    counts = [0, 0]
    done = asyncio.Event()

    def counter(i):
        async def cb(msg):
            counts[i] += 1
            if sum(counts) == 300:
                done.set()
        return cb

    q1 = await w(js.subscribe(subj, queue="workers", cb=counter(0)))
    q2 = await w(js.subscribe(subj, queue="workers", cb=counter(1)))
    await w(done.wait())
    assert sum(counts) == 300
    info = await w(q1.consumer_info())
    assert info.name == "workers" and info.config.deliver_group == "workers"
    with pytest.raises(jserrors.Error):
        await js.subscribe(subj, queue="workers", durable="other")
    await w(q1.unsubscribe())
    await w(q2.unsubscribe())


async def test_publish_msg_ttl(nc, name):
    js = nc.jetstream()
    await make_stream(js, name, allow_msg_ttl=True)
    subj = f"{name.lower()}.ttl"
    ack = await w(js.publish(subj, b"short-lived", msg_ttl=60))
    m = await w(js.get_msg(name, seq=ack.seq))
    assert m.headers["Nats-TTL"] in ("60", "1m0s", "60s")
    fut = await w(js.publish_async(subj, b"also", msg_ttl=60))
    assert (await w(fut)).seq == ack.seq + 1


async def test_fetch_without_timeout_waits_for_a_message(nc, name):
    js = nc.jetstream()
    await make_stream(js, name)
    subj = f"{name.lower()}.wait"
    psub = await w(js.pull_subscribe(subj, "waiter"))
    fetching = asyncio.ensure_future(psub.fetch(5, timeout=None))
    await asyncio.sleep(0.3)
    assert not fetching.done()
    await w(js.publish(subj, b"late"))
    msgs = await w(fetching, 3)
    assert [m.data for m in msgs] == [b"late"]
