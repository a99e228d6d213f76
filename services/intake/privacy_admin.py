"""Operator commands for intake's personal data: ``python -m services.intake.privacy_admin --help``.

They read the same ``SCHAKEL_*`` settings as the service (database, keys, retention), so run them
with the service's environment.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from pydantic import ValidationError

from services.intake.commands import PersonalDataWorkMaker, personal_data
from services.intake.personal_data_store import PersonalDataStore
from services.intake.privacy import Vault
from services.intake.settings import IntakeSettings
from services.runtime.auth import check_subject
from services.runtime.clock import Clock
from services.runtime.db import create_pool, migrate
from services.runtime.roles import Role
from services.runtime.unit_of_work import in_postgres

MIGRATIONS = Path(__file__).parent / "migrations"

app = typer.Typer(
    help="Intake's personal data: re-seal it under the newest encryption key, erase it, show the erasure audit.",
    no_args_is_help=True,
)


def _settings() -> IntakeSettings:
    try:
        return IntakeSettings()
    except ValidationError as exc:
        # Only the messages: pydantic's own text would repeat the rejected values, secrets included.
        sys.exit("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors(include_input=False)))


T = TypeVar("T")


def _run(action: Callable[[PersonalDataWorkMaker, IntakeSettings], Awaitable[T]]) -> T:
    """Run ``action`` with units of work on the service's database, as the running service would."""
    settings = _settings()

    async def run() -> T:
        pool = await create_pool(settings.database_url, settings.db_schema, wait_seconds=10, max_size=2)
        try:
            await migrate(pool, settings.service, MIGRATIONS)
            return await action(_work(pool, settings), settings)
        finally:
            await pool.close()

    return asyncio.run(run())


def _work(pool: asyncpg.Pool, settings: IntakeSettings) -> PersonalDataWorkMaker:
    """Units of work as the running service makes them; their events wait in its outbox."""
    clock = Clock()
    return lambda: in_postgres(pool, PersonalDataStore, settings, clock.now())


def _actor(by: str) -> str:
    try:
        check_subject(Role.OPERATOR, by)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--by") from exc
    return f"{Role.OPERATOR.value}:{by}"


@app.command()
def rotate(batch_size: Annotated[int, typer.Option(min=1, help="Records per batch.")] = 500) -> None:
    """Re-seal every stored record with the newest SCHAKEL_ENCRYPTION_KEY. Safe to repeat and to run
    beside the service; run it after the service runs with the new key first."""

    async def action(work: PersonalDataWorkMaker, settings: IntakeSettings) -> personal_data.SealCensus:
        return await personal_data.reseal(work, Vault(settings.fernet_keys()), batch_size)

    census = _run(action)
    typer.echo(
        f"re-sealed {census.resealed} record(s) with the newest key; {census.newest} already were; "
        f"{census.changed_meanwhile} changed meanwhile (rewritten by the service)"
    )
    if census.unreadable:
        typer.echo(
            f"{census.unreadable} record(s) open with none of the configured keys: put the key they were "
            "sealed with back into SCHAKEL_PREVIOUS_ENCRYPTION_KEYS and run rotate again",
            err=True,
        )
        raise typer.Exit(1)


@app.command()
def status(batch_size: Annotated[int, typer.Option(min=1, help="Records per batch.")] = 500) -> None:
    """Count records by key: whether the previous encryption keys may be retired."""

    async def action(work: PersonalDataWorkMaker, settings: IntakeSettings) -> personal_data.SealCensus:
        return await personal_data.reseal(work, Vault(settings.fernet_keys()), batch_size, write=False)

    census = _run(action)
    typer.echo(f"newest key: {census.newest}; older keys: {census.older}; no configured key: {census.unreadable}")
    typer.echo(
        "previous encryption keys may be retired"
        if census.done
        else "keep the previous encryption keys: run rotate first"
    )


@app.command()
def erase(
    referral: Annotated[uuid.UUID, typer.Option(help="A referral of the youth whose personal data goes.")],
    by: Annotated[str, typer.Option(help="Your operator handle, for the audit (no e-mail address).")],
) -> None:
    """Erase the BSN, name and birth date of a referral's youth on request (AVG art. 17)."""
    actor = _actor(by)

    async def action(work: PersonalDataWorkMaker, _settings: IntakeSettings) -> int | None:
        async with work() as uow:
            return await personal_data.erase_on_request(uow, referral, actor)

    erased = _run(action)
    if erased is None:
        typer.echo(f"no referral {referral}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"erased the personal data of {erased} youth(s)"
        if erased
        else "nothing to erase: this youth's personal data was erased before"
    )


@app.command("erase-expired")
def erase_expired(by: Annotated[str, typer.Option(help="Your operator handle, for the audit.")]) -> None:
    """Erase personal data past SCHAKEL_PERSONAL_DATA_RETENTION_YEARS now (the service does it hourly)."""
    actor = _actor(by)

    async def action(work: PersonalDataWorkMaker, _settings: IntakeSettings) -> int:
        return await personal_data.erase_expired(work, actor)

    typer.echo(f"erased the personal data of {_run(action)} youth(s) past the retention period")


@app.command()
def erasures(limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20) -> None:
    """The erasure audit: when, who, why, how many (never whose data)."""

    async def action(work: PersonalDataWorkMaker, _settings: IntakeSettings) -> list[asyncpg.Record]:
        async with work() as uow:
            return await uow.store.erasures(limit)

    for row in _run(action):
        about = f"referral {row['referral_id']}" if row["referral_id"] else f"inactive since {row['cutoff']:%Y-%m-%d}"
        typer.echo(f"{row['at']:%Y-%m-%dT%H:%MZ}  {row['actor']}  {row['reason']}  {row['clients']} youth(s)  {about}")


if __name__ == "__main__":
    app()
