"""Monitoring's aggregates: pure functions from read-model facts to published figures.

Months are calendar months in Dutch time. Every count of youths that leaves this service goes
through ``published``: fewer than 5 is shown as "<5", so nobody in a small municipality can be
recognised from a figure (DOMAIN §3.7).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from contracts.codes import UITVAL
from services.runtime.workdays import NL, dutch_date

SUPPRESSION_LIMIT = 5
SUPPRESSED = "<5"

Published = int | str


def published(count: int) -> Published:
    """A count as it may be shown: 1–4 become "<5"; zero discloses nobody and stays 0."""
    return SUPPRESSED if 0 < count < SUPPRESSION_LIMIT else count


def metric_count(count: int) -> int | None:
    """A count of youths as ``/metrics`` exposes it: Prometheus has no "<5", so a count that
    ``published`` hides has no sample at all (None: leave the series out); 0 and 5 up stay exact."""
    shown = published(count)
    return None if shown == SUPPRESSED else count


def metric_buckets(cumulative: list[int]) -> list[int] | None:
    """Cumulative histogram buckets of youths as ``/metrics`` exposes them: None (leave the histogram
    out) under 5 youths in all; otherwise a bucket of 1–4 youths reads 0 — a histogram cannot lose a
    bucket, and 0 for every count under 5 keeps the buckets cumulative."""
    if not cumulative or metric_count(cumulative[-1]) is None:
        return None
    return [n if metric_count(n) is not None else 0 for n in cumulative]


def month_of(moment: datetime | date) -> str:
    """``YYYY-MM`` of a moment in Dutch time, or of a calendar date."""
    day = dutch_date(moment) if isinstance(moment, datetime) else moment
    return f"{day.year:04d}-{day.month:02d}"


def month_end(month: str) -> date:
    year, number = map(int, month.split("-"))
    following = date(year + number // 12, number % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def months_between(first: str, last: str) -> list[str]:
    year, number = map(int, first.split("-"))
    months = []
    while (current := f"{year:04d}-{number:02d}") <= last:
        months.append(current)
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


@dataclass(frozen=True)
class Referral:
    referral_id: str
    municipality: str
    product_category: str
    referrer: str
    received_at: datetime


@dataclass(frozen=True)
class Care:
    referral_id: str
    municipality: str
    product_category: str
    start_date: date | None
    end_date: date | None = None
    end_reason: str | None = None


Cell = tuple[str, str, str]  # month, municipality, product category


@dataclass
class Flow:
    referrals_in: int = 0
    care_started: int = 0
    care_ended: int = 0
    ended_by_reason: Counter[str] = field(default_factory=Counter)
    in_care_at_month_end: int = 0

    @property
    def uitval(self) -> int:
        return sum(n for reason, n in self.ended_by_reason.items() if reason in UITVAL)

    def published(self) -> dict[str, object]:
        return {
            "referrals_in": published(self.referrals_in),
            "care_started": published(self.care_started),
            "care_ended": published(self.care_ended),
            "uitval": published(self.uitval),
            "ended_by_reason": {r: published(n) for r, n in sorted(self.ended_by_reason.items())},
            "in_care_at_month_end": published(self.in_care_at_month_end),
        }


def flows(referrals: Iterable[Referral], cares: Iterable[Care], months: list[str]) -> dict[Cell, Flow]:
    """Instroom, start, uitstroom and stand per month × municipality × category, for ``months``."""
    wanted = set(months)
    cells: dict[Cell, Flow] = defaultdict(Flow)
    for referral in referrals:
        month = month_of(referral.received_at)
        if month in wanted:
            cells[month, referral.municipality, referral.product_category].referrals_in += 1
    for care in cares:
        key = (care.municipality, care.product_category)
        if care.start_date and (month := month_of(care.start_date)) in wanted:
            cells[(month, *key)].care_started += 1
        if care.end_date and care.end_reason and (month := month_of(care.end_date)) in wanted:
            cells[(month, *key)].care_ended += 1
            cells[(month, *key)].ended_by_reason[care.end_reason] += 1
        if care.start_date is None:
            continue
        for month in months:
            last_day = month_end(month)
            # Care that ends on the last day of the month is no longer running at its end.
            if care.start_date <= last_day and (care.end_date is None or care.end_date > last_day):
                cells[(month, *key)].in_care_at_month_end += 1
    return dict(cells)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: a value that really occurred, as waiting-time norms are read."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


@dataclass(frozen=True)
class WaitingTime:
    youths: int
    median_days: float | None
    p90_days: float | None
    max_wait_days: int | None  # None when the youths counted fall under different norms
    over_max: int

    def published(self) -> dict[str, object]:
        # A median of fewer than five youths would describe those youths themselves.
        small = self.youths < SUPPRESSION_LIMIT
        return {
            "youths": published(self.youths),
            "median_days": None if small else self.median_days,
            "p90_days": None if small else self.p90_days,
            "max_wait_days": self.max_wait_days,
            "over_max": published(self.over_max),
            "share_over_max": None if small else round(self.over_max / self.youths, 3),
        }


def referred_at(received_at: datetime, referral_date: date | None) -> datetime:
    """When the youth was referred: the referral's own date when it was registered later (instroom
    counts in the month of the referral, and waiting starts then), else the moment of receipt."""
    if referral_date is None or referral_date == dutch_date(received_at):
        return received_at
    return datetime.combine(referral_date, time(12), tzinfo=NL)


def waiting_days(referral: Referral, start: date) -> int:
    return max((start - dutch_date(referral.received_at)).days, 0)


def waiting_times(
    referrals: Iterable[Referral],
    cares: Iterable[Care],
    months: list[str],
    max_wait: Callable[[str], int],
    by: Callable[[str, Referral], tuple[str, ...]] = lambda month, r: (month, r.municipality, r.product_category),
) -> dict[tuple[str, ...], WaitingTime]:
    """Days from referral to the first start of care, grouped ``by`` (default: the month of that
    start × municipality × category); each youth is held against its own category's maximum."""
    by_id = {r.referral_id: r for r in referrals}
    first_start: dict[str, date] = {}
    for care in cares:
        if care.start_date and care.referral_id in by_id:
            known = first_start.get(care.referral_id)
            first_start[care.referral_id] = min(known, care.start_date) if known else care.start_date
    samples: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    wanted = set(months)
    for referral_id, start in first_start.items():
        referral = by_id[referral_id]
        if (month := month_of(start)) in wanted:
            samples[by(month, referral)].append((waiting_days(referral, start), max_wait(referral.product_category)))
    result = {}
    for cell, pairs in samples.items():
        days = [d for d, _ in pairs]
        norms = {n for _, n in pairs}
        result[cell] = WaitingTime(
            youths=len(days),
            median_days=float(statistics.median(days)),
            p90_days=float(percentile(days, 0.9)),
            max_wait_days=norms.pop() if len(norms) == 1 else None,
            over_max=sum(d > n for d, n in pairs),
        )
    return result


def referrals_by_referrer(referrals: Iterable[Referral], months: list[str]) -> dict[tuple[str, str, str], int]:
    """Referrals per month × municipality × referrer (COD327 code, or ``veilig_thuis``)."""
    wanted = set(months)
    counts: Counter[tuple[str, str, str]] = Counter()
    for r in referrals:
        if (month := month_of(r.received_at)) in wanted:
            counts[month, r.municipality, r.referrer] += 1
    return dict(counts)


@dataclass(frozen=True)
class SettingCapacity:
    setting: str
    total: int
    occupied: int
    free: int
    providers: int
    last_report_at: datetime | None
    oldest_report_at: datetime | None

    @property
    def occupancy_rate(self) -> float | None:
        return round(self.occupied / self.total, 3) if self.total else None


def report_age_seconds(capacity: SettingCapacity, now: datetime) -> float | None:
    """How old the stalest provider's figures for the setting are: the figure staff distrust."""
    return (now - capacity.oldest_report_at).total_seconds() if capacity.oldest_report_at else None


def shortage_duration_seconds(detected_at: datetime, resolved_at: datetime | None, now: datetime) -> float:
    return ((resolved_at or now) - detected_at).total_seconds()


def escalation_outcome(confirmed_at: datetime | None, withdrawn_at: datetime | None) -> str:
    """How an escalated case ended: placed, withdrawn, or still open."""
    if confirmed_at:
        return "geplaatst"
    if withdrawn_at:
        return "ingetrokken"
    return "open"


def tile_colour(free: int, shortage_active: bool) -> str:
    """The tile's state on the dashboard: red in shortage or with no place, amber with one or two."""
    if shortage_active or free == 0:
        return "tekort"
    return "krap" if free <= 2 else "ruim"


# --- the doorbraak: the expert team's cases ----------------------------------------------------


def overdue_since(due_date: date | None, overdue_at: datetime | None) -> datetime | None:
    """When an open decision became overdue: when capacity announced it (``DecisionOverdue``), or
    else at the start of the Dutch day after its due date, whichever is first. Capacity's alert is
    the authority, the date a fallback: the page and ``/metrics`` do not wait for a late alert, and
    ``due_date`` already counts working days, so no calendar is needed here."""
    lapsed = datetime.combine(date.fromordinal(due_date.toordinal() + 1), time(0), tzinfo=NL) if due_date else None
    moments = [m for m in (overdue_at, lapsed) if m is not None]
    return min(moments) if moments else None


def decision_overdue(due_date: date | None, overdue_at: datetime | None, now: datetime) -> bool:
    since = overdue_since(due_date, overdue_at)
    return since is not None and since <= now


@dataclass(frozen=True)
class OpenDecision:
    """A decision of a case, as far as monitoring heard of it (an alert may come before the decision)."""

    decision_id: str
    due_date: date | None
    overdue_at: datetime | None
    decided_at: datetime | None
    carried_out: bool
    withdrawn: bool


DOORBRAAK_STAGES = ("te_laat", "besluit_loopt", "besluit_nodig", "uitgevoerd")
"""A case's stage, in the order the expert team's view lists them: overdue first."""


def current_decision(decisions: Iterable[OpenDecision]) -> OpenDecision | None:
    """The decision the team is waiting on: the open one due first (undated last), else None."""
    open_ = [d for d in decisions if not d.carried_out and not d.withdrawn]
    return min(open_, key=lambda d: (d.due_date is None, d.due_date or date.max), default=None)


def case_stage(decisions: Sequence[OpenDecision], now: datetime) -> str:
    """Overdue, a decision running, waiting for a decision, or carried out (care has yet to start)."""
    current = current_decision(decisions)
    if current is not None:
        return "te_laat" if decision_overdue(current.due_date, current.overdue_at, now) else "besluit_loopt"
    if any(d.carried_out for d in decisions):
        return "uitgevoerd"
    return "besluit_nodig"


def case_order(stage: str, due_date: date | None, taken_up_at: datetime | None) -> tuple[int, date, datetime]:
    """How the view sorts: by stage (overdue first), then the earliest due date, then the longest taken up."""
    return (
        DOORBRAAK_STAGES.index(stage),
        due_date or date.max,
        taken_up_at or datetime.max.replace(tzinfo=NL),
    )


@dataclass(frozen=True)
class DoorbraakCase:
    municipality: str | None
    first_escalated_at: datetime | None
    taken_up_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None


@dataclass(frozen=True)
class DoorbraakDecision:
    case_id: str
    municipality: str | None
    kind: str | None
    first_escalated_at: datetime | None
    decided_at: datetime | None


@dataclass
class DoorbraakFigures:
    """What the expert team did in one cell (a month, and a municipality or the region)."""

    cases_taken_up: int = 0
    decisions_by_kind: Counter[str] = field(default_factory=Counter)
    days_to_decision: list[int] = field(default_factory=list)
    days_to_care: list[int] = field(default_factory=list)

    def published(self) -> dict[str, object]:
        return {
            "cases_taken_up": published(self.cases_taken_up),
            "decisions": published(sum(self.decisions_by_kind.values())),
            "decisions_by_kind": {k: published(n) for k, n in sorted(self.decisions_by_kind.items())},
            "to_decision": _published_days(self.days_to_decision),
            "to_care": _published_days(self.days_to_care),
        }


def _published_days(days: list[int]) -> dict[str, object]:
    # A median of fewer than five youths would describe those youths themselves.
    return {
        "youths": published(len(days)),
        "median_days": float(statistics.median(days)) if len(days) >= SUPPRESSION_LIMIT else None,
    }


def days_between(start: datetime, end: datetime) -> int:
    """Whole calendar days in Dutch time, never negative (as waiting times are counted)."""
    return max((dutch_date(end) - dutch_date(start)).days, 0)


def doorbraak_figures(
    cases: Iterable[DoorbraakCase],
    decisions: Iterable[DoorbraakDecision],
    months: list[str],
    by: Callable[[str, str], tuple[str, ...]] = lambda month, municipality: (month, municipality),
) -> dict[tuple[str, ...], DoorbraakFigures]:
    """Per cell ``by`` (default: month × municipality): cases taken up (month of take-up), decisions by
    kind (month decided), days from the first escalation to a case's first decision (month decided) and
    to the start of care (cases closed ``zorg_gestart``, month closed)."""
    wanted = set(months)
    cells: dict[tuple[str, ...], DoorbraakFigures] = defaultdict(DoorbraakFigures)
    for case in cases:
        if case.municipality is None:
            continue
        if case.taken_up_at and (month := month_of(case.taken_up_at)) in wanted:
            cells[by(month, case.municipality)].cases_taken_up += 1
        if (
            case.closed_reason == "zorg_gestart"
            and case.closed_at
            and case.first_escalated_at
            and (month := month_of(case.closed_at)) in wanted
        ):
            cells[by(month, case.municipality)].days_to_care.append(
                days_between(case.first_escalated_at, case.closed_at)
            )
    # Per case its first decision: when, where, and since when the youth had been escalated.
    first_decision: dict[str, tuple[datetime, str, datetime | None]] = {}
    for decision in decisions:
        if decision.decided_at is None or decision.municipality is None:
            continue
        if (month := month_of(decision.decided_at)) in wanted and decision.kind:
            cells[by(month, decision.municipality)].decisions_by_kind[decision.kind] += 1
        known = first_decision.get(decision.case_id)
        if known is None or decision.decided_at < known[0]:
            first_decision[decision.case_id] = (decision.decided_at, decision.municipality, decision.first_escalated_at)
    for decided_at, municipality, first_escalated_at in first_decision.values():
        if first_escalated_at and (month := month_of(decided_at)) in wanted:
            cells[by(month, municipality)].days_to_decision.append(days_between(first_escalated_at, decided_at))
    return dict(cells)
