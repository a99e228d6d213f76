"""docker-compose.yml and deploy/Dockerfile cannot be run here (no Docker engine), so what can be checked
without one is: the same Kafka as deploy/local, every mounted file present, every service a real module,
healthchecks and start order, no secret in compose, and an image that is multi-stage and not root."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

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


# --- healthchecks, secrets and the image ------------------------------------------------------


def _depends_on(service: dict) -> dict:
    depends = service.get("depends_on", {})
    return {name: {} for name in depends} if isinstance(depends, list) else depends


def test_every_service_has_a_healthcheck_and_schakel_services_probe_their_own_readyz() -> None:
    ports = {"intake": 8001, "contracting": 8002, "capacity": 8003, "monitoring": 8004}
    for name, service in COMPOSE["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, port in ports.items():
        probe = COMPOSE["services"][name]["healthcheck"]["test"]
        assert probe[-1] == f"http://127.0.0.1:{port}/readyz", name
        assert f"{port}:{port}" in COMPOSE["services"][name]["ports"], name


def test_a_service_starts_only_once_what_it_depends_on_is_healthy() -> None:
    for name, service in COMPOSE["services"].items():
        for dependency, condition in _depends_on(service).items():
            assert condition.get("condition") == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in COMPOSE["services"][dependency], dependency
    for name in SCHAKEL:
        assert set(_depends_on(COMPOSE["services"][name])) == {"kafka", "postgres"}, name


SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN", re.I)


def test_compose_holds_no_secret_only_env_files_the_secrets_script_writes(tmp_path: Path) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a URL with a password in it"
    for name, service in COMPOSE["services"].items():
        env = service.get("environment", {})
        assert not [k for k in env if SECRET_NAME.search(k)], f"{name} sets a secret inline"
        assert str(env.get("SCHAKEL_DEV_MODE", "false")).lower() != "true", f"{name} runs on public dev secrets"
    env_files = {f for s in COMPOSE["services"].values() for f in s.get("env_file", [])}
    assert env_files and all(f.startswith("var/docker/") for f in env_files)
    assert (REPO / ".gitignore").read_text().count("/var/") == 1

    # The script compose points to makes exactly those files, with what each service reads.
    script = REPO / "deploy/docker/secrets.sh"
    env = {**os.environ, "SCHAKEL_DOCKER_SECRETS": str(tmp_path)}
    subprocess.run([str(script)], env=env, check=True, capture_output=True)
    made = {
        f"var/docker/{p.name}": dict(line.split("=", 1) for line in p.read_text().splitlines())
        for p in tmp_path.iterdir()
    }
    assert set(made) == env_files
    postgres = made["var/docker/postgres.env"]
    assert postgres["POSTGRES_PASSWORD"] == postgres["PGPASSWORD"] and len(postgres["PGPASSWORD"]) == 64
    intake = made["var/docker/intake-secrets.env"]
    Fernet(intake["SCHAKEL_ENCRYPTION_KEY"].encode())  # raises if intake could not use it
    assert len(intake["SCHAKEL_CLIENT_REF_SECRET"]) >= 32
    assert all(p.stat().st_mode & 0o077 == 0 for p in tmp_path.iterdir()), "secrets readable by others"
    # Run again, nothing changes: a new password would not open the database made with the old one.
    subprocess.run([str(script)], env=env, check=True, capture_output=True)
    assert made["var/docker/postgres.env"] == dict(
        line.split("=", 1) for line in (tmp_path / "postgres.env").read_text().splitlines()
    )


DOCKERFILE = (REPO / "deploy/Dockerfile").read_text()


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_the_image_is_built_in_two_stages_and_runs_as_a_fixed_non_root_user() -> None:
    builder, runtime = _stages()
    assert "uv sync --frozen --no-dev" in builder
    assert re.search(r"^USER (\d+)(:\d+)?$", runtime, re.M), "the runtime stage names a numeric user"
    users = re.findall(r"^USER (\d+)", runtime, re.M)
    assert users and int(users[-1]) != 0
    # Only the venv and the code cross over; no uv, pip installs or compilers in the final image.
    copies = re.findall(r"^COPY --from=builder (\S+)", runtime, re.M)
    assert copies == ["/app/.venv", "/app/contracts", "/app/services"]
    assert not re.search(r"\buv\b|pip install|apt-get|gcc|build-essential", runtime.split("CMD")[0])


def test_the_base_image_is_an_exact_tag_and_a_digest_or_none_never_a_made_up_one() -> None:
    tag = re.search(r"^ARG PYTHON_TAG=(\S+)$", DOCKERFILE, re.M)
    digest = re.search(r"^ARG PYTHON_DIGEST=(\S*)$", DOCKERFILE, re.M)
    assert tag and re.fullmatch(r"3\.11\.\d+-slim-\w+", tag.group(1))
    # Empty until deploy/pin-base-image.sh has resolved it where a registry answers.
    assert digest and re.fullmatch(r"(@sha256:[0-9a-f]{64})?", digest.group(1))
    assert all(stage.startswith("python:${PYTHON_TAG}${PYTHON_DIGEST} AS ") for stage in _stages())
    assert os.access(REPO / "deploy/pin-base-image.sh", os.X_OK)


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "test-artifacts", "**/node_modules", "**/__pycache__"} <= ignored
    # What the Dockerfile copies must not be ignored.
    assert not {"services", "contracts", "pyproject.toml", "uv.lock", "README.md"} & ignored
