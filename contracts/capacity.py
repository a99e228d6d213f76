"""Events of the capacity service: places and placements on ``capacity.events.v1``, and the
alerts of the schakelfunctie on ``capacity.alerts.v1``."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts import topics
from contracts.codes import Productcategorie, Urgentie
from contracts.envelope import EventData
from contracts.identifiers import REGION_ID, AgbCode, Age, ClientRef, GemeenteCode
from contracts.verblijf import Setting


class Severity(StrEnum):
    TEKORT = "tekort"  # free places at or below the configured minimum
    KRITIEK = "kritiek"  # more youths wait urgently than there are free places


class EscalationLevel(StrEnum):
    SCHAKELFUNCTIONARIS = "schakelfunctionaris"
    EXPERTTEAM = "expertteam"


class DeclineReason(StrEnum):
    """Why a provider does not take a proposed youth. A code, so nothing personal travels on the
    bus; the provider's own words stay in capacity's database."""

    GROEP_VOL = "groep_vol"
    PAST_NIET_IN_GROEP = "past_niet_in_groep"
    ZORGZWAARTE = "zorgzwaarte"
    LEEFTIJD = "leeftijd"
    GEEN_REACTIE = "geen_reactie"  # the reservation ran out unanswered
    OVERIG = "overig"


class EscalationReason(StrEnum):
    TERMIJN_VERLOPEN = "termijn_verlopen"  # unplaced past the configured time
    ALLE_KANDIDATEN_AFGEWEZEN = "alle_kandidaten_afgewezen"
    HANDMATIG = "handmatig"  # a referrer or the schakelfunctionaris escalated early


class CapacityEvent(EventData):
    """Places and placements, on ``capacity.events.v1``."""

    topic: ClassVar[str] = topics.CAPACITY_EVENTS


class Alert(EventData):
    """The schakelfunctie's alerts, on ``capacity.alerts.v1``."""

    topic: ClassVar[str] = topics.CAPACITY_ALERTS


class CapacityReported(CapacityEvent):
    """One provider's figures for one setting; ``regional_free`` is the region's total after it."""

    event_type: ClassVar[str] = "nl.schakel.capacity.CapacityReported"
    subject_fields: ClassVar[tuple[str, ...]] = ("agb", "setting")

    agb: AgbCode
    setting: Setting
    total: int = Field(ge=0)
    occupied: int = Field(ge=0)
    free: int = Field(ge=0, description="Places free for admission (0 while closed to admission).")
    closed_to_admission: bool
    age_min: int | None = Field(default=None, ge=0, le=23, description="Youngest age admitted; absent: no limit.")
    age_max: int | None = Field(default=None, ge=0, le=23, description="Oldest age admitted; absent: no limit.")
    reported_at: AwareDatetime
    regional_free: int = Field(ge=0)


class PlacementRequested(CapacityEvent):
    """A youth needs a verblijf place; opened from a ``ReferralReceived`` for 43, 44 or 46."""

    event_type: ClassVar[str] = "nl.schakel.capacity.PlacementRequested"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    placement_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    age: Age
    municipality_code: GemeenteCode
    product_category: Productcategorie
    settings: list[Setting] = Field(min_length=1)
    urgency: Urgentie
    requested_at: AwareDatetime


class PlacementProposed(CapacityEvent):
    event_type: ClassVar[str] = "nl.schakel.capacity.PlacementProposed"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    placement_id: uuid.UUID
    referral_id: uuid.UUID
    provider_agb: AgbCode
    setting: Setting
    reserved_until: AwareDatetime
    proposed_at: AwareDatetime
    provider_region: str | None = Field(
        default=None,
        pattern=REGION_ID,
        max_length=60,
        description="The pool member whose provider holds the place (asked over the pool); absent: this region.",
    )


class PlacementConfirmed(CapacityEvent):
    event_type: ClassVar[str] = "nl.schakel.capacity.PlacementConfirmed"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    placement_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    provider_agb: AgbCode
    setting: Setting
    confirmed_at: AwareDatetime
    provider_region: str | None = Field(
        default=None,
        pattern=REGION_ID,
        max_length=60,
        description="The pool member whose provider took the youth; absent: this region.",
    )


class PlacementDeclined(CapacityEvent):
    event_type: ClassVar[str] = "nl.schakel.capacity.PlacementDeclined"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    placement_id: uuid.UUID
    referral_id: uuid.UUID
    provider_agb: AgbCode
    setting: Setting
    reason: DeclineReason
    declined_at: AwareDatetime


class PoolRoom(BaseModel):
    """Another member region of a pool with free places in the setting (docs/pools.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(pattern=topics.POOL_NAME, max_length=60)
    region: str = Field(pattern=REGION_ID, max_length=60, description="A region id.")
    free: int = Field(ge=1, le=10_000, description="Its free places in the setting, as it last told the pool.")


class ShortageDetected(Alert):
    """A setting's free places across the region cannot cover urgent demand or hit the minimum."""

    event_type: ClassVar[str] = "nl.schakel.capacity.ShortageDetected"
    subject_fields: ClassVar[tuple[str, ...]] = ("setting",)

    shortage_id: uuid.UUID
    setting: Setting
    free_places: int = Field(ge=0)
    waiting: int = Field(ge=0, description="Youths waiting urgently (spoed or crisis) for this setting.")
    severity: Severity
    detected_at: AwareDatetime
    pool_room: list[PoolRoom] | None = Field(
        default=None,
        description=(
            "For a setting the region pools: the other members with free places, most first (empty: the pool "
            "has no room either). Absent for a setting no pool shares."
        ),
    )


class ShortageChanged(Alert):
    """An open shortage changed severity: more youths now wait urgently than there are places
    (kritiek), or no longer do (tekort). Raised on a change of severity only, not on every count."""

    event_type: ClassVar[str] = "nl.schakel.capacity.ShortageChanged"
    subject_fields: ClassVar[tuple[str, ...]] = ("setting",)

    shortage_id: uuid.UUID
    setting: Setting
    free_places: int = Field(ge=0)
    waiting: int = Field(ge=0)
    severity: Severity
    previous_severity: Severity
    detected_at: AwareDatetime
    changed_at: AwareDatetime


class ShortageResolved(Alert):
    event_type: ClassVar[str] = "nl.schakel.capacity.ShortageResolved"
    subject_fields: ClassVar[tuple[str, ...]] = ("setting",)

    shortage_id: uuid.UUID
    setting: Setting
    free_places: int = Field(ge=0)
    waiting: int = Field(ge=0)
    detected_at: AwareDatetime
    resolved_at: AwareDatetime
    duration_seconds: float = Field(ge=0)

    @model_validator(mode="after")
    def _ends_after_start(self) -> ShortageResolved:
        if self.resolved_at < self.detected_at:
            raise ValueError("resolved_at lies before detected_at")
        return self


class CaseEscalated(Alert):
    """A youth is still unplaced (or was declined by every candidate, or escalated by hand)."""

    event_type: ClassVar[str] = "nl.schakel.capacity.CaseEscalated"
    subject_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    placement_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: ClientRef
    age: Age
    municipality_code: GemeenteCode
    settings: list[Setting] = Field(min_length=1)
    urgency: Urgentie
    level: EscalationLevel
    reason: EscalationReason
    waiting_since: AwareDatetime
    escalated_at: AwareDatetime


class CapacityReportStale(Alert):
    """A provider's figures for a setting have not been refreshed within the configured period."""

    event_type: ClassVar[str] = "nl.schakel.capacity.CapacityReportStale"
    subject_fields: ClassVar[tuple[str, ...]] = ("agb", "setting")

    agb: AgbCode
    setting: Setting
    last_reported_at: AwareDatetime
    stale_after_seconds: int = Field(ge=1)
    detected_at: AwareDatetime


class AlertAcknowledged(Alert):
    event_type: ClassVar[str] = "nl.schakel.capacity.AlertAcknowledged"
    subject_fields: ClassVar[tuple[str, ...]] = ("alert_id",)

    alert_id: uuid.UUID
    alert_type: str
    acknowledged_by_role: str
    acknowledged_by: str = Field(description="The role's handle, not a person's name.")
    acknowledged_at: AwareDatetime
