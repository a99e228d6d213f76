"""The pool view (docs/pools.md, "Pool view"): monitoring consumes each pool topic its region takes
part in, records what the pool's members tell of its settings and nothing else, and shows every
member's places per pooled setting with this region first and marked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from contracts import topics
from contracts.envelope import Envelope
from contracts.pool import Pool, PoolCapacityReported, PoolShortageDetected, PoolShortageResolved
from contracts.verblijf import Setting
from services.monitoring import handlers, pages
from services.monitoring.gauges import Snapshot
from services.monitoring.pool_views import Told, pooled_setting
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer
from services.runtime.unit_of_work import InMemoryBus, in_memory
from tests.support.infra import REPO
from tests.unit.monitoring.test_projection_handlers import NotedProjection

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
MIDDEN = Pool(
    name="midden-nederland",
    version=1,
    title="JeugdzorgPlus Midden-Nederland",
    members=("gooi-en-vechtstreek", "eemland", "flevoland"),
    settings=(Setting.JEUGDZORGPLUS,),
)


def _places(
    region: str = "eemland", setting: Setting = Setting.JEUGDZORGPLUS, **changes: object
) -> PoolCapacityReported:
    fields: dict[str, object] = {
        "pool": "midden-nederland",
        "region": region,
        "agb": "12345678",
        "setting": setting,
        "free": 2,
        "total": 6,
        "reserved": 1,
        "reported_at": NOW,
    }
    return PoolCapacityReported.model_validate({**fields, **changes})


def _pool_consumer() -> Consumer[Projection]:
    [consumer] = [c for c in handlers.consumers("live", [MIDDEN]) if topics.is_pool_topic(c.topic)]
    return consumer


async def _record(event: object) -> NotedProjection:
    store = NotedProjection()
    async with in_memory(
        store, MonitoringSettings(), NOW, InMemoryBus(), cause=Envelope.model_construct(id=uuid.uuid4())
    ) as uow:
        await _pool_consumer().handlers[type(event)](uow, event)  # type: ignore[index]
    return store


# --- which topics, which events --------------------------------------------------------------


def test_each_pool_the_region_takes_part_in_has_its_own_consumer_of_the_pool_topic() -> None:
    consumer = _pool_consumer()
    assert (consumer.name, consumer.topic) == ("pool-midden-nederland", "pool.midden-nederland.capacity.v1")
    assert consumer.handled_types == {
        PoolCapacityReported.event_type,
        PoolShortageDetected.event_type,
        PoolShortageResolved.event_type,
    }
    assert consumer.batch is not None


def test_without_pools_only_the_regions_own_topics_are_consumed() -> None:
    assert {c.topic for c in handlers.consumers("live")} == set(topics.ALL)


def test_the_default_deployment_consumes_the_shipped_pool() -> None:
    settings = MonitoringSettings()
    assert [p.name for p in settings.pools()] == ["midden-nederland"]
    names = {c.name for c in handlers.consumers("live", settings.pools())}
    assert "pool-midden-nederland" in names


@pytest.mark.parametrize("region", ["gooi-en-vechtstreek", "eemland"])
async def test_places_a_member_tells_are_recorded_its_own_region_included(region: str) -> None:
    event = _places(region)
    store = await _record(event)
    assert store.noted == [("record_pool_places", (event,)), ("wake_live_pages", ())]


async def test_shortages_are_recorded_and_resolved() -> None:
    detected = PoolShortageDetected(
        pool="midden-nederland",
        region="flevoland",
        shortage_id=uuid.uuid4(),
        setting=Setting.JEUGDZORGPLUS,
        free_places=0,
        waiting=3,
        detected_at=NOW,
    )
    resolved = PoolShortageResolved(**detected.model_dump(), resolved_at=NOW + timedelta(hours=5))
    assert (await _record(detected)).noted[0] == ("record_pool_shortage", (detected,))
    assert (await _record(resolved)).noted[0] == ("resolve_pool_shortage", (resolved,))


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_places("lekstroom"), id="a region that is no member here"),
        pytest.param(_places(setting=Setting.CRISISPLEK), id="a setting the pool does not share"),
        pytest.param(_places(pool="elders"), id="another pool's event on this pool's topic"),
    ],
)
async def test_what_the_pools_file_did_not_agree_to_is_skipped(event: PoolCapacityReported) -> None:
    assert (await _record(event)).noted == [("wake_live_pages", ())]


# --- settings: the same rules as capacity -----------------------------------------------------


def test_an_unknown_region_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="atlantis"):
        MonitoringSettings(region="atlantis")


def test_an_invalid_pools_file_refuses_to_start(tmp_path: Path) -> None:
    bad = tmp_path / "pools.json"
    bad.write_text(
        json.dumps(
            {
                "version": "2026-11-30",
                "pools": [
                    {
                        "name": "x",
                        "version": 1,
                        "title": "x",
                        "members": ["atlantis", "eemland"],
                        "settings": ["jeugdzorgplus"],
                    }
                ],
            }
        )
    )
    with pytest.raises(ValidationError, match="atlantis"):
        MonitoringSettings(pools_file=bad)


def test_the_process_refuses_to_start_on_an_unknown_region_and_says_why() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.monitoring"],
        cwd=REPO,
        env={**os.environ, "SCHAKEL_REGION": "atlantis"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "monitoring refuses to start: region 'atlantis' is neither in the registry" in result.stderr


def test_opting_out_of_a_pool_not_in_the_file_refuses_to_start_and_an_opt_out_leaves_it_out() -> None:
    with pytest.raises(ValidationError, match="SCHAKEL_POOLS_OPT_OUT"):
        MonitoringSettings(pools_opt_out=["nergens"])
    assert MonitoringSettings(pools_opt_out=["midden-nederland"]).pools() == ()


@pytest.mark.parametrize(
    ("namespace", "pool_namespace", "expected"),
    [
        ("", None, "pool.midden-nederland.capacity.v1"),
        ("t1234", None, "t1234.pool.midden-nederland.capacity.v1"),
        ("t1234-gv", "t1234", "t1234.pool.midden-nederland.capacity.v1"),
        ("gooi-en-vechtstreek", "", "pool.midden-nederland.capacity.v1"),
    ],
)
def test_pool_topics_take_the_pool_namespace_and_own_topics_the_regions(
    namespace: str, pool_namespace: str | None, expected: str
) -> None:
    settings = MonitoringSettings(topic_namespace=namespace, pool_topic_namespace=pool_namespace)
    assert settings.topic(MIDDEN.topic) == expected
    assert settings.topic(topics.CAPACITY_EVENTS) == (
        f"{namespace}.capacity.events.v1" if namespace else "capacity.events.v1"
    )


# --- the view ----------------------------------------------------------------------------------


def _told(region: str, agb: str, free: int, total: int, reserved: int = 0, minutes_ago: int = 0) -> Told:
    return Told(region, agb, "jeugdzorgplus", free, total, reserved, NOW - timedelta(minutes=minutes_ago))


def test_the_own_region_comes_first_and_is_marked_and_the_pool_sums_its_members() -> None:
    told = [
        _told("eemland", "11111111", 2, 6, 1, minutes_ago=30),
        _told("eemland", "22222222", 1, 4, minutes_ago=5),
        _told("flevoland", "33333333", 0, 8, 2),
        _told("gooi-en-vechtstreek", "44444444", 3, 5),
    ]
    view = pooled_setting("jeugdzorgplus", "flevoland", MIDDEN.members, told, {"flevoland": NOW})
    assert [(r.region, r.own) for r in view.regions] == [
        ("flevoland", True),
        ("gooi-en-vechtstreek", False),
        ("eemland", False),
    ]
    assert (view.free, view.total, view.reserved, view.regions_in_shortage) == (6, 23, 3, 1)
    eemland = view.regions[2]
    assert (eemland.free, eemland.total, eemland.reserved, len(eemland.providers)) == (3, 10, 1, 2)
    assert eemland.title == "Eemland" and eemland.state == "ruim"
    assert eemland.last_updated == (NOW - timedelta(minutes=5)).isoformat()
    flevoland = view.regions[0]
    assert (flevoland.state, flevoland.shortage_since) == ("tekort", NOW.isoformat())


def test_a_member_that_told_nothing_shows_no_places_and_no_colour() -> None:
    view = pooled_setting("jeugdzorgplus", "gooi-en-vechtstreek", MIDDEN.members, [], {})
    assert [(r.state, r.free, r.total, r.last_updated) for r in view.regions] == [("onbekend", 0, 0, None)] * 3


def test_a_provider_told_all_zeros_is_no_provider_and_a_region_that_left_the_pool_does_not_count() -> None:
    told = [_told("eemland", "11111111", 0, 0), _told("lekstroom", "55555555", 9, 9)]
    view = pooled_setting("jeugdzorgplus", "gooi-en-vechtstreek", MIDDEN.members, told, {})
    eemland = next(r for r in view.regions if r.region == "eemland")
    assert (eemland.providers, eemland.state) == ([], "tekort")
    assert "lekstroom" not in {r.region for r in view.regions} and view.total == 0


# --- the gauge --------------------------------------------------------------------------------


def test_the_pools_free_places_are_exact_on_metrics_places_are_not_people() -> None:
    registry, snapshot = CollectorRegistry(), Snapshot(Clock())
    snapshot.rows = {
        "pool_free": [{"pool": "midden-nederland", "region": "eemland", "setting": "jeugdzorgplus", "n": 1}]
    }
    registry.register(snapshot)
    exposition = generate_latest(registry).decode()
    assert (
        'schakel_pool_places_free{pool="midden-nederland",region="eemland",setting="jeugdzorgplus"} 1.0' in exposition
    )


@pytest.mark.parametrize(
    ("region_title", "header"),
    [("Gooi en Vechtstreek", "Jeugdregio Gooi en Vechtstreek"), ("Regio Eemland", "Jeugdregio Eemland")],
)
def test_every_page_names_the_region_of_its_deployment(region_title: str, header: str) -> None:
    page = pages.templates.env.get_template("base.html").render(region_title=region_title, request=None)
    assert f"Schakel · {header}</p>" in page
