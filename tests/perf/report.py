"""The benchmarks' shared table: each test adds rows, tests/perf/conftest.py prints and writes it."""

from __future__ import annotations

from dataclasses import dataclass

from tests.perf.wrk import per_second


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


def wrk_row(what: str, floor: dict[str, int], schakel: dict[str, int], note: str = "") -> Row:
    """A row of req/s from two wrk reports (``wrk.stats``), the p50s in its note before ``note``."""
    p50 = f"p50 floor {floor['p50_us'] / 1000:.1f} ms, Schakel {schakel['p50_us'] / 1000:.1f} ms"
    return Row(
        what=what,
        unit="req/s",
        floor=per_second(floor),
        schakel=per_second(schakel),
        floor_p99_ms=floor["p99_us"] / 1000,
        schakel_p99_ms=schakel["p99_us"] / 1000,
        note=f"{p50}; {note}" if note else p50,
    )


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
