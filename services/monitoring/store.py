"""The projection's writes: what monitoring's consumers record in the read models (SQL only).

Events may arrive late, twice or out of order (redeliveries, a replay from a later offset), so
every write is an upsert that a repeat or an earlier event cannot undo.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Protocol

from contracts.capacity import (
    AlertAcknowledged,
    CapacityReported,
    CaseEscalated,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementProposed,
    PlacementRequested,
    ShortageChanged,
    ShortageDetected,
    ShortageResolved,
)
from contracts.contracting import DeclarationAssessed
from contracts.doorbraak import (
    CaseClosed,
    CaseTakenUp,
    DecisionCarriedOut,
    DecisionMade,
    DecisionOverdue,
    DecisionWithdrawn,
    MeetingHeld,
)
from contracts.intake import CareEnded, CareStarted, ReferralReceived, ReferralWithdrawn
from contracts.pool import PoolCapacityReported, PoolShortageDetected, PoolShortageResolved
from services.monitoring import domain
from services.runtime.db import Connection
from services.runtime.settings import ServiceSettings
from services.runtime.signal import channel_name, notify
from services.runtime.statements import Immediate, StatementBatch, Unnested, Writes

LIVE_CHANNEL = "schakel_monitoring_live"

READ_MODELS = (
    "provider_capacity",
    "shortage_view",
    "referral_view",
    "care_view",
    "placement_view",
    "escalation_view",
    "acknowledgement_view",
    "declaration_line_view",
    "doorbraak_case_view",
    "doorbraak_meeting_view",
    "doorbraak_decision_view",
    "pool_capacity_view",
    "pool_shortage_view",
)


def live_channel(settings: ServiceSettings) -> str:
    """The channel a change to the read models is announced on, to wake the live pages."""
    return channel_name(LIVE_CHANNEL, settings.db_schema)


class Projection(Protocol):
    """What the consumers write: one method per fact, and the wake-up of the live pages."""

    async def record_capacity(self, report: CapacityReported) -> None: ...
    async def record_shortage(self, alert_id: uuid.UUID, event: ShortageDetected) -> None: ...
    async def change_shortage(self, event: ShortageChanged) -> None: ...
    async def resolve_shortage(self, event: ShortageResolved) -> None: ...
    async def record_placement_request(self, event: PlacementRequested) -> None: ...
    async def record_proposal(self, event: PlacementProposed) -> None: ...
    async def record_decline(self, event: PlacementDeclined) -> None: ...
    async def record_confirmation(self, event: PlacementConfirmed) -> None: ...
    async def record_escalation(self, alert_id: uuid.UUID, event: CaseEscalated) -> None: ...
    async def record_acknowledgement(self, event: AlertAcknowledged) -> None: ...
    async def record_referral(self, event: ReferralReceived) -> None: ...
    async def withdraw_referral(self, event: ReferralWithdrawn) -> None: ...
    async def record_care_start(self, event: CareStarted) -> None: ...
    async def record_care_end(self, event: CareEnded) -> None: ...
    async def record_declaration(self, event: DeclarationAssessed) -> None: ...
    async def take_up_case(self, event: CaseTakenUp) -> None: ...
    async def record_meeting(self, event: MeetingHeld) -> None: ...
    async def record_decision(self, event: DecisionMade) -> None: ...
    async def carry_out_decision(self, event: DecisionCarriedOut) -> None: ...
    async def withdraw_decision(self, event: DecisionWithdrawn) -> None: ...
    async def record_overdue_decision(self, event: DecisionOverdue) -> None: ...
    async def close_case(self, event: CaseClosed) -> None: ...
    async def record_pool_places(self, event: PoolCapacityReported) -> None: ...
    async def record_pool_shortage(self, event: PoolShortageDetected) -> None: ...
    async def resolve_pool_shortage(self, event: PoolShortageResolved) -> None: ...
    async def wake_live_pages(self) -> None: ...
    def gathering(self, statements: StatementBatch) -> Projection: ...
    async def write_gathered(self, statements: StatementBatch) -> None: ...


class ProjectionStore:
    """The read models in PostgreSQL, written in the consumer's transaction."""

    def __init__(self, conn: Connection, live_channel: str, writes: Writes | None = None) -> None:
        self.conn = conn
        self.live_channel = live_channel
        # Where the record methods write: the connection, or a batch that gathers them for it.
        self.writes: Writes = writes or Immediate(conn)

    def gathering(self, statements: StatementBatch) -> ProjectionStore:
        """This store with its writes gathered in ``statements``, to be sent together (a batch of events)."""
        return ProjectionStore(self.conn, self.live_channel, writes=statements)

    async def write_gathered(self, statements: StatementBatch) -> None:
        await statements.send(self.conn)

    async def wake_live_pages(self) -> None:
        # A NOTIFY is delivered at commit, so the live pages wake exactly when the change is visible.
        await notify(self.conn, self.live_channel)

    # --- capacity and shortages ---------------------------------------------------------------

    async def record_capacity(self, report: CapacityReported) -> None:
        # Only a newer report replaces an older one: replays and redeliveries may arrive late.
        await self.writes.write(
            """INSERT INTO provider_capacity (agb, setting, total, occupied, free, closed_to_admission, reported_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (agb, setting) DO UPDATE SET
                   total = EXCLUDED.total, occupied = EXCLUDED.occupied, free = EXCLUDED.free,
                   closed_to_admission = EXCLUDED.closed_to_admission, reported_at = EXCLUDED.reported_at
               WHERE provider_capacity.reported_at <= EXCLUDED.reported_at""",
            report.agb,
            report.setting,
            report.total,
            report.occupied,
            report.free,
            report.closed_to_admission,
            report.reported_at,
            row=(report.agb, report.setting),
        )

    async def record_shortage(self, alert_id: uuid.UUID, event: ShortageDetected) -> None:
        await self.writes.write(
            """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at, alert_id, free_places, waiting)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (shortage_id) DO UPDATE SET severity = EXCLUDED.severity, alert_id = EXCLUDED.alert_id,
                   free_places = EXCLUDED.free_places, waiting = EXCLUDED.waiting""",
            event.shortage_id,
            event.setting,
            event.severity,
            event.detected_at,
            alert_id,
            event.free_places,
            event.waiting,
            row=event.shortage_id,
        )

    async def change_shortage(self, event: ShortageChanged) -> None:
        # The alert to acknowledge stays the detection; only the figures and severity follow.
        await self.writes.write(
            "UPDATE shortage_view SET severity = $2, free_places = $3, waiting = $4 WHERE shortage_id = $1",
            event.shortage_id,
            event.severity,
            event.free_places,
            event.waiting,
            row=event.shortage_id,
        )

    async def resolve_shortage(self, event: ShortageResolved) -> None:
        # The resolution may be read before its detection (after a replay from a later offset).
        await self.writes.write(
            """INSERT INTO shortage_view (shortage_id, setting, severity, detected_at, resolved_at)
               VALUES ($1, $2, 'onbekend', $3, $4)
               ON CONFLICT (shortage_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at""",
            event.shortage_id,
            event.setting,
            event.detected_at,
            event.resolved_at,
            row=event.shortage_id,
        )

    # --- placements, escalations, acknowledgements ----------------------------------------------

    async def record_placement_request(self, event: PlacementRequested) -> None:
        await self.writes.write(
            """INSERT INTO placement_view (placement_id, referral_id, age, municipality, product_category, settings,
                                           urgency, requested_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (placement_id) DO UPDATE SET age = EXCLUDED.age, municipality = EXCLUDED.municipality,
                   product_category = EXCLUDED.product_category, settings = EXCLUDED.settings,
                   urgency = EXCLUDED.urgency, requested_at = EXCLUDED.requested_at""",
            event.placement_id,
            event.referral_id,
            event.age,
            event.municipality_code,
            event.product_category.value,
            [s.value for s in event.settings],
            event.urgency.value,
            event.requested_at,
            row=event.placement_id,
        )

    async def record_proposal(self, event: PlacementProposed) -> None:
        # A proposal holds the place for the youth until it is declined or confirmed.
        await self._placement_step(
            event.placement_id,
            event.referral_id,
            """proposals = placement_view.proposals + 1, proposed_setting = EXCLUDED.proposed_setting,
               reserved_agb = EXCLUDED.reserved_agb""",
            proposals=1,
            proposed_setting=event.setting,
            reserved_agb=event.provider_agb,
        )

    async def record_decline(self, event: PlacementDeclined) -> None:
        await self._placement_step(
            event.placement_id,
            event.referral_id,
            "declines = placement_view.declines + 1, reserved_agb = NULL",
            declines=1,
        )

    async def record_confirmation(self, event: PlacementConfirmed) -> None:
        await self._placement_step(
            event.placement_id,
            event.referral_id,
            "confirmed_setting = EXCLUDED.confirmed_setting, confirmed_at = EXCLUDED.confirmed_at, reserved_agb = NULL",
            confirmed_setting=event.setting,
            confirmed_at=event.confirmed_at,
        )

    async def _placement_step(
        self, placement_id: uuid.UUID, referral_id: uuid.UUID, assignments: str, **facts: object
    ) -> None:
        # The row may not exist yet when the steps of a placement arrive before its request.
        await self._step(
            "placement_view", {"placement_id": placement_id, "referral_id": referral_id}, assignments, facts
        )

    async def record_escalation(self, alert_id: uuid.UUID, event: CaseEscalated) -> None:
        await self.writes.write(
            """INSERT INTO escalation_view (alert_id, placement_id, municipality, level, urgency, settings, reason,
                                            waiting_since, escalated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (alert_id) DO NOTHING""",
            alert_id,
            event.placement_id,
            event.municipality_code,
            event.level.value,
            event.urgency.value,
            [s.value for s in event.settings],
            event.reason,
            event.waiting_since,
            event.escalated_at,
            row=alert_id,
        )
        # An escalation tells the same facts as the request: fill them in if the request was missed.
        await self.writes.write(
            """INSERT INTO placement_view (placement_id, referral_id, age, municipality, settings, urgency,
                                           requested_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (placement_id) DO UPDATE SET
                   age = coalesce(placement_view.age, EXCLUDED.age),
                   municipality = coalesce(placement_view.municipality, EXCLUDED.municipality),
                   urgency = coalesce(placement_view.urgency, EXCLUDED.urgency),
                   requested_at = coalesce(placement_view.requested_at, EXCLUDED.requested_at)""",
            event.placement_id,
            event.referral_id,
            event.age,
            event.municipality_code,
            [s.value for s in event.settings],
            event.urgency.value,
            event.waiting_since,
            row=event.placement_id,
        )

    async def record_acknowledgement(self, event: AlertAcknowledged) -> None:
        await self.writes.write(
            """INSERT INTO acknowledgement_view (alert_id, alert_type, by_role, by_handle, acknowledged_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id) DO NOTHING""",
            event.alert_id,
            event.alert_type,
            event.acknowledged_by_role,
            event.acknowledged_by,
            event.acknowledged_at,
            row=event.alert_id,
        )

    # --- flows: referrals and care ------------------------------------------------------------

    async def record_referral(self, event: ReferralReceived) -> None:
        referrer = "veilig_thuis" if event.veilig_thuis else event.referrer_type.value
        # Unnested: a poll's referrals go in one execution (half a million in a national replay).
        await self.writes.write(
            Unnested(
                """INSERT INTO referral_view (referral_id, municipality, product_category, referrer, urgency, received_at)
                   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                   ON CONFLICT (referral_id) DO NOTHING"""
            ),
            event.referral_id,
            event.municipality_code,
            event.product_category.value,
            referrer,
            event.urgency.value,
            domain.referred_at(event.received_at, event.referral_date),
            row=event.referral_id,
        )

    async def withdraw_referral(self, event: ReferralWithdrawn) -> None:
        await self.writes.write(
            "UPDATE referral_view SET withdrawn_at = $2 WHERE referral_id = $1",
            event.referral_id,
            event.withdrawn_at,
            row=event.referral_id,
        )
        # Capacity gives a withdrawn youth's reserved place back. No ``row``: it changes every placement
        # of the referral, so it keeps its place after all placement writes before it.
        await self.writes.write(
            "UPDATE placement_view SET reserved_agb = NULL WHERE referral_id = $1", event.referral_id
        )

    async def record_care_start(self, event: CareStarted) -> None:
        await self._record_care(event, start_date=event.start_date)

    async def record_care_end(self, event: CareEnded) -> None:
        # An end may be read before its start (both are kept; the start fills in later).
        await self._record_care(event, end_date=event.end_date, end_reason=event.reason.value)

    async def _record_care(
        self,
        event: CareStarted | CareEnded,
        start_date: date | None = None,
        end_date: date | None = None,
        end_reason: str | None = None,
    ) -> None:
        # One statement for starts and ends, Unnested: a poll's care rows (0.8 million in a national
        # replay) go in one execution, or in one per round where an allocation starts and ends in the poll.
        await self.writes.write(
            Unnested(
                """INSERT INTO care_view (allocation_id, referral_id, municipality, product_category, start_date,
                                         end_date, end_reason)
                   SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::date[], $6::date[],
                                        $7::text[])
                   ON CONFLICT (allocation_id) DO UPDATE SET
                       start_date = coalesce(EXCLUDED.start_date, care_view.start_date),
                       end_date = coalesce(EXCLUDED.end_date, care_view.end_date),
                       end_reason = coalesce(EXCLUDED.end_reason, care_view.end_reason)"""
            ),
            event.allocation_id,
            event.referral_id,
            event.municipality_code,
            event.product_category.value,
            start_date,
            end_date,
            end_reason,
            row=event.allocation_id,
        )

    # --- declarations -------------------------------------------------------------------------

    async def record_declaration(self, event: DeclarationAssessed) -> None:
        # Unnested: a poll's lines (two million in a national replay) go in one execution. A line's
        # codes travel comma-separated, since an array of the lines' code arrays would have to be rectangular.
        upsert = Unnested(
            """INSERT INTO declaration_line_view (declaration_id, line_number, municipality, approved, return_codes,
                                                  assessed_at)
               SELECT declaration_id, line_number, municipality, approved, string_to_array(codes, ','), assessed_at
               FROM unnest($1::uuid[], $2::int[], $3::text[], $4::boolean[], $5::text[], $6::timestamptz[])
                   AS line (declaration_id, line_number, municipality, approved, codes, assessed_at)
               ON CONFLICT (declaration_id, line_number) DO UPDATE SET approved = EXCLUDED.approved,
                   return_codes = EXCLUDED.return_codes, assessed_at = EXCLUDED.assessed_at"""
        )
        for line in event.lines:
            await self.writes.write(
                upsert,
                event.declaration_id,
                line.line_number,
                event.municipality_code,
                line.approved,
                ",".join(line.return_codes),  # StrEnum codes: each is its value
                event.assessed_at,
                row=(event.declaration_id, line.line_number),
            )

    # --- the doorbraak: the expert team's cases and decisions -----------------------------------
    # A youth's doorbraak events come in order (one key), but the overdue alert travels on another
    # topic and a replay may start later: every write fills in what the others may not have told yet.

    async def take_up_case(self, event: CaseTakenUp) -> None:
        await self.writes.write(
            """INSERT INTO doorbraak_case_view (case_id, placement_id, referral_id, age, municipality, settings,
                                                urgency, team, first_escalated_at, taken_up_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (case_id) DO UPDATE SET age = EXCLUDED.age, municipality = EXCLUDED.municipality,
                   settings = EXCLUDED.settings, urgency = EXCLUDED.urgency, team = EXCLUDED.team,
                   first_escalated_at = EXCLUDED.first_escalated_at, taken_up_at = EXCLUDED.taken_up_at""",
            event.case_id,
            event.placement_id,
            event.referral_id,
            event.age,
            event.municipality_code,
            [s.value for s in event.settings],
            event.urgency.value,
            event.team.value,
            event.first_escalated_at,
            event.taken_up_at,
            row=event.case_id,
        )

    async def record_meeting(self, event: MeetingHeld) -> None:
        # Who attended and what was said stay with capacity: the view shows that, and when, they met.
        await self.writes.write(
            """INSERT INTO doorbraak_meeting_view (meeting_id, case_id, held_on) VALUES ($1, $2, $3)
               ON CONFLICT (meeting_id) DO NOTHING""",
            event.meeting_id,
            event.case_id,
            event.held_on,
            row=event.meeting_id,
        )

    async def record_decision(self, event: DecisionMade) -> None:
        # What happened to the decision since (overdue, carried out, withdrawn) is kept.
        await self.writes.write(
            """INSERT INTO doorbraak_decision_view (decision_id, case_id, placement_id, referral_id, municipality,
                                                    kind, executor, settings, working_days, due_date,
                                                    first_escalated_at, decided_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (decision_id) DO UPDATE SET municipality = EXCLUDED.municipality, kind = EXCLUDED.kind,
                   executor = EXCLUDED.executor, settings = EXCLUDED.settings, working_days = EXCLUDED.working_days,
                   due_date = EXCLUDED.due_date, first_escalated_at = EXCLUDED.first_escalated_at,
                   decided_at = EXCLUDED.decided_at""",
            event.decision_id,
            event.case_id,
            event.placement_id,
            event.referral_id,
            event.municipality_code,
            event.kind.value,
            event.executor.value,
            [s.value for s in event.settings],
            event.working_days,
            event.due_date,
            event.first_escalated_at,
            event.decided_at,
            row=event.decision_id,
        )
        await self._case_known(
            event.case_id, event.placement_id, event.referral_id, event.municipality_code, event.first_escalated_at
        )

    async def carry_out_decision(self, event: DecisionCarriedOut) -> None:
        await self._decision_step(
            event.decision_id,
            event.case_id,
            event.placement_id,
            event.referral_id,
            "carried_out_at = EXCLUDED.carried_out_at",
            carried_out_at=event.carried_out_at,
        )

    async def withdraw_decision(self, event: DecisionWithdrawn) -> None:
        await self._decision_step(
            event.decision_id,
            event.case_id,
            event.placement_id,
            event.referral_id,
            "withdrawn_at = EXCLUDED.withdrawn_at, withdrawal_reason = EXCLUDED.withdrawal_reason",
            withdrawn_at=event.withdrawn_at,
            withdrawal_reason=event.reason.value,
        )

    async def record_overdue_decision(self, event: DecisionOverdue) -> None:
        # The first alert counts; the decision's own event, read before or after, keeps its figures.
        await self.writes.write(
            """INSERT INTO doorbraak_decision_view (decision_id, case_id, placement_id, referral_id, municipality,
                                                    kind, executor, due_date, overdue_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (decision_id) DO UPDATE SET
                   overdue_at = coalesce(doorbraak_decision_view.overdue_at, EXCLUDED.overdue_at),
                   municipality = coalesce(doorbraak_decision_view.municipality, EXCLUDED.municipality),
                   kind = coalesce(doorbraak_decision_view.kind, EXCLUDED.kind),
                   executor = coalesce(doorbraak_decision_view.executor, EXCLUDED.executor),
                   due_date = coalesce(doorbraak_decision_view.due_date, EXCLUDED.due_date)""",
            event.decision_id,
            event.case_id,
            event.placement_id,
            event.referral_id,
            event.municipality_code,
            event.kind.value,
            event.executor.value,
            event.due_date,
            event.overdue_at,
            row=event.decision_id,
        )

    async def close_case(self, event: CaseClosed) -> None:
        await self.writes.write(
            """INSERT INTO doorbraak_case_view (case_id, placement_id, referral_id, municipality, first_escalated_at,
                                                taken_up_at, closed_at, closed_reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (case_id) DO UPDATE SET closed_at = EXCLUDED.closed_at,
                   closed_reason = EXCLUDED.closed_reason,
                   municipality = coalesce(doorbraak_case_view.municipality, EXCLUDED.municipality),
                   first_escalated_at = coalesce(doorbraak_case_view.first_escalated_at,
                                                 EXCLUDED.first_escalated_at),
                   taken_up_at = coalesce(doorbraak_case_view.taken_up_at, EXCLUDED.taken_up_at)""",
            event.case_id,
            event.placement_id,
            event.referral_id,
            event.municipality_code,
            event.first_escalated_at,
            event.taken_up_at,
            event.closed_at,
            event.reason.value,
            row=event.case_id,
        )

    async def _case_known(
        self,
        case_id: uuid.UUID,
        placement_id: uuid.UUID,
        referral_id: uuid.UUID,
        municipality: str,
        first_escalated_at: datetime,
    ) -> None:
        """The case a decision belongs to exists, with what the decision tells of it, if its take-up was missed."""
        await self.writes.write(
            """INSERT INTO doorbraak_case_view (case_id, placement_id, referral_id, municipality, first_escalated_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO UPDATE SET
                   municipality = coalesce(doorbraak_case_view.municipality, EXCLUDED.municipality),
                   first_escalated_at = coalesce(doorbraak_case_view.first_escalated_at,
                                                 EXCLUDED.first_escalated_at)""",
            case_id,
            placement_id,
            referral_id,
            municipality,
            first_escalated_at,
            row=case_id,
        )

    async def _decision_step(
        self,
        decision_id: uuid.UUID,
        case_id: uuid.UUID,
        placement_id: uuid.UUID,
        referral_id: uuid.UUID,
        assignments: str,
        **facts: object,
    ) -> None:
        # The decision's row may not exist yet when its outcome is read first.
        keys = {
            "decision_id": decision_id,
            "case_id": case_id,
            "placement_id": placement_id,
            "referral_id": referral_id,
        }
        await self._step("doorbraak_decision_view", keys, assignments, facts)

    async def _step(
        self, table: str, keys: Mapping[str, object], assignments: str, facts: Mapping[str, object]
    ) -> None:
        """One statement for a step of a row (its key first in ``keys``) that may come before the event
        that makes the row: ``assignments`` change the row, or it is made with ``keys`` and ``facts``."""
        columns = [*keys, *facts]
        values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        key = next(iter(keys))
        await self.writes.write(
            f"""INSERT INTO {table} ({", ".join(columns)}) VALUES ({values})
                ON CONFLICT ({key}) DO UPDATE SET {assignments}""",
            *keys.values(),
            *facts.values(),
            row=keys[key],
        )

    # --- the pools: what their members tell on the pool topics ----------------------------------

    async def record_pool_places(self, event: PoolCapacityReported) -> None:
        # Latest wins: a report older than the row's, arriving late, changes nothing.
        await self.writes.write(
            """INSERT INTO pool_capacity_view (pool, region, agb, setting, free, total, reserved, reported_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (pool, region, agb, setting) DO UPDATE SET
                   free = EXCLUDED.free, total = EXCLUDED.total, reserved = EXCLUDED.reserved,
                   reported_at = EXCLUDED.reported_at
               WHERE pool_capacity_view.reported_at <= EXCLUDED.reported_at""",
            event.pool,
            event.region,
            event.agb,
            event.setting.value,
            event.free,
            event.total,
            event.reserved,
            event.reported_at,
            row=(event.pool, event.region, event.agb, event.setting.value),
        )

    async def record_pool_shortage(self, event: PoolShortageDetected) -> None:
        # A resolution read first (a replay) keeps its end: the detection fills in only the figures.
        await self.writes.write(
            """INSERT INTO pool_shortage_view (pool, shortage_id, region, setting, free_places, waiting, detected_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (pool, shortage_id) DO UPDATE SET free_places = EXCLUDED.free_places,
                   waiting = EXCLUDED.waiting, detected_at = EXCLUDED.detected_at""",
            event.pool,
            event.shortage_id,
            event.region,
            event.setting.value,
            event.free_places,
            event.waiting,
            event.detected_at,
            row=(event.pool, event.shortage_id),
        )

    async def resolve_pool_shortage(self, event: PoolShortageResolved) -> None:
        await self.writes.write(
            """INSERT INTO pool_shortage_view (pool, shortage_id, region, setting, free_places, waiting, detected_at,
                                               resolved_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (pool, shortage_id) DO UPDATE SET resolved_at = EXCLUDED.resolved_at""",
            event.pool,
            event.shortage_id,
            event.region,
            event.setting.value,
            event.free_places,
            event.waiting,
            event.detected_at,
            event.resolved_at,
            row=(event.pool, event.shortage_id),
        )

    # --- rebuild ------------------------------------------------------------------------------

    async def truncate(self, inbox_prefix: str) -> None:
        """Empty every read model and forget which events built them (the rebuild replays them all)."""
        await self.conn.execute(f"TRUNCATE {', '.join(READ_MODELS)}")
        await self.conn.execute("DELETE FROM inbox WHERE consumer LIKE $1 || '%'", inbox_prefix)
