"""The verblijf settings capacity is counted and matched in (DOMAIN §5)."""

from __future__ import annotations

from enum import StrEnum


class Setting(StrEnum):
    """A kind of residential place, in the preference order of DOMAIN §3.3 (closest to home first)."""

    PLEEGZORG = "pleegzorg"
    GEZINSHUIS = "gezinshuis"
    TUSSENVOORZIENING = "tussenvoorziening"
    RESIDENTIEEL = "residentieel"
    DRIEMILIEU = "driemilieu"
    CRISISPLEK = "crisisplek"
    JEUGDZORGPLUS = "jeugdzorgplus"


# Most family-like first: the schakelfunctie offers the first setting of this order a referral allows.
PREFERENCE_ORDER: tuple[Setting, ...] = tuple(Setting)
