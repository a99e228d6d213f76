"""How far a consumer group is behind on one partition, from Kafka's offsets alone."""

from __future__ import annotations

from services.runtime.lag import partition_lag


def test_lag_is_the_end_offset_minus_the_committed_offset() -> None:
    assert partition_lag(7, 0, 10, from_beginning=True) == 3
    assert partition_lag(10, 0, 10, from_beginning=True) == 0


def test_a_group_that_never_committed_is_behind_by_all_it_will_read() -> None:
    # aiokafka reports "no committed offset" as -1 when asked for a partition by name.
    assert partition_lag(None, 2, 10, from_beginning=True) == 8
    assert partition_lag(-1, 2, 10, from_beginning=True) == 8
    assert partition_lag(None, 2, 10, from_beginning=False) == 0


def test_an_offset_before_the_first_message_still_there_counts_from_that_message() -> None:
    assert partition_lag(1, 5, 10, from_beginning=True) == 5


def test_lag_is_never_negative() -> None:
    assert partition_lag(12, 0, 10, from_beginning=True) == 0
