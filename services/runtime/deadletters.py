"""Dead letters for operators: ``python -m services.runtime.deadletters list|show|replay``.

A dead letter is the original message, unchanged, on ``<topic>.dlq`` with why it failed in its
headers (services/runtime/deadletter.py). Once the cause is mended (a bug fixed, a missing
reference added), ``replay`` puts it back on its original topic with its original key; every
consumer of that topic sees it again, and those that had applied it already skip it (inbox).
Each replay is recorded, with who asked for it and why, in the ``dead_letter_replay`` table of the
key database, and ``list`` shows when a dead letter was replayed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import Field

from contracts import topics
from services.runtime.db import create_pool, migrate
from services.runtime.producer import HealingProducer, OutgoingRecord, PublishFailed
from services.runtime.settings import KafkaSettings, local_database

OPS_MIGRATIONS = Path(__file__).parent / "ops_migrations"
HANDLE = r"^[\w.-]{1,64}$"  # an operator's team handle, never an e-mail address

app = typer.Typer(help="Inspect and replay dead letters (messages moved to <topic>.dlq).", no_args_is_help=True)
T = TypeVar("T")


class OpsSettings(KafkaSettings):
    topic_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    auth_database_url: str = local_database("schakel_auth")
    auth_db_schema: str = "public"

    def dead_letter_topics(self) -> list[str]:
        prefix = f"{self.topic_namespace}." if self.topic_namespace else ""
        return [topics.dead_letter(prefix + name) for name in topics.ALL]


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the .dlq topic
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        """How an operator names this dead letter: ``<dlq topic>/<partition>/<offset>``."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic") or self.topic.removesuffix(topics.DLQ_SUFFIX)

    def envelope_field(self, name: str) -> str:
        try:
            return str(json.loads(self.value).get(name) or "")
        except (ValueError, AttributeError):
            return ""


async def read_dead_letters(settings: OpsSettings, topic_names: list[str]) -> list[DeadLetter]:
    """Every dead letter on ``topic_names``, from the start to the current end; no group, no commit."""
    partitions = await _partitions(settings, topic_names)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**settings.kafka_client(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batch.items():
                letters.extend(
                    DeadLetter(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.key,
                        m.value,
                        {k: v.decode(errors="replace") for k, v in (m.headers or ())},
                    )
                    for m in messages
                    if m.offset < ends[tp]
                )
        return sorted(letters, key=lambda d: (d.topic, d.partition, d.offset))
    finally:
        await consumer.stop()


async def _partitions(settings: OpsSettings, topic_names: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**settings.kafka_client())
    await admin.start()
    try:
        described = await admin.describe_topics(topic_names)
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in sorted(t["partitions"], key=lambda p: p["partition"])
    ]


async def replayed(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch("SELECT dead_letter, max(replayed_at) AS at FROM dead_letter_replay GROUP BY dead_letter")
    return {r["dead_letter"]: r["at"].isoformat(timespec="seconds") for r in rows}


async def replay(settings: OpsSettings, pool: asyncpg.Pool, letters: list[DeadLetter], *, by: str, reason: str) -> int:
    """Put ``letters`` back on their original topics in their order, each replay recorded."""
    producer = HealingProducer(settings, "schakel-deadletters-replay")
    try:
        for letter in letters:
            headers = {k: v for k, v in letter.headers.items() if not k.startswith("x-dlq-")}
            headers["x-replayed-from"] = letter.ref
            [outcome] = await producer.send([OutgoingRecord(letter.original_topic, letter.key, letter.value, headers)])
            if outcome is not None:
                raise PublishFailed(f"{letter.ref}: {outcome}")
            await pool.execute(
                """INSERT INTO dead_letter_replay (dead_letter, original_topic, event_id, replayed_by, reason)
                   VALUES ($1, $2, $3, $4, $5)""",
                letter.ref,
                letter.original_topic,
                letter.envelope_field("id") or None,
                by,
                reason,
            )
    finally:
        await producer.stop()
    return len(letters)


async def _with_audit(action: Callable[[OpsSettings, asyncpg.Pool], Awaitable[T]]) -> T:
    settings = OpsSettings()
    pool = await create_pool(settings.auth_database_url, settings.auth_db_schema, wait_seconds=10, max_size=1)
    try:
        await migrate(pool, "ops", OPS_MIGRATIONS)
        return await action(settings, pool)
    finally:
        await pool.close()


def _selected(settings: OpsSettings, topic: str | None) -> list[str]:
    names = settings.dead_letter_topics()
    if topic is None:
        return names
    wanted = topic if topic.endswith(topics.DLQ_SUFFIX) else topics.dead_letter(topic)
    if wanted not in names:
        raise typer.BadParameter(f"{topic!r} is not one of {', '.join(names)}", param_hint="--topic")
    return [wanted]


def _parse_ref(ref: str) -> tuple[str, int, int]:
    topic, _, rest = ref.rpartition("/")
    topic, _, partition = topic.rpartition("/")
    if not (topic and partition.isascii() and partition.isdigit() and rest.isascii() and rest.isdigit()):
        raise typer.BadParameter(f"{ref!r} is not <dlq topic>/<partition>/<offset>, as 'list' shows it")
    return topic, int(partition), int(rest)


TopicOption = Annotated[str | None, typer.Option(help="Only this topic (with or without .dlq).")]


@app.command("list")
def list_command(topic: TopicOption = None) -> None:
    """One line per dead letter: where it is, why it is there, and when it was replayed."""

    async def run(settings: OpsSettings, pool: asyncpg.Pool) -> None:
        letters = await read_dead_letters(settings, _selected(settings, topic))
        done = await replayed(pool)
        for d in letters:
            typer.echo(
                "\t".join(
                    [
                        d.ref,
                        d.headers.get("x-dlq-reason", "?"),
                        d.headers.get("x-dlq-consumer", "?"),
                        d.envelope_field("type") or "-",
                        d.envelope_field("id") or "-",
                        f"replayed {done[d.ref]}" if d.ref in done else "waiting",
                        d.headers.get("x-dlq-error", "")[:100].replace("\n", " "),
                    ]
                )
            )
        typer.echo(f"{len(letters)} dead letter(s), {sum(d.ref in done for d in letters)} replayed", err=True)

    asyncio.run(_with_audit(run))


@app.command()
def show(ref: Annotated[str, typer.Argument(help="<dlq topic>/<partition>/<offset>, as 'list' shows it.")]) -> None:
    """One dead letter whole: its headers and the message as it was sent."""
    topic, partition, offset = _parse_ref(ref)

    async def run(settings: OpsSettings, _pool: asyncpg.Pool) -> None:
        letters = await read_dead_letters(settings, [topic])
        found = [d for d in letters if (d.partition, d.offset) == (partition, offset)]
        if not found:
            raise typer.BadParameter(f"no dead letter at {ref}")
        letter = found[0]
        typer.echo(
            json.dumps(
                {
                    "ref": letter.ref,
                    "key": (letter.key or b"").decode(errors="replace"),
                    "headers": letter.headers,
                    "value": letter.value.decode(errors="replace"),
                },
                indent=2,
            )
        )

    asyncio.run(_with_audit(run))


@app.command("replay")
def replay_command(
    refs: Annotated[list[str] | None, typer.Argument(help="Dead letters to replay, as 'list' shows them.")] = None,
    all_waiting: Annotated[bool, typer.Option("--all-waiting", help="Every dead letter not replayed yet.")] = False,
    topic: TopicOption = None,
    by: Annotated[str, typer.Option(help="Your team handle, recorded with the replay.")] = "",
    reason: Annotated[str, typer.Option(help="Why it can be applied now (what was mended).")] = "",
) -> None:
    """Put dead letters back on their original topic, in order; recorded with who and why."""
    if not re.match(HANDLE, by):
        raise typer.BadParameter("say who replays: a team handle of letters, digits, '.' or '-'", param_hint="--by")
    if not reason.strip():
        raise typer.BadParameter("say why these can be applied now", param_hint="--reason")
    if bool(refs) == all_waiting:
        raise typer.BadParameter("name dead letters, or pass --all-waiting (not both)")
    wanted = {(t, p, o) for t, p, o in map(_parse_ref, refs or [])}

    async def run(settings: OpsSettings, pool: asyncpg.Pool) -> None:
        names = sorted({t for t, _, _ in wanted}) if wanted else _selected(settings, topic)
        letters = await read_dead_letters(settings, names)
        if wanted:
            letters = [d for d in letters if (d.topic, d.partition, d.offset) in wanted]
            missing = wanted - {(d.topic, d.partition, d.offset) for d in letters}
            if missing:
                refs = ", ".join(f"{t}/{p}/{o}" for t, p, o in sorted(missing))
                raise typer.BadParameter(f"no dead letter at {refs}")
        else:
            done = await replayed(pool)
            letters = [d for d in letters if d.ref not in done]
        count = await replay(settings, pool, letters, by=by, reason=reason.strip())
        typer.echo(f"replayed {count} dead letter(s)")

    asyncio.run(_with_audit(run))


if __name__ == "__main__":
    app()
