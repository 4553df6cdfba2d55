"""The classic nats-py quickstart, on rnats: only the import line differs.

    .venv/bin/python crates/rnats-py/examples/quickstart.py nats://127.0.0.1:4222

The server needs JetStream (`nats-server -js`) for the last part.
"""

import asyncio
import sys

import rnats as nats  # the one changed line: was `import nats`


async def main(url: str) -> None:
    nc = await nats.connect(url, name="rnats-quickstart")

    # Subscribe with a coroutine callback; publish; flush so the server has it all.
    received = asyncio.Queue()

    async def on_greeting(msg):
        await received.put(msg)

    sub = await nc.subscribe("greet.*", cb=on_greeting)
    await nc.publish("greet.joe", b"hello")
    await nc.publish("greet.pam", b"hi", headers={"Lang": "en"})
    for _ in range(2):
        msg = await asyncio.wait_for(received.get(), 5)
        print(f"received on {msg.subject!r}: {msg.data!r} headers={msg.headers}")
    await sub.unsubscribe()

    # Request/reply: a responder answers on the request's reply subject.
    async def help_handler(msg):
        await msg.respond(b"I can help with " + msg.data)

    await nc.subscribe("help", cb=help_handler)
    answer = await nc.request("help", b"NATS", timeout=2)
    print(f"request answered: {answer.data!r}")

    # JetStream: a stream, a publish acknowledged by the server, a pull consumer.
    js = nc.jetstream()
    await js.add_stream(name="QUICKSTART", subjects=["orders.>"])
    for i in range(3):
        ack = await js.publish(f"orders.{i}", f"order {i}".encode())
        print(f"stored in stream {ack.stream} at sequence {ack.seq}")
    psub = await js.pull_subscribe("orders.>", durable="worker")
    for msg in await psub.fetch(3, timeout=5):
        print(f"pulled {msg.data!r} (stream sequence {msg.metadata.sequence.stream})")
        await msg.ack()
    await js.delete_stream("QUICKSTART")

    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222"))
