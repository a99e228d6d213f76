"""The roles an API key can hold, and who the schakelfunctie's alerts are for.

Apart from ``auth`` because the settings name roles (their rate limits) and every command-line tool
and reader reads the settings: ``auth`` brings FastAPI along, 0.4 s of imports a process that
serves no HTTP should not pay.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REFERRER = "referrer"
    GEMEENTE = "gemeente"
    PROVIDER = "provider"
    SCHAKELFUNCTIONARIS = "schakelfunctionaris"
    EXPERTTEAM = "expertteam"
    # A pool's bovenregionaal expertisenetwerk, as it works in this region (docs/pools.md).
    EXPERTISENETWERK = "expertisenetwerk"
    OPERATOR = "operator"
    ADMIN = "admin"


# Who the schakelfunctie's alerts and its pages are for: the one definition every service uses.
ALERT_ROLES: tuple[Role, ...] = (Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.EXPERTISENETWERK, Role.OPERATOR)
