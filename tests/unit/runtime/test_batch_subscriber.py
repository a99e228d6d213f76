"""A batched consumer polls again straight after an empty poll: FastStream's own batch subscriber
sleeps as long as the poll waited, and a record arriving then waits out the sleep (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber import usecase

from services.runtime.batch_consumer import POLL_WAIT_MS, WakingBatchSubscriber, waking


class FakeConsumer:
    """Answers ``getmany`` with what it was given, and remembers how it was asked."""

    def __init__(self, polled: dict[str, list[str]]) -> None:
        self.polled = polled
        self.asked: list[dict[str, Any]] = []

    async def getmany(self, **kwargs: Any) -> dict[str, list[str]]:
        self.asked.append(kwargs)
        return self.polled


def batch_subscriber(broker: KafkaBroker) -> Any:
    return broker.subscriber("t", group_id="g", batch=True, max_records=7, batch_timeout_ms=POLL_WAIT_MS)


async def test_an_empty_poll_returns_at_once_without_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(_seconds: float) -> None:
        raise AssertionError("the subscriber slept after an empty poll")

    monkeypatch.setattr(usecase.anyio, "sleep", no_sleep)
    subscriber = waking(batch_subscriber(KafkaBroker()))
    consumer = FakeConsumer({})

    assert await subscriber.get_msg(consumer) == ()
    assert consumer.asked == [{"timeout_ms": POLL_WAIT_MS, "max_records": 7}]


async def test_a_poll_hands_over_every_partition_s_records_in_their_order() -> None:
    subscriber = waking(batch_subscriber(KafkaBroker()))

    polled = await subscriber.get_msg(FakeConsumer({"p0": ["a", "b"], "p1": ["c"]}))

    assert polled == ("a", "b", "c")


def test_the_subscriber_keeps_its_registration_and_takes_a_handler() -> None:
    broker = KafkaBroker()
    subscriber = waking(batch_subscriber(broker))

    async def handle(_msg: Any) -> None: ...

    subscriber(handle)
    assert type(subscriber) is WakingBatchSubscriber
    assert list(broker.subscribers) == [subscriber]
    assert len(subscriber.calls) == 1


def test_another_subscriber_class_is_refused_so_an_upgrade_cannot_slip_by() -> None:
    plain = KafkaBroker().subscriber("t", group_id="g")
    with pytest.raises(TypeError, match="BatchSubscriber"):
        waking(plain)
