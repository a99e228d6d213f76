"""Writes gathered from many events and sent together: one ``executemany`` per statement, not a round trip per row."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from services.runtime.db import Connection

# The table a write changes: the projection's statements are plain INSERT, UPDATE and DELETE.
_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([\w.\"]+)", re.IGNORECASE)


class Executor(Protocol):
    """What a store writes through: a connection, or a ``StatementBatch`` that gathers for one."""

    async def execute(self, query: str, *args: Any) -> Any: ...
    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> Any: ...


@functools.cache  # a store has a handful of statements, each gathered once per event
def written_table(statement: str) -> str:
    """The table ``statement`` writes; a read or anything else cannot be deferred to a batch."""
    found = _TABLE.match(statement)
    if found is None:
        raise ValueError(f"only INSERT, UPDATE and DELETE can be gathered, not: {statement[:60]!r}")
    return found.group(1).strip('"').lower()


class StatementBatch:
    """Stands in for a connection while the events of a batch are recorded; ``send`` writes them all.

    Statements are sent in the order of their first use, each with all its rows in the order they
    came. That is the effect of writing them one by one as long as every statement reads only the
    table it writes and no statement gets a row after another statement wrote its table since:
    then what is gathered is sent first (``pending`` holds it until then). Writes to different
    tables commute, so a batch that alternates between tables still goes as one statement per table.
    """

    def __init__(self) -> None:
        self._rows: dict[str, list[Sequence[Any]]] = {}
        self._last_on_table: dict[str, str] = {}
        self._ready: list[tuple[str, list[Sequence[Any]]]] = []

    async def execute(self, query: str, *args: Any) -> None:
        self._add(query, [args])

    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> None:
        self._add(command, list(args))

    def _add(self, statement: str, rows: list[Sequence[Any]]) -> None:
        table = written_table(statement)
        last = self._last_on_table.get(table)
        if statement in self._rows and last not in (None, statement):
            # Another statement wrote this table after this one's rows: keep them in their order.
            self._seal(table)
        self._rows.setdefault(statement, []).extend(rows)
        self._last_on_table[table] = statement

    def _seal(self, table: str) -> None:
        """Queue what is gathered for ``table``; other tables' statements keep gathering, since
        writes to different tables commute (sealing them too cost a replay 60,000 round trips)."""
        for statement in [s for s in self._rows if written_table(s) == table]:
            self._ready.append((statement, self._rows.pop(statement)))
        del self._last_on_table[table]

    @property
    def statements(self) -> list[tuple[str, list[Sequence[Any]]]]:
        """What ``send`` would run, in order: each statement with its rows."""
        return [*self._ready, *self._rows.items()]

    async def send(self, conn: Connection) -> None:
        """Run everything gathered on ``conn`` (in its transaction) and start empty again."""
        statements = self.statements
        self._ready, self._rows, self._last_on_table = [], {}, {}
        for statement, rows in statements:
            if len(rows) == 1:
                await conn.execute(statement, *rows[0])
            elif rows:
                await conn.executemany(statement, rows)
