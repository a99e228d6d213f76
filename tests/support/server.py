"""A service app served by a real uvicorn on a free port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

from tests.support.polling import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(app: FastAPI, *, kafka: bool = True) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan included) and yield its base URL; a Schakel service once it is
    connected to Kafka (``kafka=False``: as soon as it serves, for a test of Kafka being away)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # surfaces a start-up failure
        return server.started

    await eventually(started, timeout=60, what="the service to start")
    # A service makes its topics before its consumers start; an event produced before that would
    # make the broker create the topic with its own number of partitions, and ordering across keys
    # that a test reads on one partition would no longer hold.
    if kafka and (runtime := getattr(app.state, "runtime", None)) is not None:
        await eventually(runtime.kafka_ready, timeout=60, what="the service connected to Kafka")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
