"""Pure rules of the doorbraak: when a youth's case may be taken up, when a decision falls due, which
place a carried-out maatwerk decision proposes, and what becomes of an open decision when the case
ends. No I/O and no clock: time is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from contracts.doorbraak import DecisionKind, Executor
from services.capacity.domain import UNPLACED
from services.runtime.workdays import NL, add_working_days, dutch_date


def why_not_taken_up(status: str, escalation_level: str | None) -> str | None:
    """Why a youth's case cannot be taken up (None when it can): only a youth who is still unplaced
    and was escalated, to either level, has a case for the expert team."""
    if status not in UNPLACED:
        return f"the youth is {status}, not waiting for a place"
    if escalation_level is None:
        return "the youth was not escalated; escalate it first (POST /v1/placements/{id}/escalate)"
    return None


def due_date(decided_at: datetime, working_days: int) -> date:
    """The Dutch date ``working_days`` working days after the decision (Mon–Fri, no public holidays)."""
    if working_days < 1:
        raise ValueError("a decision needs at least one working day")
    return dutch_date(add_working_days(decided_at, working_days))


def overdue_from(due: date) -> datetime:
    """The moment a decision due on ``due`` is overdue: the end of that day in the Netherlands (the
    executor has the whole due date), i.e. 00:00 Europe/Amsterdam of the day after."""
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=NL)


@dataclass(frozen=True)
class DecisionTerms:
    """What a decision says; two posts with the same terms are one decision (a retry)."""

    kind: DecisionKind
    executor: Executor
    provider_agb: str | None
    settings: tuple[str, ...]
    working_days: int
    notes: str | None


# Who may carry out a maatwerk decision: a maatwerk contract is made by the region's contract
# office (admin) or by the youth's own gemeente.
MAATWERK_EXECUTORS = frozenset({Executor.CONTRACTMANAGEMENT, Executor.GEMEENTE})


def why_not_decided(terms: DecisionTerms) -> str | None:
    """Why a decision cannot be made as asked (None when it can)."""
    if terms.kind is DecisionKind.MAATWERK and terms.executor not in MAATWERK_EXECUTORS:
        return "a maatwerk decision is carried out by a contract: executor contractmanagement or gemeente"
    if not 1 <= terms.working_days <= 60:
        return "working_days lies between 1 and 60"
    return None


def why_not_held(held_on: date, today: date) -> str | None:
    """A meeting is recorded once it was held, not before."""
    if held_on > today:
        return f"held_on {held_on} lies after today ({today}): record a meeting once it was held"
    return None


def proposal_setting(wanted: Sequence[str], decided: Sequence[str], contracted: Sequence[str]) -> str | None:
    """The setting a maatwerk provider is proposed in: the youth's most preferred setting that the
    decision and the contract allow (an empty list allows any); else the contract's or the decision's
    first; None when nothing names a setting the youth can be placed in."""
    for setting in wanted:
        if (not decided or setting in decided) and (not contracted or setting in contracted):
            return setting
    for offered in (contracted, decided):
        if offered:
            return offered[0]
    return None


class Settlement(StrEnum):
    """What becomes of a decision still open when the youth starts care."""

    CARRIED_OUT = "carried_out"
    WITHDRAWN = "withdrawn"


def settle_on_care_start(decision_provider: str | None, care_provider: str) -> Settlement:
    """The youth started care: an open decision was carried out, unless it named another provider —
    then the youth was helped another way and it is withdrawn as ``andere_oplossing``."""
    if decision_provider is not None and decision_provider != care_provider:
        return Settlement.WITHDRAWN
    return Settlement.CARRIED_OUT
