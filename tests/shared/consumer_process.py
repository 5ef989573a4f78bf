"""A consumer in its own process: prints each event it handles as a JSON line, then exits.

Usage: python -m tests.shared.consumer_process BOOTSTRAP PREFIX TOPIC COUNT
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from shared.bus.base import Subscription
from shared.bus.kafka import KafkaBus
from shared.events import Envelope


async def main(bootstrap: str, prefix: str, topic: str, count: int) -> None:
    bus = KafkaBus(bootstrap, topic_prefix=prefix)
    done = asyncio.Event()
    seen = 0

    async def handler(envelope: Envelope) -> None:
        nonlocal seen
        line = {
            "aggregate_id": envelope.aggregate_id,
            "reason": envelope.payload["reason"],
            "pid": os.getpid(),
        }
        print(json.dumps(line), flush=True)
        seen += 1
        if seen >= count:
            done.set()

    bus.subscribe(Subscription("other-process", [topic], handler))
    await bus.start()
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout=50)
    finally:
        await bus.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
