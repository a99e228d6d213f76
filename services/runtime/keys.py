"""API key administration: ``python -m services.runtime.keys create --role provider --subject 12345678``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.auth import (
    KeyInfo,
    check_subject,
    create_key,
    key_expiry,
    key_id,
    list_keys,
    revoke_key,
    revoke_keys,
)
from services.runtime.db import create_pool, migrate
from services.runtime.roles import Role
from services.runtime.service import AUTH_MIGRATIONS
from services.runtime.settings import local_database

app = typer.Typer(
    help="Create, list and revoke Schakel API keys. Keys are printed once and stored hashed.", no_args_is_help=True
)


class KeyStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHAKEL_", extra="ignore")

    auth_database_url: str = local_database("schakel_auth")
    auth_db_schema: str = "public"


async def _with_store(action):
    settings = KeyStoreSettings()
    pool = await create_pool(settings.auth_database_url, settings.auth_db_schema, wait_seconds=10, max_size=1)
    try:
        await migrate(pool, "auth", AUTH_MIGRATIONS)
        return await action(pool)
    finally:
        await pool.close()


def _checked(role: Role, subject: str | None) -> str:
    subject = subject or role.value
    try:
        check_subject(role, subject)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--subject") from exc
    return subject


def _moment(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if at else "-"


def key_table(keys: Sequence[KeyInfo], now: datetime) -> str:
    """The keys as aligned columns; never a key or its hash."""
    rows = [("ID", "ROLE", "SUBJECT", "STATE", "CREATED", "EXPIRES", "REVOKED", "LABEL")]
    rows += [
        (
            k.id,
            k.role.value,
            k.subject,
            k.state(now),
            _moment(k.created_at),
            _moment(k.expires_at),
            _moment(k.revoked_at),
            k.label,
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ).rstrip()


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="The role the key acts in.")],
    subject: Annotated[
        str | None,
        typer.Option(
            help="Who the key acts for: AGB (provider), CBS code (gemeente), TYPE:AGB (referrer), "
            "a team or person handle otherwise (default: the role name)."
        ),
    ] = None,
    label: Annotated[str, typer.Option(help="A note for operators, e.g. who received the key.")] = "",
    expires_in_days: Annotated[int | None, typer.Option(help="The key stops working after this many days.")] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(help="The key stops working at this ISO date or date-time (Dutch time unless a zone is given)."),
    ] = None,
) -> None:
    """Create a key and print it (only this once; its id goes to stderr)."""
    subject = _checked(role, subject)
    try:
        expiry = key_expiry(datetime.now(UTC), expires_in_days, expires_at)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires-in-days / --expires-at") from exc
    key = asyncio.run(_with_store(lambda pool: create_key(pool, role, subject, label, expiry)))
    # stdout carries only the key, so scripts can capture it.
    typer.echo(key)
    typer.echo(f"created key {key_id(key)} for {role.value}:{subject}, expires {_moment(expiry)}", err=True)


@app.command("list")
def list_(
    role: Annotated[Role | None, typer.Option(help="Only keys of this role.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only keys of this subject.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Hide revoked and expired keys.")] = False,
) -> None:
    """List keys: id, role, subject, state, created, expires, revoked, label (never the key)."""
    keys = asyncio.run(_with_store(lambda pool: list_keys(pool, role, subject)))
    now = datetime.now(UTC)
    typer.echo(key_table([k for k in keys if not active or k.state(now) == "active"], now))


@app.command()
def revoke(
    id: Annotated[str | None, typer.Argument(help="The id of the one key to revoke (see `list`).")] = None,
    all_of_subject: Annotated[
        bool, typer.Option("--all", help="Revoke every active key of --role and --subject instead of one key.")
    ] = False,
    role: Annotated[Role | None, typer.Option(help="With --all: the role.")] = None,
    subject: Annotated[str | None, typer.Option(help="With --all: the subject.")] = None,
) -> None:
    """Revoke one key by id, or with --all every active key of a role and subject."""
    if all_of_subject:
        if id is not None or role is None or subject is None:
            raise typer.BadParameter("--all takes --role and --subject and no key id", param_hint="--all")
        checked = _checked(role, subject)
        count = asyncio.run(_with_store(lambda pool: revoke_keys(pool, role, checked)))
        typer.echo(f"revoked {count} key(s)")
        return
    if id is None or role is not None or subject is not None:
        raise typer.BadParameter("give one key id, or --all with --role and --subject", param_hint="ID")
    revoked = asyncio.run(_with_store(lambda pool: revoke_key(pool, id)))
    if revoked is None:
        typer.echo(f"no active key with id {id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {revoked.id} of {revoked.role.value}:{revoked.subject}")


if __name__ == "__main__":
    app()
