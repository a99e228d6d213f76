"""Dead letters only for what is really bad: a transient database error is retried without limit,
and an operator can list, show and replay a dead letter once its cause is mended (audited)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import asyncpg
from fastapi import FastAPI

from contracts import topics
from contracts.capacity import ShortageDetected
from contracts.verblijf import Setting
from services.runtime.consumer import Consumer
from services.runtime.deadletters import OpsSettings, read_dead_letters
from services.runtime.service import ServiceSpec, create_app
from services.runtime.unit_of_work import UnitOfWork
from tests.integration.runtime.test_outbox_and_consumer import MIGRATIONS, ProbeSettings, _shortage
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import TopicReader, produce
from tests.support.polling import eventually
from tests.support.server import serving


class FlakyDatabase:
    """Applies a shortage only after PostgreSQL has refused it ``failures`` times, for real: the
    first attempts run in a read-only transaction (as on a primary that failed over)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    async def apply(self, uow: UnitOfWork[asyncpg.Connection, Any], event: ShortageDetected) -> None:
        conn = uow.store
        self.attempts += 1
        if self.attempts <= self.failures:
            await conn.execute("SET TRANSACTION READ ONLY")
        await conn.execute("INSERT INTO applied (event_id, setting) VALUES ($1, $2)", uow.consumed.id, event.setting)


def _app(settings: ProbeSettings, apply) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app(
        ServiceSpec(
            settings=settings,
            title="probe",
            description="applies ShortageDetected",
            migrations=MIGRATIONS,
            consumers=lambda _app, _rt: [Consumer("probe", topics.CAPACITY_ALERTS, {ShortageDetected: apply})],
        )
    )


async def test_a_transient_database_error_is_retried_past_the_attempt_limit_and_never_dead_lettered(
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,
) -> None:
    settings = isolation.settings(ProbeSettings, infra)  # consumer_max_attempts = 3
    flaky = FlakyDatabase(failures=settings.consumer_max_attempts + 3)
    event = _shortage(Setting.CRISISPLEK)
    async with serving(_app(settings, flaky.apply)):
        await produce(infra.kafka, isolation.topic(topics.CAPACITY_ALERTS), event.to_bytes(), key=b"crisisplek")
        applied = await eventually(
            lambda: db.fetchval("SELECT event_id FROM applied"),
            timeout=60,
            what="the event applied once the database accepts writes again",
        )
    assert applied == event.id
    assert flaky.attempts == flaky.failures + 1
    dlq = topics.dead_letter(isolation.topic(topics.CAPACITY_ALERTS))
    dead = await read_dead_letters(OpsSettings(kafka_bootstrap_servers=infra.kafka), [dlq])
    assert len(dead) == 0, "a transient error must never make a dead letter"


async def test_an_operator_lists_shows_and_replays_a_dead_letter_and_the_replay_is_recorded(
    infra: Infrastructure,
    isolation: Isolation,
    db: asyncpg.Pool,
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    topic = isolation.topic(topics.CAPACITY_ALERTS)
    bug = FlakyDatabase(failures=settings.consumer_max_attempts)  # fails deterministically, then "fixed"

    async def buggy(uow: UnitOfWork[asyncpg.Connection, Any], event: ShortageDetected) -> None:
        raise RuntimeError("a bug in this consumer")

    event = _shortage(Setting.DRIEMILIEU)
    app = _app(settings, buggy)
    async with serving(app):  # connected to Kafka, so the service made its topics
        await produce(infra.kafka, topic, event.to_bytes(), key=b"driemilieu")
        async with TopicReader(infra.kafka, topics.dead_letter(topic)) as reader:
            await reader.until(lambda rs: len(rs) >= 1, what="the dead letter")

    cli = _Cli(infra, isolation)
    listed = cli("list")
    assert f"{topics.dead_letter(topic)}/0/0" in listed and "failed" in listed and "waiting" in listed
    assert str(event.id) in listed
    shown = cli("show", f"{topics.dead_letter(topic)}/0/0")
    assert "a bug in this consumer" in shown and str(event.id) in shown
    refused = cli("replay", "--all-waiting", check=False)
    assert "--by" in refused, "a replay without who and why is refused"

    bug.failures = 0  # the bug is mended: the consumer applies it now
    async with serving(_app(settings, bug.apply)):
        assert "replayed 1" in cli("replay", "--all-waiting", "--by", "ops.gooi", "--reason", "consumer fixed")
        applied = await eventually(
            lambda: db.fetchval("SELECT event_id FROM applied"), timeout=60, what="the replayed event applied"
        )
    assert applied == event.id
    relisted = cli("list")
    assert "waiting" not in relisted and "1 dead letter(s), 1 replayed" in relisted
    audit = await db.fetchrow("SELECT dead_letter, event_id, replayed_by, reason FROM dead_letter_replay")
    assert dict(audit) == {
        "dead_letter": f"{topics.dead_letter(topic)}/0/0",
        "event_id": str(event.id),
        "replayed_by": "ops.gooi",
        "reason": "consumer fixed",
    }
    # Replaying what was replayed already takes nothing more.
    assert "replayed 0" in cli("replay", "--all-waiting", "--by", "ops.gooi", "--reason", "again")


class _Cli:
    def __init__(self, infra: Infrastructure, isolation: Isolation) -> None:
        self._env = {**os.environ, **isolation.env(infra)}

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "services.runtime.deadletters", *args],
            cwd=REPO,
            env=self._env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr
