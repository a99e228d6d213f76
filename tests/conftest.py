"""Fixtures shared by all test levels; real infrastructure is started only when a test asks for it."""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections.abc import AsyncIterator

import pytest

from tests.support.infra import Infrastructure, Isolation, drop_schemas, ensure_infrastructure


@pytest.fixture(scope="session")
def infra() -> Infrastructure:
    return ensure_infrastructure()


@pytest.fixture
async def isolation(infra: Infrastructure) -> AsyncIterator[Isolation]:
    """The test's own schema(s) and topic namespace; its schemas are dropped afterwards."""
    isolation = Isolation.new()
    yield isolation
    await drop_schemas(infra.database_url, isolation)


@pytest.fixture(autouse=True)
async def _dump_tasks_before_timeout(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A hung async test shows where each task waits: pytest-timeout prints only threads, and
    they all idle in the event loop's select."""
    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else float(request.config.getini("timeout") or 0)
    if limit <= 20:
        yield
        return
    loop = asyncio.get_running_loop()

    def dump() -> None:
        print(f"\n--- asyncio tasks {limit - 15:.0f}s into {request.node.nodeid} ---", file=sys.stderr)
        for task in asyncio.all_tasks(loop):
            print(f"{task.get_name()}:", *_awaiting(task.get_coro()), sep="\n    ", file=sys.stderr)

    timer = threading.Timer(limit - 15, lambda: loop.call_soon_threadsafe(dump))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _awaiting(coro: object) -> list[str]:
    """Where a coroutine waits, outermost first (``Task.print_stack`` shows only the outermost)."""
    places = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            places.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = (
            getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
        )
        generator = getattr(frame.f_locals.get("self"), "gen", None) if frame is not None else None
        if inspect.isasyncgen(generator):
            # An @asynccontextmanager's __aenter__/__aexit__ awaits its generator through an object that hides it.
            awaited = generator
        coro = awaited
    return places
