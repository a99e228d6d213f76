"""Who sees what of the schakelfunctie: which roles an alert reaches, and what of a placement each role
is shown. Pure, so the webhooks, the live stream, the alert list and the placement routes apply one rule.

Alerts go to the alert roles only. Regional alerts (shortages, stale reports) and escalations to
the schakelfunctionaris are for the schakelfunctionaris and the operator; an escalation to the
expert team reaches the expert team as well, and so does a doorbraak decision not carried out in
time (``DecisionOverdue``: for the two who work the case, not the operator). An acknowledgement names only an alert id, its type
and who acknowledged, so every alert role hears of it and their inboxes stay in step.

The pool's expertisenetwerk hears the escalations of pooled settings from every member region
(``NetworkCaseEscalated``: region, age, settings, urgency, level; no client_ref) and the pool-wide
shortage, never the region's own ``CaseEscalated`` (it names the client_ref and the gemeente).

Placements are shown by the part each role plays in the case:

- schakelfunctionaris, expertteam and expertisenetwerk work the case: everything, every provider's answer and note,
  and the escalation note (the notes are written for them);
- a provider sees the youth it was proposed, and of the course of the case only its own
  proposals (with its own notes) and its own confirmation; never another provider's answer, nor
  the escalation, nor its note;
- a referrer (who may escalate its own referral) and the operator see how the case runs —
  status, proposals by code, escalation level — but no one's free text: notes stay with the
  people they were written for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.capacity import (
    AlertAcknowledged,
    CapacityReportStale,
    CaseEscalated,
    EscalationLevel,
    ShortageChanged,
    ShortageDetected,
    ShortageResolved,
)
from contracts.doorbraak import DecisionOverdue
from contracts.pool import NetworkCaseEscalated, PoolWideShortageDetected, PoolWideShortageResolved
from services.runtime.roles import ALERT_ROLES, Role

# --- alerts -------------------------------------------------------------------------------

_EVERY_ALERT_ROLE = frozenset(ALERT_ROLES)
_REGION = frozenset({Role.SCHAKELFUNCTIONARIS, Role.OPERATOR})
_CASE = frozenset({Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM})
_EXPERTTEAM_CASE = frozenset({Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.OPERATOR})
_NETWORK = frozenset({Role.EXPERTISENETWERK})
_POOL_WIDE = frozenset({Role.SCHAKELFUNCTIONARIS, Role.EXPERTISENETWERK, Role.OPERATOR})
# Only an escalation is told apart by its payload (its level); every other kind by its type alone.
_BY_LEVEL = CaseEscalated.event_type
ANY_LEVEL = ""


@dataclass(frozen=True)
class AlertKind:
    """What an alert's audience depends on: its type, and for an escalation its level."""

    event_type: str
    level: str = ANY_LEVEL


_AUDIENCE: Mapping[AlertKind, frozenset[Role]] = {
    AlertKind(ShortageDetected.event_type): _REGION,
    AlertKind(ShortageChanged.event_type): _REGION,
    AlertKind(ShortageResolved.event_type): _REGION,
    AlertKind(CapacityReportStale.event_type): _REGION,
    AlertKind(AlertAcknowledged.event_type): _EVERY_ALERT_ROLE,
    AlertKind(_BY_LEVEL, EscalationLevel.SCHAKELFUNCTIONARIS.value): _REGION,
    AlertKind(_BY_LEVEL, EscalationLevel.EXPERTTEAM.value): _EXPERTTEAM_CASE,
    AlertKind(DecisionOverdue.event_type): _CASE,
    AlertKind(NetworkCaseEscalated.event_type): _NETWORK,
    AlertKind(PoolWideShortageDetected.event_type): _POOL_WIDE,
    AlertKind(PoolWideShortageResolved.event_type): _POOL_WIDE,
}


def kind_of(event_type: str, data: Mapping[str, Any]) -> AlertKind:
    if event_type == _BY_LEVEL:
        return AlertKind(event_type, str(data.get("level") or ""))
    return AlertKind(event_type)


def audience(event_type: str, data: Mapping[str, Any]) -> frozenset[Role]:
    """The roles that receive an alert of ``event_type`` with payload ``data`` (webhook, stream, list).

    A kind not listed reaches nobody: a new kind of alert leaves Schakel only once someone has
    decided who should get it.
    """
    return _AUDIENCE.get(kind_of(event_type, data), frozenset())


def kinds_seen_by(role: Role) -> list[AlertKind]:
    """Every kind of alert ``role`` receives: the same rule, in a form a SQL filter can take."""
    return [kind for kind, roles in _AUDIENCE.items() if role in roles]


# --- placements ---------------------------------------------------------------------------

# The expertisenetwerk works the cases of its own region it takes up, as the expert team does.
CASE_ROLES = frozenset({Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.EXPERTISENETWERK})
_ESCALATION = ("escalation_level", "escalated_at", "escalation_due_at", "escalation_note")
_CONFIRMATION = ("confirmed_agb", "confirmed_setting", "confirmed_at")


def placement_seen_by(placement: Mapping[str, Any], role: Role, agb: str | None = None) -> dict[str, Any]:
    """``placement`` (with its ``proposals``, each with ``agb`` and ``note``) as ``role`` may see it.

    ``agb`` is the provider's own AGB code when ``role`` is provider; a provider key without one
    sees no proposal at all.
    """
    seen = dict(placement)
    proposals: Sequence[Mapping[str, Any]] = placement["proposals"]
    if role in CASE_ROLES:
        seen["proposals"] = [dict(p) for p in proposals]
        return seen
    if role is Role.PROVIDER:
        seen["proposals"] = [dict(p) for p in proposals if agb is not None and p["agb"] == agb]
        seen.update(dict.fromkeys(_ESCALATION))
        if agb is None or placement.get("confirmed_agb") != agb:
            seen.update(dict.fromkeys(_CONFIRMATION))
        return seen
    seen["proposals"] = [{**p, "note": None} for p in proposals]
    seen["escalation_note"] = None
    return seen


# --- the doorbraak's case file --------------------------------------------------------------

CASE_READERS = frozenset({Role.EXPERTTEAM, Role.EXPERTISENETWERK, Role.SCHAKELFUNCTIONARIS, Role.OPERATOR})


def case_seen_by(case: Mapping[str, Any], role: Role) -> dict[str, Any]:
    """A doorbraak case file (with ``proposals``, ``meetings`` and ``decisions``) as ``role`` may see
    it: the expert team and the schakelfunctionaris everything; the operator how the case runs, but
    no one's words (meeting and decision notes, provider notes, the escalation note)."""
    seen = dict(case)
    if role in CASE_ROLES:
        return seen
    seen["escalation_note"] = None
    seen["proposals"] = [{**p, "note": None} for p in case.get("proposals", [])]
    seen["meetings"] = [{**m, "notes": None} for m in case.get("meetings", [])]
    seen["decisions"] = [{**d, "notes": None, "withdrawal_notes": None} for d in case.get("decisions", [])]
    return seen
