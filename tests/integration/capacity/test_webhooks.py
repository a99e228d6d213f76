"""Alert webhooks against real PostgreSQL (and Kafka when the service is served): signed, retried, in order.

Every delivery a receiver gets is checked with the ``standardwebhooks`` library, as a receiver would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook, WebhookVerificationError

from contracts.capacity import Severity, ShortageDetected
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.capacity.store import ALERT_CHANNEL, CapacityStore
from services.capacity.webhook_store import Subscriptions
from services.capacity.webhooks import signing
from services.capacity.webhooks.dispatcher import WebhookDispatcher
from services.runtime.clock import Clock
from services.runtime.db import migrate
from services.runtime.roles import Role
from services.runtime.signal import PgSignal, channel_name
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually
from tests.support.server import serving

AGB = "12345678"
DETECTED, RESOLVED = "nl.schakel.capacity.ShortageDetected", "nl.schakel.capacity.ShortageResolved"
ACKNOWLEDGED = "nl.schakel.capacity.AlertAcknowledged"
MIGRATIONS = Path(__file__).resolve().parents[3] / "services/capacity/migrations"


# --- a receiver that records what it is sent ------------------------------------------------


@dataclass(frozen=True)
class Received:
    headers: httpx.Headers
    body: bytes
    status: int

    @property
    def type(self) -> str:
        return json.loads(self.body)["type"]

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict:
        """The envelope, as a Standard Webhooks receiver accepts it (raises if it would not)."""
        return Webhook(secret).verify(self.body, dict(self.headers))  # type: ignore[no-any-return]


class Receiver:
    """Webhook endpoints ``/{name}`` that record every request; some fail or hang when told."""

    def __init__(self) -> None:
        self.requests: dict[str, list[Received]] = defaultdict(list)
        self.failures_left: dict[str, int] = defaultdict(int)
        self.holds: dict[str, asyncio.Event] = {}
        self.in_flight: dict[str, int] = defaultdict(int)
        self.app = FastAPI()
        self.app.post("/{name}")(self._receive)
        self.url = ""

    async def _receive(self, name: str, request: Request) -> Response:
        body = await request.body()
        if name in self.holds:
            self.in_flight[name] += 1
            await self.holds[name].wait()
            self.in_flight[name] -= 1
        status = 500 if self.failures_left[name] > 0 else 204
        self.failures_left[name] -= 1
        self.requests[name].append(Received(httpx.Headers(request.headers), body, status))
        return Response(status_code=status)

    def delivered(self, name: str) -> list[Received]:
        return [r for r in self.requests[name] if r.status == 204]

    def release(self) -> None:
        for hold in self.holds.values():
            hold.set()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with serving(receiver.app) as url:  # type: ignore[arg-type]
        receiver.url = url
        try:
            yield receiver
        finally:
            receiver.release()


# --- the service served for real -----------------------------------------------------------


@pytest.fixture
async def capacity(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serving(build(isolation.settings(CapacitySettings, infra, webhook_allow_http=True))) as url:
        yield url


async def _register(http: httpx.AsyncClient, capacity: str, headers: dict[str, str], url: str, **extra: str) -> dict:
    response = await http.post(f"{capacity}/v1/webhooks", headers=headers, json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def _report(http: httpx.AsyncClient, capacity: str, keys, occupied: int) -> None:  # type: ignore[no-untyped-def]
    """Report one crisisplek: occupied=1 of 1 opens a shortage, 0 of 1 resolves it."""
    registration = await http.put(
        f"{capacity}/v1/providers/{AGB}",
        headers=await keys(Role.ADMIN),
        json={"settings": ["crisisplek"], "municipality_code": "0402"},
    )
    assert registration.status_code == 200, registration.text  # only admitted providers report
    response = await http.put(
        f"{capacity}/v1/capacity/{AGB}/crisisplek",
        headers=await keys(Role.PROVIDER, AGB),
        json={"total": 1, "occupied": occupied},
    )
    assert response.status_code == 200, response.text


def _metric(text: str, outcome: str) -> float:
    prefix = f'schakel_webhook_deliveries_total{{outcome="{outcome}"}} '
    return next((float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)), 0.0)


async def test_a_shortage_is_pushed_to_the_webhook_signed_with_its_secret(  # type: ignore[no-untyped-def]
    capacity: str, receiver: Receiver, keys, http
) -> None:
    sf = await keys(Role.SCHAKELFUNCTIONARIS, "sf.gooi")
    hook = await _register(http, capacity, sf, f"{receiver.url}/sf", description="regio Gooi")
    assert hook["role"] == "schakelfunctionaris" and hook["secret"].startswith("whsec_")

    await _report(http, capacity, keys, occupied=1)
    [delivery] = await eventually(lambda: _delivered(receiver, "sf", 1), what="the shortage pushed")

    envelope = delivery.verified(hook["secret"])
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(delivery.body, dict(delivery.headers))
    tampered = delivery.body.replace(b"crisisplek", b"gezinshuis")
    assert tampered != delivery.body
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(tampered, dict(delivery.headers))
    [alert] = (await http.get(f"{capacity}/v1/alerts", headers=sf)).json()
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.id == envelope["id"] == alert["id"]
    assert abs(int(delivery.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    assert envelope["type"] == DETECTED and envelope["data"]["setting"] == "crisisplek"
    # The receiver answers before the dispatcher records the delivery: wait for the record.
    [listed] = await eventually(
        lambda: _webhooks(http, capacity, sf, lambda h: h["last_delivered_at"]), what="the delivery recorded"
    )
    assert listed["delivered_seq"] == alert["seq"] and "secret" not in listed
    assert _metric((await http.get(f"{capacity}/metrics")).text, "delivered") == 1


async def _seqs(db: asyncpg.Pool, deliveries: list[Received]) -> list[int]:
    """The alert seq of each delivery: the headers carry only the envelope id."""
    seq_of = {str(r["id"]): r["seq"] for r in await db.fetch("SELECT id, seq FROM alert")}
    return [seq_of[d.id] for d in deliveries]


async def _webhooks(
    http: httpx.AsyncClient, capacity: str, headers: dict[str, str], settled: Callable[[dict], object]
) -> list[dict] | None:
    """The caller's webhooks once every one of them satisfies ``settled``."""
    listed = (await http.get(f"{capacity}/v1/webhooks", headers=headers)).json()
    return listed if listed and all(settled(h) for h in listed) else None


async def _delivered(receiver: Receiver, name: str, count: int) -> list[Received] | None:
    delivered = receiver.delivered(name)
    return delivered if len(delivered) >= count else None


async def _holding(receiver: Receiver, name: str) -> bool:
    return receiver.in_flight[name] == 1


async def test_a_failing_receiver_gets_only_new_alerts_again_and_in_order(  # type: ignore[no-untyped-def]
    capacity: str, receiver: Receiver, keys, http, db: asyncpg.Pool
) -> None:
    await _report(http, capacity, keys, occupied=1)  # before the webhook exists: never sent to it
    operator = await keys(Role.OPERATOR)
    hook = await _register(http, capacity, operator, f"{receiver.url}/ops")
    receiver.failures_left["ops"] = 2

    await _report(http, capacity, keys, occupied=0)
    await _report(http, capacity, keys, occupied=1)
    delivered = await eventually(lambda: _delivered(receiver, "ops", 2), what="both alerts after two failures")

    assert [r.type for r in delivered] == [RESOLVED, DETECTED]
    attempts = receiver.requests["ops"]
    assert [(r.type, r.status) for r in attempts] == [
        (RESOLVED, 500),
        (RESOLVED, 500),
        (RESOLVED, 204),
        (DETECTED, 204),
    ]
    # Every attempt verifies, and a retry is the same message: one webhook-id to dedupe on.
    assert [r.verified(hook["secret"])["id"] for r in attempts] == [r.id for r in attempts]
    assert len({r.id for r in attempts[:3]}) == 1 and attempts[3].id != attempts[0].id
    sequence = await _seqs(db, delivered)
    assert sequence == sorted(sequence)
    [hook] = await eventually(
        lambda: _webhooks(http, capacity, operator, lambda h: h["delivered_seq"] == sequence[-1]),
        what="both deliveries recorded",
    )
    assert (hook["attempts"], hook["last_error"], hook["next_attempt_at"]) == (0, None, None)
    metrics = (await http.get(f"{capacity}/metrics")).text
    assert (_metric(metrics, "rejected"), _metric(metrics, "delivered")) == (2, 2)


async def test_a_webhook_receives_only_the_alerts_meant_for_its_role(  # type: ignore[no-untyped-def]
    capacity: str, receiver: Receiver, keys, http, db: asyncpg.Pool
) -> None:
    sf = await keys(Role.SCHAKELFUNCTIONARIS)
    await _register(http, capacity, sf, f"{receiver.url}/sf")
    admin = await keys(Role.ADMIN)
    expert = await _register(http, capacity, admin, f"{receiver.url}/expert", role="expertteam")
    assert expert["role"] == "expertteam"

    await _report(http, capacity, keys, occupied=1)
    [alert] = (await http.get(f"{capacity}/v1/alerts", headers=sf)).json()
    await http.post(f"{capacity}/v1/alerts/{alert['id']}/acknowledge", headers=sf)
    await eventually(lambda: _delivered(receiver, "sf", 2), what="shortage and acknowledgement")
    await eventually(lambda: _delivered(receiver, "expert", 1), what="the acknowledgement")

    assert [r.type for r in receiver.delivered("sf")] == [DETECTED, ACKNOWLEDGED]
    # The expertteam does not handle regional shortages, but hears that one was picked up.
    assert [r.type for r in receiver.requests["expert"]] == [ACKNOWLEDGED]
    # Skipping the shortage moved the expertteam's cursor as far as delivering it would have.
    [acknowledged_seq] = await _seqs(db, receiver.delivered("sf")[-1:])
    hooks = await eventually(
        lambda: _webhooks(http, capacity, admin, lambda h: h["delivered_seq"] == acknowledged_seq),
        what="both cursors at the acknowledgement",
    )
    assert {h["role"] for h in hooks} == {"schakelfunctionaris", "expertteam"} and acknowledged_seq > alert["seq"]


async def test_a_deleted_webhook_receives_nothing_more(  # type: ignore[no-untyped-def]
    capacity: str, receiver: Receiver, keys, http
) -> None:
    sf = await keys(Role.SCHAKELFUNCTIONARIS)
    gone = await _register(http, capacity, sf, f"{receiver.url}/gone")
    await _register(http, capacity, sf, f"{receiver.url}/kept")
    await _report(http, capacity, keys, occupied=1)
    await eventually(lambda: _delivered(receiver, "gone", 1), what="the first alert")

    assert (await http.delete(f"{capacity}/v1/webhooks/{gone['id']}", headers=sf)).status_code == 204
    await _report(http, capacity, keys, occupied=0)
    await eventually(lambda: _delivered(receiver, "kept", 2), what="the resolution at the kept webhook")

    assert [r.type for r in receiver.requests["gone"]] == [DETECTED]
    assert [h["url"] for h in (await http.get(f"{capacity}/v1/webhooks", headers=sf)).json()] == [
        f"{receiver.url}/kept"
    ]
    assert (await http.delete(f"{capacity}/v1/webhooks/{gone['id']}", headers=sf)).status_code == 404


async def test_webhooks_belong_to_a_role_and_their_secrets_are_shown_once(  # type: ignore[no-untyped-def]
    capacity: str, keys, http
) -> None:
    sf, expert, admin = (await keys(Role.SCHAKELFUNCTIONARIS), await keys(Role.EXPERTTEAM), await keys(Role.ADMIN))
    url = f"{capacity}/v1/webhooks"
    mine = await _register(http, capacity, sf, "https://sf.example.nl/hook")
    theirs = await _register(http, capacity, expert, "https://et.example.nl/hook")

    provider = await keys(Role.PROVIDER, AGB)
    assert (await http.post(url, headers=provider, json={"url": "https://x.nl"})).status_code == 403
    assert (await http.post(url, headers=sf, json={"url": "https://x.nl", "role": "expertteam"})).status_code == 403
    no_role = await http.post(url, headers=admin, json={"url": "https://x.nl"})
    assert no_role.status_code == 422 and "role" in no_role.text
    for body, field in [
        ({"url": "ftp://x.nl"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://x.nl", "role": "provider"}, "role"),
    ]:
        response = await http.post(url, headers=admin, json=body)
        assert response.status_code == 422 and field in response.text, body

    listed = (await http.get(url, headers=sf)).json()
    assert [h["id"] for h in listed] == [mine["id"]]
    everything = (await http.get(url, headers=admin)).json()
    assert {h["id"] for h in everything} == {mine["id"], theirs["id"]}
    assert not any("secret" in h or mine["secret"] in json.dumps(h) for h in everything)
    assert (await http.delete(f"{url}/{theirs['id']}", headers=sf)).status_code == 404
    assert (await http.delete(f"{url}/{theirs['id']}", headers=admin)).status_code == 204


# --- the dispatcher alone, on the capacity schema, with a clock the test moves --------------


class FrozenClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def alert_signal(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool) -> AsyncIterator[PgSignal]:
    await migrate(db, "capacity", MIGRATIONS)
    signal = PgSignal(infra.database_url, channel_name(ALERT_CHANNEL, isolation.schema))
    signal.start()
    await asyncio.wait_for(signal.listening.wait(), 20)
    yield signal
    await signal.stop()


async def _raise_shortage(db: asyncpg.Pool, schema: str, at: datetime) -> Envelope:
    envelope = Envelope.wrap(
        ShortageDetected(
            shortage_id=uuid.uuid4(),
            setting=Setting.CRISISPLEK,
            free_places=0,
            waiting=0,
            severity=Severity.TEKORT,
            detected_at=at,
        ),
        source="capacity",
        time=at,
    )
    async with db.acquire() as conn, conn.transaction():
        alerts = CapacityStore(conn)
        await alerts.insert_alert(envelope, "crisisplek")
        await alerts.notify_alerts(schema)
    return envelope


async def test_retries_wait_for_the_backoff_on_the_injected_clock(  # type: ignore[no-untyped-def]
    db: asyncpg.Pool, alert_signal: PgSignal, receiver: Receiver, isolation: Isolation
) -> None:
    clock = FrozenClock()
    async with db.acquire() as conn:
        hook = await Subscriptions(conn).create(
            role=Role.OPERATOR,
            url=f"{receiver.url}/ops",
            description="",
            secret=signing.new_secret(),
            created_by="test",
            now=clock.now,
        )
    receiver.failures_left["ops"] = 2
    dispatcher = WebhookDispatcher(db, alert_signal, CollectorRegistry(), clock=clock, tick_seconds=0.02)
    dispatcher.start()
    try:
        first = await _raise_shortage(db, isolation.schema, clock.now)
        second = await _raise_shortage(db, isolation.schema, clock.now)
        state = await eventually(lambda: _state(db, hook["id"], attempts=1), what="the first failure")
        assert (state["last_error"], state["next_attempt_at"]) == ("HTTP 500", clock.now + timedelta(seconds=1))

        clock.now += timedelta(seconds=1)
        state = await eventually(lambda: _state(db, hook["id"], attempts=2), what="the second failure")
        assert state["next_attempt_at"] == clock.now + timedelta(seconds=2)
        # The clock stands still, so nothing is retried however long the real time this takes.
        assert len(receiver.requests["ops"]) == 2

        clock.now += timedelta(seconds=2)
        delivered = await eventually(lambda: _delivered(receiver, "ops", 2), what="both alerts")
    finally:
        await dispatcher.stop()
    assert [r.id for r in delivered] == [str(first.id), str(second.id)]
    # The timestamp is the attempt's, so a retry is not refused as a replay of the first try.
    assert delivered[0].headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    assert delivered[0].headers["webhook-signature"] == signing.sign(
        hook["secret"], str(first.id), int(clock.now.timestamp()), delivered[0].body
    )
    settled = await eventually(lambda: _state(db, hook["id"], attempts=0), what="the failures cleared")
    assert (settled["last_error"], settled["next_attempt_at"]) == (None, None)


async def _state(db: asyncpg.Pool, webhook_id: uuid.UUID, *, attempts: int) -> asyncpg.Record | None:
    row = await db.fetchrow("SELECT attempts, last_error, next_attempt_at FROM webhook WHERE id = $1", webhook_id)
    return row if row["attempts"] == attempts else None


async def test_a_hanging_receiver_does_not_hold_back_the_other_webhooks(  # type: ignore[no-untyped-def]
    db: asyncpg.Pool, alert_signal: PgSignal, receiver: Receiver, isolation: Isolation
) -> None:
    now = datetime.now(UTC)
    receiver.holds["slow"] = asyncio.Event()
    for name in ("slow", "fast"):  # the slow one first, so a one-at-a-time dispatcher would be stuck on it
        async with db.acquire() as conn:
            await Subscriptions(conn).create(
                role=Role.SCHAKELFUNCTIONARIS,
                url=f"{receiver.url}/{name}",
                description="",
                secret=signing.new_secret(),
                created_by="test",
                now=now,
            )
    dispatcher = WebhookDispatcher(db, alert_signal, CollectorRegistry(), clock=Clock().now, timeout_seconds=60)
    dispatcher.start()
    try:
        await _raise_shortage(db, isolation.schema, now)
        await eventually(lambda: _delivered(receiver, "fast", 1), what="the fast webhook served")
        # Each webhook has its own task and connection: the slow one's request may reach the receiver later.
        await eventually(lambda: _holding(receiver, "slow"), what="the slow webhook held by its receiver")
        assert receiver.requests["slow"] == []
        receiver.release()
        await eventually(lambda: _delivered(receiver, "slow", 1), what="the slow webhook served")
    finally:
        await dispatcher.stop()


async def test_by_default_a_webhook_must_be_https(infra, isolation, db, keys, http) -> None:  # type: ignore[no-untyped-def]
    async with serving(build(isolation.settings(CapacitySettings, infra))) as capacity:
        sf = await keys(Role.SCHAKELFUNCTIONARIS)
        plain = await http.post(f"{capacity}/v1/webhooks", headers=sf, json={"url": "http://alerts.example.nl/hook"})
        assert plain.status_code == 422 and "must be https" in plain.text
        secure = await http.post(f"{capacity}/v1/webhooks", headers=sf, json={"url": "https://alerts.example.nl/hook"})
        assert secure.status_code == 201, secure.text


async def test_a_secret_issued_before_standard_webhooks_keeps_its_key(db: asyncpg.Pool) -> None:
    # The old scheme used the whole "whsec_<url-safe text>" string, as UTF-8, as the HMAC key.
    old_secret = "whsec_" + "q-Z_" * 10 + "abc"
    async with db.acquire() as conn:
        await conn.execute((MIGRATIONS / "003_webhooks.sql").read_text())
        await conn.execute(
            """INSERT INTO webhook (id, role, url, secret, created_by, created_at, delivered_seq)
               VALUES ($1, 'operator', 'https://ops.example.nl/hook', $2, 'test', now(), 0)""",
            uuid.uuid4(),
            old_secret,
        )
        await conn.execute((MIGRATIONS / "005_standard_webhook_secrets.sql").read_text())
        migrated = await conn.fetchval("SELECT secret FROM webhook")

    assert migrated.startswith("whsec_") and signing.signing_key(migrated) == old_secret.encode()
    headers = signing.signed_headers(migrated, "an-alert", int(datetime.now(UTC).timestamp()), b"{}")
    # The receiver that kept its old secret verifies with it as the raw key; so does the new string.
    assert Webhook(old_secret.encode()).verify(b"{}", headers) == Webhook(migrated).verify(b"{}", headers) == {}
