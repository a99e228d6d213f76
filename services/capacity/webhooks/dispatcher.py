"""The dispatcher: delivers each alert, in order, to every webhook whose role is in its audience,
retrying with backoff, with one process at a time holding each webhook's lease."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import httpx
from prometheus_client import CollectorRegistry, Counter

from services.capacity import webhook_store
from services.capacity.audience import audience
from services.capacity.store import reads
from services.capacity.webhooks.signing import signed_headers
from services.runtime.roles import Role
from services.runtime.signal import PgSignal

log = logging.getLogger(__name__)


def retry_delay(attempts: int, first_seconds: float = 1.0, max_seconds: float = 300.0) -> timedelta:
    """How long to wait after the ``attempts``-th failure in a row: doubling, capped."""
    return timedelta(seconds=min(first_seconds * 2 ** min(attempts - 1, 30), max_seconds))


def _holder_name() -> str:
    """Who holds a lease: host and pid for the operator reading the table, a nonce for uniqueness."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class WebhookDispatcher:
    """Delivers alerts to every webhook concurrently, in order within each, retrying with backoff.

    It wakes on the alert signal (new alerts), when a webhook finishes a round, and every
    ``tick_seconds`` for webhooks whose backoff has run out or whose lease another process let
    lapse. A lease lasts ``lease_seconds`` beyond the longest single POST, renewed at every
    delivery, so a live process never loses one while it waits on a receiver.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        alert_signal: PgSignal,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], datetime],
        timeout_seconds: float = 5.0,
        tick_seconds: float = 1.0,
        first_retry_seconds: float = 1.0,
        max_retry_seconds: float = 300.0,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
    ) -> None:
        self._pool = pool
        self._signal = alert_signal
        self._clock = clock
        self._timeout = timeout_seconds
        self._tick = tick_seconds
        self._first_retry = first_retry_seconds
        self._max_retry = max_retry_seconds
        self._batch_size = batch_size
        self._holder = _holder_name()
        self._lease = timedelta(seconds=lease_seconds + timeout_seconds)
        self._stopping = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._draining: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self.deliveries = Counter(
            "schakel_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, rejected, unreachable).",
            ["outcome"],
            registry=registry,
        )

    @property
    def holder(self) -> str:
        """This process's name in ``webhook.leased_by``."""
        return self._holder

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        self._tasks = [
            asyncio.create_task(self._follow_signal(), name="webhooks-signal"),
            asyncio.create_task(self._run(), name="webhooks"),
        ]

    async def stop(self) -> None:
        """Let each round finish the POST it is in (cut off, that alert would come twice), then release."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        rounds = list(self._draining.values())
        if rounds:
            await asyncio.wait(rounds, timeout=self._timeout + 1)
        for task in rounds:
            task.cancel()
        await asyncio.gather(*rounds, return_exceptions=True)
        with contextlib.suppress(Exception):  # PostgreSQL away: the leases run out by themselves.
            await webhook_store.release(self._pool, self._holder)
        if self._http:
            await self._http.aclose()

    async def _follow_signal(self) -> None:
        while True:
            event = self._signal.current()
            await event.wait()
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                for webhook_id in await webhook_store.due_webhooks(self._pool, self._clock(), self._holder):
                    if webhook_id not in self._draining:
                        self._draining[webhook_id] = asyncio.create_task(
                            self._drain(webhook_id), name=f"webhook:{webhook_id}"
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL away: try again on the next tick.
                log.warning("webhook dispatcher cannot read its webhooks (%s)", type(exc).__name__)
            await self._signal.wait(self._wake, self._tick)

    async def _drain(self, webhook_id: uuid.UUID) -> None:
        try:
            while await self._deliver_batch(webhook_id):
                pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("webhook %s: delivery round failed (%s)", webhook_id, type(exc).__name__)
            return
        finally:
            # Between rounds any replica may take the webhook: the alert signal wakes them all.
            # Released before this round is forgotten, so it never frees a lease a next round holds.
            with contextlib.suppress(Exception):
                await webhook_store.release(self._pool, self._holder, webhook_id)
            self._draining.pop(webhook_id, None)
        # Alerts committed while this round was ending would otherwise wait for the next tick.
        self._wake.set()

    async def _deliver_batch(self, webhook_id: uuid.UUID) -> bool:
        """Deliver the next batch of alerts in order; True if a full batch went and more may wait."""
        hook = await webhook_store.claim(self._pool, webhook_id, self._holder, self._lease, self._clock())
        if hook is None:
            return False
        role = Role(hook["role"])
        alerts = await reads.alerts_after(self._pool, hook["delivered_seq"], self._batch_size)
        position = persisted = hook["delivered_seq"]
        attempts = hook["attempts"]
        for alert in alerts:
            if self._stopping:
                break
            envelope = json.loads(alert["envelope"])
            if role not in audience(alert["type"], envelope.get("data") or {}):
                position = alert["seq"]
                continue
            error = await self._post(hook, alert)
            if error is not None:
                await self._failed(hook["id"], position, alert["seq"], attempts + 1, error)
                return False
            position = persisted = alert["seq"]
            attempts = 0
            if not await webhook_store.advance(
                self._pool, webhook_id, self._holder, self._lease, position, self._clock()
            ):
                return False
        if position != persisted and not await webhook_store.advance(
            self._pool, webhook_id, self._holder, self._lease, position, None
        ):
            return False
        return len(alerts) == self._batch_size and not self._stopping

    async def _post(self, hook: asyncpg.Record, alert: asyncpg.Record) -> str | None:
        """POST one alert; None when the receiver took it, else what went wrong (no URL, no secret)."""
        assert self._http is not None, "start() the dispatcher first"
        body = alert["envelope"].encode()
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            **signed_headers(hook["secret"], str(alert["id"]), timestamp, body),
        }
        try:
            response = await self._http.post(hook["url"], content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # The exception's text may hold the URL, which may hold a token: keep only its kind.
            self.deliveries.labels("unreachable").inc()
            return type(exc).__name__
        if response.is_success:
            self.deliveries.labels("delivered").inc()
            return None
        self.deliveries.labels("rejected").inc()
        return f"HTTP {response.status_code}"

    async def _failed(self, webhook_id: uuid.UUID, position: int, seq: int, attempts: int, error: str) -> None:
        delay = retry_delay(attempts, self._first_retry, self._max_retry)
        await webhook_store.record_failure(
            self._pool, webhook_id, self._holder, position, attempts, error, self._clock() + delay
        )
        log.warning(
            "webhook %s: alert %d not delivered (%s), attempt %d; next try in %ss",
            webhook_id,
            seq,
            error,
            attempts,
            delay.total_seconds(),
        )
