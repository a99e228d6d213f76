"""Specification of topic namespacing and migration file rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.db import migration_files
from services.runtime.settings import ServiceSettings


def _settings(namespace: str) -> ServiceSettings:
    return ServiceSettings(service="capacity", port=1, database_url="postgresql://x", topic_namespace=namespace)


def test_without_a_namespace_topics_keep_their_contract_names() -> None:
    assert _settings("").topic("capacity.alerts.v1") == "capacity.alerts.v1"


def test_a_namespace_prefixes_topics_and_consumer_groups() -> None:
    settings = _settings("t1")
    assert settings.topic("capacity.alerts.v1") == "t1.capacity.alerts.v1"
    assert settings.group_id("alerts") == "t1.capacity.alerts"


def test_migrations_run_in_number_order(tmp_path: Path) -> None:
    for name in ("002_second.sql", "001_first.sql", "010_tenth.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [v for v, _ in migration_files(tmp_path)] == [1, 2, 10]


def test_a_badly_named_or_duplicate_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_first.sql").write_text("")
    with pytest.raises(ValueError, match="NNN_lowercase_name"):
        migration_files(tmp_path)
    (tmp_path / "1_first.sql").unlink()
    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "001_b.sql").write_text("")
    with pytest.raises(ValueError, match="share a number"):
        migration_files(tmp_path)


def test_every_shipped_migration_is_well_named() -> None:
    root = Path(__file__).resolve().parents[3] / "services"
    for directory in root.glob("*/*migrations"):
        assert migration_files(directory), f"{directory} has no migrations"
