"""Specification of how webhook deliveries are signed (Standard Webhooks), and the backoff.

Who receives what: test_audience. The receiver's side is the ``standardwebhooks`` library, as a
receiver that never saw Schakel's code would use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from services.capacity.webhooks.dispatcher import retry_delay
from services.capacity.webhooks.signing import new_secret, sign, signed_headers, signing_key

BODY = b'{"type": "nl.schakel.capacity.ShortageDetected", "data": {"setting": "crisisplek"}}'
MSG_ID = "0b8f3c2e-5d1a-4c7e-9a1f-2e6d8b4c0f11"


def test_a_secret_is_whsec_and_base64_of_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert signing_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))


def test_the_signature_is_v1_base64_hmac_sha256_over_id_dot_timestamp_dot_body() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = hmac.new(key, f"{MSG_ID}.1764000000.".encode() + BODY, hashlib.sha256).digest()
    assert sign(secret, MSG_ID, 1764000000, BODY) == "v1," + base64.b64encode(expected).decode()


def test_the_standard_webhooks_library_accepts_a_fresh_delivery() -> None:
    secret = new_secret()
    headers = signed_headers(secret, MSG_ID, int(time.time()), BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(BODY, headers)["data"] == {"setting": "crisisplek"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s, h, b: (s, h, b.replace(b"crisisplek", b"gezinshuis")),
        lambda s, h, b: (new_secret(), h, b),
        lambda s, h, b: (s, {**h, "webhook-id": "another-alert"}, b),
        lambda s, h, b: (s, {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 60)}, b),
    ],
    ids=[
        "a changed body",
        "another secret",
        "another id, to pass one alert off as another",
        "a timestamp moved to make an old request look new",
    ],
)
def test_the_library_rejects_a_tampered_delivery(tamper) -> None:  # type: ignore[no-untyped-def]
    secret = new_secret()
    secret, headers, body = tamper(secret, signed_headers(secret, MSG_ID, int(time.time()), BODY), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_the_library_rejects_a_replay_after_five_minutes() -> None:
    secret = new_secret()
    headers = signed_headers(secret, MSG_ID, int(time.time()) - 6 * 60, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_every_webhook_gets_its_own_secret() -> None:
    assert len({new_secret() for _ in range(50)}) == 50


def test_retries_wait_one_second_then_double_up_to_five_minutes() -> None:
    assert [retry_delay(n).total_seconds() for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]


@given(st.integers(min_value=1, max_value=10_000))
def test_the_retry_delay_never_shrinks_and_never_exceeds_the_maximum(attempts: int) -> None:
    assert retry_delay(attempts) <= retry_delay(attempts + 1) <= timedelta(minutes=5)
