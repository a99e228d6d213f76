"""Limits at intake's edge, on the real app: a body too large or without a valid key is refused before
it is read, a key over its rate gets 429 with Retry-After, and one referrer's open verblijf referrals of
a day are capped. Intake stands for every service: the edge is the runtime's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.identifiers import EUROCENT_MAX
from services.intake.app import build
from services.intake.domain import elfproef
from services.intake.settings import IntakeSettings
from services.runtime.auth import KEY_CACHE_SECONDS, revoke_keys
from services.runtime.clock import Clock
from services.runtime.roles import Role
from tests.integration.intake.conftest import Served, allocation_body, client, referral_body
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually
from tests.support.server import serving

GP = "02:01234567"
OTHER_GP = "02:07654321"
FIVE_MB = 5 * 1024 * 1024
PROBLEM = "application/problem+json"

Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool) -> Serve:
    """Intake with the given settings changed, served for real."""

    @asynccontextmanager
    async def served(**overrides: Any) -> AsyncIterator[Served]:
        clock = Clock()
        settings = isolation.settings(IntakeSettings, infra, overdue_check_seconds=3600.0, dev_mode=True, **overrides)
        app = build(settings, clock=clock)
        async with serving(app) as url:
            yield Served(url, app, clock)

    return served


def crisis_referral(referrer: str = GP) -> dict[str, Any]:
    kind, agb = referrer.split(":")
    return referral_body(
        product_category="46",
        urgency="crisis",
        setting="crisisplek",
        settings=["crisisplek"],
        ambulant_tried=False,
        referrer={"type": kind, "agb": agb},
    )


async def refused_count(http: httpx.AsyncClient, url: str, reason: str) -> float:
    metrics = (await http.get(f"{url}/metrics")).text
    sample = f'schakel_http_refused_total{{reason="{reason}"}}'
    line = next((ln for ln in metrics.splitlines() if ln.startswith(sample)), None)
    return float(line.split()[-1]) if line else 0.0


async def test_a_5_mb_body_without_a_key_is_refused_413_without_being_read(intake: Served, http) -> None:  # type: ignore[no-untyped-def]
    # Not JSON at all: had it been parsed, the answer would be 422.
    response = await http.post(
        f"{intake.url}/v1/referrals", content=b"{" * FIVE_MB, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "exceeds 131072 bytes" in response.json()["detail"]
    assert await refused_count(http, intake.url, "too_large") == 1


async def test_a_chunked_body_is_counted_as_it_arrives_and_refused_past_the_budget(
    intake: Served,
    keys,  # type: ignore[no-untyped-def]
    http,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):  # 40 × 64 KiB, with no Content-Length to go by
            yield b" " * 65536

    response = await http.post(
        f"{intake.url}/v1/referrals",
        content=chunks(),
        headers={"Content-Type": "application/json", **await keys(Role.REFERRER, GP)},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == "the request body exceeds 131072 bytes"


async def test_invalid_json_without_a_key_is_401_not_422(intake: Served, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == PROBLEM
    assert "missing API key" in response.json()["detail"]


async def test_invalid_json_with_an_unknown_key_is_401_and_with_a_valid_key_422(
    intake: Served,
    keys,  # type: ignore[no-untyped-def]
    http,
) -> None:
    url = f"{intake.url}/v1/referrals"
    unknown = await http.post(
        url, content=b"{not json", headers={"Content-Type": "application/json", "Authorization": "Bearer sk_unknown"}
    )
    assert unknown.status_code == 401, unknown.text
    assert unknown.json()["detail"] == "unknown, revoked or expired API key"
    known = await http.post(
        url, content=b"{not json", headers={"Content-Type": "application/json", **await keys(Role.REFERRER, GP)}
    )
    assert known.status_code == 422, known.text


async def test_a_key_without_the_role_still_gets_403_from_the_route(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals", json=referral_body(), headers=await keys(Role.OPERATOR, "ops.test")
    )
    assert response.status_code == 403, response.text


async def test_public_routes_answer_without_a_key(intake: Served, http) -> None:  # type: ignore[no-untyped-def]
    assert (await http.get(f"{intake.url}/healthz")).status_code == 200
    assert (await http.get(f"{intake.url}/openapi.json")).status_code == 200


async def test_the_21st_request_over_a_limit_of_20_gets_429_with_retry_after(serve: Serve, keys, http) -> None:  # type: ignore[no-untyped-def]
    async with serve(rate_limits={"referrer": {"per_second": 0.001, "burst": 20}}) as intake:
        mine, other = await keys(Role.REFERRER, GP), await keys(Role.REFERRER, OTHER_GP)
        answers = [
            (await http.get(f"{intake.url}/v1/referrals/{uuid.uuid4()}", headers=mine)).status_code for _ in range(19)
        ]
        answers.append((await http.post(f"{intake.url}/v1/referrals", json=referral_body(), headers=mine)).status_code)
        assert answers == [404] * 19 + [201]

        # Over the limit the body is not even parsed: invalid JSON gets 429, not 422.
        over = await http.post(
            f"{intake.url}/v1/referrals", content=b"{not json", headers={"Content-Type": "application/json", **mine}
        )
        assert over.status_code == 429, over.text
        assert int(over.headers["retry-after"]) >= 1
        assert over.headers["content-type"] == PROBLEM
        assert "role referrer" in over.json()["detail"]
        assert (await http.get(f"{intake.url}/v1/referrals/{uuid.uuid4()}", headers=mine)).status_code == 429
        # Another key of the same role has a bucket of its own.
        assert (await http.get(f"{intake.url}/v1/referrals/{uuid.uuid4()}", headers=other)).status_code == 404
        assert await refused_count(http, intake.url, "rate_limited") == 2


async def test_rate_limiting_can_be_switched_off(serve: Serve, keys, http) -> None:  # type: ignore[no-untyped-def]
    async with serve(rate_limiting=False, rate_limits={"referrer": {"per_second": 0.001, "burst": 1}}) as intake:
        mine = await keys(Role.REFERRER, GP)
        answers = {
            (await http.get(f"{intake.url}/v1/referrals/{uuid.uuid4()}", headers=mine)).status_code for _ in range(5)
        }
        assert answers == {404}


async def test_an_amount_over_ten_billion_euro_is_a_422_naming_the_field(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals/{uuid.uuid4()}/allocations",
        json=allocation_body(volume=None, unit=None, frequency=None, budget=EUROCENT_MAX + 1),
        headers=await keys(Role.GEMEENTE, "0402"),
    )
    assert response.status_code == 422, response.text
    assert ["body", "budget"] in [e["loc"] for e in response.json()["errors"]]


async def test_a_date_in_year_9999_is_a_422_naming_the_field(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals/{uuid.uuid4()}/allocations",
        json=allocation_body(end_date="9999-12-31"),
        headers=await keys(Role.GEMEENTE, "0402"),
    )
    assert response.status_code == 422, response.text
    assert ["body", "end_date"] in [e["loc"] for e in response.json()["errors"]]


async def test_one_referrers_open_verblijf_referrals_of_a_day_are_capped(serve: Serve, keys, http) -> None:  # type: ignore[no-untyped-def]
    async with serve(verblijf_referrals_per_day=2) as intake:
        url, mine = f"{intake.url}/v1/referrals", await keys(Role.REFERRER, GP)
        first, second = [(await http.post(url, json=crisis_referral(), headers=mine)) for _ in range(2)]
        assert (first.status_code, second.status_code) == (201, 201), second.text

        third = await http.post(url, json=crisis_referral(), headers=mine)
        assert third.status_code == 429, third.text
        assert "the limit of 2 per day (SCHAKEL_VERBLIJF_REFERRALS_PER_DAY)" in third.json()["detail"]
        assert 1 <= int(third.headers["retry-after"]) <= 25 * 3600

        # Ambulant care reserves no place; another referrer has its own count.
        assert (await http.post(url, json=referral_body(), headers=mine)).status_code == 201
        assert (
            await http.post(url, json=crisis_referral(OTHER_GP), headers=await keys(Role.REFERRER, OTHER_GP))
        ).status_code == 201

        # A withdrawn referral no longer holds a place, so it no longer counts.
        withdrawn = await http.post(
            f"{url}/{first.json()['referral_id']}/withdrawal", json={"reason": "verwijzing_onjuist"}, headers=mine
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert (await http.post(url, json=crisis_referral(), headers=mine)).status_code == 201


async def test_a_query_date_out_of_bounds_is_a_422_too(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.OPERATOR, "ops.test")
    url = f"{intake.url}/v1/registry/municipalities"
    assert (await http.get(url, params={"on": "2026-01-01"}, headers=headers)).status_code == 200
    response = await http.get(url, params={"on": "9999-12-31"}, headers=headers)
    assert response.status_code == 422, response.text
    assert ["query", "on"] in [e["loc"] for e in response.json()["errors"]]


def crisis_referral_of(bsn: str) -> dict[str, Any]:
    return crisis_referral() | {"client": client(bsn=bsn)}


def valid_bsns(count: int) -> list[str]:
    """Distinct 999-prefixed test BSNs passing the elfproef, one youth per concurrent referral."""
    candidates = (f"999{n:06d}" for n in range(1_000_000))
    return [bsn for bsn, _ in zip((b for b in candidates if elfproef(b)), range(count), strict=False)]


async def test_concurrent_verblijf_referrals_of_one_referrer_never_pass_the_daily_cap(serve: Serve, keys, http) -> None:  # type: ignore[no-untyped-def]
    async with serve(verblijf_referrals_per_day=3) as intake:
        url, mine = f"{intake.url}/v1/referrals", await keys(Role.REFERRER, GP)
        answers = await asyncio.gather(
            *(http.post(url, json=crisis_referral_of(bsn), headers=mine) for bsn in valid_bsns(12))
        )
        assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 9, [a.text for a in answers]


async def test_a_cap_lowered_during_the_day_counts_the_referrals_already_open(serve: Serve, keys, http) -> None:  # type: ignore[no-untyped-def]
    bsns = iter(valid_bsns(7))
    async with serve(verblijf_referrals_per_day=4) as intake:
        url, mine = f"{intake.url}/v1/referrals", await keys(Role.REFERRER, GP)
        opened = [await http.post(url, json=crisis_referral_of(next(bsns)), headers=mine) for _ in range(4)]
        assert [r.status_code for r in opened] == [201] * 4

    async with serve(verblijf_referrals_per_day=2) as intake:
        url = f"{intake.url}/v1/referrals"
        refused = await http.post(url, json=crisis_referral_of(next(bsns)), headers=mine)
        assert refused.status_code == 429, refused.text
        assert "has 4 open verblijf or crisis referrals" in refused.json()["detail"]
        for answer in opened[:3]:
            withdrawal = {"reason": "verwijzing_onjuist"}
            withdrawn = await http.post(
                f"{url}/{answer.json()['referral_id']}/withdrawal", json=withdrawal, headers=mine
            )
            assert withdrawn.status_code == 200, withdrawn.text
        # One of the four is still open: the lowered cap of two leaves room for one more, not two.
        assert (await http.post(url, json=crisis_referral_of(next(bsns)), headers=mine)).status_code == 201
        assert (await http.post(url, json=crisis_referral_of(next(bsns)), headers=mine)).status_code == 429


async def test_a_revoked_key_is_refused_although_the_service_had_just_seen_it(intake: Served, keys, db, http) -> None:  # type: ignore[no-untyped-def]
    headers = await keys(Role.OPERATOR, "ops.revoked")
    url = f"{intake.url}/v1/registry/municipalities"
    assert (await http.get(url, headers=headers)).status_code == 200  # now in the service's key cache
    assert await revoke_keys(db, Role.OPERATOR, "ops.revoked") == 1

    async def refused() -> bool:
        return (await http.get(url, headers=headers)).status_code == 401

    # The revocation's NOTIFY reaches the service within milliseconds; the cache's own limit is 10 s.
    await eventually(refused, timeout=KEY_CACHE_SECONDS / 2, what="the revoked key refused")
