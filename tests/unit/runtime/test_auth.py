"""Specification of API key subjects and hashing."""

from __future__ import annotations

import pytest

from services.runtime.auth import Principal, check_subject, hash_key, new_key
from services.runtime.roles import ALERT_ROLES, Role


def test_a_provider_key_must_name_an_eight_digit_agb() -> None:
    check_subject(Role.PROVIDER, "12345678")
    with pytest.raises(ValueError, match="AGB code of 8 digits"):
        check_subject(Role.PROVIDER, "1234567")


def test_a_gemeente_key_names_a_cbs_municipality_code() -> None:
    check_subject(Role.GEMEENTE, "0402")
    with pytest.raises(ValueError, match="CBS municipality code"):
        check_subject(Role.GEMEENTE, "Hilversum")


def test_a_referrer_key_names_its_cod327_type_and_agb_and_there_is_no_type_07() -> None:
    check_subject(Role.REFERRER, "02:12345678")
    with pytest.raises(ValueError):
        check_subject(Role.REFERRER, "07:12345678")


def test_an_expertisenetwerk_key_names_its_pool_and_is_an_alert_role() -> None:
    check_subject(Role.EXPERTISENETWERK, "midden-nederland")
    check_subject(Role.EXPERTISENETWERK, "midden-nederland.jzp")
    with pytest.raises(ValueError, match="the pool's name"):
        check_subject(Role.EXPERTISENETWERK, "j.jansen@example.nl")
    assert Role.EXPERTISENETWERK in ALERT_ROLES


def test_a_referrer_acts_for_the_agb_in_its_subject() -> None:
    assert Principal(Role.REFERRER, "02:87654321").agb == "87654321"
    assert Principal(Role.PROVIDER, "12345678").agb == "12345678"
    assert Principal(Role.OPERATOR, "operator").agb is None


def test_keys_are_random_and_only_their_hash_is_kept() -> None:
    first, second = new_key(), new_key()
    assert first != second and first.startswith("sk_")
    assert hash_key(first) != first and len(hash_key(first)) == 64
    assert hash_key(first) == hash_key(first)
