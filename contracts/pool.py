"""The pool contract: which regions pool which verblijf settings (``data/pools.json``), and the
events a member region shares with its pools, on the pool's own topic ``pool.<name>.capacity.v1``.

Regions that cannot organise a scarce setting alone (JeugdzorgPlus in the court district of
Midden-Nederland, seed 001 "bovenregionale samenwerking") show each other their places over Kafka,
never over HTTP between regions. Places and shortages travel per region, provider and setting. A
youth travels only as far as another region must know it: a request for a place (age, setting,
urgency, a fresh reference) and an escalation for the pool's expertisenetwerk (age, settings,
urgency, level) — never a client_ref, referral id, municipality, name, BSN or birth date, and
nothing about a setting the pool does not share (docs/pools.md).

The alerts a region raises because of its pools (the pool has no room, a member escalated a case)
are defined here too; like every alert they go to the region's own ``capacity.alerts.v1``.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts import regions, topics
from contracts.capacity import Alert, DeclineReason, EscalationLevel, EscalationReason
from contracts.codes import Urgentie
from contracts.envelope import EventData
from contracts.identifiers import REGION_ID, AgbCode, Age
from contracts.verblijf import Setting

POOLS_FILE = Path(__file__).parent / "data" / "pools.json"

PoolName = Annotated[
    str,
    Field(
        pattern=topics.POOL_NAME,
        max_length=60,
        description="The pool's name, a part of its topic: lower-case words joined by hyphens.",
    ),
]
RegionId = Annotated[
    str,
    Field(
        pattern=REGION_ID,
        max_length=60,
        description="A youth-care region's id (contracts/regions.py), e.g. gooi-en-vechtstreek.",
    ),
]
Places = Annotated[int, Field(ge=0, le=10_000)]


# --- the pools: versioned configuration, the same file in every member region ------------------


class Pool(BaseModel):
    """Regions that share settings: each member publishes its places in them and sees the others'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: PoolName
    version: int = Field(ge=1, description="Raised with every change to members or settings.")
    title: str = Field(min_length=1, max_length=120)
    members: tuple[RegionId, ...] = Field(min_length=2, description="Region ids (contracts/regions.py).")
    settings: tuple[Setting, ...] = Field(min_length=1, description="The verblijf settings the members share.")
    basis: str = Field(default="", max_length=500, description="Why these regions pool these settings.")

    @field_validator("members")
    @classmethod
    def _known_regions_once(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        twice = sorted({m for m in members if members.count(m) > 1})
        if twice:
            raise ValueError(f"a region is a member once: {', '.join(twice)} named twice")
        for member in members:
            regions.known_region(member)  # UnknownRegion (a ValueError) names it
        return members

    @field_validator("settings")
    @classmethod
    def _settings_once(cls, settings: tuple[Setting, ...]) -> tuple[Setting, ...]:
        if len(set(settings)) != len(settings):
            raise ValueError("a setting is pooled once")
        return settings

    @property
    def topic(self) -> str:
        return topics.pool_capacity(self.name)

    def shares(self, setting: str) -> bool:
        return setting in self.settings


class Pools(BaseModel):
    """The pools file: every pool by name, dated like the region registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: date
    pools: tuple[Pool, ...]

    @model_validator(mode="after")
    def _names_once(self) -> Pools:
        names = [p.name for p in self.pools]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"pool names are unique: {', '.join(twice)} defined twice")
        return self

    def of_region(self, region: str) -> tuple[Pool, ...]:
        """The pools ``region`` is a member of."""
        return tuple(p for p in self.pools if region in p.members)

    def named(self, name: str) -> Pool | None:
        return next((p for p in self.pools if p.name == name), None)


class InvalidPools(ValueError):
    """The pools file cannot be read or does not validate; a service refuses to start on it."""


@cache
def load_pools(path: Path = POOLS_FILE) -> Pools:
    """The pools in ``path``, validated; ``InvalidPools`` says where and why (its values are not secret)."""
    try:
        return Pools.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise InvalidPools(f"pools file {path} cannot be read: {exc.strerror or exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise InvalidPools(f"pools file {path} is invalid: {problems}") from None


# --- the events on a pool's topic ---------------------------------------------------------------


class PoolEvent(EventData):
    """What a member region tells its pool. Its topic is the pool's own: ``pool.<name>.capacity.v1``."""

    # The pattern, for the catalogue; ``topic_of`` names the pool's real topic.
    topic: ClassVar[str] = topics.POOL_CAPACITY

    pool: PoolName
    region: RegionId = Field(description="The member region that tells it.")

    def topic_of(self) -> str:
        return topics.pool_capacity(self.pool)


class PoolCapacityReported(PoolEvent):
    """A member's places of one provider in one pooled setting, after they changed (a report, a place
    offered or taken, an admission ended: then all zero)."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolCapacityReported"
    subject_fields: ClassVar[tuple[str, ...]] = ("region", "agb", "setting")

    agb: AgbCode
    setting: Setting
    free: Places = Field(description="Places free for admission (0 while closed to admission).")
    total: Places
    reserved: Places = Field(description="Places held for a youth a proposal was made for.")
    reported_at: AwareDatetime

    @model_validator(mode="after")
    def _within_total(self) -> PoolCapacityReported:
        if self.free + self.reserved > self.total:
            raise ValueError(f"free ({self.free}) and reserved ({self.reserved}) exceed total ({self.total})")
        return self


class PoolShortageDetected(PoolEvent):
    """A member's own shortage of a pooled setting began (its ``ShortageDetected``, without the alert)."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolShortageDetected"
    subject_fields: ClassVar[tuple[str, ...]] = ("region", "setting")

    shortage_id: uuid.UUID
    setting: Setting
    free_places: Places = Field(description="The member's free places in the setting.")
    waiting: Places = Field(description="Youths waiting urgently in the member region: a count, never who.")
    detected_at: AwareDatetime


class PoolShortageResolved(PoolEvent):
    """A member's shortage of a pooled setting ended."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolShortageResolved"
    subject_fields: ClassVar[tuple[str, ...]] = ("region", "setting")

    shortage_id: uuid.UUID
    setting: Setting
    free_places: Places
    waiting: Places
    detected_at: AwareDatetime
    resolved_at: AwareDatetime


# --- a place asked of another member: the proposal and its answer travel over the pool ----------


class PoolAnswer(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class PoolPlacementRequested(PoolEvent):
    """The youth's region (``region``) asks a provider of another member (``to_region``) for a place
    in a pooled setting. The provider's region holds the place until ``reserved_until`` and its
    provider answers through that region's own API. The youth's region keeps the placement, and its
    gemeente the toewijzing."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolPlacementRequested"
    subject_fields: ClassVar[tuple[str, ...]] = ("request_id",)

    request_id: uuid.UUID = Field(
        description="A fresh reference of this one request: neither the placement, the referral nor the client."
    )
    to_region: RegionId = Field(description="The member region whose provider is asked.")
    agb: AgbCode = Field(description="The provider asked, as the other region told the pool its places.")
    setting: Setting
    age: Age = Field(description="The provider's age range decides whether it may take the youth.")
    urgency: Urgentie = Field(description="How soon the youth needs the place.")
    reserved_until: AwareDatetime = Field(description="Until when the place is held and an answer is awaited.")
    requested_at: AwareDatetime


class PoolPlacementAnswered(PoolEvent):
    """The provider's region (``region``) answers a request of ``to_region``: its provider accepted the
    youth, or declined (also when no place was free any more, or the reservation ran out)."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolPlacementAnswered"
    subject_fields: ClassVar[tuple[str, ...]] = ("request_id",)

    request_id: uuid.UUID
    to_region: RegionId = Field(description="The youth's region, which asked.")
    agb: AgbCode
    setting: Setting
    answer: PoolAnswer
    reason: DeclineReason | None = Field(default=None, description="Why not, as a code; only with declined.")
    answered_at: AwareDatetime

    @model_validator(mode="after")
    def _reason_with_decline(self) -> PoolPlacementAnswered:
        if (self.answer is PoolAnswer.DECLINED) != (self.reason is not None):
            raise ValueError("a declined answer carries a reason, an accepted one none")
        return self


class PoolPlacementWithdrawn(PoolEvent):
    """The youth's region no longer asks: the reservation ran out there, the youth was placed
    otherwise, or the referral was withdrawn. The provider's region gives the place back."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolPlacementWithdrawn"
    subject_fields: ClassVar[tuple[str, ...]] = ("request_id",)

    request_id: uuid.UUID
    to_region: RegionId = Field(description="The member region whose provider was asked.")
    withdrawn_at: AwareDatetime


# --- escalations of pooled settings, for the pool's expertisenetwerk -----------------------------


class PoolCaseEscalated(PoolEvent):
    """A youth of ``region`` waiting for a pooled setting escalated: the pool's expertisenetwerk hears
    of it in every member region. What the regional expert team sees of the case, less who the youth
    is: no client_ref, referral id or municipality."""

    event_type: ClassVar[str] = "nl.schakel.pool.PoolCaseEscalated"
    subject_fields: ClassVar[tuple[str, ...]] = ("region", "placement_id")

    placement_id: uuid.UUID = Field(
        description="The case's reference in its own region, to take it up with that region's expert team."
    )
    age: Age
    settings: list[Setting] = Field(min_length=1, description="The pooled settings the youth may go to.")
    urgency: Urgentie
    level: EscalationLevel
    reason: EscalationReason
    waiting_since: AwareDatetime
    escalated_at: AwareDatetime


# --- alerts a region raises because of its pools (on its own capacity.alerts.v1) ------------------


class NetworkCaseEscalated(Alert):
    """A ``PoolCaseEscalated`` of any member (this region's own included), raised in this region for
    the pool's expertisenetwerk, so its live stream and webhooks deliver it."""

    event_type: ClassVar[str] = "nl.schakel.capacity.NetworkCaseEscalated"
    subject_fields: ClassVar[tuple[str, ...]] = ("region", "placement_id")

    pool: PoolName
    region: RegionId = Field(description="The member region whose youth escalated.")
    placement_id: uuid.UUID
    age: Age
    settings: list[Setting] = Field(min_length=1)
    urgency: Urgentie
    level: EscalationLevel
    reason: EscalationReason
    waiting_since: AwareDatetime
    escalated_at: AwareDatetime


class PoolWideShortageDetected(Alert):
    """This region is short of a pooled setting and no other member has a free place either: the pool
    cannot help. Raised when both hold, once, until one of them ends."""

    event_type: ClassVar[str] = "nl.schakel.capacity.PoolWideShortageDetected"
    subject_fields: ClassVar[tuple[str, ...]] = ("pool", "setting")

    shortage_id: uuid.UUID
    pool: PoolName
    setting: Setting
    members_short: list[RegionId] = Field(description="The members whose own shortage of the setting is open.")
    waiting: Places = Field(description="Youths of this region waiting urgently for the setting: a count.")
    detected_at: AwareDatetime


class PoolWideShortageResolved(Alert):
    """Another member has a free place again, or this region's own shortage ended."""

    event_type: ClassVar[str] = "nl.schakel.capacity.PoolWideShortageResolved"
    subject_fields: ClassVar[tuple[str, ...]] = ("pool", "setting")

    shortage_id: uuid.UUID
    pool: PoolName
    setting: Setting
    room_elsewhere: list[RegionId] = Field(description="The other members with a free place now.")
    detected_at: AwareDatetime
    resolved_at: AwareDatetime
