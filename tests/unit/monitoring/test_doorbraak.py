"""The doorbraak in monitoring: when a decision is overdue, how the expert team's view orders its
cases, the published figures per month and municipality ("<5"), and the doorbraak metrics."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contracts.doorbraak import DecisionKind, Executor
from services.monitoring import domain, doorbraak_views, pages
from services.monitoring.domain import DoorbraakCase, DoorbraakDecision, OpenDecision
from services.monitoring.gauges import Snapshot
from services.monitoring.settings import MonitoringSettings
from services.runtime.clock import Clock
from services.runtime.unit_of_work import InMemoryBus, InMemoryStore, in_memory
from services.runtime.workdays import NL

HILVERSUM, LAREN = "0402", "0417"
# Wednesday 12 March 2025, 10:00 in Amsterdam.
NOW = datetime(2025, 3, 12, 9, tzinfo=UTC)


def decision(
    due: date | None, *, alerted: datetime | None = None, carried_out: bool = False, withdrawn: bool = False
) -> OpenDecision:
    return OpenDecision(str(uuid.uuid4()), due, alerted, NOW - timedelta(days=10), carried_out, withdrawn)


# --- overdue -------------------------------------------------------------------------------------


def test_a_decision_is_overdue_from_the_dutch_midnight_after_its_due_date() -> None:
    due = date(2025, 3, 11)
    midnight = datetime(2025, 3, 12, 0, tzinfo=NL)
    assert domain.overdue_since(due, None) == midnight
    assert not domain.decision_overdue(due, None, midnight - timedelta(seconds=1))
    assert domain.decision_overdue(due, None, midnight)
    # 23:30 UTC on the due date is already the next day in Amsterdam.
    assert domain.decision_overdue(due, None, datetime(2025, 3, 11, 23, 30, tzinfo=UTC))


def test_capacitys_alert_makes_a_decision_overdue_even_before_its_date_passed() -> None:
    alerted = datetime(2025, 3, 10, 8, tzinfo=UTC)
    assert domain.overdue_since(date(2025, 3, 20), alerted) == alerted
    assert domain.decision_overdue(date(2025, 3, 20), alerted, NOW)
    # The date passing first counts from then, whenever the alert comes.
    assert domain.overdue_since(date(2025, 3, 1), alerted) == datetime(2025, 3, 2, 0, tzinfo=NL)


def test_a_decision_with_neither_date_nor_alert_is_never_overdue() -> None:
    assert domain.overdue_since(None, None) is None
    assert not domain.decision_overdue(None, None, NOW)


# --- the expert team's view ---------------------------------------------------------------------


def test_the_current_decision_is_the_open_one_due_first() -> None:
    later, sooner = decision(date(2025, 3, 20)), decision(date(2025, 3, 14))
    done, withdrawn = decision(date(2025, 3, 1), carried_out=True), decision(date(2025, 3, 2), withdrawn=True)
    assert domain.current_decision([later, done, sooner, withdrawn]) == sooner
    assert domain.current_decision([done, withdrawn]) is None
    assert domain.current_decision([decision(None), later]) == later


@pytest.mark.parametrize(
    ("decisions", "stage"),
    [
        ([], "besluit_nodig"),
        ([decision(date(2025, 3, 20))], "besluit_loopt"),
        ([decision(date(2025, 3, 11))], "te_laat"),
        ([decision(date(2025, 3, 20), alerted=NOW - timedelta(hours=1))], "te_laat"),
        ([decision(date(2025, 3, 11), carried_out=True)], "uitgevoerd"),
        ([decision(date(2025, 3, 11), withdrawn=True)], "besluit_nodig"),
        ([decision(date(2025, 3, 5), withdrawn=True), decision(date(2025, 3, 20))], "besluit_loopt"),
    ],
)
def test_a_cases_stage_follows_its_decisions(decisions: list[OpenDecision], stage: str) -> None:
    assert domain.case_stage(decisions, NOW) == stage


def test_cases_are_ordered_overdue_first_then_by_due_date_then_longest_taken_up() -> None:
    early, late = NOW - timedelta(days=20), NOW - timedelta(days=2)
    cases = {
        "besluit_loopt_later": ("besluit_loopt", date(2025, 3, 25), early),
        "te_laat": ("te_laat", date(2025, 3, 10), late),
        "besluit_nodig": ("besluit_nodig", None, early),
        "besluit_loopt_sooner": ("besluit_loopt", date(2025, 3, 14), late),
        "uitgevoerd": ("uitgevoerd", None, early),
        "besluit_nodig_unknown_take_up": ("besluit_nodig", None, None),
    }
    ordered = sorted(cases, key=lambda name: domain.case_order(*cases[name]))
    assert ordered == [
        "te_laat",
        "besluit_loopt_sooner",
        "besluit_loopt_later",
        "besluit_nodig",
        "besluit_nodig_unknown_take_up",
        "uitgevoerd",
    ]


class DoorbraakRows(InMemoryStore):
    """What the read models hold for the view: rows as asyncpg returns them (read by key)."""

    def __init__(self, cases: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> None:
        self.cases, self.decisions = cases, decisions

    async def open_doorbraak_cases(self) -> list[dict[str, Any]]:
        return self.cases

    async def doorbraak_decisions(self, case_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        return [d for d in self.decisions if d["case_id"] in case_ids]


def case_row(taken_up_days_ago: int, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": uuid.uuid4(),
        "placement_id": uuid.uuid4(),
        "age": 15,
        "municipality": HILVERSUM,
        "settings": ["residentieel"],
        "urgency": "spoed",
        "team": "expertteam",
        "first_escalated_at": NOW - timedelta(days=taken_up_days_ago + 5),
        "taken_up_at": NOW - timedelta(days=taken_up_days_ago),
        "meetings": 0,
        "last_meeting_on": None,
        **extra,
    }


def decision_row(case: dict[str, Any], due: date | None, **extra: Any) -> dict[str, Any]:
    return {
        "decision_id": uuid.uuid4(),
        "case_id": case["case_id"],
        "kind": "maatwerk",
        "executor": "contractmanagement",
        "settings": ["residentieel"],
        "working_days": 10,
        "due_date": due,
        "decided_at": NOW - timedelta(days=14),
        "overdue_at": None,
        "carried_out_at": None,
        "withdrawn_at": None,
        **extra,
    }


async def test_the_view_shows_each_open_case_with_its_open_decision_overdue_first() -> None:
    waiting = case_row(30)
    running = case_row(10, meetings=2, last_meeting_on=date(2025, 3, 7))
    overdue = case_row(3)
    decisions = [
        decision_row(running, date(2025, 3, 20)),
        decision_row(overdue, date(2025, 3, 7)),
        decision_row(overdue, date(2025, 3, 1), withdrawn_at=NOW - timedelta(days=12)),
    ]
    async with in_memory(
        DoorbraakRows([waiting, running, overdue], decisions), MonitoringSettings(), NOW, InMemoryBus()
    ) as uow:
        view = await doorbraak_views.doorbraak(uow)  # type: ignore[arg-type]

    assert (view.open_cases, view.overdue) == (3, 1)
    assert [c.case_id for c in view.cases] == [overdue["case_id"], running["case_id"], waiting["case_id"]]
    first, second, third = view.cases
    assert first.stage == "te_laat" and first.decision is not None
    assert (first.decision.due_date, first.decision.overdue, first.decision.days_overdue) == (date(2025, 3, 7), True, 5)
    assert first.decision.overdue_since == datetime(2025, 3, 8, 0, tzinfo=NL).isoformat()
    assert second.decision is not None and not second.decision.overdue and second.decision.days_overdue is None
    assert (second.meetings, second.last_meeting_on) == (2, date(2025, 3, 7))
    assert third.stage == "besluit_nodig" and third.decision is None and third.days_since_escalation == 35


def test_the_view_carries_no_personal_data() -> None:
    fields = set(doorbraak_views.DoorbraakCaseShown.model_fields) | set(
        doorbraak_views.DoorbraakDecisionShown.model_fields
    )
    assert not fields & {"client_ref", "bsn", "name", "birth_date", "notes", "parties", "provider_agb"}


def test_the_pages_name_every_stage_kind_and_executor_in_dutch() -> None:
    labels = pages.DOORBRAAK_LABELS
    assert set(labels["stages"]) == set(domain.DOORBRAAK_STAGES)
    assert set(labels["kinds"]) == {k.value for k in DecisionKind}
    assert set(labels["executors"]) == {e.value for e in Executor}


# --- the published figures -----------------------------------------------------------------------


def at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def test_figures_count_cases_and_decisions_per_month_and_municipality_with_small_counts_hidden() -> None:
    cases = [DoorbraakCase(HILVERSUM, at(1), at(3), None, None) for _ in range(6)]
    cases.append(DoorbraakCase(LAREN, at(1), at(3), None, None))
    cases.append(DoorbraakCase(HILVERSUM, at(1, month=2), at(27, month=2), None, None))
    decisions = [DoorbraakDecision(f"c{i}", HILVERSUM, "maatwerk", at(1), at(10)) for i in range(5)]
    decisions.append(DoorbraakDecision("c9", HILVERSUM, "pgb", at(1), at(10)))

    figures = domain.doorbraak_figures(cases, decisions, ["2025-03"])

    march = figures[("2025-03", HILVERSUM)].published()
    assert march["cases_taken_up"] == 6
    assert march["decisions"] == 6
    assert march["decisions_by_kind"] == {"maatwerk": 5, "pgb": "<5"}
    assert march["to_decision"] == {"youths": 6, "median_days": 9.0}
    assert figures[("2025-03", LAREN)].published()["cases_taken_up"] == "<5"
    assert ("2025-02", HILVERSUM) not in figures  # a month not asked for


def test_the_time_to_decision_counts_each_cases_first_decision_only() -> None:
    decisions = [DoorbraakDecision(f"c{i}", HILVERSUM, "maatwerk", at(1), at(5)) for i in range(5)]
    # c0's second decision (after the first was withdrawn) is counted as a decision, not as a second time.
    decisions.append(DoorbraakDecision("c0", HILVERSUM, "perceel", at(1), at(20)))
    cell = domain.doorbraak_figures([], decisions, ["2025-03"])[("2025-03", HILVERSUM)]
    assert cell.days_to_decision == [4, 4, 4, 4, 4]
    assert sum(cell.decisions_by_kind.values()) == 6


def test_the_time_to_care_counts_only_cases_closed_because_care_started() -> None:
    started = [DoorbraakCase(HILVERSUM, at(1), at(2), at(d, month=4), "zorg_gestart") for d in (5, 10, 15, 20)]
    other = DoorbraakCase(HILVERSUM, at(1), at(2), at(15, month=4), "besluit_ingetrokken")
    cell = domain.doorbraak_figures([*started, other], [], ["2025-04"])[("2025-04", HILVERSUM)]
    assert sorted(cell.days_to_care) == [35, 40, 45, 50]  # from the first escalation, 1 March
    # Four youths: their median would describe them, so it is not published.
    assert cell.published()["to_care"] == {"youths": "<5", "median_days": None}


def test_figures_count_in_the_dutch_month() -> None:
    # 31 March 22:30 UTC is already 1 April in Amsterdam.
    case = DoorbraakCase(HILVERSUM, at(1), datetime(2025, 3, 31, 22, 30, tzinfo=UTC), None, None)
    figures = domain.doorbraak_figures([case], [], ["2025-03", "2025-04"])
    assert set(figures) == {("2025-04", HILVERSUM)}


def test_figures_of_the_region_sum_the_municipalities_before_the_rule_applies() -> None:
    cases = [DoorbraakCase(m, at(1), at(3), None, None) for m in [HILVERSUM] * 3 + [LAREN] * 2]
    region = domain.doorbraak_figures(cases, [], ["2025-03"], by=lambda month, _m: (month,))
    assert region[("2025-03",)].published()["cases_taken_up"] == 5


# --- /metrics --------------------------------------------------------------------------------------


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


def scrape(rows: dict[str, list[dict[str, Any]]]) -> str:
    registry = CollectorRegistry()
    snapshot = Snapshot(FixedClock())
    snapshot.rows = rows  # type: ignore[assignment]
    registry.register(snapshot)
    return "\n".join(ln for ln in generate_latest(registry).decode().splitlines() if not ln.startswith("#"))


def test_open_cases_and_overdue_decisions_are_counts_of_youths_and_hidden_under_five() -> None:
    due_days = [date(2025, 3, 7)] * 3 + [date(2025, 3, 20)] * 4
    text = scrape(
        {"doorbraak_open": [{"n": 7}], "doorbraak_decisions": [{"due_date": d, "overdue_at": None} for d in due_days]}
    )
    assert "schakel_doorbraak_cases_open 7.0" in text
    assert "schakel_doorbraak_decisions_overdue " not in text
    assert 'schakel_suppressed_series{metric="schakel_doorbraak_decisions_overdue"} 1.0' in text
    # Not a count but a duration, so exact: due 7 March, overdue since the midnight after.
    oldest = (NOW - datetime(2025, 3, 8, 0, tzinfo=NL)).total_seconds()
    [shown] = re.findall(r"^schakel_doorbraak_oldest_overdue_seconds (\S+)$", text, re.MULTILINE)
    assert float(shown) == oldest


def test_with_nothing_open_the_doorbraak_metrics_read_zero() -> None:
    text = scrape({"doorbraak_open": [{"n": 0}], "doorbraak_decisions": []})
    assert "schakel_doorbraak_cases_open 0.0" in text
    assert "schakel_doorbraak_decisions_overdue 0.0" in text
    assert "schakel_doorbraak_oldest_overdue_seconds 0.0" in text


def test_five_overdue_decisions_are_shown_and_an_alert_counts_before_the_date() -> None:
    rows = [{"due_date": date(2025, 3, 10), "overdue_at": None} for _ in range(4)]
    rows.append({"due_date": date(2025, 3, 28), "overdue_at": NOW - timedelta(hours=2)})
    text = scrape({"doorbraak_open": [{"n": 5}], "doorbraak_decisions": rows})
    assert "schakel_doorbraak_decisions_overdue 5.0" in text
