"""Nothing stops the flow (issue #11): the four services as processes under a steady load of real
referrals while, in turn, the broker restarts, a service is killed -9, PostgreSQL restarts, and a
provider posts a 2,000-line declaration. After each fault every referral answered 201 is in
monitoring's and (verblijf) capacity's read models exactly once, the outboxes drain, and no
message became a dead letter. The figures go to test-artifacts/faults.json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date, timedelta

import httpx
import pytest

from tests.faults.system import ServiceProcess, System, ThrowawayPostgres
from tests.support.infra import Isolation, ThrowawayKafka
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, create_key
from tests.support.server import free_port

LOAD_SECONDS = 14.0
RATE = 8.0  # referrals per second, steady
FAULT_AT = 3.0  # seconds into the load
FAULT_LASTS = 5.0
SETTLE_SECONDS = 120.0  # how long the system may take to catch up after a fault
REPORT = ARTIFACTS / "faults.json"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    kafka = ThrowawayKafka(tmp_path_factory.mktemp("faults-kafka"), free_port(), free_port())
    postgres = ThrowawayPostgres()
    kafka.start()
    postgres.init()
    system = System(kafka, postgres, Isolation.new())
    try:
        system.start()
        yield system
    finally:
        system.stop()
        kafka.stop()
        postgres.destroy()
        ARTIFACTS.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(system.reports, indent=2) + "\n")


async def _under_load(
    system: System, name: str, seed: int, fault: Callable[[], Awaitable[None]], recover: Callable[[], Awaitable[None]]
) -> dict[str, object]:
    """Run the load, break the system at FAULT_AT for FAULT_LASTS, mend it, and check the flow."""
    from tests.faults.system import LoadReport

    report = LoadReport()

    async def break_and_mend() -> None:
        await asyncio.sleep(FAULT_AT)  # the moment of the fault within the load, not a synchronisation
        await fault()
        await asyncio.sleep(FAULT_LASTS)  # how long the fault lasts
        await recover()

    await asyncio.gather(system.load(seed).run(LOAD_SECONDS, RATE, report), break_and_mend())
    assert report.accepted, f"{name}: no referral was accepted at all"
    figures = await _settled(system, name, report)
    system.reports[name] = figures
    return figures


async def _settled(system: System, name: str, report) -> dict[str, object]:  # type: ignore[no-untyped-def]
    async def monitoring_has_all() -> dict[str, int] | None:
        counts = await system.monitoring_counts(report.accepted)
        return counts if len(counts) == len(report.accepted) else None

    counts = await eventually(
        monitoring_has_all, timeout=SETTLE_SECONDS, interval=0.5, what=f"{name}: every accepted referral in monitoring"
    )
    placements = await eventually(
        lambda: _all_of(system.capacity_counts, sorted(report.verblijf)),
        timeout=SETTLE_SECONDS,
        interval=0.5,
        what=f"{name}: every accepted verblijf referral at capacity",
    )
    await eventually(
        lambda: _drained(system), timeout=SETTLE_SECONDS, interval=0.5, what=f"{name}: every outbox drained"
    )
    duplicated = sum(n - 1 for n in counts.values()) + sum(n - 1 for n in placements.values())
    dead = await system.dead_letters()
    figures = {
        **report.summary(),
        "lost": len(report.accepted) - len(counts),
        "duplicated": duplicated,
        "dead_letters": dead,
        "verblijf_accepted": len(report.verblijf),
    }
    assert figures["lost"] == 0 and duplicated == 0 and dead == 0, figures
    # While something is down a request is refused only as "try again" (503) or not taken at
    # all (0: connection refused), never with a 4xx that tells the client its request was wrong.
    assert set(report.refused) <= {0, 503}, figures
    return figures


async def _all_of(count: Callable[[list[str]], Awaitable[dict[str, int]]], ids: list[str]) -> dict[str, int] | None:
    counts = await count(ids)
    return counts if len(counts) == len(ids) else None


async def _drained(system: System) -> bool:
    return sum((await system.unsent()).values()) == 0


async def _ready(service: ServiceProcess) -> bool:
    async with httpx.AsyncClient(timeout=3) as http:
        try:
            return (await http.get(f"{service.url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False


async def test_a_broker_restart_under_load_stops_nothing(system: System) -> None:
    async def degraded_while_away() -> None:
        await asyncio.to_thread(system.kafka.stop)

    async def back() -> None:
        await asyncio.to_thread(system.kafka.start)

    figures = await _under_load(system, "kafka broker stopped and started", 1, degraded_while_away, back)
    # Requests were accepted while the broker was away: the outbox held them.
    assert figures["accepted"] > RATE * (FAULT_AT + FAULT_LASTS) * 0.5
    for service in system.services.values():
        await eventually(lambda s=service: _ready(s), timeout=60, what=f"{service.name} ready again")


@pytest.mark.parametrize("victim", ["intake", "capacity", "monitoring"])
async def test_a_service_killed_with_sigkill_under_load_loses_nothing(system: System, victim: str) -> None:
    service = system.services[victim]

    async def kill() -> None:
        service.kill9()

    async def restart() -> None:
        await asyncio.to_thread(service.start)

    figures = await _under_load(system, f"{victim} killed -9 and restarted", 10 + service.starts, kill, restart)
    assert service.starts >= 2 and figures["accepted"] > 0


async def test_a_postgresql_restart_under_load_loses_nothing(system: System) -> None:
    async def stop() -> None:
        await asyncio.to_thread(system.postgres.stop)

    async def start() -> None:
        await asyncio.to_thread(system.postgres.start)

    figures = await _under_load(system, "postgresql restarted", 20, stop, start)
    # While PostgreSQL was down intake answered 503 (nothing stored), never 201 for something lost.
    assert figures["refused"].get(503, 0) + figures["unanswered"] > 0, figures  # type: ignore[union-attr]
    for service in system.services.values():
        await eventually(lambda s=service: _ready(s), timeout=60, what=f"{service.name} ready again")


AGB = "45678901"
TODAY = date.today()
DAY = TODAY.replace(day=1)
LOT = {
    "name": "Ambulant (faults)",
    "product_categories": ["45"],
    "product_codes": ["45T01"],
    "tariffs": [{"product_code": "45T01", "unit": "04", "eurocent": 8_000, "valid_from": "2020-01-01"}],
    "max_wait_days": 42,
    "requirements": [{"code": "vog", "description": "VOG"}],
    "status": "open",
}


def _declaration(number: str, lines: int) -> dict[str, object]:
    # Lines for toewijzingen nobody issued: every line is refused with its reasons, the heaviest
    # DeclarationAssessed there can be.
    return {
        "declaration_number": number,
        "provider_agb": AGB,
        "municipality_code": "0402",
        "period_start": DAY.isoformat(),
        "period_end": (DAY + timedelta(days=27)).isoformat(),
        "lines": [
            {
                "line_number": n,
                "allocation_number": 990_000 + n,
                "municipality_code": "0402",
                "product_category": "45",
                "product_code": "45T01",
                "period_start": DAY.isoformat(),
                "period_end": DAY.isoformat(),
                "volume": 1,
                "unit": "04",
                "tariff": 8_000,
                "amount": 8_000,
            }
            for n in range(1, lines + 1)
        ],
    }


@pytest.fixture(scope="module")
async def contracting(system: System) -> AsyncIterator[tuple[str, dict[str, str]]]:
    url = system.services["contracting"].url
    admin = {"Authorization": f"Bearer {create_key('admin', 'inkoop', system.env)}"}
    provider = {"Authorization": f"Bearer {create_key('provider', AGB, system.env)}"}
    async with httpx.AsyncClient(timeout=60) as http:
        (await http.put(f"{url}/v1/lots/AMB-FAULTS", json=LOT, headers=admin)).raise_for_status()
        applied = await http.post(
            f"{url}/v1/open-house/applications",
            headers=provider,
            json={
                "provider_agb": AGB,
                "kvk": "41234567",
                "lots": ["AMB-FAULTS"],
                "evidence": [{"requirement": "vog", "document_ref": "vog-2026"}],
            },
        )
        assert applied.json()["lots"][0]["outcome"] == "admitted", applied.text
    yield url, provider


async def test_a_2000_line_declaration_is_refused_up_front_and_the_largest_allowed_one_flows(
    system: System,
    contracting: tuple[str, dict[str, str]],
) -> None:
    url, provider = contracting
    results: dict[str, object] = {}

    async def post_declarations() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            huge = await http.post(f"{url}/v1/declarations", headers=provider, json=_declaration("HUGE-1", 2000))
            assert huge.status_code in (413, 422), huge.text
            assert "500" in huge.text, "the refusal names the limit"
            largest = await http.post(f"{url}/v1/declarations", headers=provider, json=_declaration("MAX-1", 500))
            assert largest.status_code == 201, largest.text[:500]
            results["huge"], results["largest"] = huge.status_code, largest.status_code

    async def nothing() -> None:
        return None

    async def declare() -> None:
        await post_declarations()

    figures = await _under_load(system, "2,000-line declaration posted", 30, declare, nothing)
    parked = await system._fetch("contracting", "SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL")
    assert parked[0]["n"] == 0
    lines = await system._fetch("monitoring", "SELECT count(*) AS n FROM declaration_line_view")
    assert lines[0]["n"] >= 500, "the 500 refused lines reached monitoring"
    system.reports["2,000-line declaration posted"] = {
        **figures,
        "declaration_2000_status": results["huge"],
        "declaration_500_status": results["largest"],
    }
