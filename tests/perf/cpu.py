"""CPU time per request, beside throughput: on a shared machine a server's CPU seconds per request
move far less between runs than its requests per second, so small changes show in them first.

Read from ``/proc`` (user + system time of the process, all its threads), the server found by the
port it listens on (``ss``), PostgreSQL as the sum over the processes of the ``postgres`` user on
this machine: every database and session of the cluster, as ``make perf`` runs with nothing else
on it. A backend that ends during a measurement takes its seconds with it. With no local PostgreSQL
(a remote or containerised one) its share is not known, not 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

_TICKS = os.sysconf("SC_CLK_TCK")


def used(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used; 0 once it is gone."""
    return used(pid) or 0.0


def _difference(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def listening_pid(address: str) -> int:
    """The process of this machine that listens at ``address``: a server's URL or a ``host:port``."""
    port = urlsplit(address if "//" in address else f"//{address}").port
    assert port is not None, f"{address} names no port"
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout
    found = re.search(r"pid=(\d+)", out)
    assert found, f"nothing listens on port {port}: {out!r}"
    return int(found.group(1))


def postgres_seconds() -> float | None:
    """CPU seconds of every PostgreSQL process now running (backends, WAL writer, checkpointer);
    None when this machine runs none."""
    pids = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    found = pids.stdout.split()
    return sum(seconds(int(pid)) for pid in found) if found else None


@dataclass
class Spent:
    """CPU seconds a server and PostgreSQL spent while a ``measured`` block ran."""

    server: float = 0.0
    postgres: float | None = None

    def per_request(self, requests: int) -> str:
        """``server + PostgreSQL`` ms per request, as the reports print it."""
        if requests == 0:
            return "no requests"
        postgres = "?" if self.postgres is None else f"{1000 * self.postgres / requests:.2f}"
        return f"{1000 * self.server / requests:.2f} + {postgres} ms"


@contextmanager
def measured(server: str) -> Iterator[Spent]:
    """CPU the process serving ``server`` (its URL) and PostgreSQL spend while the block runs."""
    pid = listening_pid(server)
    before, postgres = seconds(pid), postgres_seconds()
    spent = Spent()
    yield spent
    spent.server = seconds(pid) - before
    spent.postgres = _difference(postgres, postgres_seconds())


@dataclass
class Machine:
    """How busy every core of this machine was while a ``machine_measured`` block ran."""

    busy: float = 0.0  # 0..1 of all cores

    def __str__(self) -> str:
        return f"machine {self.busy:.0%} busy over {os.cpu_count()} cores"


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores together since boot, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal; guest and guest_nice are inside user and nice.
    # Steal counts as busy: the hypervisor gave that core's time to another machine, so no process
    # here could have had it.
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


@contextmanager
def machine_measured() -> Iterator[Machine]:
    """Whether a latency was measured on cores with room to spare or on saturated ones: past about
    90 % busy, every wake-up of every process on the path queues for a core."""
    busy, total = _cpu_ticks()
    machine = Machine()
    yield machine
    busy_after, total_after = _cpu_ticks()
    machine.busy = (busy_after - busy) / max(total_after - total, 1)


@contextmanager
def shares_measured(pids: dict[str, int]) -> Iterator[dict[str, float | None]]:
    """The share of one core each named process used while the block ran (1.0: a whole core),
    PostgreSQL's processes together as "postgres"; who took the cores a latency waited for. None
    when it is not known: a process that ended meanwhile, or no local PostgreSQL."""

    def now() -> dict[str, float | None]:
        return {name: used(pid) for name, pid in pids.items()} | {"postgres": postgres_seconds()}

    start, before = time.monotonic(), now()
    shares: dict[str, float | None] = {}
    yield shares
    elapsed, after = max(time.monotonic() - start, 1e-9), now()
    for name, spent in before.items():
        difference = _difference(spent, after[name])
        shares[name] = None if difference is None else round(difference / elapsed, 2)
