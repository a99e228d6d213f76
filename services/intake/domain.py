"""Pure intake rules: BSN and age checks, verblijf settings, legal basis, who may see and change
what, the daily verblijf cap, stacking (OP259), the lifecycle of a referral and its toewijzingen,
the deadline of a provider's request, and the retention of personal data."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta

from contracts.codes import Productcategorie, RedenAfwijzing, RedenWijziging, Verwijzer
from contracts.verblijf import Setting
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, DomainError, Forbidden, Invalid
from services.runtime.roles import Role
from services.runtime.workdays import NL, add_working_days, dutch_date

# An unborn child may be referred (prenatal care) with its expected birth date, at most a pregnancy ahead.
UNBORN_HORIZON = timedelta(weeks=40)
# Jeugdhulp ends at 18, verlengde jeugdhulp at the 23rd birthday.
MAX_AGE_EXCLUSIVE = 23


def elfproef(bsn: str) -> bool:
    """BSN check: (9·d1 + 8·d2 + … + 2·d8 − d9) mod 11 = 0, on exactly nine digits (not all zero)."""
    if len(bsn) != 9 or not bsn.isdigit() or bsn == "000000000":
        return False
    digits = [int(c) for c in bsn]
    total = sum(weight * d for weight, d in zip(range(9, 1, -1), digits[:8], strict=True)) - digits[8]
    return total % 11 == 0


def age_on(birth_date: date, day: date) -> int:
    """Whole years on ``day``; -1 while the child is not yet born."""
    if birth_date > day:
        return -1
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def check_birth_date(birth_date: date, referral_date: date) -> int:
    """The youth's age on the referral date, or ``Invalid`` when the birth date is implausible."""
    if birth_date > referral_date + UNBORN_HORIZON:
        # The message names the rule, never the date itself: error texts travel into logs and tickets.
        raise Invalid(
            "client.birth_date lies more than 40 weeks after the referral date; refer an unborn "
            "child with its expected birth date"
        )
    age = age_on(birth_date, referral_date)
    if age >= MAX_AGE_EXCLUSIVE:
        raise Invalid(
            f"client.birth_date: the youth is {age} on {referral_date}; jeugdhulp, verlengde "
            f"jeugdhulp included, ends at the 23rd birthday"
        )
    return age


def resolve_settings(category: Productcategorie, setting: Setting | None, settings: Sequence[Setting]) -> list[Setting]:
    """The acceptable verblijf settings, most preferred first: ``setting`` leads, duplicates go."""
    ordered = list(dict.fromkeys([*([setting] if setting else []), *settings]))
    if category.needs_setting and not ordered:
        raise ValueError(
            f"product category {category} (verblijf or crisis) needs a setting: give 'setting' "
            f"or 'settings' in order of preference"
        )
    if not category.needs_setting and ordered:
        raise ValueError(f"product category {category} is not verblijf or crisis (43, 44, 46) and takes no setting")
    return ordered


def event_referrer_agb(referrer_type: Verwijzer, agb: str | None) -> str | None:
    # The gemeente and a self-referrer are not care professionals: no AGB travels for them.
    return None if referrer_type in (Verwijzer.GEMEENTE, Verwijzer.ZELFVERWIJZER) else agb


# Referrals a provider receives straight from a medical referrer and may register itself.
DIRECT_REFERRERS = frozenset({Verwijzer.HUISARTS, Verwijzer.JEUGDARTS, Verwijzer.MEDISCH_SPECIALIST})


def check_referral_rights(
    role: str,
    subject: str,
    referrer_type: Verwijzer,
    referrer_agb: str | None,
    municipality_code: str,
    provider_agb: str | None,
) -> None:
    """Who may submit this referral: the referrer itself, the gemeente for its own residents,
    or a provider acting on a direct (GP) referral to itself."""
    if role == "referrer":
        key_type, key_agb = subject.split(":", 1)
        # A self-referrer or gemeente may leave its AGB out of the body; the key still names it.
        if referrer_type.value != key_type or referrer_agb not in (None, key_agb):
            raise Forbidden(
                f"this key refers as {subject}; the body's referrer is {referrer_type.value}:{referrer_agb}"
            )
    elif role == "gemeente":
        if municipality_code != subject:
            raise Forbidden(
                f"gemeente {subject} may only refer its own residents, not municipality {municipality_code}"
            )
        if referrer_type is not Verwijzer.GEMEENTE:
            raise Forbidden(f"a gemeente key refers as referrer type 01 (gemeente), not {referrer_type.value}")
    elif role == "provider":
        if referrer_type not in DIRECT_REFERRERS:
            raise Forbidden(
                "a provider registers only direct referrals by a huisarts (02), jeugdarts (03) or "
                f"medisch specialist (05), not referrer type {referrer_type.value}"
            )
        if provider_agb is not None and provider_agb != subject:
            raise Forbidden(f"provider {subject} may register a referral only to itself, not to {provider_agb}")
    else:
        raise Forbidden(f"role {role} may not refer")


def is_its_referrer(principal: Principal, referral: Mapping[str, Any]) -> bool:
    if referral["submitted_by"] == principal.actor:
        return True
    return (
        principal.role is Role.REFERRER
        and principal.subject == f"{referral['referrer_type']}:{referral['referrer_agb']}"
    )


def check_may_read(principal: Principal, referral: Mapping[str, Any]) -> None:
    if principal.role is Role.OPERATOR or is_its_referrer(principal, referral):
        return
    if principal.role is Role.GEMEENTE and principal.subject == referral["municipality_code"]:
        return
    raise Forbidden("only the referral's referrer, its gemeente and operators may read it")


def check_may_withdraw(principal: Principal, referral: Mapping[str, Any]) -> None:
    own_gemeente = principal.role is Role.GEMEENTE and principal.subject == referral["municipality_code"]
    if not (own_gemeente or is_its_referrer(principal, referral)):
        raise Forbidden("only the referral's referrer or its gemeente may withdraw it")


def check_own_municipality(principal: Principal, municipality_code: str, what: str) -> None:
    """A gemeente acts only on what belongs to its own municipality."""
    if principal.subject != municipality_code:
        raise Forbidden(f"gemeente {principal.subject} may not act on {what} of municipality {municipality_code}")


class DailyCapReached(DomainError):
    """A referrer has the day's maximum of open verblijf or crisis referrals; ``retry_after`` seconds
    until the next Dutch calendar day."""

    # 429, not 422: the referral itself is valid and is accepted tomorrow, or once one of today's
    # is withdrawn or placed — a quota, which is what 429 with Retry-After tells a client.
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        # A quota, so the client is told when to come back: the next Dutch calendar day.
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def verblijf_day(now: datetime) -> tuple[datetime, datetime]:
    """The Dutch calendar day the daily cap counts in: its start and the start of the next."""
    today = dutch_date(now)
    return datetime.combine(today, time(), tzinfo=NL), datetime.combine(today + timedelta(days=1), time(), tzinfo=NL)


def check_daily_cap(actor: str, open_today: int, limit: int, now: datetime) -> None:
    """Refuse a verblijf or crisis referral once ``actor`` has the day's maximum of them open: each one
    reserves a place while capacity looks for one, so a flood from one key would fake a shortage."""
    if open_today >= limit:
        next_day = verblijf_day(now)[1]
        raise DailyCapReached(
            f"{actor} has {open_today} open verblijf or crisis referrals submitted today, "
            f"the limit of {limit} per day (SCHAKEL_VERBLIJF_REFERRALS_PER_DAY); withdraw one "
            "or ask the gemeente or the schakelfunctionaris to refer",
            retry_after=max(1, math.ceil((next_day - now).total_seconds())),
        )


# --- toewijzingen ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationFacts:
    """What the lifecycle rules need to know of one toewijzing."""

    product_category: str
    product_code: str | None
    start_date: date
    end_date: date
    withdrawn: bool = False
    withdrawal_reason: RedenWijziging | None = None
    effective_date: date | None = None
    care_start: date | None = None
    care_end: date | None = None
    number: int = 0

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AllocationFacts:
        """The facts of a stored toewijzing row."""
        return cls(
            product_category=row["product_category"],
            product_code=row["product_code"],
            start_date=row["start_date"],
            end_date=row["end_date"],
            withdrawn=row["withdrawn_at"] is not None,
            withdrawal_reason=RedenWijziging(row["withdrawal_reason"]) if row["withdrawal_reason"] else None,
            effective_date=row["effective_date"],
            care_start=row["care_start"],
            care_end=row["care_end"],
            number=row["number"],
        )

    def valid_period(self) -> tuple[date, date] | None:
        """The days the toewijzing counts; None when it never was valid (reden 13)."""
        if not self.withdrawn:
            return self.start_date, self.end_date
        if self.withdrawal_reason is RedenWijziging.NOOIT_GELDIG:
            return None
        if self.effective_date is None:
            return self.start_date, self.end_date
        last = min(self.end_date, self.effective_date - timedelta(days=1))
        return (self.start_date, last) if last >= self.start_date else None


def overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def check_no_stacking(
    existing: Iterable[AllocationFacts], category: str, code: str | None, start: date, end: date
) -> None:
    """OP259: one client cannot hold the same product (category + code) twice for overlapping days."""
    for other in existing:
        period = other.valid_period()
        if (
            (other.product_category, other.product_code) == (category, code)
            and period
            and overlaps(period, (start, end))
        ):
            product = f"{category}/{code}" if code else category
            raise Conflict(
                f"OP259 (no stacking): the client already holds toewijzing {other.number} for product "
                f"{product} from {period[0]} to {period[1]}, which overlaps {start}–{end}"
            )


def check_withdrawal(allocation: AllocationFacts, effective_date: date, reason: RedenWijziging) -> date:
    """The effective date a withdrawal gets; reden 13 (never valid) takes effect from the start."""
    if allocation.withdrawn:
        raise Conflict("the toewijzing is already withdrawn")
    if allocation.care_end is not None:
        raise Conflict(f"care under this toewijzing already ended on {allocation.care_end}; nothing to withdraw")
    if reason is RedenWijziging.NOOIT_GELDIG:
        return allocation.start_date
    if not allocation.start_date <= effective_date <= allocation.end_date:
        raise Invalid(
            f"effective_date {effective_date} lies outside the toewijzing {allocation.start_date}–{allocation.end_date}"
        )
    return effective_date


def check_change(allocation: AllocationFacts, end_date: date) -> None:
    if allocation.withdrawn:
        raise Conflict("a withdrawn toewijzing cannot be changed")
    if allocation.care_end is not None:
        raise Conflict(f"care under this toewijzing ended on {allocation.care_end}; issue a new toewijzing")
    if end_date < allocation.start_date:
        raise Invalid(f"end_date {end_date} lies before the toewijzing's start date {allocation.start_date}")
    if allocation.care_start and end_date < allocation.care_start:
        raise Invalid(f"end_date {end_date} lies before care started on {allocation.care_start}")


def check_care_start(allocation: AllocationFacts, start_date: date, today: date) -> None:
    """JW305: once, within the toewijzing, never on a withdrawn one, and only once it has happened."""
    if start_date > today:
        raise Invalid(f"start_date {start_date} lies after today; report the start of care once it has started")
    if allocation.withdrawn:
        raise Conflict("the toewijzing was withdrawn; care cannot start under it")
    if allocation.care_start is not None:
        raise Conflict(f"care already started on {allocation.care_start}; a second start is not possible")
    if not allocation.start_date <= start_date <= allocation.end_date:
        raise Invalid(
            f"start_date {start_date} lies outside the toewijzing {allocation.start_date}–{allocation.end_date}"
        )


def check_care_end(allocation: AllocationFacts, end_date: date, today: date) -> None:
    """JW307: only after a start, once, not before that start, and only once it has happened."""
    if end_date > today:
        raise Invalid(f"end_date {end_date} lies after today; report the end of care once it has ended")
    if allocation.care_start is None:
        raise Conflict("care has not started under this toewijzing; report the start first")
    if allocation.care_end is not None:
        raise Conflict(f"care already ended on {allocation.care_end}")
    if end_date < allocation.care_start:
        raise Invalid(f"end_date {end_date} lies before care started on {allocation.care_start}")


# --- the referral's status ------------------------------------------------------------------


class ReferralStatus(StrEnum):
    RECEIVED = "received"
    ALLOCATED = "allocated"
    PLACED = "placed"
    IN_CARE = "in_care"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"


TERMINAL = frozenset({ReferralStatus.ENDED, ReferralStatus.WITHDRAWN})


def referral_status(withdrawn: bool, placed: bool, allocations: Sequence[AllocationFacts]) -> ReferralStatus:
    """Derived from the facts, so a withdrawn toewijzing or a late placement never leaves it stale."""
    if withdrawn:
        return ReferralStatus.WITHDRAWN
    live = [a for a in allocations if not a.withdrawn]
    if any(a.care_start and not a.care_end for a in live):
        return ReferralStatus.IN_CARE
    pending = [a for a in live if a.care_start is None]
    if any(a.care_end for a in live) and not pending:
        return ReferralStatus.ENDED
    if placed:
        return ReferralStatus.PLACED
    if pending:
        return ReferralStatus.ALLOCATED
    return ReferralStatus.RECEIVED


def check_referral_open(status: ReferralStatus, action: str) -> None:
    if status in TERMINAL:
        raise Conflict(f"the referral is {status.value}; cannot {action}")


def check_referral_withdrawal(status: ReferralStatus) -> None:
    check_referral_open(status, "withdraw it")
    if status is ReferralStatus.IN_CARE:
        raise Conflict("care is in progress for this referral; the provider ends care (with a JZ588 reason) instead")


def waiting_seconds(received_at: datetime, until: datetime | None, now: datetime) -> float:
    """Time from referral to care start (or withdrawal), or so far when neither happened."""
    return max(((until or now) - received_at).total_seconds(), 0.0)


# --- a provider's request for a toewijzing -------------------------------------------------


def answer_due(requested_at: datetime, working_days: int) -> datetime:
    """iJw: the gemeente answers a request (JW315) within five working days."""
    return add_working_days(requested_at, working_days)


def is_overdue(due: datetime, answered: bool, now: datetime) -> bool:
    return not answered and now > due


def check_rejection(referrer_type: Verwijzer, reason: RedenAfwijzing) -> None:
    """A GI's or court's decision is never refused on the gemeente's own judgement of the care."""
    if not referrer_type.needs_gemeente_decision and reason is RedenAfwijzing.ZORGINHOUDELIJK:
        raise Conflict(
            f"the referral comes from referrer type {referrer_type.value} (GI or court), whose decision "
            f"needs no gemeente decision: it cannot be refused as 7 (zorginhoudelijk)"
        )


# --- personal data ---------------------------------------------------------------------------


def retention_cutoff(now: datetime, years: int) -> datetime:
    """Personal data of a youth with no activity since this moment is erased."""
    return now - relativedelta(years=years)
