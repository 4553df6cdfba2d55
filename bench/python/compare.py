"""rnats (Python package) vs nats-py 2.16, side by side against one local nats-server.

    .venv/bin/python bench/python/compare.py [--runs 5] [--rows pub,pubsub,...] [--scale 1.0]

Starts a nats-server (JetStream on, a temp store; the binary from NATS_SERVER_BIN,
<repo>/.tools/bin or PATH) on a free loopback port, and the raw-TCP echo responder of the
Rust bench (`bench/target/release/bench echo`, built by `cargo build --release --manifest-path
bench/Cargo.toml`) as the fixed far end of the request rows (started only when one of them
runs), so both clients face the same responder. Every run of every row is a fresh Python
process, the two clients alternating; the table gives the median of the runs and the ratio rnats / nats-py (for latency rows lower
is better, for the others higher). `cpu µs/msg` is the client process's CPU time (all its
threads, tokio's included) over the measured part, per message.

Rows (16-byte payloads):
  pub       `await nc.publish` in a loop, then flush
  pubsub    one client publishes, a callback subscription on a second client counts
  req       sequential `await nc.request`, p50 latency (answered by the echo responder)
  req64     64 coroutines each doing sequential requests: requests per second
  jspubseq  sequential `await js.publish` (each waits for its ack)
  jspub     `js.publish_async` (at most 4,000 in flight), then `publish_async_completed`
  jsfetch   `fetch(batch=500)` + `ack` from a pull consumer over a pre-filled stream
  kvput     sequential `await kv.put` (16-byte values, 1,000 keys in turn)
  kvget     sequential `await kv.get` over 1,000 pre-put keys
  svc64     a `micro` service (one endpoint answering its payload) on one connection, 64
            coroutines each doing sequential requests to it on a second connection of the
            same client, in the same process: requests per second (both sides' CPU)

  osput     Object Store `put` of a 100 MiB object from a file opened "rb" (memory storage,
            after a 1 MiB warm-up put and get)
  osget     Object Store `get` of a 100 MiB object into a file opened "wb" (`writeinto`)

The Object Store rows also give the worker process' peak resident memory (ru_maxrss), and
need no echo responder.
"""

import argparse
import asyncio
import importlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENTS = ("nats", "rnats")  # module names: nats-py, rnats
ROWS = {
    # name: (count at scale 1, unit, higher_is_better)
    "pub": (400_000, "msg/s", True),
    "pubsub": (200_000, "msg/s", True),
    "req": (5_000, "µs p50", False),
    "req64": (50_000, "req/s", True),
    "jspubseq": (10_000, "msg/s", True),
    "jspub": (100_000, "msg/s", True),
    "jsfetch": (100_000, "msg/s", True),
    "kvput": (20_000, "op/s", True),
    "kvget": (20_000, "op/s", True),
    "svc64": (50_000, "req/s", True),
    "osput": (100, "MiB/s", True),  # count: the object's size in MiB
    "osget": (100, "MiB/s", True),
}
# Rows answered by the echo responder (the others run without it).
ECHO_ROWS = ("req", "req64")
# Rows whose worker's peak memory is printed as a row of its own.
MEMORY_ROWS = ("osput", "osget")
PAYLOAD = b"x" * 16
ECHO_SUBJECT = "bench.echo"


# ----------------------------------------------------------------------------- worker rows


async def row_pub(mod, url, n):
    nc = await mod.connect(url)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await nc.publish("bench.pub", PAYLOAD)
    await nc.flush(timeout=120)
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await nc.close()
    return out


async def row_pubsub(mod, url, n):
    sub_nc = await mod.connect(url)
    pub_nc = await mod.connect(url)
    done = asyncio.Event()
    count = 0

    async def cb(msg):
        nonlocal count
        count += 1
        if count == n:
            done.set()

    await sub_nc.subscribe("bench.ps", cb=cb, pending_msgs_limit=n + 1, pending_bytes_limit=1 << 30)
    await sub_nc.flush()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await pub_nc.publish("bench.ps", PAYLOAD)
    await pub_nc.flush(timeout=120)
    await asyncio.wait_for(done.wait(), 300)
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await pub_nc.close()
    await sub_nc.close()
    return out


async def row_req(mod, url, n):
    nc = await mod.connect(url)
    for _ in range(200):  # warm-up
        await nc.request(ECHO_SUBJECT, PAYLOAD, timeout=5)
    lat = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        await nc.request(ECHO_SUBJECT, PAYLOAD, timeout=5)
        lat.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    await nc.close()
    return statistics.median(lat) * 1e6, cpu


async def row_req64(mod, url, n, width=64):
    nc = await mod.connect(url)
    per = max(1, n // width)

    async def worker(k):
        for _ in range(k):
            await nc.request(ECHO_SUBJECT, PAYLOAD, timeout=10)

    await asyncio.gather(*[worker(20) for _ in range(width)])  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker(per) for _ in range(width)])
    out = per * width / (time.perf_counter() - start), time.process_time() - cpu
    await nc.close()
    return out


async def _stream(mod, nc, name, subject):
    js = nc.jetstream()
    try:
        await js.delete_stream(name)
    except Exception:
        pass
    await js.add_stream(name=name, subjects=[subject], storage="memory")
    return js


async def row_jspubseq(mod, url, n):
    nc = await mod.connect(url)
    js = await _stream(mod, nc, "BENCHSEQ", "bench.js.seq")
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await js.publish("bench.js.seq", PAYLOAD)
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await js.delete_stream("BENCHSEQ")
    await nc.close()
    return out


async def row_jspub(mod, url, n):
    nc = await mod.connect(url)
    js = await _stream(mod, nc, "BENCHPUB", "bench.js.pub")
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await js.publish_async("bench.js.pub", PAYLOAD)
    await asyncio.wait_for(js.publish_async_completed(), 300)
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    info = await js.stream_info("BENCHPUB")
    if info.state.messages != n:
        raise RuntimeError(f"the stream holds {info.state.messages} messages, not {n}")
    await js.delete_stream("BENCHPUB")
    await nc.close()
    return out


async def row_jsfetch(mod, url, n):
    nc = await mod.connect(url)
    js = await _stream(mod, nc, "BENCHFETCH", "bench.js.fetch")
    for _ in range(n):  # fill, not measured
        await js.publish_async("bench.js.fetch", PAYLOAD)
    await asyncio.wait_for(js.publish_async_completed(), 300)
    psub = await js.pull_subscribe("bench.js.fetch", durable="bench")
    got = 0
    start, cpu = time.perf_counter(), time.process_time()
    while got < n:
        msgs = await psub.fetch(batch=min(500, n - got), timeout=10)
        for m in msgs:
            await m.ack()
        got += len(msgs)
    await nc.flush()
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await js.delete_stream("BENCHFETCH")
    await nc.close()
    return out


KV_KEYS = [f"k{i}" for i in range(1000)]


async def _bucket(nc, name):
    js = nc.jetstream()
    try:
        await js.delete_key_value(name)
    except Exception:
        pass
    return js, await js.create_key_value(bucket=name, history=1)


async def row_kvput(mod, url, n):
    nc = await mod.connect(url)
    js, kv = await _bucket(nc, "BENCHKVPUT")
    for key in KV_KEYS[:100]:  # warm-up
        await kv.put(key, PAYLOAD)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await kv.put(KV_KEYS[i % len(KV_KEYS)], PAYLOAD)
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await js.delete_key_value("BENCHKVPUT")
    await nc.close()
    return out


MIB = 1024 * 1024


def _object_file(folder, mib):
    """A file of ``mib`` MiB of random bytes, written 1 MiB at a time (not measured)."""
    path = os.path.join(folder, "object.bin")
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(MIB))
    return path


async def _object_store(nc, bucket):
    """A fresh bucket (memory storage), warmed up (not measured): a 1 MiB object put and got
    back, so that the row measures steady throughput rather than the first round trips."""
    js = nc.jetstream()
    try:
        await js.delete_object_store(bucket)
    except Exception:
        pass
    store = await js.create_object_store(bucket, storage="memory")
    await store.put("warmup", os.urandom(MIB))
    await store.get("warmup")
    await store.delete("warmup")
    return js, store


async def row_osput(mod, url, n):
    nc = await mod.connect(url)
    js, store = await _object_store(nc, "BENCHOSPUT")
    with tempfile.TemporaryDirectory(prefix="rnats-osbench-") as folder:
        path = _object_file(folder, n)
        start, cpu = time.perf_counter(), time.process_time()
        with open(path, "rb") as f:
            info = await store.put("object", f)
        out = n / (time.perf_counter() - start), time.process_time() - cpu
    if info.size != n * MIB:
        raise RuntimeError(f"put {info.size} bytes, not {n * MIB}")
    await js.delete_object_store("BENCHOSPUT")
    await nc.close()
    return out


async def row_kvget(mod, url, n):
    nc = await mod.connect(url)
    js, kv = await _bucket(nc, "BENCHKVGET")
    for key in KV_KEYS:  # fill, not measured
        await kv.put(key, PAYLOAD)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        entry = await kv.get(KV_KEYS[i % len(KV_KEYS)])
        if entry.value != PAYLOAD:
            raise RuntimeError("kv.get returned another value")
    out = n / (time.perf_counter() - start), time.process_time() - cpu
    await js.delete_key_value("BENCHKVGET")
    await nc.close()
    return out


async def row_osget(mod, url, n):
    nc = await mod.connect(url)
    js, store = await _object_store(nc, "BENCHOSGET")
    with tempfile.TemporaryDirectory(prefix="rnats-osbench-") as folder:
        path = _object_file(folder, n)
        with open(path, "rb") as f:  # the fill, not measured (streamed: little memory)
            await store.put("object", f)
        got = os.path.join(folder, "got.bin")
        start, cpu = time.perf_counter(), time.process_time()
        with open(got, "wb") as f:
            await store.get("object", writeinto=f)
        out = n / (time.perf_counter() - start), time.process_time() - cpu
        if os.path.getsize(got) != n * MIB:
            raise RuntimeError(f"got {os.path.getsize(got)} bytes, not {n * MIB}")
    await js.delete_object_store("BENCHOSGET")
    await nc.close()
    return out


async def row_svc64(mod, url, n, width=64):
    micro = importlib.import_module(f"{mod.__name__}.micro")
    svc_nc = await mod.connect(url)
    nc = await mod.connect(url)

    async def echo(req):
        await req.respond(req.data)

    svc = await micro.add_service(svc_nc, name="bench", version="1.0.0")
    await svc.add_endpoint(name="echo", subject="bench.svc", handler=echo)
    await svc_nc.flush()
    # nats-py's flush() can write its PING ahead of a pending SUB: wait until the endpoint
    # answers (these requests count in the service's total below).
    early = 0
    for _ in range(200):
        try:
            early += 1
            await nc.request("bench.svc", PAYLOAD, timeout=10)
            break
        except Exception as e:  # noqa: BLE001 - the client's own NoRespondersError
            if type(e).__name__ != "NoRespondersError":
                raise
            early -= 1
            await asyncio.sleep(0.01)
    per = max(1, n // width)

    async def worker(k):
        for _ in range(k):
            await nc.request("bench.svc", PAYLOAD, timeout=10)

    await asyncio.gather(*[worker(20) for _ in range(width)])  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker(per) for _ in range(width)])
    out = per * width / (time.perf_counter() - start), time.process_time() - cpu
    served = sum(e.num_requests for e in svc.stats().endpoints)
    expected = per * width + 20 * width + early
    if served != expected:
        raise RuntimeError(f"the service counted {served} requests, not {expected}")
    await svc.stop()
    await nc.close()
    await svc_nc.close()
    return out


async def worker(client, row, url, count):
    mod = importlib.import_module(client)
    fn = globals()[f"row_{row}"]
    value, cpu = await fn(mod, url, count)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"value": value, "cpu_us_per_msg": cpu / count * 1e6, "peak_mib": peak_mib}))


# ----------------------------------------------------------------------------- orchestration


def server_binary():
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        return env
    local = REPO / ".tools" / "bin" / "nats-server"
    if local.is_file():
        return str(local)
    found = shutil.which("nats-server")
    if found:
        return found
    sys.exit("nats-server not found: set NATS_SERVER_BIN or run scripts/setup.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"nats-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    sys.exit("nats-server did not listen within 10 s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every row's message count")
    ap.add_argument("--worker", nargs=4, metavar=("CLIENT", "ROW", "URL", "COUNT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        client, row, url, count = args.worker
        asyncio.run(worker(client, row, url, int(count)))
        return
    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            sys.exit(f"unknown row {r!r}; rows: {', '.join(ROWS)}")
    echo_bin = REPO / "bench" / "target" / "release" / "bench"
    need_echo = any(r in ECHO_ROWS for r in rows)
    if need_echo and not echo_bin.is_file():
        sys.exit(f"{echo_bin} missing: cargo build --release --manifest-path bench/Cargo.toml")

    store = tempfile.mkdtemp(prefix="rnats-pybench-")
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    server = subprocess.Popen(
        [server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    echo = None
    try:
        wait_listening(port, server)
        if need_echo:
            echo = subprocess.Popen([str(echo_bin), "echo", "--url", url, "--subject", ECHO_SUBJECT],
                                    stdout=subprocess.PIPE, text=True)
            if echo.stdout.readline().strip() != "ready":
                sys.exit("the echo responder did not start")
        print(f"nats-server {server_binary()}, Python {sys.version.split()[0]}, "
              f"{args.runs} runs per row, median; loadavg {os.getloadavg()[0]:.2f}\n")
        print("| row | unit | nats-py | rnats | rnats ÷ nats-py | cpu µs/msg nats-py | cpu µs/msg rnats |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            base, unit, higher = ROWS[row]
            count = max(1, int(base * args.scale))
            results = {c: [] for c in CLIENTS}
            for _ in range(args.runs):
                for c in CLIENTS:
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", c, row, url, str(count)],
                        capture_output=True, text=True, timeout=900,
                    )
                    if out.returncode != 0:
                        sys.exit(f"{c} {row} failed:\n{out.stderr}")
                    results[c].append(json.loads(out.stdout.strip().splitlines()[-1]))
            med = {c: statistics.median(r["value"] for r in results[c]) for c in CLIENTS}
            cpu = {c: statistics.median(r["cpu_us_per_msg"] for r in results[c]) for c in CLIENTS}
            ratio = med["rnats"] / med["nats"]
            print(f"| {row} | {unit} | {med['nats']:,.0f} | {med['rnats']:,.0f} | {ratio:.2f}× "
                  f"{'' if higher else '(lower is better)'} | {cpu['nats']:.2f} | {cpu['rnats']:.2f} |", flush=True)
            if row in MEMORY_ROWS:
                peak = {c: statistics.median(r["peak_mib"] for r in results[c]) for c in CLIENTS}
                print(f"| {row} | peak RSS MiB | {peak['nats']:,.1f} | {peak['rnats']:,.1f} | "
                      f"{peak['rnats'] / peak['nats']:.2f}× (lower is better) | | |", flush=True)
    finally:
        if echo is not None:
            echo.kill()
        server.terminate()
        server.wait(10)
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
