"""Specification of key ids, expiry and the key listing (the pure parts of key administration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.auth import KeyInfo, hash_key, key_expiry, key_id, new_key
from services.runtime.keys import key_table
from services.runtime.roles import Role

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_key_id_is_short_printable_and_no_key() -> None:
    key = new_key()
    assert key_id(key) == hash_key(key)[:12]
    assert key_id(key).isalnum() and key_id(key) not in key
    assert key_id(key) != key_id(new_key())


def test_without_expiry_a_key_never_expires() -> None:
    assert key_expiry(NOW) is None


def test_expiry_in_days_counts_from_now() -> None:
    assert key_expiry(NOW, in_days=90) == NOW + timedelta(days=90)
    with pytest.raises(ValueError, match="at least 1"):
        key_expiry(NOW, in_days=0)


def test_a_bare_expiry_date_is_its_midnight_in_dutch_time() -> None:
    # Winter time: midnight in Amsterdam is 23:00 UTC the day before.
    assert key_expiry(NOW, at="2027-01-31") == datetime(2027, 1, 30, 23, 0, tzinfo=UTC)
    assert key_expiry(NOW, at="2027-07-01T12:00+00:00") == datetime(2027, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("in_days", "at", "message"),
    [
        (30, "2027-01-31", "not both"),
        (None, "2026-11-29", "lies in the past"),
        (None, "next tuesday", "not an ISO date"),
    ],
)
def test_an_expiry_that_cannot_hold_is_refused(in_days: int | None, at: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        key_expiry(NOW, in_days=in_days, at=at)


def _info(**overrides) -> KeyInfo:  # type: ignore[no-untyped-def]
    values = {
        "id": "0123456789ab",
        "role": Role.PROVIDER,
        "subject": "12345678",
        "label": "Zorg BV",
        "created_at": NOW - timedelta(days=10),
        "expires_at": None,
        "revoked_at": None,
    }
    return KeyInfo(**{**values, **overrides})


def test_a_key_is_active_until_it_expires_or_is_revoked() -> None:
    assert _info().state(NOW) == "active"
    assert _info(expires_at=NOW + timedelta(seconds=1)).state(NOW) == "active"
    assert _info(expires_at=NOW).state(NOW) == "expired"
    assert _info(expires_at=NOW, revoked_at=NOW - timedelta(days=1)).state(NOW) == "revoked"


def test_the_key_table_names_each_key_by_id_with_its_dates() -> None:
    table = key_table(
        [
            _info(),
            _info(id="ba9876543210", label="", revoked_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=5)),
        ],
        NOW,
    )
    header, first, second = table.splitlines()
    assert header.split() == ["ID", "ROLE", "SUBJECT", "STATE", "CREATED", "EXPIRES", "REVOKED", "LABEL"]
    assert first.split() == [
        "0123456789ab",
        "provider",
        "12345678",
        "active",
        "2026-11-20T12:00Z",
        "-",
        "-",
        "Zorg",
        "BV",
    ]
    assert second.split() == [
        "ba9876543210",
        "provider",
        "12345678",
        "revoked",
        "2026-11-20T12:00Z",
        "2026-12-05T12:00Z",
        "2026-11-29T12:00Z",
    ]
