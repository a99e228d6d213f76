"""The benchmarks' shared table: each test adds rows, tests/perf/conftest.py prints and writes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    what: str
    unit: str
    floor: float | None
    schakel: float
    floor_p99_ms: float | None = None
    schakel_p99_ms: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.schakel / self.floor if self.floor else None


ROWS: list[Row] = []


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table() -> str:
    lines = [
        "| what | floor | Schakel | ratio | floor p99 | Schakel p99 | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        ratio = "—" if row.ratio is None else f"{row.ratio:.1%}"
        lines.append(
            f"| {row.what} | {_num(row.floor)} {row.unit if row.floor else ''} | {_num(row.schakel, 1)} {row.unit} "
            f"| {ratio} | {_num(row.floor_p99_ms, 1)} ms | {_num(row.schakel_p99_ms, 1)} ms | {row.note} |".replace(
                "— ms", "—"
            )
        )
    return "\n".join(lines)
