"""Specification of who sees what of the schakelfunctie: which roles an alert reaches (webhooks, the live
stream and the alert list alike), and what of a placement each role is shown."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.capacity import (
    AlertAcknowledged,
    CapacityReportStale,
    CaseEscalated,
    ShortageChanged,
    ShortageDetected,
    ShortageResolved,
)
from contracts.doorbraak import DecisionOverdue
from contracts.pool import NetworkCaseEscalated, PoolWideShortageDetected, PoolWideShortageResolved
from services.capacity.audience import audience, case_seen_by, kind_of, kinds_seen_by, placement_seen_by
from services.capacity.webhooks_api import AlertRole
from services.runtime.roles import ALERT_ROLES, Role

SF, ET, OP, EN = Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.OPERATOR, Role.EXPERTISENETWERK
OUTSIDERS = (Role.PROVIDER, Role.REFERRER, Role.GEMEENTE, Role.ADMIN)
ALERT_TYPES = [
    ShortageDetected.event_type,
    ShortageChanged.event_type,
    ShortageResolved.event_type,
    CapacityReportStale.event_type,
    AlertAcknowledged.event_type,
    CaseEscalated.event_type,
    DecisionOverdue.event_type,
    NetworkCaseEscalated.event_type,
    PoolWideShortageDetected.event_type,
    PoolWideShortageResolved.event_type,
]
NEAR, FAR = "20000001", "20000002"


# --- alerts -------------------------------------------------------------------------------


@pytest.mark.parametrize("alert", [ShortageDetected, ShortageChanged, ShortageResolved, CapacityReportStale])
def test_regional_alerts_go_to_the_schakelfunctionaris_and_the_operator(alert) -> None:  # type: ignore[no-untyped-def]
    assert audience(alert.event_type, {"setting": "crisisplek"}) == {SF, OP}


def test_an_escalation_to_the_schakelfunctionaris_does_not_reach_the_expertteam() -> None:
    assert audience(CaseEscalated.event_type, {"level": "schakelfunctionaris"}) == {SF, OP}


def test_an_escalation_to_the_expertteam_reaches_it_and_the_schakelfunctionaris() -> None:
    assert audience(CaseEscalated.event_type, {"level": "expertteam"}) == {ET, SF, OP}


def test_an_escalation_of_an_unknown_level_reaches_nobody() -> None:
    assert audience(CaseEscalated.event_type, {"level": "doorbraaktafel"}) == frozenset()
    assert audience(CaseEscalated.event_type, {}) == frozenset()


def test_an_acknowledgement_reaches_every_alert_role() -> None:
    assert audience(AlertAcknowledged.event_type, {"alert_type": ShortageDetected.event_type}) == {SF, ET, EN, OP}


@pytest.mark.parametrize("level", ["schakelfunctionaris", "expertteam"])
def test_the_expertisenetwerk_hears_escalations_of_pooled_settings_never_the_regions_own_case_escalated(
    level: str,
) -> None:
    assert audience(NetworkCaseEscalated.event_type, {"level": level}) == {EN}
    assert EN not in audience(CaseEscalated.event_type, {"level": level})


@pytest.mark.parametrize("alert", [PoolWideShortageDetected, PoolWideShortageResolved])
def test_a_pool_wide_shortage_reaches_the_schakelfunctionaris_the_expertisenetwerk_and_the_operator(alert) -> None:  # type: ignore[no-untyped-def]
    assert audience(alert.event_type, {"setting": "jeugdzorgplus"}) == {SF, EN, OP}


def test_an_alert_type_nobody_decided_on_reaches_nobody() -> None:
    assert audience("nl.schakel.capacity.SomethingNew", {}) == frozenset()


def test_providers_referrers_gemeenten_and_admins_never_receive_alerts() -> None:
    levels = [{"level": "schakelfunctionaris"}, {"level": "expertteam"}, {}]
    receivers = set().union(*(audience(t, data) for t in ALERT_TYPES for data in levels))
    assert receivers.isdisjoint(OUTSIDERS)
    assert all(kinds_seen_by(role) == [] for role in OUTSIDERS)


@given(
    st.sampled_from([*ALERT_TYPES, "nl.schakel.capacity.SomethingNew"]),
    st.sampled_from(["schakelfunctionaris", "expertteam", "", "other"]),
    st.sampled_from(list(Role)),
)
def test_the_kinds_a_role_sees_are_exactly_the_alerts_whose_audience_holds_it(event_type, level, role) -> None:  # type: ignore[no-untyped-def]
    # kinds_seen_by feeds the SQL filter of GET /v1/alerts; audience decides webhooks and the stream.
    data = {"level": level} if level else {}
    kind = kind_of(event_type, data)
    in_list = any(k.event_type == kind.event_type and k.level in ("", kind.level) for k in kinds_seen_by(role))
    assert in_list == (role in audience(event_type, data))


# --- placements ---------------------------------------------------------------------------


def proposal(agb: str, outcome: str | None = None, note: str | None = None) -> dict:
    return {
        "agb": agb,
        "setting": "crisisplek",
        "outcome": outcome,
        "reason": "groep_vol" if outcome else None,
        "note": note,
    }


def placement(**fields: object) -> dict:
    base: dict = {
        "status": "proposed",
        "client_ref": "c" * 64,
        "escalation_level": "schakelfunctionaris",
        "escalated_at": "2026-11-24T12:00:00Z",
        "escalation_due_at": "2026-11-24T16:00:00Z",
        "escalation_note": "thuis onhoudbaar",
        "confirmed_agb": None,
        "confirmed_setting": None,
        "confirmed_at": None,
        "proposals": [proposal(NEAR, "declined", "groep is vol tot maart"), proposal(FAR)],
    }
    return base | fields


@pytest.mark.parametrize("role", [SF, ET])
def test_the_schakelfunctie_and_the_expertteam_see_every_answer_and_every_note(role: Role) -> None:
    assert placement_seen_by(placement(), role) == placement()


def test_a_provider_sees_only_its_own_proposal_with_its_own_note() -> None:
    seen = placement_seen_by(placement(), Role.PROVIDER, NEAR)
    assert seen["proposals"] == [proposal(NEAR, "declined", "groep is vol tot maart")]
    assert placement_seen_by(placement(), Role.PROVIDER, FAR)["proposals"] == [proposal(FAR)]


def test_a_provider_once_proposed_does_not_see_the_escalation_or_its_note() -> None:
    seen = placement_seen_by(placement(), Role.PROVIDER, NEAR)
    assert (seen["escalation_level"], seen["escalated_at"], seen["escalation_due_at"], seen["escalation_note"]) == (
        None,
        None,
        None,
        None,
    )


def test_a_provider_learns_of_a_confirmation_only_when_it_is_its_own() -> None:
    confirmed = placement(
        status="confirmed", confirmed_agb=FAR, confirmed_setting="crisisplek", confirmed_at="2026-11-24T13:00:00Z"
    )
    declined = placement_seen_by(confirmed, Role.PROVIDER, NEAR)
    assert (declined["confirmed_agb"], declined["confirmed_setting"], declined["confirmed_at"]) == (None, None, None)
    assert placement_seen_by(confirmed, Role.PROVIDER, FAR)["confirmed_agb"] == FAR


def test_a_provider_key_without_an_agb_sees_no_proposal() -> None:
    assert placement_seen_by(placement(), Role.PROVIDER, None)["proposals"] == []


@pytest.mark.parametrize("role", [Role.REFERRER, OP])
def test_a_referrer_and_the_operator_see_the_course_of_the_case_but_no_ones_notes(role: Role) -> None:
    seen = placement_seen_by(placement(), role, "01234567")
    assert [p["note"] for p in seen["proposals"]] == [None, None]
    assert [(p["agb"], p["outcome"], p["reason"]) for p in seen["proposals"]] == [
        (NEAR, "declined", "groep_vol"),
        (FAR, None, None),
    ]
    assert seen["escalation_note"] is None and seen["escalation_level"] == "schakelfunctionaris"


@given(st.sampled_from(list(Role)), st.sampled_from([NEAR, FAR, None]))
def test_a_note_is_shown_only_to_the_case_roles_and_to_the_provider_that_wrote_it(role: Role, agb) -> None:  # type: ignore[no-untyped-def]
    seen = placement_seen_by(placement(), role, agb)
    for shown in seen["proposals"]:
        if shown["note"] is not None:
            assert role in (SF, ET, EN) or (role is Role.PROVIDER and shown["agb"] == agb)
    if seen["escalation_note"] is not None:
        assert role in (SF, ET, EN)


def test_what_a_role_is_shown_leaves_the_placement_itself_unchanged() -> None:
    original = placement()
    placement_seen_by(original, Role.PROVIDER, NEAR)
    placement_seen_by(original, Role.REFERRER)
    assert original == placement()


def test_a_webhook_may_be_registered_for_exactly_the_alert_roles() -> None:
    assert set(get_args(AlertRole)) == {role.value for role in ALERT_ROLES}


# --- the doorbraak ------------------------------------------------------------------------


def test_a_decision_overdue_reaches_those_who_work_the_case() -> None:
    assert audience(DecisionOverdue.event_type, {}) == {SF, ET}


CASE = {
    "case_id": "c1",
    "escalation_note": "waarom nu",
    "proposals": [{"agb": NEAR, "reason": "groep_vol", "note": "te druk"}],
    "meetings": [{"meeting_id": "m1", "parties": ["gemeente"], "notes": "gesprek"}],
    "decisions": [{"decision_id": "d1", "kind": "maatwerk", "notes": "waarom", "withdrawal_notes": None}],
}


@pytest.mark.parametrize("role", [SF, ET])
def test_the_case_roles_see_the_whole_case_file(role: Role) -> None:
    assert case_seen_by(CASE, role) == CASE


def test_the_operator_sees_how_a_case_runs_but_no_ones_words() -> None:
    seen = case_seen_by(CASE, OP)
    assert seen["escalation_note"] is None
    assert seen["proposals"] == [{"agb": NEAR, "reason": "groep_vol", "note": None}]
    assert seen["meetings"][0]["notes"] is None and seen["meetings"][0]["parties"] == ["gemeente"]
    assert seen["decisions"][0]["notes"] is None and seen["decisions"][0]["kind"] == "maatwerk"
