"""Waiting for a condition with a deadline: the only way tests synchronise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def scraped(http: httpx.AsyncClient, url: str, *lines: str, timeout: float = 20.0) -> str:
    """The first ``/metrics`` text of ``url`` that holds every one of ``lines``.

    Monitoring's domain metrics come from a snapshot refreshed after each commit, so a wait on the
    read model (or the inbox) does not cover them: the scrape itself must be waited for."""

    async def probe() -> str | None:
        text = (await http.get(f"{url}/metrics")).text
        return text if all(line in text for line in lines) else None

    return await eventually(probe, timeout=timeout, what=f"/metrics of {url} to show {lines}")
