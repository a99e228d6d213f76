"""Dead-letter publishing: a message that cannot be applied moves to ``<topic>.dlq`` unchanged,
with the reason in its headers, so its partition moves on and nothing is lost."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from contracts.topics import dead_letter
from services.runtime.producer import HealingProducer, OutgoingRecord, PublishFailed


class DeadLetters:
    def __init__(self, producer: HealingProducer, registry: CollectorRegistry) -> None:
        self._producer = producer
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
        record = OutgoingRecord(
            topic=dead_letter(topic),
            key=key,
            value=value,
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
        [outcome] = await self._producer.send([record])
        if outcome is not None:
            raise PublishFailed(f"dead letter refused: {outcome}")
        self.count.labels(topic=topic, reason=reason).inc()
