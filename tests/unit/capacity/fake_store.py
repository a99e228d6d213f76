"""Capacity's store in memory: the same ``Store`` protocol as PostgreSQL's, over dicts and lists,
for unit tests of the commands. A failed unit of work puts it back as it was (``InMemoryStore``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from contracts.capacity import DeclineReason, Severity
from contracts.codes import Urgentie
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.capacity.domain import Candidate, CapacityFigures, OpenShortage, ProviderCapacity, waits_urgently
from services.capacity.pool_rules import PoolOffer, PoolPlaces
from services.capacity.store import (
    AlertState,
    Decision,
    DoorbraakCase,
    Meeting,
    Placement,
    PlacementAdmission,
    PoolRequest,
    Proposal,
    StaleReport,
)
from services.runtime.unit_of_work import InMemoryStore

_URGENCY_FIRST = {Urgentie.CRISIS: 0, Urgentie.SPOED: 1}


@dataclass(frozen=True)
class Report:
    id: int
    agb: str
    setting: str
    figures: CapacityFigures
    reported_at: datetime
    reported_by: str


@dataclass(frozen=True)
class RecordedAlert:
    envelope: Envelope
    setting: str | None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_role: str | None = None


class FakeStore(InMemoryStore):
    def __init__(self) -> None:
        self.history: list[Report] = []
        self.current: dict[tuple[str, str], Report] = {}
        self.stale_alerted: dict[tuple[str, str], int] = {}
        self.municipalities: dict[str, str | None] = {}
        # (agb, setting, origin) -> ended_at (None while admitted)
        self.admissions: dict[tuple[str, str, str], datetime | None] = {}
        self.shortages: dict[str, OpenShortage] = {}
        self.alerts: list[RecordedAlert] = []
        self.notifications: list[str] = []
        self.placements: dict[uuid.UUID, Placement] = {}
        self.proposals: list[Proposal] = []
        self.cases: dict[uuid.UUID, DoorbraakCase] = {}
        self.meetings_held: list[Meeting] = []
        self.decisions: dict[uuid.UUID, Decision] = {}
        self.placement_admitted: list[PlacementAdmission] = []
        # (pool, region, agb, setting) -> (places, reported_at); (pool, region, setting) -> open shortage
        self.pool_places: dict[tuple[str, str, str, str], tuple[PoolPlaces, datetime]] = {}
        self.pool_shortages: dict[tuple[str, str, str], tuple[uuid.UUID, int, int, datetime]] = {}
        self.pool_wide: dict[tuple[str, str], tuple[uuid.UUID, datetime]] = {}
        self.pool_requests: dict[uuid.UUID, PoolRequest] = {}

    # --- reports and admissions

    async def insert_report(
        self, agb: str, setting: str, figures: CapacityFigures, reported_at: datetime, reported_by: str
    ) -> None:
        report = Report(len(self.history) + 1, agb, setting, figures, reported_at, reported_by)
        self.history.append(report)
        self.current[(agb, setting)] = report

    async def current_figures(self, agb: str, setting: str) -> CapacityFigures | None:
        report = self.current.get((agb, setting))
        return report.figures if report else None

    def _admitted(self, agb: str, setting: str) -> bool:
        return any(a == agb and s == setting and ended is None for (a, s, _), ended in self.admissions.items())

    def _offers(self, settings: Iterable[str]) -> list[Report]:
        wanted = set(settings)
        return [r for r in self.current.values() if r.setting in wanted and self._admitted(r.agb, r.setting)]

    def _capacity(self, report: Report) -> ProviderCapacity:
        key = (report.agb, report.setting)
        reserved = sum(
            1 for p in self.proposals if (p.agb, p.setting) == key and p.outcome is None and p.region is None
        )
        reserved += sum(1 for q in self.pool_requests.values() if (q.agb, q.setting) == key and q.outcome is None)
        f = report.figures
        return ProviderCapacity(f.total, f.occupied, f.closed_to_admission, reserved)

    async def providers_of(self, setting: str) -> list[ProviderCapacity]:
        return [self._capacity(r) for r in self._offers([setting])]

    async def candidates(self, settings: Iterable[str]) -> list[Candidate]:
        return [
            Candidate(
                agb=r.agb,
                setting=Setting(r.setting),
                free=self._capacity(r).free,
                age_min=r.figures.age_min,
                age_max=r.figures.age_max,
                municipality_code=self.municipalities[r.agb],
                last_proposed_at=max((p.proposed_at for p in self.proposals if p.agb == r.agb), default=None),
            )
            for r in self._offers(settings)
        ]

    async def admit_provider(
        self, agb: str, settings: Iterable[str], origin: str, at: datetime, municipality_code: str | None = None
    ) -> None:
        self.municipalities[agb] = municipality_code or self.municipalities.get(agb)
        for setting in settings:
            self.admissions[(agb, setting, origin)] = None

    async def end_admissions(self, origin: str, at: datetime) -> list[str]:
        ended = [key for key, end in self.admissions.items() if key[2] == origin and end is None]
        for key in ended:
            self.admissions[key] = at
        return [setting for _, setting, _ in ended]

    async def admitted_settings(self, agb: str) -> set[str]:
        return {s for (a, s, _), ended in self.admissions.items() if a == agb and ended is None}

    async def stale_reports(self, older_than: datetime) -> list[StaleReport]:
        return [
            StaleReport(r.agb, r.setting, r.id, r.reported_at)
            for r in self._offers(str(s) for s in Setting)
            if r.reported_at <= older_than and self.stale_alerted.get((r.agb, r.setting)) != r.id
        ]

    async def mark_stale_alerted(self, report: StaleReport) -> bool:
        key = (report.agb, report.setting)
        if self.current[key].id != report.report_id or self.stale_alerted.get(key) == report.report_id:
            return False
        self.stale_alerted[key] = report.report_id
        return True

    # --- shortages and alerts

    async def lock_settings(self, settings: Iterable[str]) -> dict[str, OpenShortage | None]:
        return {s: self.shortages.get(s) for s in sorted(set(settings))}

    async def open_shortage(
        self, shortage_id: uuid.UUID, setting: str, severity: Severity, free: int, waiting: int, at: datetime
    ) -> None:
        assert setting not in self.shortages, "one open shortage per setting"
        self.shortages[setting] = OpenShortage(shortage_id, at, severity)

    async def change_shortage(self, shortage_id: uuid.UUID, severity: Severity, free: int, waiting: int) -> None:
        [setting] = [s for s, shortage in self.shortages.items() if shortage.id == shortage_id]
        self.shortages[setting] = replace(self.shortages[setting], severity=severity)

    async def close_shortage(self, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
        assert self.shortages.pop(setting).id == shortage_id

    async def insert_alert(self, envelope: Envelope, setting: str | None) -> None:
        self.alerts.append(RecordedAlert(envelope, setting))

    async def notify_alerts(self, schema: str) -> None:
        self.notifications.append(schema)

    async def acknowledge_alert(self, alert_id: uuid.UUID, by: str, role: str, at: datetime) -> AlertState | None:
        for i, alert in enumerate(self.alerts):
            if alert.envelope.id == alert_id:
                if alert.acknowledged_at is None:
                    self.alerts[i] = replace(alert, acknowledged_at=at, acknowledged_by=by, acknowledged_role=role)
                return AlertState(alert.envelope.type, alert.acknowledged_at)
        return None

    # --- placements and proposals

    async def insert_placement(self, placement: Placement) -> bool:
        if any(p.referral_id == placement.referral_id for p in self.placements.values()):
            return False
        self.placements[placement.id] = placement
        return True

    async def placement(self, placement_id: uuid.UUID) -> Placement | None:
        return self.placements.get(placement_id)

    async def placement_of_referral(self, referral_id: uuid.UUID) -> Placement | None:
        return next((p for p in self.placements.values() if p.referral_id == referral_id), None)

    async def set_placement(self, placement_id: uuid.UUID, **fields: object) -> None:
        self.placements[placement_id] = replace(self.placements[placement_id], **cast(dict[str, Any], fields))

    async def unplaced_needing(self, setting: str) -> list[Placement]:
        waiting = [p for p in self.placements.values() if p.status == "open" and setting in p.settings]
        return sorted(waiting, key=lambda p: (_URGENCY_FIRST.get(p.urgency, 2), p.requested_at))

    async def waiting(self, setting: str) -> int:
        return sum(
            1
            for p in self.placements.values()
            if p.status == "open" and p.demand_setting == setting and waits_urgently(p.urgency)
        )

    async def tried(self, placement_id: uuid.UUID, since: datetime | None = None) -> frozenset[tuple[str, Setting]]:
        return frozenset(
            (p.agb, Setting(p.setting))
            for p in self.proposals
            if p.placement_id == placement_id
            and p.outcome in ("declined", "timeout")
            and (since is None or p.proposed_at >= since)
        )

    async def insert_proposal(
        self,
        placement_id: uuid.UUID,
        agb: str,
        setting: str,
        at: datetime,
        reserved_until: datetime,
        region: str | None = None,
        pool_request_id: uuid.UUID | None = None,
    ) -> None:
        self.proposals.append(
            Proposal(
                len(self.proposals) + 1,
                placement_id,
                agb,
                setting,
                at,
                reserved_until,
                region=region,
                pool_request_id=pool_request_id,
            )
        )

    async def proposal_of_request(self, request_id: uuid.UUID) -> Proposal | None:
        return next((p for p in self.proposals if p.pool_request_id == request_id), None)

    async def open_proposal(self, placement_id: uuid.UUID) -> Proposal | None:
        return next((p for p in self.proposals if p.placement_id == placement_id and p.outcome is None), None)

    async def decide_proposal(
        self, proposal_id: int, outcome: str, reason: DeclineReason | None, note: str | None, at: datetime
    ) -> None:
        i = proposal_id - 1
        self.proposals[i] = replace(self.proposals[i], outcome=outcome, reason=reason, note=note, decided_at=at)

    async def lapsed_proposals(self, now: datetime) -> list[uuid.UUID]:
        return [p.placement_id for p in self.proposals if p.outcome is None and p.reserved_until <= now]

    async def escalations_due(self, now: datetime) -> list[uuid.UUID]:
        due = [
            p
            for p in self.placements.values()
            if p.status in ("open", "proposed") and p.escalation_due_at is not None and p.escalation_due_at <= now
        ]
        return [p.id for p in sorted(due, key=lambda p: p.escalation_due_at or now)]

    # --- the doorbraak

    async def insert_case(self, case: DoorbraakCase) -> None:
        assert await self.open_case_of(case.placement_id) is None, "one open case per placement"
        self.cases[case.id] = case

    async def case(self, case_id: uuid.UUID) -> DoorbraakCase | None:
        return self.cases.get(case_id)

    async def open_case_of(self, placement_id: uuid.UUID) -> DoorbraakCase | None:
        return next((c for c in self.cases.values() if c.placement_id == placement_id and c.status == "open"), None)

    async def set_case(self, case_id: uuid.UUID, **fields: object) -> None:
        self.cases[case_id] = replace(self.cases[case_id], **cast(dict[str, Any], fields))

    async def insert_meeting(self, meeting: Meeting) -> None:
        self.meetings_held.append(meeting)

    async def meetings(self, case_id: uuid.UUID) -> list[Meeting]:
        return sorted((m for m in self.meetings_held if m.case_id == case_id), key=lambda m: m.held_on)

    async def insert_decision(self, decision: Decision) -> None:
        assert await self.open_decision(decision.case_id) is None, "one open decision per case"
        self.decisions[decision.id] = decision

    async def decision(self, decision_id: uuid.UUID) -> Decision | None:
        return self.decisions.get(decision_id)

    async def open_decision(self, case_id: uuid.UUID) -> Decision | None:
        return next((d for d in self.decisions.values() if d.case_id == case_id and d.status == "open"), None)

    async def set_decision(self, decision_id: uuid.UUID, **fields: object) -> None:
        self.decisions[decision_id] = replace(self.decisions[decision_id], **cast(dict[str, Any], fields))

    async def decisions_overdue(self, now: datetime) -> list[uuid.UUID]:
        due = [
            d
            for d in self.decisions.values()
            if d.status == "open" and d.overdue_alerted_at is None and d.overdue_from <= now
        ]
        return [d.id for d in sorted(due, key=lambda d: d.overdue_from)]

    async def admit_for_placement(self, admission: PlacementAdmission) -> None:
        key = (admission.placement_id, admission.agb, admission.setting)
        self.placement_admitted = [a for a in self.placement_admitted if (a.placement_id, a.agb, a.setting) != key] + [
            admission
        ]

    async def placement_admissions(self, placement_id: uuid.UUID) -> list[PlacementAdmission]:
        return [a for a in self.placement_admitted if a.placement_id == placement_id and a.ended_at is None]

    async def end_placement_admissions(self, origin: str, at: datetime) -> None:
        self.placement_admitted = [
            replace(a, ended_at=at) if a.origin == origin and a.ended_at is None else a for a in self.placement_admitted
        ]

    # --- the pools

    async def provider_places(self, setting: str) -> dict[str, ProviderCapacity]:
        return {r.agb: self._capacity(r) for r in self._offers([setting])}

    async def shared_places(self, pool: str, region: str, setting: str) -> dict[str, PoolPlaces]:
        return {
            a: places for (p, r, a, s), (places, _) in self.pool_places.items() if (p, r, s) == (pool, region, setting)
        }

    async def record_pool_places(
        self, pool: str, region: str, agb: str, setting: str, places: PoolPlaces, reported_at: datetime
    ) -> None:
        known = self.pool_places.get((pool, region, agb, setting))
        if known is None or known[1] <= reported_at:
            self.pool_places[(pool, region, agb, setting)] = (places, reported_at)

    async def open_pool_shortage(
        self,
        pool: str,
        region: str,
        setting: str,
        shortage_id: uuid.UUID,
        free: int,
        waiting: int,
        detected_at: datetime,
    ) -> None:
        known = self.pool_shortages.get((pool, region, setting))
        if known is None or known[3] <= detected_at:
            self.pool_shortages[(pool, region, setting)] = (shortage_id, free, waiting, detected_at)

    async def close_pool_shortage(self, pool: str, region: str, setting: str, shortage_id: uuid.UUID) -> None:
        known = self.pool_shortages.get((pool, region, setting))
        if known is not None and known[0] == shortage_id:
            del self.pool_shortages[(pool, region, setting)]

    async def pool_free_by_region(self, pool: str, setting: str) -> dict[str, int]:
        free: dict[str, int] = {}
        for (p, r, _, s), (places, _) in self.pool_places.items():
            if (p, s) == (pool, setting):
                free[r] = free.get(r, 0) + places.free
        return free

    async def pool_shortage_regions(self, pool: str, setting: str) -> list[str]:
        return sorted(r for (p, r, s) in self.pool_shortages if (p, s) == (pool, setting))

    async def pool_wide_shortage(self, pool: str, setting: str) -> tuple[uuid.UUID, datetime] | None:
        return self.pool_wide.get((pool, setting))

    async def open_pool_wide_shortage(self, pool: str, setting: str, shortage_id: uuid.UUID, at: datetime) -> None:
        assert (pool, setting) not in self.pool_wide, "one pool-wide shortage per pool and setting"
        self.pool_wide[(pool, setting)] = (shortage_id, at)

    async def close_pool_wide_shortage(self, pool: str, setting: str) -> None:
        del self.pool_wide[(pool, setting)]

    # --- places asked across a pool

    async def pool_offers(self, pool: str, region: str, settings: Iterable[str]) -> list[PoolOffer]:
        wanted = set(settings)
        offers = []
        for (p, r, a, s), (places, told_at) in self.pool_places.items():
            asked_since = sum(
                1
                for o in self.proposals
                if o.outcome is None and (o.region, o.agb, o.setting) == (r, a, s) and o.proposed_at > told_at
            )
            if p == pool and r != region and s in wanted and places.free - asked_since > 0:
                offers.append(PoolOffer(p, r, a, s, places.free - asked_since))
        return offers

    async def insert_pool_request(self, request: PoolRequest) -> bool:
        if request.id in self.pool_requests:
            return False
        self.pool_requests[request.id] = request
        return True

    async def pool_request(self, request_id: uuid.UUID) -> PoolRequest | None:
        return self.pool_requests.get(request_id)

    async def decide_pool_request(
        self, request_id: uuid.UUID, outcome: str, reason: DeclineReason | None, note: str | None, at: datetime
    ) -> None:
        self.pool_requests[request_id] = replace(
            self.pool_requests[request_id], outcome=outcome, reason=reason, note=note, decided_at=at
        )

    async def lapsed_pool_requests(self, now: datetime) -> list[uuid.UUID]:
        return [q.id for q in self.pool_requests.values() if q.outcome is None and q.reserved_until <= now]
