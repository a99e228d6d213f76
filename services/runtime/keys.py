"""API key administration: ``python -m services.runtime.keys create --role provider --subject 12345678``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.auth import Role, check_subject, create_key, revoke_keys
from services.runtime.db import create_pool, migrate
from services.runtime.service import AUTH_MIGRATIONS
from services.runtime.settings import LOCAL_POSTGRES

app = typer.Typer(help="Create and revoke Schakel API keys. Keys are printed once and stored hashed.",
                  no_args_is_help=True)


class KeyStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHAKEL_", extra="ignore")

    auth_database_url: str = f"{LOCAL_POSTGRES}/schakel_auth"
    auth_db_schema: str = "public"


async def _with_store(action):  # type: ignore[no-untyped-def]
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


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="The role the key acts in.")],
    subject: Annotated[str | None, typer.Option(
        help="Who the key acts for: AGB (provider), CBS code (gemeente), TYPE:AGB (referrer), "
             "a team or person handle otherwise (default: the role name).")] = None,
    label: Annotated[str, typer.Option(help="A note for operators, e.g. who received the key.")] = "",
) -> None:
    """Create a key and print it (only this once)."""
    subject = _checked(role, subject)
    key = asyncio.run(_with_store(lambda pool: create_key(pool, role, subject, label)))
    typer.echo(key)


@app.command()
def revoke(
    role: Annotated[Role, typer.Option()],
    subject: Annotated[str, typer.Option()],
) -> None:
    """Revoke every active key of a role and subject."""
    count = asyncio.run(_with_store(lambda pool: revoke_keys(pool, role, _checked(role, subject))))
    typer.echo(f"revoked {count} key(s)")


if __name__ == "__main__":
    app()
