"""Services as real processes (``python -m services.<name>``), for end-to-end tests."""

from __future__ import annotations

import os
import signal
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
    log_path = ARTIFACTS / f"{log_name}.log"
    process = _start(name, port, env, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, log_path)
        yield url
    finally:
        _stop(process)


def _start(name: str, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    ARTIFACTS.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
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


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Replicas:
    """``count`` processes of one service sharing one port (SO_REUSEPORT), as ``demo.sh --replicas``
    runs them: the kernel spreads connections over the live ones. A test may kill one with SIGKILL."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_name: str, count: int) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self._port = port
        self._env = {**env, "SCHAKEL_REUSE_PORT": "true"}
        self.log_paths = [ARTIFACTS / f"{log_name}-{n}.log" for n in range(1, count + 1)]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Start every replica without waiting (start several services' replicas, then ``wait_ready``)."""
        self.processes = [_start(self.name, self._port, self._env, log) for log in self.log_paths]

    def wait_ready(self, timeout: float = 180) -> None:
        """Every replica started and reached Kafka (its own log says so: the shared port cannot tell
        them apart), and the port answers ``/readyz``."""
        deadline = time.monotonic() + timeout
        for process, log_path in zip(self.processes, self.log_paths, strict=True):
            while not all(marker in log_path.read_text() for marker in STARTED):
                if process.poll() is not None:
                    raise AssertionError(f"{log_path.name} exited with {process.returncode}:\n{_tail(log_path)}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{log_path.name} did not start:\n{_tail(log_path)}")
                time.sleep(POLL_INTERVAL)
        self._wait_port_ready(deadline)

    def _wait_port_ready(self, deadline: float) -> None:
        answer = "no answer"
        while time.monotonic() < deadline:
            for process, log_path in zip(self.processes, self.log_paths, strict=True):
                if process.poll() is not None:
                    raise AssertionError(f"{log_path.name} exited with {process.returncode}:\n{_tail(log_path)}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=3)
                if response.status_code == 200:
                    return
                answer = response.text
            except httpx.TransportError as exc:
                answer = type(exc).__name__
            time.sleep(POLL_INTERVAL)
        # The last answer says which of PostgreSQL, Kafka or publishing was not ready.
        raise AssertionError(f"{self.name} at {self.url} did not become ready: {answer}")

    def kill9(self, index: int) -> int:
        """SIGKILL replica ``index``: no shutdown of any kind runs. Returns its pid."""
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait()
        return process.pid

    def alive(self) -> int:
        return sum(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            _stop(process)


# What a replica logs once its lifespan ran (uvicorn listens right after) and once Kafka answered.
STARTED = ("Application startup complete.", " connected to Kafka at ")


@contextmanager
def replicas(name: str, port: int, env: dict[str, str], log_name: str, count: int = 2) -> Iterator[Replicas]:
    """``count`` replicas of a service on ``port``, started (not yet waited for); stopped at the end."""
    started = Replicas(name, port, env, log_name, count)
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _tail(log_path: Path) -> str:
    return log_path.read_text()[-3000:]


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
    raise AssertionError(f"{url} did not become ready:\n{_tail(log_path)}")


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
