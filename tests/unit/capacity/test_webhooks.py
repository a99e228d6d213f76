"""Specification of how webhook deliveries are signed, and the backoff (who receives what: test_audience)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.capacity.webhooks import new_secret, retry_delay, sign, verify

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BODY = b'{"type": "nl.schakel.capacity.ShortageDetected", "data": {"setting": "crisisplek"}}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"whsec_test", b"1764000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("whsec_test", 1764000000, BODY) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_delivery_signed_with_its_secret() -> None:
    secret = new_secret()
    timestamp = int(NOW.timestamp())
    assert verify(secret, str(timestamp), BODY, sign(secret, timestamp, BODY), now=NOW + timedelta(seconds=3))


@pytest.mark.parametrize(
    ("what", "secret", "body", "timestamp_shift"),
    [
        ("another secret", "whsec_other", BODY, 0),
        ("a changed body", None, BODY.replace(b"crisisplek", b"gezinshuis"), 0),
        ("a timestamp moved to make an old request look new", None, BODY, 60),
    ],
)
def test_a_receiver_rejects_a_tampered_delivery(  # type: ignore[no-untyped-def]
    what, secret, body, timestamp_shift
) -> None:
    real_secret = new_secret()
    timestamp = int(NOW.timestamp())
    signature = sign(real_secret, timestamp, BODY)
    assert not verify(secret or real_secret, str(timestamp + timestamp_shift), body, signature, now=NOW), what


def test_a_receiver_rejects_a_replay_after_the_tolerance() -> None:
    secret = new_secret()
    timestamp = int(NOW.timestamp())
    signature = sign(secret, timestamp, BODY)
    assert not verify(secret, str(timestamp), BODY, signature, now=NOW + timedelta(minutes=6))
    assert not verify(secret, "not-a-number", BODY, signature, now=NOW)


def test_every_webhook_gets_its_own_secret() -> None:
    assert len({new_secret() for _ in range(50)}) == 50


def test_retries_wait_one_second_then_double_up_to_five_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]


@given(st.integers(min_value=1, max_value=10_000))
def test_the_retry_delay_never_shrinks_and_never_exceeds_the_maximum(attempts: int) -> None:
    assert retry_delay(attempts) <= retry_delay(attempts + 1) <= timedelta(minutes=5)
