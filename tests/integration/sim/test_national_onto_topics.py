"""``python -m services.sim.national`` writes exactly the events it was asked for onto a namespaced topic set."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from contracts import topics
from contracts.envelope import decode
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader

COUNT = 5_000


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_small_national_year_lands_on_the_topics(
    infra: Infrastructure, isolation: Isolation, workers: int
) -> None:
    env = {**os.environ, "SCHAKEL_TOPIC_NAMESPACE": isolation.namespace}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.sim.national",
        "--events",
        str(COUNT),
        "--bootstrap",
        infra.kafka,
        "--every",
        "1000",
        "--workers",
        str(workers),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()[-2000:]
    assert f"total {COUNT:,}".replace(" ", "") in out.decode().replace(" ", ""), out.decode()
    assert "5,000 / 5,000 events" in err.decode(), err.decode()

    names = [isolation.topic(t) for t in topics.ALL]
    async with TopicReader(infra.kafka, *names) as reader:
        records = await reader.until(lambda rs: len(rs) >= COUNT, timeout=60, what=f"{COUNT} events")
    assert len(records) == COUNT
    assert {r.topic for r in records} == set(names)
    for record in records:
        envelope, payload = decode(record.value)
        assert payload is not None
        assert record.key == envelope.subject.encode()
        assert record.headers["ce_type"] == envelope.type
        assert record.headers["ce_id"] == str(envelope.id)

    # Nothing more than asked for: the topics end where the reader stopped.
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    assert len(partitions) >= len(names)
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    assert sum(ends.values()) == COUNT
