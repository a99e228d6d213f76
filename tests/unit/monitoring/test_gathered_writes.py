"""A poll's writes are gathered into one statement each, in an order with the effect of writing them
one by one: a statement never gets a row ahead of another statement's earlier write to its table."""

from __future__ import annotations

import pytest

from services.runtime.statements import StatementBatch, written_table

REFERRAL = "INSERT INTO referral_view (referral_id) VALUES ($1) ON CONFLICT DO NOTHING"
WITHDRAWAL = "UPDATE referral_view SET withdrawn_at = $2 WHERE referral_id = $1"
CARE = "INSERT INTO care_view (allocation_id) VALUES ($1)"


async def test_writes_to_different_tables_alternating_go_as_one_statement_each() -> None:
    batch = StatementBatch()
    for n in range(3):
        await batch.execute(REFERRAL, f"r{n}")
        await batch.execute(CARE, f"c{n}")
    assert batch.statements == [(REFERRAL, [("r0",), ("r1",), ("r2",)]), (CARE, [("c0",), ("c1",), ("c2",)])]


async def test_a_statement_used_again_after_another_wrote_its_table_keeps_its_place() -> None:
    batch = StatementBatch()
    # A withdrawal of an earlier referral, then a new referral that is withdrawn in the same poll:
    # gathering the second withdrawal with the first would run it before its referral exists.
    await batch.execute(WITHDRAWAL, "r0", "t")
    await batch.execute(REFERRAL, "r1")
    await batch.execute(WITHDRAWAL, "r1", "t")
    assert batch.statements == [(WITHDRAWAL, [("r0", "t")]), (REFERRAL, [("r1",)]), (WITHDRAWAL, [("r1", "t")])]


async def test_keeping_one_tables_order_does_not_split_the_statements_of_other_tables() -> None:
    batch = StatementBatch()
    for n in range(2):
        await batch.execute(CARE, f"c{n}")
        await batch.execute(REFERRAL, f"r{n}")
        await batch.execute(WITHDRAWAL, f"r{n}", "t")
    # The referral table's order needs three groups; the care rows still go as one statement.
    assert batch.statements == [
        (REFERRAL, [("r0",)]),
        (WITHDRAWAL, [("r0", "t")]),
        (CARE, [("c0",), ("c1",)]),
        (REFERRAL, [("r1",)]),
        (WITHDRAWAL, [("r1", "t")]),
    ]


async def test_executemany_rows_join_the_rows_of_the_same_statement() -> None:
    batch = StatementBatch()
    await batch.executemany(CARE, [("c0",), ("c1",)])
    await batch.execute(CARE, "c2")
    assert batch.statements == [(CARE, [("c0",), ("c1",), ("c2",)])]


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("INSERT INTO care_view (a) VALUES ($1)", "care_view"),
        ("  update Placement_View SET x = 1", "placement_view"),
        ('DELETE FROM "inbox" WHERE consumer = $1', "inbox"),
    ],
)
def test_the_table_of_a_write_is_read_from_its_statement(statement: str, table: str) -> None:
    assert written_table(statement) == table


async def test_a_read_cannot_be_gathered() -> None:
    with pytest.raises(ValueError, match="only INSERT, UPDATE and DELETE"):
        await StatementBatch().execute("SELECT pg_notify($1, '')", "channel")
