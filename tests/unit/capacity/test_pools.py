"""Specification of pooling (docs/pools.md): the pools file, the region a deployment serves, pool topic
names and namespaces, what a region tells its pools (and never tells), and what it keeps of the
other members' news. Commands run on the in-memory store; tests/integration/capacity/test_pools.py
runs two regions on Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import regions, topics
from contracts.capacity import CapacityReported
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.contracting import ContractEnded
from contracts.envelope import Envelope, EventData
from contracts.intake import ReferralReceived
from contracts.pool import (
    POOLS_FILE,
    InvalidPools,
    PoolCapacityReported,
    PoolShortageDetected,
    PoolShortageResolved,
    load_pools,
)
from contracts.verblijf import Setting
from services.capacity import handlers
from services.capacity.commands import Work, capacity, placements
from services.capacity.domain import CapacityFigures, ProviderCapacity
from services.capacity.pool_rules import NO_PLACES, PoolPlaces, ProviderPlaces, places_to_share, pooled_setting
from services.capacity.settings import CapacitySettings
from services.capacity.store import Store
from services.runtime.auth import Principal
from services.runtime.roles import Role
from services.runtime.unit_of_work import InMemoryBus, in_memory
from tests.support.infra import REPO
from tests.unit.capacity.fake_store import FakeStore

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GV, EEMLAND = "gooi-en-vechtstreek", "eemland"
POOL = "midden-nederland"
POOL_TOPIC = "pool.midden-nederland.capacity.v1"
JZP, CRISIS = Setting.JEUGDZORGPLUS, Setting.CRISISPLEK
AGB, OTHER_AGB = "20000001", "20000002"


def _pools_file(tmp_path: Path, pools: list[dict[str, object]]) -> Path:
    path = tmp_path / "pools.json"
    path.write_text(json.dumps({"version": "2026-11-30", "pools": pools}))
    return path


def _pool(**changes: object) -> dict[str, object]:
    return {
        "name": "midden-nederland",
        "version": 1,
        "title": "JeugdzorgPlus Midden-Nederland",
        "members": [GV, EEMLAND],
        "settings": ["jeugdzorgplus"],
    } | changes


# --- regions: the registry shared from contracts -----------------------------------------------


def test_every_2013_region_has_an_id_and_gooi_en_vechtstreek_is_the_same_in_both_registries() -> None:
    assert regions.region_id_2013("Regio Midden IJssel / Oost Veluwe") == "midden-ijssel-oost-veluwe"
    assert regions.region_id_2013("Regio Midden Kennemerland (IJmond)") == "midden-kennemerland-ijmond"
    assert len(regions.regions_2013_by_id()) == len(regions.regions_2013()) == 43
    registry = regions.load()
    assert regions.regions_2013()[registry.region(GV).region_2013 or ""].id == GV
    assert regions.known_region(EEMLAND) == "Eemland"  # the dated registry's name before the survey's
    with pytest.raises(regions.UnknownRegion, match=r"region 'atlantis' is neither in the registry"):
        regions.known_region("atlantis")


def test_the_dated_registry_starts_2015_with_the_municipalities_the_2013_survey_names() -> None:
    registry = regions.load()
    survey = regions.regions_2013()
    for region_id in (GV, EEMLAND):
        region = registry.region(region_id)
        names = {m.name for m in registry.members(region_id, date(2015, 1, 1))}
        assert names == set(survey[region.region_2013 or ""].municipalities), region_id


def test_capacity_serves_gooi_en_vechtstreek_unless_told_otherwise_and_refuses_an_unknown_region() -> None:
    assert CapacitySettings().region == GV
    assert CapacitySettings(region=EEMLAND).region == EEMLAND
    with pytest.raises(ValidationError, match=r"region 'atlantis' is neither in the registry nor in the 2013 survey"):
        CapacitySettings(region="atlantis")


# --- the pools file ----------------------------------------------------------------------------


def test_the_shipped_pools_file_pools_jeugdzorgplus_in_the_court_district_midden_nederland() -> None:
    shipped = load_pools(POOLS_FILE)
    [pool] = shipped.of_region(GV)
    assert pool.name == POOL and pool.topic == POOL_TOPIC
    assert pool.settings == (JZP,)
    assert {GV, EEMLAND, "utrecht-stad", "lekstroom", "zuid-oost-utrecht", "utrecht-west"} <= set(pool.members)
    assert shipped.of_region("groningen") == ()


@pytest.mark.parametrize(
    ("pool", "complaint"),
    [
        (_pool(members=[GV, "atlantis"]), r"pools.0.members: region 'atlantis' is neither in the registry"),
        (_pool(members=[GV, GV]), r"gooi-en-vechtstreek named twice"),
        (_pool(members=[GV]), r"members: Tuple should have at least 2 items"),
        (_pool(settings=["jeugdzorgplus", "ruimteschip"]), r"settings.1: Input should be 'pleegzorg'"),
        (_pool(settings=["jeugdzorgplus", "jeugdzorgplus"]), r"a setting is pooled once"),
        (_pool(name="Midden Nederland"), r"name: String should match pattern"),
        (_pool(version=0), r"version: Input should be greater than or equal to 1"),
        (_pool(colour="blue"), r"colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_pool_is_refused_with_where_and_why(tmp_path: Path, pool: dict[str, object], complaint: str) -> None:
    with pytest.raises(InvalidPools, match=complaint):
        load_pools(_pools_file(tmp_path, [pool]))


def test_pool_names_are_unique_and_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidPools, match=r"midden-nederland defined twice"):
        load_pools(_pools_file(tmp_path, [_pool(), _pool()]))
    with pytest.raises(InvalidPools, match=r"cannot be read"):
        load_pools(tmp_path / "absent.json")


def test_the_settings_refuse_a_bad_pools_file_or_an_opt_out_of_a_pool_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"pools file .* is invalid: pools.0.members: region 'atlantis'"):
        CapacitySettings(pools_file=_pools_file(tmp_path, [_pool(members=[GV, "atlantis"])]))
    with pytest.raises(ValidationError, match=r"SCHAKEL_POOLS_OPT_OUT names pools not in .*: noord-holland"):
        CapacitySettings(pools_opt_out=["noord-holland"])


def test_the_process_refuses_to_start_on_a_bad_pools_file_and_says_why(tmp_path: Path) -> None:
    bad = _pools_file(tmp_path, [_pool(members=[GV, "atlantis"])])
    result = subprocess.run(
        [sys.executable, "-m", "services.capacity"],
        cwd=REPO,
        env={**os.environ, "SCHAKEL_POOLS_FILE": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "capacity refuses to start: pools file" in result.stderr
    assert "region 'atlantis' is neither in the registry nor in the 2013 survey" in result.stderr


def test_a_deployment_takes_part_in_its_regions_pools_unless_it_opts_out() -> None:
    assert [p.name for p in CapacitySettings().pools()] == [POOL]
    assert [p.name for p in CapacitySettings().pools_sharing(JZP)] == [POOL]
    assert CapacitySettings().pools_sharing(CRISIS) == ()
    assert CapacitySettings(pools_opt_out=[POOL]).pools() == ()
    assert CapacitySettings(region="groningen").pools() == ()
    assert [c.topic for c in handlers.consumers(CapacitySettings().pools())][-1] == POOL_TOPIC


# --- topics and namespaces ---------------------------------------------------------------------


def test_a_pools_topic_is_named_after_the_pool() -> None:
    assert topics.pool_capacity(POOL) == POOL_TOPIC
    assert topics.is_pool_topic(POOL_TOPIC) and not topics.is_pool_topic(topics.CAPACITY_EVENTS)
    assert POOL_TOPIC not in topics.ALL  # a region's own services do not create it
    with pytest.raises(ValueError, match="lower-case words joined by hyphens"):
        topics.pool_capacity("Midden Nederland")


def test_pool_topics_take_the_pool_namespace_and_everything_else_the_regions() -> None:
    alone = CapacitySettings(topic_namespace="test1")
    assert alone.topic(POOL_TOPIC) == f"test1.{POOL_TOPIC}"  # unset: the deployment's own
    shared = CapacitySettings(topic_namespace="gv", pool_topic_namespace="")
    assert shared.topic(POOL_TOPIC) == POOL_TOPIC
    assert shared.topic(topics.CAPACITY_EVENTS) == "gv.capacity.events.v1"
    # Every member reads the whole pool topic: its consumer group is the region's own.
    assert shared.group_id(f"pool-{POOL}") == f"gv.capacity.pool-{POOL}"


def test_an_event_goes_to_its_classes_topic_unless_it_names_a_pool() -> None:
    told = PoolCapacityReported(pool=POOL, region=GV, agb=AGB, setting=JZP, free=1, total=2, reserved=0, reported_at=T0)
    assert told.topic_of() == POOL_TOPIC and PoolCapacityReported.topic == topics.POOL_CAPACITY
    reported = CapacityReported(
        agb=AGB,
        setting=JZP,
        total=1,
        occupied=0,
        free=1,
        closed_to_admission=False,
        reported_at=T0,
        regional_free=1,
    )
    assert reported.topic_of() == CapacityReported.topic == topics.CAPACITY_EVENTS


def test_the_pool_contract_keeps_free_and_reserved_within_total() -> None:
    with pytest.raises(ValidationError, match=r"free \(2\) and reserved \(1\) exceed total \(2\)"):
        PoolCapacityReported(pool=POOL, region=GV, agb=AGB, setting=JZP, free=2, total=2, reserved=1, reported_at=T0)


# --- pure rules --------------------------------------------------------------------------------


def test_a_region_shares_only_places_that_changed_and_none_for_a_provider_that_stopped_counting() -> None:
    one, two = PoolPlaces(1, 2, 0), PoolPlaces(0, 2, 1)
    assert places_to_share({AGB: one}, {}) == {AGB: one}
    assert places_to_share({AGB: one}, {AGB: one}) == {}
    assert places_to_share({AGB: two}, {AGB: one}) == {AGB: two}
    assert places_to_share({}, {AGB: one, OTHER_AGB: NO_PLACES}) == {AGB: NO_PLACES}


def test_places_held_beyond_a_lowered_total_are_shared_as_the_total() -> None:
    assert PoolPlaces.of(ProviderCapacity(total=0, occupied=0, closed_to_admission=False, reserved=1)) == NO_PLACES
    assert PoolPlaces.of(ProviderCapacity(total=3, occupied=1, closed_to_admission=True, reserved=1)) == PoolPlaces(
        0, 3, 1
    )


def test_the_pool_names_the_other_members_with_room_most_free_first() -> None:
    def told(region: str, agb: str, free: int) -> ProviderPlaces:
        return ProviderPlaces(region, agb, PoolPlaces(free, 4, 0), T0)

    rows = [told(GV, AGB, 0), told(EEMLAND, "30000001", 1), told("utrecht-stad", "40000001", 2), told("x", "1", 9)]
    members = [GV, EEMLAND, "utrecht-stad", "lekstroom"]
    picture = pooled_setting(JZP, GV, members, rows, {GV: T0})
    assert picture.shortage_here and picture.pool_has_room
    assert picture.room_elsewhere == ["utrecht-stad", EEMLAND]
    assert (picture.free, picture.total) == (3, 12)  # a region outside the pool does not count
    assert [(r.region, r.free, r.providers) for r in picture.regions][-1] == ("lekstroom", 0, 0)
    assert not pooled_setting(JZP, GV, members, [told(GV, AGB, 3)], {}).pool_has_room


# --- what a region tells its pools --------------------------------------------------------------


class Region:
    """A capacity service in memory, serving ``region``."""

    def __init__(self, region: str = GV, **settings: object) -> None:
        self.store = FakeStore()
        self.bus = InMemoryBus()
        self.now = T0
        self.settings = CapacitySettings(region=region, **settings)

    def work(self, cause: Envelope | None = None) -> AbstractAsyncContextManager[Work]:
        store: Store = self.store
        return in_memory(store, self.settings, self.now, self.bus, cause)

    async def report(self, agb: str, setting: Setting, total: int, occupied: int) -> None:
        async with self.work() as uow:
            if setting not in await uow.store.admitted_settings(agb):
                await capacity.register_provider(uow, agb, [setting], "0402")
        async with self.work() as uow:
            figures = CapacityFigures(total=total, occupied=occupied)
            await capacity.report_capacity(uow, agb, setting, figures, Principal(Role.PROVIDER, agb))

    async def refer(self, setting: Setting) -> ReferralReceived:
        referral = ReferralReceived(
            referral_id=uuid.uuid4(),
            client_ref="c" * 64,
            age=15,
            municipality_code="0402",
            referrer_type=Verwijzer.RECHTER_OFFICIER,
            referrer_agb=None,
            product_category=Productcategorie.VERBLIJF_INCL_BEHANDELING,
            settings=[setting],
            urgency=Urgentie.SPOED,
            ambulant_tried=True,
            needs_gemeente_decision=False,
            received_at=self.now,
        )
        async with self.work(cause=Envelope.wrap(referral, source="intake", time=self.now)) as uow:
            await placements.open_request(uow, referral)
        return referral

    def told(self, kind: type[EventData] | None = None) -> list[EventData]:
        """What went to pool topics, in order (of one ``kind``, when given)."""
        return [
            e.payload()
            for topic, e in self.bus.published
            if topics.is_pool_topic(topic) and (kind is None or e.type == kind.event_type)
        ]


async def test_a_report_of_a_pooled_setting_tells_the_pool_its_places_on_the_pools_topic() -> None:
    region = Region()
    await region.report(AGB, JZP, total=4, occupied=1)
    [told] = region.told(PoolCapacityReported)
    assert told == PoolCapacityReported(
        pool=POOL, region=GV, agb=AGB, setting=JZP, free=3, total=4, reserved=0, reported_at=T0
    )
    assert [t for t, e in region.bus.published if e.type == PoolCapacityReported.event_type] == [POOL_TOPIC]
    # What it told is in its own read model of the pool, written in the same unit of work.
    assert region.store.pool_places[(POOL, GV, AGB, JZP)] == (PoolPlaces(3, 4, 0), T0)


async def test_the_same_places_reported_again_tell_the_pool_nothing_new() -> None:
    region = Region()
    await region.report(AGB, JZP, total=4, occupied=1)
    region.now += timedelta(hours=1)
    await region.report(AGB, JZP, total=4, occupied=1)
    assert len(region.told(PoolCapacityReported)) == 1
    await region.report(AGB, JZP, total=4, occupied=2)
    assert [e.free for e in region.told(PoolCapacityReported) if isinstance(e, PoolCapacityReported)] == [3, 2]


async def test_an_unpooled_setting_never_reaches_a_pool_topic() -> None:
    region = Region()
    await region.report(AGB, CRISIS, total=1, occupied=1)  # a shortage, too
    await region.refer(CRISIS)
    assert region.told() == []
    assert {t for t, _ in region.bus.published} == {topics.CAPACITY_EVENTS, topics.CAPACITY_ALERTS}


async def test_a_deployment_that_opted_out_tells_the_pool_nothing() -> None:
    region = Region(pools_opt_out=[POOL])
    await region.report(AGB, JZP, total=1, occupied=1)
    assert region.told() == [] and region.store.pool_places == {}


async def test_its_own_shortage_of_a_pooled_setting_starts_and_ends_on_the_pool_topic() -> None:
    region = Region()
    await region.report(AGB, JZP, total=1, occupied=1)
    [detected] = region.told(PoolShortageDetected)
    assert isinstance(detected, PoolShortageDetected)
    assert (detected.region, detected.setting, detected.free_places, detected.waiting) == (GV, JZP, 0, 0)
    assert (POOL, GV, JZP) in region.store.pool_shortages

    region.now += timedelta(hours=2)
    await region.report(AGB, JZP, total=2, occupied=0)
    [resolved] = region.told(PoolShortageResolved)
    assert isinstance(resolved, PoolShortageResolved)
    assert (resolved.shortage_id, resolved.resolved_at) == (detected.shortage_id, region.now)
    assert region.store.pool_shortages == {}


async def test_a_place_held_for_a_youth_is_shared_as_reserved_and_nothing_about_the_youth_travels() -> None:
    region = Region()
    await region.report(AGB, JZP, total=2, occupied=0)
    referral = await region.refer(JZP)
    last = region.told(PoolCapacityReported)[-1]
    assert isinstance(last, PoolCapacityReported) and (last.free, last.reserved) == (1, 1)
    on_the_pool = json.dumps(
        [e.model_dump(mode="json") for _, e in region.bus.published if e.type.startswith("nl.schakel.pool.")]
    )
    assert referral.client_ref not in on_the_pool and str(referral.referral_id) not in on_the_pool
    assert "0402" not in on_the_pool and '"age"' not in on_the_pool


async def test_a_provider_whose_contract_ended_is_shared_as_no_places() -> None:
    region = Region()
    await region.report(AGB, JZP, total=3, occupied=1)
    contract_id = uuid.uuid4()
    async with region.work() as uow:
        await uow.store.admit_provider(AGB, [JZP], str(contract_id), region.now)
    async with region.work() as uow:
        await uow.store.end_admissions("admin", region.now)
    ended = ContractEnded(
        contract_id=contract_id, provider_agb=AGB, lot="JZP-1", end_date=T0.date(), reason="einde", ended_at=region.now
    )
    async with region.work() as uow:
        await capacity.end_contract(uow, ended)
    last = region.told(PoolCapacityReported)[-1]
    assert isinstance(last, PoolCapacityReported) and (last.free, last.total, last.reserved) == (0, 0, 0)


# --- what it keeps of the other members' news ---------------------------------------------------


async def _apply(region: Region, event: EventData) -> None:
    handler = handlers.pool_consumer(region.settings.pools()[0]).handlers[type(event)]
    async with region.work(cause=Envelope.wrap(event, source="capacity", time=region.now)) as uow:
        await handler(uow, event)


def _told(region: str = EEMLAND, agb: str = "30000001", free: int = 1, at: datetime = T0, **changes: object):  # type: ignore[no-untyped-def]
    return PoolCapacityReported(
        pool=POOL, region=region, agb=agb, setting=JZP, free=free, total=2, reserved=0, reported_at=at, **changes
    )


async def test_another_members_places_are_kept_and_an_older_report_arriving_late_changes_nothing() -> None:
    region = Region()
    await _apply(region, _told(free=2, at=T0 + timedelta(minutes=5)))
    await _apply(region, _told(free=0, at=T0))
    assert region.store.pool_places[(POOL, EEMLAND, "30000001", JZP)] == (
        PoolPlaces(2, 2, 0),
        T0 + timedelta(minutes=5),
    )
    assert region.bus.published == []  # keeping the pool's news announces nothing


async def test_its_own_news_and_news_of_regions_outside_the_pool_are_skipped() -> None:
    region = Region()
    await _apply(region, _told(region=GV, agb=AGB))
    await _apply(region, _told(region="groningen"))
    assert region.store.pool_places == {}


async def test_another_members_shortage_is_kept_until_it_ends() -> None:
    region = Region()
    shortage = uuid.uuid4()
    detected = PoolShortageDetected(
        pool=POOL, region=EEMLAND, shortage_id=shortage, setting=JZP, free_places=0, waiting=1, detected_at=T0
    )
    await _apply(region, detected)
    assert region.store.pool_shortages[(POOL, EEMLAND, JZP)][0] == shortage
    resolved = PoolShortageResolved(
        pool=POOL,
        region=EEMLAND,
        shortage_id=shortage,
        setting=JZP,
        free_places=2,
        waiting=0,
        detected_at=T0,
        resolved_at=T0 + timedelta(hours=1),
    )
    await _apply(region, resolved)
    assert region.store.pool_shortages == {}
