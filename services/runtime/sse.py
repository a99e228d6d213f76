"""Server-Sent Events fed by a PostgreSQL signal: the one loop behind every live stream.

A stream wakes on the signal (a NOTIFY from the transaction that changed something), reads what
is new, sends it, and sleeps again; a heartbeat keeps proxies from closing an idle connection.
Any replica can serve any stream: the signal and the data both come from PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import Gauge
from sse_starlette.sse import EventSourceResponse

from services.runtime.signal import PgSignal

HEARTBEAT_SECONDS = 15.0

# Reads what the stream sends now; ``woken`` is False when only the heartbeat's timeout passed.
Reader = Callable[[bool], Awaitable[Iterable[dict[str, Any]]]]


def signal_stream(feed: PgSignal, read: Reader, *, open_streams: Gauge | None = None) -> EventSourceResponse:
    """An SSE response that sends what ``read`` returns at once, then after every wake of ``feed``."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        if open_streams is not None:
            open_streams.inc()
        try:
            woken = True  # a new subscriber gets what is there at once
            while True:
                wake = feed.current()
                for item in await read(woken):
                    yield item
                await feed.wait(wake, HEARTBEAT_SECONDS)
                woken = wake.is_set()
        finally:
            if open_streams is not None:
                open_streams.dec()

    return EventSourceResponse(events(), ping=HEARTBEAT_SECONDS)
