"""wrk, the benchmarks' load generator: its command line, a run to the end, and the JSON line the
Lua scripts here print when wrk is done (``done()``: requests, duration and errors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path


def command(script: Path, url: str, *, connections: int, seconds: float) -> list[str]:
    binary = shutil.which("wrk")
    assert binary, "wrk is missing: `make perf` installs it (apt-get install -y wrk)"
    return [binary, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]


def run(script: Path, url: str, env: Mapping[str, str], *, connections: int, seconds: float) -> dict[str, int]:
    """Load ``url`` for ``seconds``; what the script reported."""
    result = subprocess.run(
        command(script, url, connections=connections, seconds=seconds),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
        stdin=subprocess.DEVNULL,
    )
    return stats(result.stdout, result.stderr)


def per_second(stats: dict[str, int]) -> float:
    """Requests per second of a run, from the script's report."""
    return stats["requests"] / (stats["duration_us"] / 1e6)


def stats(stdout: str, stderr: str = "") -> dict[str, int]:
    """The script's report from wrk's output."""
    lines = [line for line in stdout.splitlines() if line.startswith("PERF ")]
    assert len(lines) == 1, f"wrk printed {len(lines)} reports: {stderr[-500:]}"
    report: dict[str, int] = json.loads(lines[0].removeprefix("PERF "))
    return report
