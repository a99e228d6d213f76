"""Dead-letter publishing: a message that cannot be applied moves to ``<topic>.dlq`` unchanged,
with the reason in its headers, so its partition moves on and nothing is lost."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Counter

from contracts.topics import dead_letter


class DeadLetters:
    def __init__(self, broker: KafkaBroker, registry: CollectorRegistry) -> None:
        self._broker = broker
        self.count = Counter(
            "schakel_dead_letters",
            "Messages moved to a dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=registry,
        )

    async def send(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes,
        reason: str,
        error: str,
        attempts: int,
        consumer: str,
    ) -> None:
        await self._broker.publish(
            value,
            dead_letter(topic),
            key=key,
            headers={
                "x-dlq-reason": reason,
                # Header values stay short; the message itself is never altered.
                "x-dlq-error": error[:2000],
                "x-dlq-consumer": consumer,
                "x-dlq-attempts": str(attempts),
                "x-original-topic": topic,
                "x-original-partition": str(partition),
                "x-original-offset": str(offset),
            },
        )
        self.count.labels(topic=topic, reason=reason).inc()
