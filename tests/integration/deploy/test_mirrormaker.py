"""MirrorMaker 2 from deploy/local/mirror.sh links a pool topic between two clusters, both ways.

Cluster A is the session's broker; cluster B is a second broker the script starts on free ports
with its own state dir, removed afterwards. Each region writes its pool events to the pool topic
on its own cluster, exactly as capacity's outbox does (same key, same headers), and reads the
other region's events from that same topic name on its own cluster; nothing is mirrored twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.envelope import Envelope
from contracts.pool import PoolCapacityReported
from contracts.topics import pool_capacity
from services.runtime.outbox import event_headers
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import Record, TopicReader
from tests.support.server import free_port

MIRROR = REPO / "deploy/local/mirror.sh"
POOL = "midden-nederland"


@dataclass(frozen=True)
class Clusters:
    a: str
    b: str
    topic: str


@pytest.fixture
async def clusters(infra: Infrastructure, isolation: Isolation) -> AsyncIterator[Clusters]:
    """A second broker and MirrorMaker 2 between it and the session's broker, for this test only."""
    state = REPO / "var" / f"test-mirror-{isolation.namespace}"
    port, controller_port = free_port(), free_port()
    topic = isolation.topic(pool_capacity(POOL))
    env = {
        **os.environ,
        "MIRROR_A_BOOTSTRAP": infra.kafka,
        # MirrorMaker keeps the state of flow B->A on cluster A under B's alias: a unique alias
        # keeps this test apart from a mirror.sh a developer runs against the same broker.
        "MIRROR_B_ALIAS": isolation.namespace,
        "MIRROR_KAFKA_PORT": str(port),
        "MIRROR_KAFKA_CONTROLLER_PORT": str(controller_port),
        "MIRROR_STATE_DIR": str(state),
        # Only this test's pool topic: other tests' pool topics on the session broker stay put.
        "MIRROR_TOPICS": re.escape(topic),
        "MIRROR_REFRESH_SECONDS": "2",
        "MIRROR_READY_TIMEOUT": "90",
    }
    b = f"127.0.0.1:{port}"

    def run(action: str) -> None:
        subprocess.run([str(MIRROR), action], env=env, check=True, stdin=subprocess.DEVNULL, timeout=150)

    try:
        await asyncio.to_thread(run, "start")
        # Capacity creates its pools' topics on its own cluster; one partition keeps the order
        # the loop check below relies on.
        for bootstrap in (infra.kafka, b):
            await create_topic(bootstrap, topic)
        yield Clusters(a=infra.kafka, b=b, topic=topic)
    finally:
        await asyncio.to_thread(run, "stop")
        shutil.rmtree(state, ignore_errors=True)


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


def places(region: str, agb: str, free: int) -> Envelope:
    report = PoolCapacityReported(
        pool=POOL,
        region=region,
        agb=agb,
        setting="jeugdzorgplus",
        free=free,
        total=8,
        reserved=0,
        reported_at=datetime.now(UTC),
    )
    return Envelope.wrap(report, source="capacity")


async def publish(bootstrap: str, topic: str, envelope: Envelope) -> None:
    """As capacity's outbox relay publishes: keyed by subject, with the CloudEvents headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            envelope.to_bytes(),
            key=envelope.subject.encode(),
            headers=[(k, v.encode()) for k, v in event_headers(envelope).items()],
        )
    finally:
        await producer.stop()


def ids(records: list[Record]) -> list[uuid.UUID]:
    return [Envelope.from_bytes(r.value).id for r in records]


async def arrival(reader: TopicReader, envelope: Envelope, where: str) -> list[Record]:
    return await reader.until(lambda rs: envelope.id in ids(rs), timeout=60, what=f"{envelope.subject} on {where}")


@pytest.mark.timeout(240)
async def test_pool_events_cross_both_ways_under_the_same_topic_and_never_come_back(clusters: Clusters) -> None:
    gooi = places("gooi-en-vechtstreek", "12345678", free=0)
    eemland = places("eemland", "87654321", free=2)
    later = places("gooi-en-vechtstreek", "12345678", free=1)

    async with TopicReader(clusters.a, clusters.topic) as on_a, TopicReader(clusters.b, clusters.topic) as on_b:
        await publish(clusters.a, clusters.topic, gooi)
        [copy] = [r for r in await arrival(on_b, gooi, "cluster B") if r.value == gooi.to_bytes()]
        assert copy.key == gooi.subject.encode()
        # The copy keeps the envelope and the CloudEvents headers but for ce_id, its mark as a copy.
        assert copy.headers == {k: v for k, v in event_headers(gooi).items() if k != "ce_id"}

        # Written on B after the copy: once it reaches A, flow B->A has passed the copy of gooi's
        # event (one partition, read in order) and must have left it out.
        await publish(clusters.b, clusters.topic, eemland)
        await arrival(on_a, eemland, "cluster A")
        assert ids(on_a.records) == [gooi.id, eemland.id]

        # And the same the other way: the copy of eemland's event on A never goes back to B.
        await publish(clusters.a, clusters.topic, later)
        await arrival(on_b, later, "cluster B")
        assert ids(on_b.records) == [gooi.id, eemland.id, later.id]

    decoded = [Envelope.from_bytes(r.value).payload() for r in on_b.records]
    assert [(p.region, p.free) for p in decoded if isinstance(p, PoolCapacityReported)] == [
        ("gooi-en-vechtstreek", 0),
        ("eemland", 2),
        ("gooi-en-vechtstreek", 1),
    ]


def test_mirror_config_links_pool_topics_with_identity_names_and_filters_copies(tmp_path: Path) -> None:
    env = {**os.environ, "MIRROR_STATE_DIR": str(tmp_path), "MIRROR_A_ALIAS": "gv", "MIRROR_B_ALIAS": "em"}
    config = subprocess.run(
        [str(MIRROR), "config"], env=env, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL
    ).stdout
    props = dict(line.split("=", 1) for line in config.splitlines() if line and not line.startswith("#"))
    assert props["replication.policy.class"] == "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    assert props["gv->em.enabled"] == props["em->gv.enabled"] == "true"
    for flow in ("gv->em", "em->gv"):
        assert props[f"{flow}.predicates.isOriginal.name"] == "ce_id"
        assert props[f"{flow}.transforms.markCopy.headers"] == "ce_id"
    pattern = re.compile(props["topics"])
    assert pattern.fullmatch(pool_capacity(POOL))
    assert pattern.fullmatch(f"t1234.{pool_capacity(POOL)}")
    assert not pattern.fullmatch(f"{pool_capacity(POOL)}.dlq")
    assert not pattern.fullmatch("capacity.events.v1")
