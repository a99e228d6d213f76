"""The doorbraak on the real broker and database: capacity's case events in, the expert team's view,
the published figures and the metrics out; a redelivery, a replay out of order and a rebuild change
nothing.

Events are written straight onto the test's topics, as capacity's outbox relay would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from contracts import capacity, topics
from contracts.codes import Urgentie
from contracts.doorbraak import (
    CaseClosed,
    CaseClosedReason,
    CaseTakenUp,
    DecisionCarriedOut,
    DecisionKind,
    DecisionMade,
    DecisionOverdue,
    DecisionWithdrawn,
    DoorbraakTeam,
    Executor,
    MeetingHeld,
    WithdrawalReason,
)
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.monitoring.app import build
from services.monitoring.rebuild import MIGRATIONS, rebuild
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import ProjectionStore
from services.runtime.db import create_pool, migrate
from services.runtime.roles import Role
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.workdays import dutch_date
from tests.integration.conftest import Keys
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually, scraped
from tests.support.server import serving

HILVERSUM, LAREN = "0402", "0417"
CLIENT = "c" * 64
ESCALATED = datetime(2025, 3, 1, 9, tzinfo=UTC)
TABLES = ("doorbraak_case_view", "doorbraak_meeting_view", "doorbraak_decision_view")


@dataclass
class Case:
    """One youth's doorbraak, as capacity tells it."""

    municipality: str
    case_id: uuid.UUID = field(default_factory=uuid.uuid4)
    placement_id: uuid.UUID = field(default_factory=uuid.uuid4)
    referral_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def ids(self) -> dict[str, object]:
        return {"case_id": self.case_id, "placement_id": self.placement_id, "referral_id": self.referral_id}

    def taken_up(self) -> CaseTakenUp:
        return CaseTakenUp(
            **self.ids,
            client_ref=CLIENT,
            age=15,
            municipality_code=self.municipality,
            settings=[Setting.RESIDENTIEEL],
            urgency=Urgentie.SPOED,
            team=DoorbraakTeam.EXPERTTEAM,
            first_escalated_at=ESCALATED,
            taken_up_at=ESCALATED + timedelta(days=2),
        )

    def meeting(self, held_on: date) -> MeetingHeld:
        return MeetingHeld(
            **self.ids,
            meeting_id=uuid.uuid4(),
            held_on=held_on,
            parties=["expertteam", "gemeente"],
            recorded_at=ESCALATED + timedelta(days=3),
        )

    def decision(
        self, days_after_escalation: int, due: date, kind: DecisionKind = DecisionKind.MAATWERK
    ) -> DecisionMade:
        return DecisionMade(
            **self.ids,
            decision_id=uuid.uuid4(),
            municipality_code=self.municipality,
            kind=kind,
            executor=Executor.CONTRACTMANAGEMENT,
            provider_agb="12345678",
            settings=[Setting.RESIDENTIEEL],
            working_days=10,
            due_date=due,
            first_escalated_at=ESCALATED,
            decided_at=ESCALATED + timedelta(days=days_after_escalation),
        )

    def overdue(self, decision: DecisionMade) -> DecisionOverdue:
        return DecisionOverdue(
            **self.ids,
            decision_id=decision.decision_id,
            municipality_code=self.municipality,
            kind=decision.kind,
            executor=decision.executor,
            due_date=decision.due_date,
            overdue_at=decision.decided_at + timedelta(days=15),
        )

    def carried_out(self, decision: DecisionMade) -> DecisionCarriedOut:
        return DecisionCarriedOut(
            **self.ids,
            decision_id=decision.decision_id,
            contract_id=uuid.uuid4(),
            carried_out_at=decision.decided_at + timedelta(days=5),
        )

    def withdrawn(self, decision: DecisionMade) -> DecisionWithdrawn:
        return DecisionWithdrawn(
            **self.ids,
            decision_id=decision.decision_id,
            reason=WithdrawalReason.NIET_UITVOERBAAR,
            withdrawn_at=decision.decided_at + timedelta(days=3),
        )

    def closed(self, reason: CaseClosedReason, days_after_escalation: int) -> CaseClosed:
        return CaseClosed(
            **self.ids,
            municipality_code=self.municipality,
            reason=reason,
            first_escalated_at=ESCALATED,
            taken_up_at=ESCALATED + timedelta(days=2),
            closed_at=ESCALATED + timedelta(days=days_after_escalation),
        )


@dataclass
class Region:
    """Seven cases: an overdue one, one capacity announced overdue, one waiting for a decision, three
    that ended in care and one whose decision was withdrawn."""

    overdue_by_date: Case
    overdue_by_alert: Case
    waiting: Case
    events: list[EventData]
    alerts: list[EventData]


def region() -> Region:
    today = dutch_date(datetime.now(UTC))
    late, alerted, waiting = Case(HILVERSUM), Case(LAREN), Case(HILVERSUM)
    started = [Case(HILVERSUM) for _ in range(3)]
    withdrawn = Case(HILVERSUM)
    late_decision = late.decision(4, date(2025, 3, 20))
    alerted_decision = alerted.decision(9, today + timedelta(days=30))
    started_decisions = [c.decision(5 + n, date(2025, 3, 25)) for n, c in enumerate(started)]
    withdrawn_decision = withdrawn.decision(8, date(2025, 3, 25), DecisionKind.PGB)
    events: list[EventData] = [
        *(c.taken_up() for c in [late, alerted, waiting, *started, withdrawn]),
        late.meeting(date(2025, 3, 4)),
        late_decision,
        alerted_decision,
        *started_decisions,
        *(c.carried_out(d) for c, d in zip(started, started_decisions, strict=True)),
        *(c.closed(CaseClosedReason.ZORG_GESTART, 30 + 5 * n) for n, c in enumerate(started)),
        withdrawn_decision,
        withdrawn.withdrawn(withdrawn_decision),
        withdrawn.closed(CaseClosedReason.BESLUIT_INGETROKKEN, 12),
    ]
    return Region(late, alerted, waiting, events, [alerted.overdue(alerted_decision)])


async def _publish(infra: Infrastructure, isolation: Isolation, topic: str, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        await produce(infra.kafka, isolation.topic(topic), envelope.to_bytes(), key=envelope.subject.encode())


def _wrapped(events: list[EventData]) -> list[Envelope]:
    return [Envelope.wrap(event, source="capacity", time=ESCALATED) for event in events]


async def _tables(pool: asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(map(tuple, await pool.fetch(f"SELECT * FROM {table}")), key=repr) for table in TABLES}


@pytest.fixture
def settings(infra: Infrastructure, isolation: Isolation) -> MonitoringSettings:
    return isolation.settings(MonitoringSettings, infra)


@pytest.fixture
async def monitoring(settings: MonitoringSettings, db: asyncpg.Pool, http: httpx.AsyncClient) -> AsyncIterator[str]:
    async with serving(build(settings)) as url:

        async def ready() -> bool:
            return (await http.get(f"{url}/readyz")).status_code == 200

        await eventually(ready, timeout=60, what="monitoring ready")
        yield url


async def test_the_expert_teams_cases_are_projected_shown_overdue_first_and_counted_with_small_counts_hidden(
    monitoring: str,
    infra: Infrastructure,
    isolation: Isolation,
    settings: MonitoringSettings,
    keys: Keys,
    http: httpx.AsyncClient,
    db: asyncpg.Pool,
) -> None:
    seeded = region()
    events, alerts = _wrapped(seeded.events), _wrapped(seeded.alerts)
    await _publish(infra, isolation, topics.CAPACITY_EVENTS, events)
    await _publish(infra, isolation, topics.CAPACITY_ALERTS, alerts)
    expertteam = await keys(Role.EXPERTTEAM, "expertteam.gooi")

    async def view(wanted: int, overdue: int) -> dict | None:  # type: ignore[type-arg]
        shown = (await http.get(f"{monitoring}/v1/doorbraak", headers=expertteam)).json()
        return shown if (shown["open_cases"], shown["overdue"]) == (wanted, overdue) else None

    shown = await eventually(lambda: view(3, 2), what="three open cases, two overdue")
    # Overdue first, by due date: the one whose date passed, then the one capacity announced; then the waiting one.
    assert [c["case_id"] for c in shown["cases"]] == [
        str(seeded.overdue_by_date.case_id),
        str(seeded.overdue_by_alert.case_id),
        str(seeded.waiting.case_id),
    ]
    late, alerted, waiting = shown["cases"]
    assert (late["stage"], late["meetings"], late["last_meeting_on"]) == ("te_laat", 1, "2025-03-04")
    assert late["decision"]["kind"] == "maatwerk" and late["decision"]["due_date"] == "2025-03-20"
    assert late["decision"]["overdue"] and late["decision"]["days_overdue"] > 0
    assert alerted["stage"] == "te_laat" and alerted["decision"]["overdue_since"] is not None
    assert alerted["municipality"] == LAREN and alerted["age"] == 15 and alerted["urgency"] == "spoed"
    assert (waiting["stage"], waiting["decision"]) == ("besluit_nodig", None)
    # Pseudonymous: the youth's client_ref, the provider named and the parties at the table stay with capacity.
    assert CLIENT not in str(shown) and "12345678" not in str(shown) and "gemeente" not in str(shown).lower()

    # Who may see it: the alert roles; not a gemeente, not without a key.
    for role, subject in ((Role.SCHAKELFUNCTIONARIS, "sf.gooi"), (Role.OPERATOR, "beleid")):
        assert (await http.get(f"{monitoring}/v1/doorbraak", headers=await keys(role, subject))).status_code == 200
    gemeente = await keys(Role.GEMEENTE, HILVERSUM)
    assert (await http.get(f"{monitoring}/v1/doorbraak", headers=gemeente)).status_code == 403
    assert (await http.get(f"{monitoring}/v1/doorbraak")).status_code == 401

    # The published figures per month and municipality.
    operator = await keys(Role.OPERATOR, "beleid")
    rows = (await http.get(f"{monitoring}/v1/doorbraak/figures", headers=operator)).json()
    march = {r["municipality"]: r for r in rows if r["month"] == "2025-03"}
    assert march[HILVERSUM]["cases_taken_up"] == 6
    assert march[HILVERSUM]["decisions"] == 5
    assert march[HILVERSUM]["decisions_by_kind"] == {"maatwerk": "<5", "pgb": "<5"}
    # Days from the first escalation to each case's first decision: 4, 5, 6, 7, 8.
    assert march[HILVERSUM]["to_decision"] == {"youths": 5, "median_days": 6.0}
    assert march[LAREN]["cases_taken_up"] == "<5"
    care_months = {r["month"]: r["to_care"] for r in rows if r["municipality"] == HILVERSUM}
    assert care_months["2025-03"] == {"youths": "<5", "median_days": None}
    own = (await http.get(f"{monitoring}/v1/doorbraak/figures", headers=gemeente)).json()
    assert {r["municipality"] for r in own} == {HILVERSUM}
    overview = (await http.get(f"{monitoring}/v1/overview", headers=operator)).json()
    [region_march] = [m for m in overview["doorbraak"] if m["month"] == "2025-03"]
    assert (region_march["cases_taken_up"], region_march["decisions_by_kind"]) == (7, {"maatwerk": 5, "pgb": "<5"})

    # /metrics: three open cases and two overdue are counts of youths under five; the oldest overdue is exact.
    metrics = await scraped(
        http,
        monitoring,
        'schakel_suppressed_series{metric="schakel_doorbraak_cases_open"} 1.0',
        'schakel_suppressed_series{metric="schakel_doorbraak_decisions_overdue"} 1.0',
    )
    assert "\nschakel_doorbraak_cases_open " not in metrics
    [oldest] = [ln for ln in metrics.splitlines() if ln.startswith("schakel_doorbraak_oldest_overdue_seconds ")]
    assert float(oldest.split()[1]) > 86_400

    # A redelivery of everything changes nothing: the inbox has seen every id.
    before = await _tables(db)
    applied = await db.fetchval("SELECT count(*) FROM inbox")
    await _publish(infra, isolation, topics.CAPACITY_EVENTS, events)
    await _publish(infra, isolation, topics.CAPACITY_ALERTS, alerts)
    # Behind the redelivered events on their one partition: a new meeting, and a shortage alert.
    sentinel = seeded.waiting.meeting(date(2025, 3, 10))
    await _publish(infra, isolation, topics.CAPACITY_EVENTS, _wrapped([sentinel]))
    shortage = capacity.ShortageDetected(
        shortage_id=uuid.uuid4(),
        setting=Setting.RESIDENTIEEL,
        free_places=0,
        waiting=1,
        severity=capacity.Severity.KRITIEK,
        detected_at=ESCALATED,
    )
    await _publish(infra, isolation, topics.CAPACITY_ALERTS, _wrapped([shortage]))

    async def both_sentinels_applied() -> bool:
        return await db.fetchval("SELECT count(*) FROM inbox") == applied + 2

    await eventually(both_sentinels_applied, what="the events behind the redelivery applied")
    after = await _tables(db)
    after["doorbraak_meeting_view"] = [r for r in after["doorbraak_meeting_view"] if r[0] != sentinel.meeting_id]
    assert after == before

    # A rebuild from the topics ends with the same read models.
    before = await _tables(db)
    replayed = await rebuild(settings)
    assert replayed.skipped == 0
    assert await _tables(db) == before


async def test_the_writes_tolerate_repeats_and_any_order(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool
) -> None:
    """Without the inbox too: each write is an upsert that a repeat or an earlier event cannot undo, so a
    replay from a later offset, or the overdue alert read before its decision, ends the same."""
    seeded = region()
    everything = seeded.events + seeded.alerts
    results = []
    for way, order in (("once", everything), ("twice_reversed", everything[::-1] + everything[::-1])):
        pool = await create_pool(infra.database_url, f"{isolation.schema}_{way}", max_size=2)
        try:
            await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
            await migrate(pool, "monitoring", MIGRATIONS)
            async with pool.acquire() as conn:
                store = ProjectionStore(conn, "live")
                for event in order:
                    await _record(store, event)
            results.append(await _tables(pool))
        finally:
            await pool.close()
    once, twice_reversed = results
    assert twice_reversed == once
    assert len(once["doorbraak_case_view"]) == 7 and len(once["doorbraak_decision_view"]) == 6


async def _record(store: ProjectionStore, event: EventData) -> None:
    match event:
        case CaseTakenUp():
            await store.take_up_case(event)
        case MeetingHeld():
            await store.record_meeting(event)
        case DecisionMade():
            await store.record_decision(event)
        case DecisionCarriedOut():
            await store.carry_out_decision(event)
        case DecisionWithdrawn():
            await store.withdraw_decision(event)
        case DecisionOverdue():
            await store.record_overdue_decision(event)
        case CaseClosed():
            await store.close_case(event)
