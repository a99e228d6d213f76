"""The pool contract: which regions pool which verblijf settings (``data/pools.json``), and the
events a member region shares with its pools, on the pool's own topic ``pool.<name>.capacity.v1``.

Regions that cannot organise a scarce setting alone (JeugdzorgPlus in the court district of
Midden-Nederland, seed 001 "bovenregionale samenwerking") show each other their places over Kafka,
never over HTTP between regions. What travels is per region, provider and setting — never per
youth: no client_ref, no age, no municipality, and nothing about a setting the pool does not share
(docs/pools.md).
"""

from __future__ import annotations

import uuid
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts import regions, topics
from contracts.envelope import EventData
from contracts.identifiers import AgbCode
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
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
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
