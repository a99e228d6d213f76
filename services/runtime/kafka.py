"""The one Kafka broker factory, topic creation, and start-up that waits for Kafka."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from prometheus_client import CollectorRegistry
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from contracts import topics
from services.runtime.producer import MAX_MESSAGE_BYTES
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_broker(settings: ServiceSettings, registry: CollectorRegistry) -> KafkaBroker:
    """The FastStream broker a service consumes with (and documents its topics by). It publishes
    nothing: the outbox relay and the dead letters publish through ``producer.HealingProducer``,
    which can replace itself after a broker restart."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=settings.kafka_security(),
        client_id=f"schakel-{settings.service}",
        request_timeout_ms=10_000,
        # Telemetry outermost: its span (child of the message's traceparent) is current while the
        # handler runs, so the handler's queries and the events it emits join the message's trace.
        middlewares=[
            KafkaTelemetryMiddleware(),
            KafkaPrometheusMiddleware(registry=registry, app_name=settings.service),
        ],
        graceful_timeout=10.0,
        # Every subscriber's handler decodes the raw records itself (``consumer``, ``batch_consumer``).
        decoder=undecoded,
        # A plain logger, not FastStream's own (which prints past the root handler): its lines are JSON too.
        logger=logging.getLogger("faststream.kafka"),
    )


async def undecoded(_message: StreamMessage[Any]) -> None:
    """The broker's decoder: none. Every handler of ours decodes the raw record (``msg.raw_message``)
    itself, so what does not decode goes to the dead letters.

    FastStream's own decoder ran before every handler, whatever its signature. For a poll it parsed
    each record into a message again; it loaded a body's JSON when the content type said JSON or
    none was set (ours, ``application/cloudevents+json``, it leaves alone). A foreign record that
    said ``application/json`` (or ``text/plain``) and was not made it raise before the handler: that
    record, or the batched consumer's whole poll, was neither applied nor dead-lettered, and the next
    acknowledgement committed past it."""
    return None


# Dead letters wait this long for an operator (python -m services.runtime.deadletters) to look.
DEAD_LETTER_RETENTION_MS = 90 * 24 * 3600 * 1000


def topics_with_dead_letters(settings: ServiceSettings) -> list[str]:
    names = [settings.topic(name) for name in topics.ALL]
    return names + [topics.dead_letter(name) for name in names]


def topic_config(name: str) -> dict[str, str]:
    """Event topics keep everything (rebuilds replay them from the start); dead letters expire."""
    retention = DEAD_LETTER_RETENTION_MS if topics.is_dead_letter(name) else -1
    return {
        "retention.ms": str(retention),
        "retention.bytes": "-1",
        "max.message.bytes": str(MAX_MESSAGE_BYTES),
    }


async def ensure_topics(settings: ServiceSettings, names: list[str]) -> None:
    """Create missing topics up front with their configuration, and bring existing ones in line;
    consumers must not depend on auto-creation races, nor history on a broker default."""
    admin = AIOKafkaAdminClient(**settings.kafka_client())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=settings.kafka_partitions,
                        replication_factor=1,
                        topic_configs=topic_config(n),
                    )
                    for n in missing
                ]
            )
            # aiokafka answers per topic instead of raising. "Already exists": another service made
            # it first, or the topic list lagged behind the cluster — it has whatever configuration
            # its creator gave, so it is brought in line below like any existing topic.
            for topic, code, message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    existing.add(topic)
                elif code:
                    raise for_code(code)(f"cannot create topic {topic}: {message}")
        present = [n for n in names if n in existing]
        if present:
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n, configs=topic_config(n)) for n in present]
            )
    finally:
        await admin.close()


async def start_when_available(broker: KafkaBroker, settings: ServiceSettings) -> None:
    """Start ``broker`` (and its subscribers) once Kafka answers; FastStream itself gives up at once."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=lambda state: log.warning(
            "Kafka at %s not available yet: %s",
            settings.kafka_bootstrap_servers,
            state.outcome.exception() if state.outcome else None,
        ),
    ):
        with attempt:
            await ensure_topics(settings, topics_with_dead_letters(settings))
            await broker.start()
