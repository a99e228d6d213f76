"""Reading and writing raw messages on the test's topics with a plain aiokafka client."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.runtime.settings import KafkaSettings


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    offset: int


class TopicReader:
    """Reads topics from the beginning; ``until`` collects records until a predicate holds.

    ``kafka`` is a bootstrap address, or settings with credentials for a broker regions share; there
    a reader's group must be in a namespace the principal may use (``group_prefix``)."""

    def __init__(self, kafka: str | KafkaSettings, *topics: str, group_prefix: str = "") -> None:
        connection = {"bootstrap_servers": kafka} if isinstance(kafka, str) else kafka.kafka_client()
        self._consumer = AIOKafkaConsumer(
            *topics,
            **connection,
            group_id=f"{group_prefix}test-reader-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=500,
        )
        self.records: list[Record] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(self, predicate, *, timeout: float = 30.0, what: str = "records") -> list[Record]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate(self.records):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; have {len(self.records)} records: "
                    f"{[r.value[:120] for r in self.records]}"
                )
            batch = await self._consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for messages in batch.values():
                for m in messages:
                    self.records.append(
                        Record(m.topic, m.key, m.value, {k: v.decode() for k, v in (m.headers or ())}, m.offset)
                    )
        return self.records


async def produce(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = ()
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()
