"""Prints the benchmarks' table of ratios at the end of ``make perf`` and writes test-artifacts/perf.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime

import pytest

from tests.perf import report
from tests.support.infra import REPO


def _machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}; load average {load}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not report.ROWS:
        return
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    text = f"# make perf, {when}, commit {commit}\n\n{_machine()}\n\n{report.table()}\n"
    terminalreporter.write_sep("=", "benchmarks: Schakel against floors measured in this run")
    terminalreporter.write_line(text)
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "perf.md").write_text(text)
