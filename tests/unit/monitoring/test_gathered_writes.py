"""A poll's writes are gathered into few statements, in an order with the effect of writing them one
by one: a row's writes keep their order, and a write that names no row keeps its place in its table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.statements import Immediate, StatementBatch, Unnested, written_table

REFERRAL = "INSERT INTO referral_view (referral_id) VALUES ($1) ON CONFLICT DO NOTHING"
WITHDRAWAL = "UPDATE referral_view SET withdrawn_at = $2 WHERE referral_id = $1"
CARE = "INSERT INTO care_view (allocation_id) VALUES ($1)"
REQUEST = "INSERT INTO placement_view (placement_id) VALUES ($1) ON CONFLICT DO NOTHING"
PROPOSAL = "INSERT INTO placement_view (placement_id, proposals) VALUES ($1, 1) ON CONFLICT DO UPDATE"
DECLINE = "INSERT INTO placement_view (placement_id, declines) VALUES ($1, 1) ON CONFLICT DO UPDATE"
RELEASE = "UPDATE placement_view SET reserved_agb = NULL WHERE referral_id = $1"
CONFIRMATION = Unnested(
    "INSERT INTO placement_view (placement_id, confirmed) SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT DO UPDATE"
)


class Connection:
    """Notes what it is asked to run."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def execute(self, statement: str, *args: Any) -> None:
        self.sent.append((statement, args))

    async def executemany(self, statement: str, rows: Sequence[Any]) -> None:
        self.sent.append((statement, list(rows)))


async def test_writes_to_different_tables_alternating_go_as_one_statement_each() -> None:
    batch = StatementBatch()
    for n in range(3):
        await batch.write(REFERRAL, f"r{n}")
        await batch.write(CARE, f"c{n}")
    assert batch.statements == [(REFERRAL, [("r0",), ("r1",), ("r2",)]), (CARE, [("c0",), ("c1",), ("c2",)])]


async def test_writes_of_different_rows_alternating_between_statements_go_as_one_statement_each() -> None:
    batch = StatementBatch()
    for n in range(3):
        await batch.write(REFERRAL, f"r{n}", row=f"r{n}")
        await batch.write(WITHDRAWAL, f"r{n}", "t", row=f"r{n}")
    assert batch.statements == [
        (REFERRAL, [("r0",), ("r1",), ("r2",)]),
        (WITHDRAWAL, [("r0", "t"), ("r1", "t"), ("r2", "t")]),
    ]


async def test_a_rows_writes_keep_their_order_in_rounds() -> None:
    batch = StatementBatch()
    # A placement proposed, declined and proposed again: its second proposal goes after the decline.
    for write in (REQUEST, PROPOSAL, DECLINE, PROPOSAL):
        await batch.write(write, "p0", row="p0")
    await batch.write(REQUEST, "p1", row="p1")
    await batch.write(PROPOSAL, "p1", row="p1")
    assert batch.statements == [
        (REQUEST, [("p0",), ("p1",)]),
        (PROPOSAL, [("p0",), ("p1",)]),
        (DECLINE, [("p0",)]),
        (PROPOSAL, [("p0",)]),
    ]


async def test_a_write_without_a_row_stays_between_the_writes_before_and_after_it() -> None:
    batch = StatementBatch()
    await batch.write(PROPOSAL, "p0", row="p0")
    await batch.write(RELEASE, "r0")  # may change p0 and p1: p1's proposal after it must stay after it
    await batch.write(PROPOSAL, "p1", row="p1")
    assert batch.statements == [(PROPOSAL, [("p0",)]), (RELEASE, [("r0",)]), (PROPOSAL, [("p1",)])]


async def test_a_statement_used_again_after_another_wrote_its_table_keeps_its_place() -> None:
    batch = StatementBatch()
    # A withdrawal of an earlier referral, then a new referral that is withdrawn in the same poll:
    # without rows named, gathering the second withdrawal with the first would run it before its referral exists.
    await batch.write(WITHDRAWAL, "r0", "t")
    await batch.write(REFERRAL, "r1")
    await batch.write(WITHDRAWAL, "r1", "t")
    assert batch.statements == [(WITHDRAWAL, [("r0", "t")]), (REFERRAL, [("r1",)]), (WITHDRAWAL, [("r1", "t")])]


async def test_keeping_one_tables_order_does_not_split_the_statements_of_other_tables() -> None:
    batch = StatementBatch()
    for n in range(2):
        await batch.write(CARE, f"c{n}")
        await batch.write(REFERRAL, f"r{n}")
        await batch.write(WITHDRAWAL, f"r{n}", "t")
    # The referral table's order needs four statements; the care rows still go as one.
    assert batch.statements == [
        (CARE, [("c0",), ("c1",)]),
        (REFERRAL, [("r0",)]),
        (WITHDRAWAL, [("r0", "t")]),
        (REFERRAL, [("r1",)]),
        (WITHDRAWAL, [("r1", "t")]),
    ]


async def test_an_unnested_statement_goes_once_with_an_array_per_parameter() -> None:
    batch = StatementBatch()
    for n in range(3):
        await batch.write(CONFIRMATION, f"p{n}", n, row=f"p{n}")
    await batch.write(CARE, "c0")
    await batch.write(CARE, "c1")
    conn = Connection()
    await batch.send(conn)  # type: ignore[arg-type]
    assert conn.sent == [(CONFIRMATION, (["p0", "p1", "p2"], [0, 1, 2])), (CARE, [("c0",), ("c1",)])]
    assert type(conn.sent[0][0]) is str  # asyncpg refuses a subclass
    assert batch.statements == []


async def test_an_unnested_statement_takes_a_row_once_per_execution() -> None:
    batch = StatementBatch()
    # An upsert cannot change a row twice in one statement: the second confirmation goes in a round after.
    for n in range(2):
        await batch.write(CONFIRMATION, "p0", n, row="p0")
    await batch.write(CONFIRMATION, "p1", 0, row="p1")
    assert batch.statements == [(CONFIRMATION, [("p0", 0), ("p1", 0)]), (CONFIRMATION, [("p0", 1)])]


async def test_an_unnested_write_names_its_row() -> None:
    with pytest.raises(ValueError, match="names its row"):
        await StatementBatch().write(CONFIRMATION, "p0", 0)


# A write in the model below: its statement, the row it names (None: any row), and a tag to trace it.
Write = tuple[str, str | None, int]
_WRITES = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([REQUEST, PROPOSAL, DECLINE, RELEASE]), st.sampled_from(["p0", "p1", "p2", None])),
        st.tuples(st.just(CONFIRMATION), st.sampled_from(["p0", "p1", "p2"])),
    ),
    max_size=30,
).map(lambda drawn: [(statement, row, tag) for tag, (statement, row) in enumerate(drawn)])


def _histories(writes: Sequence[Write]) -> dict[str, list[int]]:
    """What each row saw, in order: a write with a row changes it alone, one without changes every row so far."""
    rows: dict[str, list[int]] = {}
    for _, row, tag in writes:
        for seen in [rows.setdefault(row, [])] if row else rows.values():
            seen.append(tag)
    return rows


@given(_WRITES)
async def test_what_is_sent_has_the_effect_of_writing_one_by_one(writes: list[Write]) -> None:
    batch = StatementBatch()
    for statement, row, tag in writes:
        await batch.write(statement, row, tag, row=row)
    sent: list[Write] = [(statement, row, tag) for statement, rows in batch.statements for row, tag in rows]
    assert sorted(sent, key=lambda write: write[2]) == writes
    assert _histories(sent) == _histories(writes)
    for statement, rows in batch.statements:
        if isinstance(statement, Unnested):
            assert len({row for row, _ in rows}) == len(rows)


async def test_immediate_writes_go_to_the_connection_as_they_come() -> None:
    conn = Connection()
    writes = Immediate(conn)  # type: ignore[arg-type]
    await writes.write(REFERRAL, "r0", row="r0")
    await writes.write(CONFIRMATION, "p0", 1, row="p0")
    assert conn.sent == [(REFERRAL, ("r0",)), (CONFIRMATION, (["p0"], [1]))]
    assert type(conn.sent[1][0]) is str


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("INSERT INTO care_view (a) VALUES ($1)", "care_view"),
        (CONFIRMATION, "placement_view"),
        ("  update Placement_View SET x = 1", "placement_view"),
        ('DELETE FROM "inbox" WHERE consumer = $1', "inbox"),
    ],
)
def test_the_table_of_a_write_is_read_from_its_statement(statement: str, table: str) -> None:
    assert written_table(statement) == table


async def test_a_read_cannot_be_gathered() -> None:
    with pytest.raises(ValueError, match="only INSERT, UPDATE and DELETE"):
        await StatementBatch().write("SELECT pg_notify($1, '')", "channel")
