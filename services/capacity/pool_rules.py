"""Pure rules of pooling (docs/pools.md): what a region tells its pools about its places, what the
pool's picture of a setting is — who has room — once the members' figures are in, which provider of
another member to ask for a youth, whether a region can hold a place asked of it, and when the pool
as a whole is short. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.capacity import DeclineReason
from contracts.verblijf import Setting
from services.capacity.domain import Candidate, Need, ProviderCapacity, ShortageChange, in_preference_order


@dataclass(frozen=True)
class PoolPlaces:
    """One provider's places in one pooled setting, as its region shares them."""

    free: int
    total: int
    reserved: int

    @classmethod
    def of(cls, capacity: ProviderCapacity) -> PoolPlaces:
        # A provider that lowered its total below the places it holds for proposals holds at most
        # its total: the pool contract keeps free + reserved within total.
        return cls(capacity.free, capacity.total, min(capacity.reserved, capacity.total))


# What a provider that stopped counting (its admission ended) is shared as.
NO_PLACES = PoolPlaces(0, 0, 0)


def places_to_share(current: Mapping[str, PoolPlaces], shared: Mapping[str, PoolPlaces]) -> dict[str, PoolPlaces]:
    """By AGB, what a region tells a pool: every provider whose places differ from what it last told
    (``shared``), and no places for a provider that no longer counts. Unchanged ones: nothing."""
    changed = {agb: places for agb, places in current.items() if shared.get(agb) != places}
    gone = {agb: NO_PLACES for agb, places in shared.items() if agb not in current and places != NO_PLACES}
    return dict(sorted({**changed, **gone}.items()))


@dataclass(frozen=True)
class ProviderPlaces:
    """One row of the pool's read model: a member's provider in a setting, as last told."""

    region: str
    agb: str
    places: PoolPlaces
    reported_at: datetime


@dataclass(frozen=True)
class RegionPlaces:
    """One member region's places in a pooled setting."""

    region: str
    free: int
    total: int
    reserved: int
    providers: int
    last_updated: datetime | None
    shortage_since: datetime | None


@dataclass(frozen=True)
class PooledSetting:
    """The pool's picture of one setting, as the schakelfunctionaris of ``region`` sees it."""

    setting: Setting
    free: int
    total: int
    reserved: int
    regions: list[RegionPlaces]
    # This region's own shortage of the setting is open.
    shortage_here: bool
    # Another member has a free place: ``room_elsewhere`` names them, most free places first.
    pool_has_room: bool
    room_elsewhere: list[str]


def pooled_setting(
    setting: Setting,
    region: str,
    members: Sequence[str],
    rows: Iterable[ProviderPlaces],
    shortages: Mapping[str, datetime],
) -> PooledSetting:
    """Sum each member's providers, in the pool's order of members (a member that told nothing yet
    shows no places); ``room_elsewhere`` names the other members with a free place, most free first.
    ``shortages`` is the open shortage of each member in this setting, by region, since when."""
    by_region: dict[str, list[ProviderPlaces]] = {m: [] for m in members}
    for row in rows:
        if row.region in by_region:  # a region that left the pool no longer counts
            by_region[row.region].append(row)
    per_region = [
        RegionPlaces(
            region=member,
            free=sum(r.places.free for r in told),
            total=sum(r.places.total for r in told),
            reserved=sum(r.places.reserved for r in told),
            providers=sum(1 for r in told if r.places != NO_PLACES),
            last_updated=max((r.reported_at for r in told), default=None),
            shortage_since=shortages.get(member),
        )
        for member, told in by_region.items()
    ]
    elsewhere = sorted((r for r in per_region if r.region != region and r.free > 0), key=lambda r: (-r.free, r.region))
    return PooledSetting(
        setting=setting,
        free=sum(r.free for r in per_region),
        total=sum(r.total for r in per_region),
        reserved=sum(r.reserved for r in per_region),
        regions=per_region,
        shortage_here=region in shortages,
        pool_has_room=bool(elsewhere),
        room_elsewhere=[r.region for r in elsewhere],
    )


# --- asking another member for a place ------------------------------------------------------------


@dataclass(frozen=True)
class PoolOffer:
    """A provider of another pool member with a free place, as that member last told the pool."""

    pool: str
    region: str
    agb: str
    setting: str
    free: int


def best_pool_offer(need: Need, offers: Iterable[PoolOffer], allowed: Sequence[str] = ()) -> PoolOffer | None:
    """The provider of another member to ask for a youth the region cannot place itself: the most
    preferred setting the referral allows (and ``allowed``, a doorbraak decision's settings, when not
    empty), then the most free places, then region and AGB so the choice is the same every time. A
    provider that declined the youth (or let it lapse) is not asked again. The other region judges
    the age range: the pool does not carry it."""
    preference = {s.value: i for i, s in enumerate(in_preference_order(need.settings))}
    eligible = [
        o
        for o in offers
        if o.setting in preference
        and (not allowed or o.setting in allowed)
        and o.free > 0
        and (o.agb, Setting(o.setting)) not in need.tried
    ]
    ranked = sorted(eligible, key=lambda o: (preference[o.setting], -o.free, o.region, o.agb))
    return ranked[0] if ranked else None


def why_not_held(
    candidate: Candidate | None, age: int, reserved_until: datetime, now: datetime
) -> DeclineReason | None:
    """Why the provider's region cannot hold a place asked of it by another member, or None: the
    provider is not (or no longer) offering places in the setting or has none free, the youth is
    outside its age range, or the request ran out before it arrived."""
    if reserved_until <= now:
        return DeclineReason.GEEN_REACTIE
    if candidate is None or candidate.free <= 0:
        return DeclineReason.GROEP_VOL
    if not candidate.admits(age):
        return DeclineReason.LEEFTIJD
    return None


# --- the pool-wide shortage -----------------------------------------------------------------------


def pool_wide_change(open_now: bool, short_here: bool, room_elsewhere: bool) -> ShortageChange:
    """A region's pool-wide shortage of a setting: it is short itself and no other member has a free
    place. It ends as soon as either stops being true."""
    if not open_now and short_here and not room_elsewhere:
        return ShortageChange.DETECTED
    if open_now and (not short_here or room_elsewhere):
        return ShortageChange.RESOLVED
    return ShortageChange.NONE
