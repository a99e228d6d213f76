"""How the simulated actors reach the four services: over their public HTTP APIs, one counted call at a time.

A refused or unanswered call is counted and logged and the simulation carries on; it never raises,
so one slow or refusing service shows up in the run's counts instead of stopping the run. What was
answered 2xx may also go to a ledger, by kind and id, for a test to find downstream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

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


# What a 2xx answer names: an id known before the call (the path's), or one read from the answer.
Ref = str | Callable[[Any], str]


class Ledger:
    """Every call answered 2xx that names something, as a JSON line ``{"kind": ..., "id": ...}``.

    Only kinds and ids: never a BSN, a name or a birth date. Each line is flushed as it is written,
    so a reader following the file (or the file of a run that was stopped) misses nothing answered.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path else None

    @property
    def writing(self) -> bool:
        return self._file is not None

    def record(self, kind: str, ref: str) -> None:
        if self._file is not None:
            self._file.write(json.dumps({"kind": kind, "id": ref}) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Calls:
    """The services' addresses, the keys the actors use, and how many calls of each kind went how."""

    def __init__(self, urls: Urls, ledger: Ledger | None = None) -> None:
        self.urls = urls
        self.keys = Keys()
        self.counts: Counter[str] = Counter()
        self.ledger = ledger or Ledger()
        self.http: httpx.AsyncClient
        self._gate = asyncio.Semaphore(PARALLEL)

    async def wait_ready(self, timeout: float = 120, without: Container[str] = ()) -> None:
        deadline = time.monotonic() + timeout
        for name, url in self.urls.all().items():
            if name in without:
                continue
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
        self,
        method: str,
        base: str,
        path: str,
        key: str,
        body: Any = None,
        *,
        what: str,
        quiet: bool = False,
        ref: Ref | None = None,
    ) -> Any:
        """One API call; its JSON answer, or None when it was refused or not answered. A transport
        error (a replica gone mid-call) is counted as failed: it may or may not have taken effect.
        When answered 2xx, ``ref`` (or what it reads from the answer) goes to the ledger as ``what``."""
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
            content = answer.json()
            if ref is not None and self.ledger.writing:
                self.ledger.record(what, ref(content) if callable(ref) else ref)
            return content
        if not quiet:
            self.counts[f"{what} refused"] += 1
            log.warning("%s refused (%d): %s", what, answer.status_code, answer.text[:300])
        return None
