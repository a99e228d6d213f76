"""The API keys the simulated region acts with, made on the shared key store as an operator would.

Creating a key is an operator action on the auth database (what ``python -m services.runtime.keys``
does), not a domain write: every domain change the simulator makes goes through the public APIs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.auth import create_key
from services.runtime.db import create_pool, migrate
from services.runtime.keys import KeyStoreSettings
from services.runtime.roles import Role
from services.runtime.service import AUTH_MIGRATIONS
from services.sim.region import REGION_SEED

LABEL = "simulator"


@dataclass
class Keys:
    providers: dict[str, str] = field(default_factory=dict)  # AGB → key
    gemeenten: dict[str, str] = field(default_factory=dict)  # CBS code → key
    referrers: dict[str, str] = field(default_factory=dict)  # "TYPE:AGB" → key
    schakelfunctionaris: str = ""
    expertteam: str = ""
    operator: str = ""
    admin: str = ""
    region: str = REGION_SEED

    def lines(self) -> list[str]:
        """``role subject key`` per line, the format of the demo's keys file."""
        rows = [
            ("schakelfunctionaris", f"sf.{self.region}", self.schakelfunctionaris),
            ("expertteam", f"expertteam.{self.region}", self.expertteam),
            ("operator", "operator.demo", self.operator),
            ("admin", "beheer.demo", self.admin),
        ]
        rows += [("gemeente", code, key) for code, key in self.gemeenten.items()]
        rows += [("provider", agb, key) for agb, key in self.providers.items()]
        rows += [("referrer", subject, key) for subject, key in self.referrers.items()]
        return [f"{role} {subject} {key}" for role, subject, key in rows]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines()) + "\n")
        path.chmod(0o600)


async def make_keys(
    providers: list[str], gemeenten: list[str], referrers: list[str], region: str = REGION_SEED
) -> Keys:
    """One key per provider, gemeente and referrer, and one for each overseeing role."""
    settings = KeyStoreSettings()
    pool = await create_pool(settings.auth_database_url, settings.auth_db_schema, wait_seconds=30, max_size=2)
    try:
        await migrate(pool, "auth", AUTH_MIGRATIONS)

        async def key(role: Role, subject: str) -> str:
            return await create_key(pool, role, subject, LABEL)

        return Keys(
            providers={agb: await key(Role.PROVIDER, agb) for agb in providers},
            gemeenten={code: await key(Role.GEMEENTE, code) for code in gemeenten},
            referrers={subject: await key(Role.REFERRER, subject) for subject in referrers},
            schakelfunctionaris=await key(Role.SCHAKELFUNCTIONARIS, f"sf.{region}"),
            expertteam=await key(Role.EXPERTTEAM, f"expertteam.{region}"),
            operator=await key(Role.OPERATOR, "operator.demo"),
            admin=await key(Role.ADMIN, "beheer.demo"),
            region=region,
        )
    finally:
        await pool.close()
