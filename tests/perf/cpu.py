"""CPU time per request, beside throughput: on a shared machine a server's CPU seconds per request
move far less between runs than its requests per second, so small changes show in them first.

Read from ``/proc`` (user + system time of the process), the server found by the port it listens
on (``ss``), PostgreSQL as the sum over its processes.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def listening_pid(port: int) -> int:
    """The process that listens on ``port`` of this machine."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout
    found = re.search(r"pid=(\d+)", out)
    assert found, f"nothing listens on port {port}: {out!r}"
    return int(found.group(1))


def postgres_seconds() -> float:
    """CPU seconds of every PostgreSQL process now running (backends, WAL writer, checkpointer)."""
    pids = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return sum(seconds(int(pid)) for pid in pids.stdout.split())


@dataclass
class Spent:
    """CPU seconds a server and PostgreSQL spent while a ``measured`` block ran."""

    server: float = 0.0
    postgres: float = 0.0

    def per_request_ms(self, requests: int) -> tuple[float, float]:
        return 1000 * self.server / requests, 1000 * self.postgres / requests


@contextmanager
def measured(port: int) -> Iterator[Spent]:
    pid = listening_pid(port)
    server, postgres = seconds(pid), postgres_seconds()
    spent = Spent()
    yield spent
    spent.server, spent.postgres = seconds(pid) - server, postgres_seconds() - postgres
