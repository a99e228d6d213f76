"""Referral rules: BSN elfproef, plausible age, verblijf settings, who may refer, legal basis."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.codes import Productcategorie, RedenAfwijzing, Verwijzer
from contracts.verblijf import Setting
from services.intake import domain
from services.intake.requests import ReferralIn
from services.runtime.errors import Conflict, Forbidden, Invalid

VALID_BSNS = ["111222333", "123456782", "999999990"]
DAY = date(2026, 11, 24)


def referral(**overrides) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "client": {"bsn": "111222333", "birth_date": "2012-05-01", "municipality_code": "0402"},
        "referrer": {"type": "02", "agb": "01234567"},
        "product_category": "45",
        "urgency": "regulier",
        "ambulant_tried": False,
    }
    body.update(overrides)
    return body


def error_locations(body: dict) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        ReferralIn.model_validate(body)
    return [e["loc"] for e in caught.value.errors()]


@pytest.mark.parametrize("bsn", VALID_BSNS)
def test_a_bsn_passing_the_elfproef_is_accepted(bsn: str) -> None:
    assert domain.elfproef(bsn)


@pytest.mark.parametrize("bsn", ["111222334", "123456789", "12345678", "1234567820", "12345678a", "000000000"])
def test_a_bsn_failing_the_elfproef_or_not_nine_digits_is_refused(bsn: str) -> None:
    assert not domain.elfproef(bsn)


@given(st.sampled_from(VALID_BSNS), st.integers(0, 8), st.integers(1, 9))
def test_changing_any_one_digit_of_a_valid_bsn_breaks_the_elfproef(bsn: str, position: int, shift: int) -> None:
    digit = (int(bsn[position]) + shift) % 10
    assert not domain.elfproef(bsn[:position] + str(digit) + bsn[position + 1 :])


def test_a_bad_bsn_is_a_422_on_client_bsn() -> None:
    body = referral(client={"bsn": "123456789", "birth_date": "2012-05-01", "municipality_code": "0402"})
    assert error_locations(body) == [("client", "bsn")]


def test_age_counts_whole_years_and_an_unborn_child_is_minus_one() -> None:
    assert domain.age_on(date(2012, 11, 24), DAY) == 14
    assert domain.age_on(date(2012, 11, 25), DAY) == 13
    assert domain.age_on(date(2027, 3, 1), DAY) == -1


def test_an_unborn_child_may_be_referred_within_a_pregnancy() -> None:
    assert domain.check_birth_date(date(2027, 6, 1), DAY) == -1
    with pytest.raises(Invalid, match=r"client.birth_date"):
        domain.check_birth_date(date(2027, 12, 1), DAY)


def test_care_may_run_past_18_but_ends_at_the_23rd_birthday() -> None:
    assert domain.check_birth_date(date(2003, 11, 25), DAY) == 22
    with pytest.raises(Invalid, match=r"client.birth_date.*23"):
        domain.check_birth_date(date(2003, 11, 24), DAY)


@pytest.mark.parametrize("category", ["43", "44", "46"])
def test_verblijf_and_crisis_need_a_setting(category: str) -> None:
    assert error_locations(referral(product_category=category)) == [("settings",)]


def test_other_categories_refuse_a_setting() -> None:
    assert error_locations(referral(product_category="45", setting="gezinshuis")) == [("settings",)]


def test_setting_and_settings_merge_in_preference_order_without_duplicates() -> None:
    body = ReferralIn.model_validate(
        referral(product_category="43", setting="gezinshuis", settings=["pleegzorg", "gezinshuis", "residentieel"])
    )
    assert body.settings == [Setting.GEZINSHUIS, Setting.PLEEGZORG, Setting.RESIDENTIEEL]
    assert domain.resolve_settings(Productcategorie.CRISIS, Setting.CRISISPLEK, []) == [Setting.CRISISPLEK]


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("urgency", "morgen", ("urgency",)),
        ("product_category", "39", ("product_category",)),
        ("referrer", {"type": "07", "agb": "01234567"}, ("referrer", "type")),
        ("ambulant_tried", None, ("ambulant_tried",)),
        (
            "client",
            {"bsn": "111222333", "birth_date": "2012-05-01", "municipality_code": "402"},
            ("client", "municipality_code"),
        ),
    ],
)
def test_each_invalid_field_is_named(field: str, value, loc: tuple) -> None:  # type: ignore[no-untyped-def]
    assert loc in error_locations(referral(**{field: value}))


def test_a_professional_referrer_gives_its_agb_but_gemeente_and_self_referral_need_none() -> None:
    with pytest.raises(ValidationError, match=r"agb: referrer type 02"):
        ReferralIn.model_validate(referral(referrer={"type": "02"}))
    assert ReferralIn.model_validate(referral(referrer={"type": "06"})).referrer.agb is None
    assert domain.event_referrer_agb(Verwijzer.GEMEENTE, "01234567") is None
    assert domain.event_referrer_agb(Verwijzer.HUISARTS, "01234567") == "01234567"


def test_a_referrer_key_refers_only_as_itself() -> None:
    domain.check_referral_rights("referrer", "02:01234567", Verwijzer.HUISARTS, "01234567", "0402", None)
    with pytest.raises(Forbidden, match=r"02:01234567"):
        domain.check_referral_rights("referrer", "02:01234567", Verwijzer.HUISARTS, "99999999", "0402", None)
    with pytest.raises(Forbidden):
        domain.check_referral_rights("referrer", "02:01234567", Verwijzer.JEUGDARTS, "01234567", "0402", None)
    domain.check_referral_rights("referrer", "06:01234567", Verwijzer.ZELFVERWIJZER, None, "0402", None)


def test_a_gemeente_refers_only_its_own_residents_as_type_01() -> None:
    domain.check_referral_rights("gemeente", "0402", Verwijzer.GEMEENTE, None, "0402", None)
    with pytest.raises(Forbidden, match=r"own residents"):
        domain.check_referral_rights("gemeente", "0402", Verwijzer.GEMEENTE, None, "0406", None)
    with pytest.raises(Forbidden, match=r"01"):
        domain.check_referral_rights("gemeente", "0402", Verwijzer.HUISARTS, "01234567", "0402", None)


def test_a_provider_registers_only_direct_medical_referrals_to_itself() -> None:
    domain.check_referral_rights("provider", "87654321", Verwijzer.HUISARTS, "01234567", "0402", "87654321")
    domain.check_referral_rights("provider", "87654321", Verwijzer.HUISARTS, "01234567", "0402", None)
    with pytest.raises(Forbidden, match=r"itself"):
        domain.check_referral_rights("provider", "87654321", Verwijzer.HUISARTS, "01234567", "0402", "11111111")
    with pytest.raises(Forbidden, match=r"direct"):
        domain.check_referral_rights("provider", "87654321", Verwijzer.RECHTER_OFFICIER, "01234567", "0402", None)


@pytest.mark.parametrize("referrer", list(Verwijzer))
def test_only_gi_and_court_referrals_stand_without_a_gemeente_decision(referrer: Verwijzer) -> None:
    expected = referrer not in (Verwijzer.GECERTIFICEERDE_INSTELLING, Verwijzer.RECHTER_OFFICIER)
    assert referrer.needs_gemeente_decision is expected


def test_a_court_or_gi_referral_is_not_refused_on_the_gemeentes_judgement_of_the_care() -> None:
    with pytest.raises(Conflict, match=r"zorginhoudelijk"):
        domain.check_rejection(Verwijzer.RECHTER_OFFICIER, RedenAfwijzing.ZORGINHOUDELIJK)
    domain.check_rejection(Verwijzer.RECHTER_OFFICIER, RedenAfwijzing.WOONPLAATSBEGINSEL)
    domain.check_rejection(Verwijzer.HUISARTS, RedenAfwijzing.ZORGINHOUDELIJK)
