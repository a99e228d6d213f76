"""Topics are created with their configuration, read back from the broker: event topics keep
everything (rebuilds replay them from the start), dead letters expire, one message size limit."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts import topics
from services.runtime.kafka import DEAD_LETTER_RETENTION_MS, ensure_topics, topics_with_dead_letters
from services.runtime.producer import MAX_MESSAGE_BYTES
from tests.integration.runtime.test_outbox_and_consumer import ProbeSettings
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually

CHECKED = ("retention.ms", "retention.bytes", "max.message.bytes")


async def _configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    return {
        resource[3]: {entry[0]: entry[1] for entry in resource[4] if entry[0] in CHECKED}
        for response in responses
        for resource in response.resources
    }


async def test_event_topics_keep_everything_and_dead_letter_topics_expire(
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    names = topics_with_dead_letters(settings)
    await ensure_topics(settings, names)
    configs = await _configs(infra.kafka, names)
    for name in names:
        retention = str(DEAD_LETTER_RETENTION_MS) if topics.is_dead_letter(name) else "-1"
        assert configs[name] == {
            "retention.ms": retention,
            "retention.bytes": "-1",
            "max.message.bytes": str(MAX_MESSAGE_BYTES),
        }, name


async def test_a_topic_created_with_the_brokers_defaults_is_brought_in_line_at_start(
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    settings = isolation.settings(ProbeSettings, infra)
    name = settings.topic(topics.INTAKE_EVENTS)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": "604800000"})])
    finally:
        await admin.close()
    await ensure_topics(settings, [name])

    # KRaft applies a config change through its metadata log: a describe right after may still
    # answer the old value.
    async def retention() -> str | None:
        value = (await _configs(infra.kafka, [name]))[name]["retention.ms"]
        return value if value == "-1" else None

    assert await eventually(retention, timeout=10, what="retention.ms brought in line") == "-1"
