"""Services as real processes (``python -m services.<name>``), for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.infra import REPO

ARTIFACTS = REPO / "test-artifacts"
POLL_INTERVAL = 0.1


@contextmanager
def service_process(name: str, port: int, env: dict[str, str], log_name: str) -> Iterator[str]:
    """Start a service, wait until ``/readyz`` says PostgreSQL and Kafka answer, yield its URL; its
    log goes to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{log_name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A schema per service, as each has a database of its own in production; keys are shared.
            env={
                **os.environ,
                **env,
                "SCHAKEL_DB_SCHEMA": f"{env['SCHAKEL_DB_SCHEMA']}_{name}",
                "SCHAKEL_PORT": str(port),
            },
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen, url: str, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL_INTERVAL)
    raise AssertionError(f"{url} did not become ready:\n{log_path.read_text()[-3000:]}")


def create_key(role: str, subject: str, env: dict[str, str]) -> str:
    """A key made by the real CLI, as an operator would."""
    result = subprocess.run(
        [sys.executable, "-m", "services.runtime.keys", "create", "--role", role, "--subject", subject],
        cwd=REPO,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout.strip()


def bearer(role: str, subject: str, env: dict[str, str]) -> dict[str, str]:
    """The Authorization header of a new key made by the real CLI."""
    return {"Authorization": f"Bearer {create_key(role, subject, env)}"}
