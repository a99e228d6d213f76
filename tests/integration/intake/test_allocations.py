"""Toewijzingen on the real broker and database: numbering, OP259, change, withdrawal, start and
end of care, and a provider's request answered — or left overdue — by the gemeente."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from contracts import topics
from services.runtime.roles import Role
from tests.integration.intake.conftest import Served, allocation_body, client, intake_events, referral_body, short
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually

GP = "02:01234567"
PROVIDER = "87654321"


async def _referral(intake: Served, http, keys, **overrides) -> str:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals", json=referral_body(**overrides), headers=await keys(Role.REFERRER, GP)
    )
    assert response.status_code == 201, response.text
    return response.json()["referral_id"]


async def _allocate(intake: Served, http, headers, referral_id: str, **overrides):  # type: ignore[no-untyped-def]
    return await http.post(
        f"{intake.url}/v1/referrals/{referral_id}/allocations", headers=headers, json=allocation_body(**overrides)
    )


async def test_toewijzingnummers_run_per_municipality(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    hilversum, huizen = await keys(Role.GEMEENTE, "0402"), await keys(Role.GEMEENTE, "0406")
    a = await _referral(intake, http, keys)
    b = await _referral(intake, http, keys, client=client(bsn="123456782"))
    c = await _referral(intake, http, keys, client=client(bsn="999999990", municipality_code="0406"))
    numbers = [
        (await _allocate(intake, http, hilversum, a)).json()["allocation_number"],
        (await _allocate(intake, http, hilversum, b)).json()["allocation_number"],
        (await _allocate(intake, http, huizen, c)).json()["allocation_number"],
    ]
    assert numbers == [1, 2, 1]
    other = await _allocate(intake, http, huizen, a, product_code="45A49")
    assert other.status_code == 403 and "0402" in other.text


async def test_the_same_product_twice_for_overlapping_periods_is_refused_as_op259(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    gemeente = await keys(Role.GEMEENTE, "0402")
    first, second = await _referral(intake, http, keys), await _referral(intake, http, keys)
    assert (await _allocate(intake, http, gemeente, first)).status_code == 201
    # A second referral of the same youth does not make stacking allowed.
    stacked = await _allocate(intake, http, gemeente, second, start_date="2026-06-01", end_date="2026-12-31")
    assert stacked.status_code == 409 and "OP259" in stacked.json()["detail"]
    after = await _allocate(intake, http, gemeente, second, start_date="2026-07-01", end_date="2026-12-31")
    assert after.status_code == 201


async def test_an_incomplete_volume_is_a_422_naming_the_fields(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    referral = await _referral(intake, http, keys)
    response = await _allocate(intake, http, await keys(Role.GEMEENTE, "0402"), referral, unit=None)
    assert response.status_code == 422 and "unit" in response.text


async def test_care_starts_and_ends_once_in_order_and_only_by_its_provider(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    referral = await _referral(intake, http, keys)
    allocation = (await _allocate(intake, http, await keys(Role.GEMEENTE, "0402"), referral)).json()["allocation_id"]
    provider, stranger = await keys(Role.PROVIDER, PROVIDER), await keys(Role.PROVIDER, "11111111")
    url = f"{intake.url}/v1/allocations/{allocation}"
    end = {"end_date": "2026-03-01", "reason": "31"}

    assert (await http.post(f"{url}/start", json={"start_date": "2026-01-05"}, headers=stranger)).status_code == 403
    no_start = await http.post(f"{url}/end", json=end, headers=provider)
    assert no_start.status_code == 409 and "has not started" in no_start.text
    outside = await http.post(f"{url}/start", json={"start_date": "2025-12-15"}, headers=provider)
    assert outside.status_code == 422 and "outside the toewijzing" in outside.text
    ahead = await http.post(
        f"{url}/start", json={"start_date": (date.today() + timedelta(days=2)).isoformat()}, headers=provider
    )
    assert ahead.status_code == 422 and "lies after today" in ahead.text
    started = await http.post(f"{url}/start", json={"start_date": "2026-01-05"}, headers=provider)
    assert started.status_code == 200 and started.json()["referral_status"] == "in_care"
    twice = await http.post(f"{url}/start", json={"start_date": "2026-01-06"}, headers=provider)
    assert twice.status_code == 409 and "second start" in twice.text
    early = await http.post(f"{url}/end", json={"end_date": "2026-01-04", "reason": "31"}, headers=provider)
    assert early.status_code == 422 and "before care started" in early.text
    bad_reason = await http.post(f"{url}/end", json={"end_date": "2026-03-01", "reason": "99"}, headers=provider)
    assert bad_reason.status_code == 422 and "reason" in bad_reason.text
    ended = await http.post(f"{url}/end", json=end, headers=provider)
    assert ended.status_code == 200 and ended.json()["referral_status"] == "ended"

    events = await intake_events(infra, isolation, 4, topics.INTAKE_EVENTS)
    assert short(events) == ["ReferralReceived", "AllocationIssued", "CareStarted", "CareEnded"]
    assert {e.subject for e in events} == {referral}
    assert events[3].data["reason"] == "31" and events[3].data["end_date"] == "2026-03-01"
    view = (await http.get(f"{intake.url}/v1/referrals/{referral}", headers=await keys(Role.OPERATOR, "ops"))).json()
    assert [h["status"] for h in view["history"]] == ["received", "allocated", "in_care", "ended"]
    assert view["waiting"]["ongoing"] is False


async def test_a_toewijzing_is_changed_and_withdrawn_as_never_valid(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    gemeente = await keys(Role.GEMEENTE, "0402")
    referral = await _referral(intake, http, keys)
    allocation = (await _allocate(intake, http, gemeente, referral)).json()["allocation_id"]
    url = f"{intake.url}/v1/allocations/{allocation}"
    changed = await http.patch(url, headers=gemeente, json={"end_date": "2026-09-30", "volume": 6})
    assert changed.status_code == 200, changed.text
    assert changed.json()["end_date"] == "2026-09-30" and changed.json()["volume"] == 6
    assert (await http.patch(url, headers=await keys(Role.GEMEENTE, "0406"), json={"volume": 2})).status_code == 403
    withdrawn = await http.post(f"{url}/withdrawal", headers=gemeente, json={"reason": "13"})
    assert withdrawn.status_code == 200 and withdrawn.json()["effective_date"] == "2026-01-01"
    assert withdrawn.json()["referral_status"] == "received"
    start = await http.post(
        f"{url}/start", json={"start_date": "2026-01-05"}, headers=await keys(Role.PROVIDER, PROVIDER)
    )
    assert start.status_code == 409 and "withdrawn" in start.text
    # Never valid: the same product for the same period may be allocated again.
    assert (await _allocate(intake, http, gemeente, referral)).status_code == 201

    events = await intake_events(infra, isolation, 5, topics.INTAKE_EVENTS)
    assert short(events) == [
        "ReferralReceived",
        "AllocationIssued",
        "AllocationChanged",
        "AllocationWithdrawn",
        "AllocationIssued",
    ]
    assert events[3].data["reason"] == "13"


def _overdue_gauge(metrics: str) -> float:
    match = re.search(r"^schakel_intake_allocation_requests_overdue (\S+)$", metrics, re.MULTILINE)
    assert match, "the overdue gauge is exposed"
    return float(match.group(1))


async def test_a_providers_request_is_rejected_or_goes_overdue_and_is_then_granted(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    provider, gemeente = await keys(Role.PROVIDER, PROVIDER), await keys(Role.GEMEENTE, "0402")
    # The provider registers the GP's direct referral to itself, then asks for a toewijzing.
    referral = await http.post(f"{intake.url}/v1/referrals", headers=provider, json=referral_body())
    assert referral.status_code == 201, referral.text
    referral_id = referral.json()["referral_id"]
    ask = {
        "referral_id": referral_id,
        "product_category": "45",
        "product_code": "45A48",
        "start_date": "2026-01-01",
        "end_date": "2026-06-30",
        "budget": 250_000,
    }
    first = (await http.post(f"{intake.url}/v1/allocation-requests", headers=provider, json=ask)).json()
    rejected = await http.post(
        f"{intake.url}/v1/allocation-requests/{first['request_id']}/rejection", headers=gemeente, json={"reason": "4"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    unknown_reason = await http.post(
        f"{intake.url}/v1/allocation-requests/{first['request_id']}/rejection", headers=gemeente, json={"reason": "10"}
    )
    assert unknown_reason.status_code == 422

    second = (await http.post(f"{intake.url}/v1/allocation-requests", headers=provider, json=ask)).json()
    watch = intake.app.state.overdue
    assert await watch.check() == 0
    intake.clock.advance(timedelta(days=8))  # more than five working days, whatever the weekday
    assert await watch.check() == 1
    assert await watch.check() == 0  # reported once
    assert _overdue_gauge((await http.get(f"{intake.url}/metrics")).text) == 1.0
    listed = (await http.get(f"{intake.url}/v1/allocation-requests", headers=gemeente)).json()
    assert [(r["id"], r["overdue"]) for r in listed] == [(second["request_id"], True)]

    granted = await http.post(
        f"{intake.url}/v1/allocation-requests/{second['request_id']}/allocation", headers=gemeente
    )
    assert granted.status_code == 201, granted.text
    await watch.check()
    assert _overdue_gauge((await http.get(f"{intake.url}/metrics")).text) == 0.0
    again = await http.post(
        f"{intake.url}/v1/allocation-requests/{second['request_id']}/rejection", headers=gemeente, json={"reason": "4"}
    )
    assert again.status_code == 409 and "already answered" in again.text

    events = await intake_events(infra, isolation, 6, topics.INTAKE_EVENTS)
    assert short(events) == [
        "ReferralReceived",
        "AllocationRequested",
        "AllocationRequestRejected",
        "AllocationRequested",
        "AllocationRequestOverdue",
        "AllocationIssued",
    ]
    assert events[2].data["reason"] == "4"
    assert events[5].data["request_id"] == second["request_id"] and events[5].data["budget"] == 250_000
    assert all(e.subject == referral_id for e in events)


async def test_a_court_referral_is_not_refused_on_the_content_of_the_care(intake: Served, keys, http) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, PROVIDER)
    referral = await http.post(
        f"{intake.url}/v1/referrals",
        headers=await keys(Role.REFERRER, "08:22222222"),
        json=referral_body(referrer={"type": "08", "agb": "22222222"}, provider_agb=PROVIDER),
    )
    ask = {
        "referral_id": referral.json()["referral_id"],
        "product_category": "45",
        "start_date": "2026-01-01",
        "end_date": "2026-06-30",
        "budget": 1000,
    }
    request = (await http.post(f"{intake.url}/v1/allocation-requests", headers=provider, json=ask)).json()
    refused = await http.post(
        f"{intake.url}/v1/allocation-requests/{request['request_id']}/rejection",
        headers=await keys(Role.GEMEENTE, "0402"),
        json={"reason": "7"},
    )
    assert refused.status_code == 409 and "zorginhoudelijk" in refused.text


@pytest.mark.parametrize("watch_interval", [0.2])
async def test_the_service_itself_reports_an_overdue_request_while_running(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    provider = await keys(Role.PROVIDER, PROVIDER)
    referral = (await http.post(f"{intake.url}/v1/referrals", headers=provider, json=referral_body())).json()
    await http.post(
        f"{intake.url}/v1/allocation-requests",
        headers=provider,
        json={
            "referral_id": referral["referral_id"],
            "product_category": "45",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
            "budget": 1000,
        },
    )
    intake.clock.advance(timedelta(days=8))
    events = await intake_events(infra, isolation, 3, topics.INTAKE_EVENTS)
    assert short(events)[-1] == "AllocationRequestOverdue"

    async def gauge_reads_one() -> bool:
        return _overdue_gauge((await http.get(f"{intake.url}/metrics")).text) == 1.0

    await eventually(gauge_reads_one, what="the overdue gauge to read 1")
