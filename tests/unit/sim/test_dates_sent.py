"""Every date the simulator sends has happened: it runs the past up to today. Intake refuses a care
start or end after today, so the simulator is driven here against a small in-memory stand-in for the
services' HTTP APIs (no Kafka, no database), and every request body it sends is searched for dates."""

from __future__ import annotations

import json
import re
from datetime import date

from services.sim.driver import Simulator
from services.sim.run import backfill
from tests.unit.sim.fake_region import CONTRACTED_FROM, TODAY, FakeRegion, simulator

DATE = re.compile(r'"(\w+)": "(\d{4}-\d{2}-\d{2})"')
# A toewijzing runs on into the future; an evidence document's expiry lies ahead by nature.
MAY_BE_AHEAD = {"end_date", "valid_until"}


async def _admitted(sim: Simulator) -> None:
    await sim.admit_providers()
    sim.world.tariffs = {
        (code, unit): [(date(2025, 1, 1), date(2027, 12, 31), 10_000)]
        for code, unit in [("45A53", "04"), ("54001", "01"), ("41A06", "16")]
    }


def _dates(fake: FakeRegion) -> list[tuple[str, str, date]]:
    return [
        (path, name, date.fromisoformat(value))
        for path, body in fake.sent
        for name, value in DATE.findall(json.dumps(body))
    ]


async def test_a_backfill_sends_no_date_after_today_but_toewijzing_ends() -> None:
    sim, fake = simulator(120)
    await _admitted(sim)
    await backfill(sim, speed=1e9)
    sent = _dates(fake)
    names = {name for _, name, _ in sent}
    assert {"referral_date", "start_date", "end_date", "period_start", "period_end"} <= names, names
    ahead = [(path, name, day) for path, name, day in sent if day > TODAY and name not in MAY_BE_AHEAD]
    assert ahead == []
    care_ends = [day for path, name, day in sent if path.endswith("/end")]
    assert care_ends and max(care_ends) <= TODAY
    assert min(day for _, name, day in sent if name == "referral_date") == date(2026, 7, 28)
    # A declaration only covers months that have passed (nothing of the current month), under contract.
    assert max(day for _, name, day in sent if name == "period_end") < TODAY.replace(day=1)
    assert min(day for _, name, day in sent if name == "period_start") == CONTRACTED_FROM
    await sim.calls.http.aclose()


async def test_live_rounds_send_today_at_the_latest() -> None:
    sim, fake = simulator(30)
    await _admitted(sim)
    await backfill(sim, speed=1e9)
    before = len(fake.sent)
    live_crunches: list = []
    for round_ in range(1, 60):
        await sim.today_round(round_, live_crunches)
    live = _dates(_only(fake, before))
    assert any(name == "referral_date" and day == TODAY for _, name, day in live)
    assert [(p, n, d) for p, n, d in live if d > TODAY and n not in MAY_BE_AHEAD] == []
    await sim.calls.http.aclose()


def _only(fake: FakeRegion, start: int) -> FakeRegion:
    later = FakeRegion({})
    later.sent = fake.sent[start:]
    return later
