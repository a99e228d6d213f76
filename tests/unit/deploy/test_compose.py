"""docker-compose.yml cannot be run here (no Docker engine), so what can be checked without one is:
the same Kafka as deploy/local, every mounted file present, every service a real module."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SCHAKEL = ("intake", "contracting", "capacity", "monitoring")


def test_compose_runs_the_same_kafka_version_as_deploy_local() -> None:
    local = re.search(r"^KAFKA_VERSION=(\S+)$", (REPO / "deploy/local/kafka.sh").read_text(), re.M)
    assert local is not None
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{local.group(1)}"


def test_every_file_compose_mounts_or_builds_from_exists() -> None:
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (REPO / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name


def test_each_schakel_service_runs_its_own_module_and_database() -> None:
    for name in SCHAKEL:
        env = COMPOSE["services"][name]["environment"]
        assert env["SCHAKEL_SERVICE_MODULE"] == name
        assert importlib.util.find_spec(f"services.{name}.__main__") is not None
        assert env["SCHAKEL_DATABASE_URL"].endswith(f"/schakel_{name}")
    init = (REPO / "deploy/docker/postgres-init.sql").read_text()
    assert all(f"CREATE DATABASE schakel_{name};" in init for name in (*SCHAKEL, "auth"))


def test_compose_deploy_local_and_the_code_agree_on_message_size_and_retention() -> None:
    from services.runtime.producer import MAX_MESSAGE_BYTES

    env = COMPOSE["services"]["kafka"]["environment"]
    local = (REPO / "deploy/local/kafka.sh").read_text()
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) == MAX_MESSAGE_BYTES
    assert f"message.max.bytes={MAX_MESSAGE_BYTES}" in local
    # Event topics must keep everything: rebuilds and new consumers replay from the start.
    assert int(env["KAFKA_LOG_RETENTION_MS"]) == -1
    assert "log.retention.ms=-1" in local
