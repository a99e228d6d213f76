"""The pool view: per pool and pooled setting, each member region's places and open shortage, the
pool's totals, and this region marked and first (docs/pools.md, "Pool view").

Places are not people, so they are exact; AGB codes name providers, which are public organisations.
A shortage's count of youths waiting stays with the region that has them: the view shows since when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, Field

from contracts import regions
from contracts.pool import Pool
from services.monitoring import domain
from services.monitoring.queries import Reading

# The tile of a member that told the pool nothing yet in the setting: no places known, no colour.
UNKNOWN = "onbekend"


class ProviderPlaces(BaseModel):
    agb: str
    free: int
    total: int
    reserved: int
    reported_at: str = Field(description="ISO 8601")


class RegionPlaces(BaseModel):
    """One member region's places in one pooled setting: one tile."""

    region: str
    title: str = Field(description="The region's name in the registry or the 2013 survey.")
    own: bool = Field(description="The region this deployment serves.")
    free: int
    total: int
    reserved: int
    providers: list[ProviderPlaces] = Field(description="With places; a provider told all zeros is left out.")
    last_updated: str | None = Field(description="ISO 8601; None while the member told nothing")
    shortage_since: str | None = Field(description="ISO 8601: the member's open shortage began; None: none open")
    state: str = Field(description="tekort, krap, ruim, or onbekend while the member told nothing")


class PooledSettingView(BaseModel):
    setting: str
    free: int = Field(description="The pool's free places: every member's summed.")
    total: int
    reserved: int
    regions_in_shortage: int
    regions: list[RegionPlaces] = Field(description="This region first, then the pool's order of members.")


class PoolView(BaseModel):
    name: str
    version: int
    title: str
    basis: str
    topic: str = Field(description="The pool's topic in the contract, before any namespace.")
    settings: list[PooledSettingView]


class PoolsView(BaseModel):
    region: str = Field(description="The region this deployment serves.")
    region_title: str
    pools_file_version: date
    opted_out: list[str] = Field(description="Pools the region is a member of that this deployment leaves out.")
    pools: list[PoolView]


@dataclass(frozen=True)
class Told:
    """One row of the pool read model: a member's provider in a setting, as last told."""

    region: str
    agb: str
    setting: str
    free: int
    total: int
    reserved: int
    reported_at: datetime


def pooled_setting(
    setting: str, own: str, members: Sequence[str], told: Iterable[Told], shortages: Mapping[str, datetime]
) -> PooledSettingView:
    """Sum each member's providers in ``setting``, ``own`` region first, then the pool's order of
    members; a region no longer a member is left out. ``shortages`` is each member's open shortage
    of the setting, by region, since when."""
    ordered = [own, *(m for m in members if m != own)] if own in members else list(members)
    by_region: dict[str, list[Told]] = {m: [] for m in ordered}
    for row in told:
        if row.setting == setting and row.region in by_region:
            by_region[row.region].append(row)
    tiles = [_tile(region, region == own, rows, shortages.get(region)) for region, rows in by_region.items()]
    return PooledSettingView(
        setting=setting,
        free=sum(t.free for t in tiles),
        total=sum(t.total for t in tiles),
        reserved=sum(t.reserved for t in tiles),
        regions_in_shortage=sum(1 for t in tiles if t.shortage_since),
        regions=tiles,
    )


def _tile(region: str, own: bool, rows: list[Told], shortage_since: datetime | None) -> RegionPlaces:
    free = sum(r.free for r in rows)
    last_updated = max((r.reported_at for r in rows), default=None)
    known = rows or shortage_since is not None
    state = domain.tile_colour(free, shortage_since is not None) if known else UNKNOWN
    return RegionPlaces(
        region=region,
        title=regions.known_region(region),
        own=own,
        free=free,
        total=sum(r.total for r in rows),
        reserved=sum(r.reserved for r in rows),
        providers=[
            ProviderPlaces(
                agb=r.agb, free=r.free, total=r.total, reserved=r.reserved, reported_at=r.reported_at.isoformat()
            )
            for r in rows
            if (r.free, r.total, r.reserved) != (0, 0, 0)
        ],
        last_updated=last_updated.isoformat() if last_updated else None,
        shortage_since=shortage_since.isoformat() if shortage_since else None,
        state=state,
    )


async def pools(uow: Reading, only: str | None = None) -> PoolsView:
    """Every pool the region takes part in (or only the one named ``only``), with its members' places
    per pooled setting."""
    settings = uow.settings
    return PoolsView(
        region=settings.region,
        region_title=regions.known_region(settings.region),
        pools_file_version=settings.pools_file_version(),
        opted_out=sorted(settings.pools_opt_out),
        pools=[await _pool(uow, pool) for pool in settings.pools() if only in (None, pool.name)],
    )


async def _pool(uow: Reading, pool: Pool) -> PoolView:
    told = [Told(**dict(r)) for r in await uow.store.pool_places(pool.name)]
    shortages: dict[str, dict[str, datetime]] = {}
    for r in await uow.store.open_pool_shortages(pool.name):
        shortages.setdefault(r["setting"], {})[r["region"]] = r["detected_at"]
    return PoolView(
        name=pool.name,
        version=pool.version,
        title=pool.title,
        basis=pool.basis,
        topic=pool.topic,
        settings=[
            pooled_setting(setting, uow.settings.region, pool.members, told, shortages.get(setting, {}))
            for setting in pool.settings
        ],
    )
