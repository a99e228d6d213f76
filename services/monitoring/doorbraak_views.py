"""The doorbraak views: the expert team's open cases (pseudonymous, overdue first) and the published
figures of what it did, per month and municipality (every count of youths "<5" under five)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime

import asyncpg
from pydantic import BaseModel, Field

from services.monitoring import domain
from services.monitoring.queries import Reading, Scope, months_of
from services.runtime.workdays import dutch_date

Published = domain.Published


# --- shapes: the expert team's view (keyed, exact, no personal data) ----------------------------


class DoorbraakDecisionShown(BaseModel):
    decision_id: uuid.UUID
    kind: str | None = Field(description="maatwerk, perceel, buiten_regio, pgb or anders; None until decided")
    executor: str | None = Field(description="Who carries it out")
    settings: list[str]
    working_days: int | None
    decided_at: str | None = Field(description="ISO 8601")
    due_date: date | None
    overdue: bool = Field(description="Capacity announced it overdue, or its due date has passed")
    overdue_since: str | None = Field(description="ISO 8601")
    days_overdue: int | None = Field(description="Whole days past the due date")


class DoorbraakCaseShown(BaseModel):
    case_id: uuid.UUID
    placement_id: uuid.UUID
    age: int | None
    municipality: str | None
    settings: list[str]
    urgency: str | None
    team: str | None = Field(description="expertteam or expertisenetwerk")
    first_escalated_at: str | None = Field(description="ISO 8601")
    taken_up_at: str | None = Field(description="ISO 8601")
    days_since_escalation: int | None
    meetings: int
    last_meeting_on: date | None
    stage: str = Field(description="te_laat, besluit_loopt, besluit_nodig or uitgevoerd")
    decision: DoorbraakDecisionShown | None = Field(description="The open decision due first")


class DoorbraakView(BaseModel):
    open_cases: int
    overdue: int = Field(description="Open cases whose decision is overdue")
    cases: list[DoorbraakCaseShown] = Field(description="Overdue first, then by due date")


# --- shapes: the published figures -------------------------------------------------------------


class DoorbraakDays(BaseModel):
    youths: Published
    median_days: float | None = Field(description="None under five youths")


class DoorbraakFigures(BaseModel):
    cases_taken_up: Published
    decisions: Published
    decisions_by_kind: dict[str, Published]
    to_decision: DoorbraakDays = Field(description="Days from the first escalation to the case's first decision")
    to_care: DoorbraakDays = Field(description="Days from the first escalation to the start of care")


class DoorbraakMonth(DoorbraakFigures):
    month: str = Field(description="YYYY-MM")


class DoorbraakRow(DoorbraakMonth):
    municipality: str = Field(description="CBS code")


# --- views -------------------------------------------------------------------------------------


async def doorbraak(uow: Reading) -> DoorbraakView:
    """The cases the expert team holds, the open decision of each, overdue first."""
    cases = await uow.store.open_doorbraak_cases()
    decisions: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for d in await uow.store.doorbraak_decisions([c["case_id"] for c in cases]):
        decisions[d["case_id"]].append(d)
    shown = [_case(case, decisions[case["case_id"]], uow.now) for case in cases]
    shown.sort(
        key=lambda c: domain.case_order(
            c.stage,
            c.decision.due_date if c.decision else None,
            datetime.fromisoformat(c.taken_up_at) if c.taken_up_at else None,
        )
    )
    return DoorbraakView(open_cases=len(shown), overdue=sum(c.stage == "te_laat" for c in shown), cases=shown)


def _case(case: asyncpg.Record, rows: list[asyncpg.Record], now: datetime) -> DoorbraakCaseShown:
    facts = [
        domain.OpenDecision(
            decision_id=str(r["decision_id"]),
            due_date=r["due_date"],
            overdue_at=r["overdue_at"],
            decided_at=r["decided_at"],
            carried_out=r["carried_out_at"] is not None,
            withdrawn=r["withdrawn_at"] is not None,
        )
        for r in rows
    ]
    current = domain.current_decision(facts)
    decision = None
    if current is not None:
        [row] = [r for r in rows if str(r["decision_id"]) == current.decision_id]
        decision = _decision(row, now)
    escalated = case["first_escalated_at"]
    return DoorbraakCaseShown(
        case_id=case["case_id"],
        placement_id=case["placement_id"],
        age=case["age"],
        municipality=case["municipality"],
        settings=list(case["settings"]),
        urgency=case["urgency"],
        team=case["team"],
        first_escalated_at=_iso(escalated),
        taken_up_at=_iso(case["taken_up_at"]),
        days_since_escalation=domain.days_between(escalated, now) if escalated else None,
        meetings=case["meetings"],
        last_meeting_on=case["last_meeting_on"],
        stage=domain.case_stage(facts, now),
        decision=decision,
    )


def _decision(row: asyncpg.Record, now: datetime) -> DoorbraakDecisionShown:
    since = domain.overdue_since(row["due_date"], row["overdue_at"])
    overdue = since is not None and since <= now
    return DoorbraakDecisionShown(
        decision_id=row["decision_id"],
        kind=row["kind"],
        executor=row["executor"],
        settings=list(row["settings"]),
        working_days=row["working_days"],
        decided_at=_iso(row["decided_at"]),
        due_date=row["due_date"],
        overdue=overdue,
        overdue_since=_iso(since) if overdue else None,
        days_overdue=max((dutch_date(now) - row["due_date"]).days, 0) if overdue and row["due_date"] else None,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def figure_rows(uow: Reading, scope: Scope) -> list[DoorbraakRow]:
    """Per month × municipality: cases taken up, decisions by kind, days to decision and to care."""
    figures = domain.doorbraak_figures(*await _facts(uow, scope), await months_of(uow, scope))
    return [
        DoorbraakRow.model_validate({"month": month, "municipality": municipality, **cell.published()})
        for (month, municipality), cell in sorted(figures.items())
    ]


async def figures_per_month(uow: Reading, scope: Scope, months: list[str]) -> list[DoorbraakMonth]:
    """The scope's figures per month (the region, or the one municipality): the dashboard's table."""
    figures = domain.doorbraak_figures(*await _facts(uow, scope), months, by=lambda month, _municipality: (month,))
    return [
        DoorbraakMonth.model_validate({"month": month, **figures[(month,)].published()})
        for month in months
        if (month,) in figures
    ]


async def _facts(uow: Reading, scope: Scope) -> tuple[list[domain.DoorbraakCase], list[domain.DoorbraakDecision]]:
    """The scope's cases and decisions, as the figures count them."""
    return (
        await uow.store.doorbraak_cases(scope.municipality),
        await uow.store.doorbraak_decision_facts(scope.municipality),
    )
