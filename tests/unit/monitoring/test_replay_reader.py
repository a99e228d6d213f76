"""The rebuild's reader folds capacity reports as ``record_capacity`` would keep them, and hands on the rest."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from contracts.capacity import CapacityReported
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.monitoring.replay_reader import NewestRaw
from tests.support.infra import REPO
from tests.support.reports import capacity_report
from tests.unit.contracts.examples import EXAMPLES

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _wrapped(event: EventData) -> Envelope:
    return Envelope.wrap(event, source="capacity", time=NOW)


def test_the_newest_report_of_each_setting_is_kept_and_of_two_at_one_time_the_later() -> None:
    reports = NewestRaw()
    sent = [
        capacity_report("11111111", 1, NOW),
        capacity_report("11111111", 2, NOW + timedelta(minutes=5)),
        capacity_report("11111111", 3, NOW),  # older than the one before: arrived late
        capacity_report("22222222", 1, NOW),
        capacity_report("22222222", 0, NOW),  # the same time: the later one wins
        capacity_report("22222222", 4, NOW, setting=Setting.JEUGDZORGPLUS),
    ]

    folded = [reports.fold(envelope.to_bytes()) for envelope in sent]

    assert folded == [str(envelope.id) for envelope in sent]
    kept = sorted(
        (r.agb, r.setting, r.free)
        for r in (Envelope.from_bytes(raw).payload() for raw in reports.values())
        if isinstance(r, CapacityReported)
    )
    assert kept == [
        ("11111111", Setting.GEZINSHUIS, 2),
        ("22222222", Setting.GEZINSHUIS, 0),
        ("22222222", Setting.JEUGDZORGPLUS, 4),
    ]


def test_a_report_delivered_again_does_not_count_as_a_later_one_of_its_time() -> None:
    reports = NewestRaw()
    first, second = capacity_report("11111111", 1, NOW), capacity_report("11111111", 2, NOW)

    for envelope in (first, second, first):  # the outbox published ``first`` a second time
        reports.fold(envelope.to_bytes())

    assert reports.values() == [second.to_bytes()]


def test_everything_but_a_valid_capacity_report_is_handed_on() -> None:
    reports = NewestRaw()
    other = next(e for e in EXAMPLES if not isinstance(e, CapacityReported))
    invalid = capacity_report("11111111", 1, NOW).to_bytes().replace(b'"free":1', b'"free":"one"')
    assert b'"free":"one"' in invalid

    # The bytes name a capacity report; the envelope's own type is another.
    misnamed = b'{"data":{"type":"nl.schakel.capacity.CapacityReported"},' + _wrapped(other).to_bytes()[1:]
    assert misnamed.index(b"CapacityReported") < misnamed.index(other.event_type.encode())

    for raw in (_wrapped(other).to_bytes(), invalid, misnamed, b"not json", b""):
        assert reports.fold(raw) is None
    assert reports.values() == []


def test_a_reader_starts_without_the_web_and_broker_frameworks() -> None:
    """A rebuild waits for its readers to start; FastAPI and FastStream made that 1.6 s instead of 0.8 s."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, services.monitoring.replay_reader;"
            "print(' '.join(m for m in ('fastapi', 'faststream', 'starlette', 'uvicorn') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )
    assert loaded.stdout.split() == []
