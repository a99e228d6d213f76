"""How the simulated actors reach the four services: over their public HTTP APIs, one counted call at a time.

A refused or unanswered call is counted and logged and the simulation carries on; it never raises,
so one slow or refusing service shows up in the run's counts instead of stopping the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from services.sim.keys import Keys

log = logging.getLogger("services.sim")
PARALLEL = 8
T = TypeVar("T")


@dataclass(frozen=True)
class Urls:
    intake: str = "http://127.0.0.1:8001"
    contracting: str = "http://127.0.0.1:8002"
    capacity: str = "http://127.0.0.1:8003"
    monitoring: str = "http://127.0.0.1:8004"

    def all(self) -> dict[str, str]:
        return {
            "intake": self.intake,
            "contracting": self.contracting,
            "capacity": self.capacity,
            "monitoring": self.monitoring,
        }


class Calls:
    """The services' addresses, the keys the actors use, and how many calls of each kind went how."""

    def __init__(self, urls: Urls) -> None:
        self.urls = urls
        self.keys = Keys()
        self.counts: Counter[str] = Counter()
        self.http: httpx.AsyncClient
        self._gate = asyncio.Semaphore(PARALLEL)

    async def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for name, url in self.urls.all().items():
            while True:
                try:
                    if (await self.http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} at {url} is not ready after {timeout:.0f} s")
                await asyncio.sleep(0.5)

    async def each(self, items: Iterable[T], action: Callable[[T], Awaitable[Any]]) -> None:
        """``action`` on every item, at most ``PARALLEL`` at a time."""

        async def gated(item: T) -> None:
            async with self._gate:
                await action(item)

        await asyncio.gather(*(gated(i) for i in items))

    async def call(
        self, method: str, base: str, path: str, key: str, body: Any = None, *, what: str, quiet: bool = False
    ) -> Any:
        """One API call; its JSON answer, or None when it was refused or not answered."""
        try:
            answer = await self.http.request(
                method, f"{base}{path}", headers={"Authorization": f"Bearer {key}"}, json=body
            )
        except httpx.TransportError as exc:
            self.counts[f"{what} failed"] += 1
            log.warning("%s: %s %s did not answer (%s)", what, method, path, type(exc).__name__)
            return None
        if answer.is_success:
            self.counts[what] += 1
            return answer.json()
        if not quiet:
            self.counts[f"{what} refused"] += 1
            log.warning("%s refused (%d): %s", what, answer.status_code, answer.text[:300])
        return None
