"""Operator commands for intake's personal data: ``python -m services.intake.privacy_admin --help``.

They read the same ``SCHAKEL_*`` settings as the service (database, keys, retention), so run them
with the service's environment.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from pydantic import ValidationError

from services.intake import personal_data, store
from services.intake.privacy import Vault
from services.intake.settings import IntakeSettings
from services.runtime.auth import Role, check_subject
from services.runtime.db import create_pool, migrate

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


def _run(action):
    settings = _settings()

    async def run():
        pool = await create_pool(settings.database_url, settings.db_schema, wait_seconds=10, max_size=2)
        try:
            await migrate(pool, settings.service, MIGRATIONS)
            return await action(pool, settings)
        finally:
            await pool.close()

    return asyncio.run(run())


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

    async def action(pool: asyncpg.Pool, settings: IntakeSettings) -> personal_data.SealCensus:
        return await personal_data.reseal(pool, Vault(settings.fernet_keys()), batch_size)

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

    async def action(pool: asyncpg.Pool, settings: IntakeSettings) -> personal_data.SealCensus:
        return await personal_data.reseal(pool, Vault(settings.fernet_keys()), batch_size, write=False)

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

    async def action(pool: asyncpg.Pool, _settings: IntakeSettings) -> int | None:
        return await personal_data.erase_on_request(pool, referral, actor, datetime.now(UTC))

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

    async def action(pool: asyncpg.Pool, settings: IntakeSettings) -> int:
        return await personal_data.erase_expired(
            pool, datetime.now(UTC), settings.personal_data_retention_years, actor, settings.erasure_batch_size
        )

    typer.echo(f"erased the personal data of {_run(action)} youth(s) past the retention period")


@app.command()
def erasures(limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20) -> None:
    """The erasure audit: when, who, why, how many (never whose data)."""

    async def action(pool: asyncpg.Pool, _settings: IntakeSettings) -> list[asyncpg.Record]:
        return await store.erasures(pool, limit)

    for row in _run(action):
        about = f"referral {row['referral_id']}" if row["referral_id"] else f"inactive since {row['cutoff']:%Y-%m-%d}"
        typer.echo(f"{row['at']:%Y-%m-%dT%H:%MZ}  {row['actor']}  {row['reason']}  {row['clients']} youth(s)  {about}")


if __name__ == "__main__":
    app()
