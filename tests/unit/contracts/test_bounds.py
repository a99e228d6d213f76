"""Every number and date that enters through the API is bounded: an amount past ten billion euro or a
date outside 1900–2100 is a 422 naming its field, never an overflow further on."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts.identifiers import EUROCENT_MAX, CalendarDate, Eurocent
from services.capacity.api import ProviderRegistration
from services.contracting.commands.contracts import ContractEnd, NewContract
from services.contracting.domain.limits import _month_end
from services.contracting.domain.lots import Evidence, LotTerms, Tariff
from services.intake.requests import AllocationChangeIn, AllocationIn, CareEndIn, CareStartIn, ReferralIn
from tests.unit.contracting.builders import line


class Amount(BaseModel):
    value: Eurocent


class Day(BaseModel):
    value: CalendarDate


def test_eurocent_takes_ten_billion_euro_and_not_a_cent_more() -> None:
    assert Amount(value=EUROCENT_MAX).value == EUROCENT_MAX
    with pytest.raises(ValidationError, match="less than or equal to 1000000000000"):
        Amount(value=EUROCENT_MAX + 1)


@pytest.mark.parametrize("day", [date(1899, 12, 31), date(2101, 1, 1), date(9999, 12, 31), date(1, 1, 1)])
def test_a_date_outside_1900_to_2100_is_refused(day: date) -> None:
    with pytest.raises(ValidationError):
        Day(value=day)


@pytest.mark.parametrize("day", [date(1900, 1, 1), date(2026, 2, 28), date(2100, 12, 31)])
def test_a_date_inside_1900_to_2100_is_taken(day: date) -> None:
    assert Day(value=day).value == day


def _allocation(**changes: Any) -> dict[str, Any]:
    return {
        "provider_agb": "87654321",
        "product_category": "45",
        "product_code": "45A48",
        "start_date": "2026-01-01",
        "end_date": "2026-06-30",
        "budget": 100_000,
    } | changes


# (model, body, the field a 422 must name)
TOO_LARGE_OR_FAR: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (AllocationIn, _allocation(budget=EUROCENT_MAX + 1), "budget"),
    (AllocationIn, _allocation(end_date="9999-12-31"), "end_date"),
    (AllocationChangeIn, {"budget": 10**15}, "budget"),
    (AllocationChangeIn, {"end_date": "9999-12-31"}, "end_date"),
    (CareStartIn, {"start_date": "0001-01-01"}, "start_date"),
    (CareEndIn, {"end_date": "9999-12-31", "reason": "31"}, "end_date"),
    (ContractEnd, {"end_date": "9999-12-31", "reason": "einde looptijd"}, "end_date"),
    (
        NewContract,
        {"kind": "uitloop", "provider_agb": "12345678", "lot": "AMB-1", "valid_from": "9999-01-01"},
        "valid_from",
    ),
    (
        Tariff,
        {"product_code": "45A48", "unit": "04", "eurocent": EUROCENT_MAX + 1, "valid_from": "2026-01-01"},
        "eurocent",
    ),
    (
        Tariff,
        {"product_code": "45A48", "unit": "04", "eurocent": 100, "valid_from": "2026-01-01", "valid_to": "9999-12-31"},
        "valid_to",
    ),
    (Evidence, {"requirement": "vog", "document_ref": "d", "valid_until": "9999-12-31"}, "valid_until"),
    (ProviderRegistration, {"settings": ["pleegzorg"] * 8}, "settings"),
]


@pytest.mark.parametrize(
    ("model", "body", "field"), TOO_LARGE_OR_FAR, ids=[f"{m.__name__}.{f}" for m, _, f in TOO_LARGE_OR_FAR]
)
def test_a_request_field_out_of_bounds_is_refused_by_name(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    assert field in {str(part) for error in refused.value.errors() for part in error["loc"]}


def test_a_referral_with_a_birth_date_in_year_9999_is_refused_on_that_field() -> None:
    body = {
        "client": {"bsn": "111222333", "birth_date": "9999-12-31", "municipality_code": "0402"},
        "referrer": {"type": "02", "agb": "01234567"},
        "product_category": "45",
        "urgency": "regulier",
        "ambulant_tried": True,
    }
    with pytest.raises(ValidationError) as refused:
        ReferralIn.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("client", "birth_date")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tariff": EUROCENT_MAX + 1}, "tariff"),
        ({"amount": EUROCENT_MAX + 1}, "amount"),
        ({"allocation_number": 2**31}, "allocation_number"),
        ({"period_end": date(9999, 12, 31)}, "period_end"),
    ],
)
def test_a_declaration_line_out_of_bounds_is_refused_by_name(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        line(**({"amount": 1} | changes))
    assert field in {str(part) for error in refused.value.errors() for part in error["loc"]}


def test_a_lot_cannot_carry_more_requirements_than_an_application_rejected_event_should_list() -> None:
    terms = {
        "name": "Lot",
        "product_categories": ["45"],
        "product_codes": ["45A48"],
        "max_wait_days": 28,
        "requirements": [{"code": f"req-{i}", "description": "x"} for i in range(51)],
    }
    with pytest.raises(ValidationError, match="requirements"):
        LotTerms.model_validate(terms)


@pytest.mark.parametrize(
    ("day", "last"),
    [
        (date(9999, 12, 31), date(9999, 12, 31)),
        (date(2028, 2, 3), date(2028, 2, 29)),
        (date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_a_month_ends_on_its_last_day_even_in_the_last_month_python_knows(day: date, last: date) -> None:
    # An allocation learned from an old event may still carry 9999-12-31: the checks must not overflow.
    assert _month_end(day) == last
