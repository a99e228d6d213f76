"""Monitoring on the real broker and database: events in, published aggregates out, rebuild.

Events are written straight onto the test's topics, as the other services' outbox relays would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from httpx_sse import aconnect_sse

from contracts import capacity, contracting, intake, topics
from contracts.codes import Productcategorie, RedenBeeindiging, Retourcode, Urgentie, Verwijzer
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.monitoring.app import build
from services.monitoring.settings import MonitoringSettings
from services.runtime.roles import Role
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually, scraped
from tests.support.server import serving

HILVERSUM, LAREN = "0402", "0417"
AGB = "12345678"
CLIENT = "a" * 64
MARCH = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _envelope(data: EventData) -> Envelope:
    return Envelope.wrap(data, source="test", time=MARCH)


async def _publish(infra: Infrastructure, isolation: Isolation, topic: str, *events: EventData) -> list[Envelope]:
    envelopes = [_envelope(event) for event in events]
    for envelope in envelopes:
        await produce(infra.kafka, isolation.topic(topic), envelope.to_bytes(), key=envelope.subject.encode())
    return envelopes


def _region_events() -> tuple[list[EventData], ...]:
    """Six Hilversum referrals (one via Veilig Thuis) and two from Laren; five start, one drops out."""
    referrals: list[EventData] = []
    cares: list[EventData] = []
    for n, municipality in enumerate([HILVERSUM] * 6 + [LAREN] * 2):
        referral_id = uuid.uuid4()
        referrals.append(
            intake.ReferralReceived(
                referral_id=referral_id,
                client_ref=CLIENT,
                age=12,
                municipality_code=municipality,
                referrer_type=Verwijzer.GEMEENTE if n == 0 else Verwijzer.HUISARTS,
                veilig_thuis=n == 0,
                product_category=Productcategorie.AMBULANT,
                urgency=Urgentie.REGULIER,
                ambulant_tried=True,
                needs_gemeente_decision=True,
                received_at=MARCH,
            )
        )
        if municipality == HILVERSUM and n < 5:
            allocation_id = uuid.uuid4()
            common = dict(
                allocation_id=allocation_id,
                referral_id=referral_id,
                client_ref=CLIENT,
                municipality_code=municipality,
                provider_agb=AGB,
                product_category=Productcategorie.AMBULANT,
            )
            cares.append(
                intake.CareStarted(**common, start_date=date(2025, 3, 3) + timedelta(days=5 * n), reported_at=MARCH)
            )
            if n == 4:
                cares.append(
                    intake.CareEnded(
                        **common,
                        end_date=date(2025, 4, 30),
                        reason=RedenBeeindiging.VOORTIJDIG_CLIENT,
                        reported_at=MARCH,
                    )
                )
    placement_id, referral_id = uuid.uuid4(), uuid.uuid4()
    capacity_events: list[EventData] = [
        capacity.CapacityReported(
            agb=AGB,
            setting=Setting.CRISISPLEK,
            total=3,
            occupied=3,
            free=0,
            closed_to_admission=False,
            reported_at=MARCH,
            regional_free=0,
        ),
        capacity.PlacementRequested(
            placement_id=placement_id,
            referral_id=referral_id,
            client_ref=CLIENT,
            age=15,
            municipality_code=LAREN,
            product_category=Productcategorie.CRISIS,
            settings=[Setting.CRISISPLEK],
            urgency=Urgentie.CRISIS,
            requested_at=MARCH,
        ),
        capacity.PlacementDeclined(
            placement_id=placement_id,
            referral_id=referral_id,
            provider_agb=AGB,
            setting=Setting.CRISISPLEK,
            reason="groep_vol",
            declined_at=MARCH,
        ),
    ]
    alerts: list[EventData] = [
        capacity.ShortageDetected(
            shortage_id=uuid.uuid4(),
            setting=Setting.CRISISPLEK,
            free_places=0,
            waiting=1,
            severity=capacity.Severity.KRITIEK,
            detected_at=MARCH,
        ),
        capacity.CaseEscalated(
            placement_id=placement_id,
            referral_id=referral_id,
            client_ref=CLIENT,
            age=15,
            municipality_code=LAREN,
            settings=[Setting.CRISISPLEK],
            urgency=Urgentie.CRISIS,
            level=capacity.EscalationLevel.SCHAKELFUNCTIONARIS,
            reason="termijn_verlopen",
            waiting_since=MARCH,
            escalated_at=MARCH,
        ),
    ]
    declarations: list[EventData] = [
        contracting.DeclarationAssessed(
            declaration_id=uuid.uuid4(),
            provider_agb=AGB,
            municipality_code=HILVERSUM,
            lines=[
                contracting.AssessedLine(
                    line_number=i,
                    amount=1000,
                    approved=i != 6,
                    return_codes=[Retourcode.GOEDGEKEURD if i != 6 else Retourcode.TARIEF_WIJKT_AF],
                )
                for i in range(1, 7)
            ],
            approved_amount=5000,
            rejected_amount=1000,
            assessed_at=MARCH,
        )
    ]
    return referrals + cares, capacity_events, alerts, declarations


@pytest.fixture
def settings(infra: Infrastructure, isolation: Isolation) -> MonitoringSettings:
    return isolation.settings(MonitoringSettings, infra)


@pytest.fixture
async def monitoring(settings: MonitoringSettings, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serving(build(settings)) as url:
        yield url


@pytest.fixture
async def region(  # type: ignore[no-untyped-def]
    monitoring: str, infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, http
) -> dict[str, list[Envelope]]:
    """The region's events, published and applied: every event id is in monitoring's inbox.

    Each topic has its own consumer, so a condition on the read model can hold while another topic
    is still on its way (a decline counted after the overview was already complete)."""
    await eventually(lambda: _ready(http, monitoring), timeout=60, what="monitoring ready")
    intake_events, capacity_events, alerts, declarations = _region_events()
    published = {
        topics.INTAKE_EVENTS: await _publish(infra, isolation, topics.INTAKE_EVENTS, *intake_events),
        topics.CAPACITY_EVENTS: await _publish(infra, isolation, topics.CAPACITY_EVENTS, *capacity_events),
        topics.CAPACITY_ALERTS: await _publish(infra, isolation, topics.CAPACITY_ALERTS, *alerts),
        topics.CONTRACTING_EVENTS: await _publish(infra, isolation, topics.CONTRACTING_EVENTS, *declarations),
    }
    ids = [envelope.id for envelopes in published.values() for envelope in envelopes]

    async def all_applied() -> bool:
        applied = await db.fetchval(
            f'SELECT count(DISTINCT event_id) FROM "{isolation.schema}".inbox WHERE event_id = ANY($1)', ids
        )
        return applied == len(ids)

    await eventually(all_applied, what=f"all {len(ids)} events applied")
    return published


async def _ready(http, url: str) -> bool:  # type: ignore[no-untyped-def]
    return (await http.get(f"{url}/readyz")).status_code == 200


async def test_events_of_every_topic_become_published_aggregates_with_small_counts_hidden(  # type: ignore[no-untyped-def]
    monitoring: str, region, keys, http
) -> None:
    operator = await keys(Role.OPERATOR)
    overview = (await http.get(f"{monitoring}/v1/overview", headers=operator)).json()
    assert overview["totals"]["care_started"] == 5
    assert overview["totals"]["uitval"] == "<5"
    assert {m["municipality"]: m["referrals_in"] for m in overview["per_municipality"]} == {HILVERSUM: 6, LAREN: "<5"}
    assert {r["referrer"]: r["referrals"] for r in overview["referrers"]} == {"02": 7, "veilig_thuis": "<5"}
    assert overview["declarations"] == {
        "by_outcome": {"afgewezen": "<5", "goedgekeurd": 5},
        "by_return_code": {"0611": "<5", "8001": 5},
    }
    assert overview["escalations"] == [{"level": "schakelfunctionaris", "outcome": "open", "escalations": "<5"}]
    [tile] = overview["settings"]
    assert (tile["setting"], tile["free"], tile["state"], tile["shortage_active"]) == ("crisisplek", 0, "tekort", True)
    march = next(m for m in overview["trend"] if m["month"] == "2025-03")
    assert march["waiting"]["youths"] == 5 and march["waiting"]["median_days"] == 10.0

    flows = (await http.get(f"{monitoring}/v1/flows", headers=operator, params={"municipality": HILVERSUM})).json()
    april = next(r for r in flows if r["month"] == "2025-04")
    assert april["in_care_at_month_end"] == "<5" and april["ended_by_reason"] == {"32": "<5"}

    metrics = await scraped(
        http,
        monitoring,
        'schakel_referrals_total{product_category="45",referrer="02"} 7.0',
        'schakel_waiting_time_seconds_count{product_category="45"} 5.0',
        'schakel_capacity_report_age_seconds{setting="crisisplek"}',
        'schakel_suppressed_series{metric="schakel_escalations"} 1.0',
    )
    # The "<5" rule holds on /metrics too: the one escalation and the one Veilig Thuis referral
    # have no sample; that a series was left out is itself shown.
    assert "schakel_escalations_total{" not in metrics and 'referrer="veilig_thuis"' not in metrics
    assert _youth_samples_of_one_to_four(metrics) == []


YOUTH_METRICS = (
    "schakel_referrals",
    "schakel_care_started",
    "schakel_care_ended",
    "schakel_placements",
    "schakel_youths_waiting_for_placement",
    "schakel_escalations",
    "schakel_declaration_lines",
    "schakel_waiting_time_seconds_bucket",
    "schakel_waiting_time_seconds_count",
)


def _youth_samples_of_one_to_four(metrics: str) -> list[str]:
    samples = [ln for ln in metrics.splitlines() if ln.startswith(YOUTH_METRICS)]
    assert samples, "no youth metrics at all"
    return [ln for ln in samples if 0 < float(ln.rsplit(" ", 1)[1]) < 5]


async def test_the_live_feed_ignores_a_last_event_id_it_never_sent(monitoring: str, http) -> None:  # type: ignore[no-untyped-def]
    # Each event carries the whole state, so there is nothing to resume: any id, "²" too, is ignored.
    headers = {"Last-Event-ID": "²".encode("latin-1")}
    async with aconnect_sse(http, "GET", f"{monitoring}/v1/live", headers=headers) as source:
        assert source.response.status_code == 200
        first = await anext(source.aiter_sse())
    assert first.event == "update" and "settings" in json.loads(first.data)


async def test_the_schakelfunctie_sees_the_waiting_youth_pseudonymously(monitoring: str, region, keys, http) -> None:  # type: ignore[no-untyped-def]
    inbox = (
        await http.get(f"{monitoring}/v1/schakelfunctie", headers=await keys(Role.SCHAKELFUNCTIONARIS, "sf"))
    ).json()
    [youth] = inbox["waiting"]
    assert (youth["age"], youth["municipality"], youth["urgency"], youth["declines"]) == (15, LAREN, "crisis", 1)
    assert youth["escalated_to"] == "schakelfunctionaris"
    assert CLIENT not in str(inbox)
    [escalation] = inbox["escalations"]
    assert escalation["alert_id"] == str(region[topics.CAPACITY_ALERTS][1].id)
    gemeente = await keys(Role.GEMEENTE, LAREN)
    assert (await http.get(f"{monitoring}/v1/schakelfunctie", headers=gemeente)).status_code == 403


async def test_a_gemeente_sees_only_its_own_municipality(monitoring: str, region, keys, http) -> None:  # type: ignore[no-untyped-def]
    hilversum = await keys(Role.GEMEENTE, HILVERSUM)
    own = (await http.get(f"{monitoring}/v1/overview", headers=hilversum)).json()
    assert own["scope"]["municipality"] == HILVERSUM
    assert [m["municipality"] for m in own["per_municipality"]] == [HILVERSUM]
    other = await http.get(f"{monitoring}/v1/flows", headers=hilversum, params={"municipality": LAREN})
    assert other.status_code == 403 and LAREN in other.json()["detail"]
    assert (await http.get(f"{monitoring}/v1/waiting-times")).status_code == 401
    assert (await http.get(f"{monitoring}/v1/overview", headers=await keys(Role.PROVIDER, AGB))).status_code == 403
    bad = await http.get(f"{monitoring}/v1/flows", headers=hilversum, params={"from": "2025-13"})
    assert bad.status_code == 422 and "from" in bad.text

    export = await http.get(f"{monitoring}/v1/export.csv", headers=hilversum)
    rows = list(csv.DictReader(io.StringIO(export.text), delimiter=";"))
    assert export.headers["content-type"].startswith("text/csv")
    assert {r["gemeente"] for r in rows} == {HILVERSUM}
    march = next(r for r in rows if r["maand"] == "2025-03")
    assert (march["instroom"], march["gestart"], march["wachttijd_mediaan_dagen"]) == ("6", "5", "10.0")


async def test_a_rebuild_from_the_topics_ends_with_the_same_numbers(  # type: ignore[no-untyped-def]
    monitoring: str, region, keys, http, settings: MonitoringSettings, db: asyncpg.Pool, infra, isolation
) -> None:
    operator = await keys(Role.OPERATOR)

    async def snapshot() -> tuple[object, ...]:
        overview = (await http.get(f"{monitoring}/v1/overview", headers=operator)).json()
        for tile in overview["settings"]:
            tile.pop("report_age_seconds")
        for shortage in overview["shortages"]:
            shortage.pop("duration_seconds")
        export = (await http.get(f"{monitoring}/v1/export.csv", headers=operator)).text
        inbox = (await http.get(f"{monitoring}/v1/schakelfunctie", headers=operator)).json()
        for shortage in inbox["shortages"]:
            shortage.pop("duration_seconds")
        return overview, export, inbox

    before = await snapshot()
    applied_before = await db.fetchval(f'SELECT count(*) FROM "{isolation.schema}".inbox')
    # The real command, as an operator runs it, against the same schema and topics.
    env = {**os.environ, **isolation.env(infra)}
    result = subprocess.run(
        [sys.executable, "-m", "services.monitoring.rebuild"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{applied_before} applied" in result.stdout
    assert await snapshot() == before


async def test_a_place_held_by_a_proposal_is_not_counted_free(
    monitoring: str,
    infra: Infrastructure,  # type: ignore[no-untyped-def]
    isolation: Isolation,
    http,
) -> None:
    await eventually(lambda: _ready(http, monitoring), timeout=60, what="monitoring ready")
    placement_id, referral_id = uuid.uuid4(), uuid.uuid4()
    report = capacity.CapacityReported(
        agb=AGB,
        setting=Setting.GEZINSHUIS,
        total=3,
        occupied=2,
        free=1,
        closed_to_admission=False,
        reported_at=MARCH,
        regional_free=1,
    )
    proposed = capacity.PlacementProposed(
        placement_id=placement_id,
        referral_id=referral_id,
        provider_agb=AGB,
        setting=Setting.GEZINSHUIS,
        reserved_until=MARCH,
        proposed_at=MARCH,
    )
    declined = capacity.PlacementDeclined(
        placement_id=placement_id,
        referral_id=referral_id,
        provider_agb=AGB,
        setting=Setting.GEZINSHUIS,
        reason="groep_vol",
        declined_at=MARCH,
    )

    async def free_reads(value: float) -> bool:
        metrics = (await http.get(f"{monitoring}/metrics")).text
        return f'schakel_places_free{{setting="gezinshuis"}} {value}' in metrics

    await _publish(infra, isolation, topics.CAPACITY_EVENTS, report)
    await eventually(lambda: free_reads(1.0), what="one free gezinshuis place")
    await _publish(infra, isolation, topics.CAPACITY_EVENTS, proposed)
    await eventually(lambda: free_reads(0.0), what="the proposed place counted as taken")
    await _publish(infra, isolation, topics.CAPACITY_EVENTS, declined)
    await eventually(lambda: free_reads(1.0), what="the declined place free again")
