"""Writes gathered from many events and sent together: one ``executemany`` per statement, or one
execution for all rows of an ``Unnested`` statement, not a round trip per row."""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from services.runtime.db import Connection

# The table a write changes: the projection's statements are plain INSERT, UPDATE and DELETE.
_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([\w.\"]+)", re.IGNORECASE)

# Where a write goes in its table's order: (round, the statement's place in that round).
Place = tuple[int, int]
_FIRST: Place = (0, -1)  # before everything


class Unnested(str):
    """A write whose parameters are one array per column (``SELECT * FROM unnest($1::uuid[], …)``):
    every row gathered for it goes in one execution, which PostgreSQL plans and runs once for all,
    where ``executemany`` runs it once per row. Written one row at a time, each value is an array of one.

    One execution must not meet a table row twice (an upsert cannot change a row twice in one
    statement), so every write of it names its ``row``. A ``str`` itself, it is hashed and compared
    as fast as the other statements, once per write.
    """


class Writes(Protocol):
    """Where a store writes: on its connection (``Immediate``) or into a ``StatementBatch``.

    ``row`` names the one row a write changes, by its table's key, when the write reads and changes
    only that row: a batch may then send it ahead of other rows' writes. Without it, a write keeps
    its place after every earlier write to its table.
    """

    async def write(self, statement: str, *args: Any, row: Hashable | None = None) -> None: ...


class Immediate:
    """Writes sent one by one as they come, on ``conn``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def write(self, statement: str, *args: Any, row: Hashable | None = None) -> None:
        if isinstance(statement, Unnested):
            # asyncpg takes only a str, not a subclass of it.
            await self.conn.execute(str(statement), *([value] for value in args))
        else:
            await self.conn.execute(statement, *args)


@functools.cache  # a store has a handful of statements, each gathered once per event
def written_table(statement: str) -> str:
    """The table ``statement`` writes; a read or anything else cannot be deferred to a batch."""
    found = _TABLE.match(statement)
    if found is None:
        raise ValueError(f"only INSERT, UPDATE and DELETE can be gathered, not: {statement[:60]!r}")
    return found.group(1).strip('"').lower()


class _Round:
    """One round of a table's writes: each statement once, with its rows, in the order they joined."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Sequence[Any]]] = {}
        self.places: dict[str, int] = {}

    def place(self, statement: str) -> int:
        """Where ``statement`` is in this round, or would join it."""
        return self.places.get(statement, len(self.places))

    def add(self, statement: str, args: Sequence[Any]) -> None:
        rows = self.rows.get(statement)
        if rows is None:
            self.places[statement] = len(self.places)
            self.rows[statement] = [args]
        else:
            rows.append(args)


class _TableWrites:
    """One table's gathered writes, in rounds: a round sends each of its statements once, with all
    its rows, in the order the statements joined the round.

    A write goes into the earliest round that sends it after the previous write of its row (or,
    without a row, after every write so far): a row's writes keep their order, and the rows of a
    replay whose events alternate between statements (a placement's request, proposal, decline and
    confirmation) still go as a few statements per poll, not one round trip per write.
    """

    def __init__(self) -> None:
        self.rounds: list[_Round] = []
        self.latest: dict[Hashable, Place] = {}
        self.fence: Place = _FIRST  # the last write without a row: every later write goes after it

    def add(self, statement: str, args: Sequence[Any], row: Hashable | None) -> None:
        if row is None:
            if isinstance(statement, Unnested):
                raise ValueError(f"a write of an Unnested statement names its row: {statement[:60]!r}")
            self.fence = place = self._place(statement, self._end())
        else:
            after = self.latest.get(row, _FIRST)
            self.latest[row] = place = self._place(statement, after if after > self.fence else self.fence)
        self.rounds[place[0]].add(statement, args)

    def _end(self) -> Place:
        if not self.rounds:
            return _FIRST
        return len(self.rounds) - 1, len(self.rounds[-1].places) - 1

    def _place(self, statement: str, after: Place) -> Place:
        """The first place of ``statement`` that is sent after ``after``, or is it (rows of one
        ``executemany`` run in order; an ``Unnested`` execution cannot take a row twice)."""
        number, index = after
        if number < len(self.rounds):
            place = self.rounds[number].place(statement)
            if place > index or (place == index and not isinstance(statement, Unnested)):
                return number, place
            number += 1
        if number == len(self.rounds):
            self.rounds.append(_Round())
        return number, self.rounds[number].place(statement)


class StatementBatch:
    """Stands in for a connection while the events of a batch are recorded; ``send`` writes them all.

    What is sent has the effect of writing one by one as long as every statement reads only the
    table it writes, and a write given a ``row`` reads and changes only that row. Writes to different
    tables commute, and so do one table's writes to different rows: each table's writes go in rounds
    (``_TableWrites``) that keep every row's writes, and every write without a row, in their order.
    """

    def __init__(self) -> None:
        self._tables: dict[str, _TableWrites] = {}

    async def write(self, statement: str, *args: Any, row: Hashable | None = None) -> None:
        table = written_table(statement)
        if table not in self._tables:
            self._tables[table] = _TableWrites()
        self._tables[table].add(statement, args, row)

    @property
    def statements(self) -> list[tuple[str, list[Sequence[Any]]]]:
        """What ``send`` would run, in order: each statement with its rows."""
        return [
            (statement, rows)
            for table in self._tables.values()
            for gathered in table.rounds
            for statement, rows in gathered.rows.items()
        ]

    async def send(self, conn: Connection) -> None:
        """Run everything gathered on ``conn`` (in its transaction) and start empty again."""
        statements = self.statements
        self._tables = {}
        for statement, rows in statements:
            if isinstance(statement, Unnested):
                columns = (list(column) for column in zip(*rows, strict=True))
                await conn.execute(str(statement), *columns)  # a plain str, as for Immediate
            elif len(rows) == 1:
                await conn.execute(statement, *rows[0])
            else:
                await conn.executemany(statement, rows)
