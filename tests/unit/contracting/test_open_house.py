"""Open House admission and lots: requirements met → admitted (never capped), waitlist, rejections with reasons."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.contracting.domain.lots import (
    Evidence,
    LotStatus,
    Outcome,
    Tariff,
    contract_period,
    decide,
    unmet_requirements,
)
from tests.unit.contracting.builders import PRODUCT, lot

TODAY = date(2026, 11, 24)
FULL = [
    Evidence(requirement="kwaliteitskeurmerk", document_ref="hkz-2026-001", valid_until=date(2027, 6, 30)),
    Evidence(requirement="vog", document_ref="vog-bundel-7"),
]


def test_an_applicant_meeting_every_requirement_of_an_open_lot_is_admitted() -> None:
    assert decide(lot(), FULL, TODAY).outcome is Outcome.ADMITTED


def test_on_a_waitlisted_lot_a_qualified_applicant_waits() -> None:
    assert decide(lot(status=LotStatus.WAITLIST), FULL, TODAY).outcome is Outcome.WAITLISTED


def test_each_missing_requirement_is_named() -> None:
    decision = decide(lot(), [], TODAY)
    assert decision.outcome is Outcome.REJECTED
    assert decision.reasons == (
        "missing requirement kwaliteitskeurmerk: HKZ of gelijkwaardig keurmerk",
        "missing requirement vog: VOG van alle medewerkers",
    )


def test_expired_evidence_does_not_count() -> None:
    expired = [FULL[0].model_copy(update={"valid_until": date(2026, 11, 23)}), FULL[1]]
    assert unmet_requirements(lot(), expired, TODAY) == [
        "evidence for kwaliteitskeurmerk expired on 2026-11-23: HKZ of gelijkwaardig keurmerk"
    ]
    assert unmet_requirements(lot(), [FULL[0].model_copy(update={"valid_until": TODAY}), FULL[1]], TODAY) == []


def test_a_waitlisted_lot_still_rejects_an_applicant_that_does_not_qualify() -> None:
    assert decide(lot(status=LotStatus.WAITLIST), FULL[:1], TODAY).outcome is Outcome.REJECTED


def test_an_applicant_already_contracted_is_told_so() -> None:
    decision = decide(lot(), FULL, TODAY, already="already holds Open House contract 1 for lot AMB-1")
    assert decision.outcome is Outcome.REJECTED and "already holds" in decision.reasons[0]


@given(st.integers(min_value=1, max_value=500))
def test_the_number_of_admitted_providers_is_never_capped(applicants: int) -> None:
    open_lot = lot()
    assert all(decide(open_lot, FULL, TODAY).outcome is Outcome.ADMITTED for _ in range(applicants))


def test_a_contract_runs_eight_years_by_default_to_the_day_before() -> None:
    assert contract_period(date(2026, 12, 1), lot().contract_term_years) == (date(2026, 12, 1), date(2034, 11, 30))
    assert contract_period(date(2028, 2, 29), 1) == (date(2028, 2, 29), date(2029, 2, 27))


def test_the_tariff_on_a_date_follows_its_validity() -> None:
    terms = lot()
    assert terms.tariff_on(PRODUCT, "04", date(2026, 12, 31)).eurocent == 9_500
    assert terms.tariff_on(PRODUCT, "04", date(2027, 1, 1)).eurocent == 9_800
    assert terms.tariff_on(PRODUCT, "04", date(2025, 12, 31)) is None
    assert terms.tariff_on(PRODUCT, "01", date(2026, 6, 1)) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tariffs": [Tariff(product_code="99X99", unit="04", eurocent=1, valid_from=TODAY)]},
            "tariffs name product codes the lot does not cover",
        ),
        (
            {
                "tariffs": [
                    Tariff(product_code=PRODUCT, unit="04", eurocent=1, valid_from=date(2026, 1, 1)),
                    Tariff(product_code=PRODUCT, unit="04", eurocent=2, valid_from=date(2026, 6, 1)),
                ]
            },
            "overlap in time",
        ),
        ({"settings": ["gezinshuis"]}, "settings are only for lots with a verblijf"),
        (
            {"requirements": [{"code": "vog", "description": "a"}, {"code": "vog", "description": "b"}]},
            "requirement codes must be unique",
        ),
        ({"code": "kleine letters"}, "code"),
        ({"max_wait_days": 0}, "max_wait_days"),
    ],
)
def test_an_inconsistent_lot_is_refused_with_the_reason(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        lot(**changes)


def test_a_tariff_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="lies before valid_from"):
        Tariff(product_code=PRODUCT, unit="04", eurocent=1, valid_from=TODAY, valid_to=date(2026, 1, 1))
