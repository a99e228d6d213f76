"""The municipalities (CBS codes) of the region Schakel serves today.

The defaults services start from; each keeps it as configuration, since membership changes
(Weesp left in 2022). Intake's registry holds the dated history and is checked against this.
"""

from __future__ import annotations

GOOI_EN_VECHTSTREEK: dict[str, str] = {
    "0376": "Blaricum",
    "1942": "Gooise Meren",
    "0402": "Hilversum",
    "0406": "Huizen",
    "0417": "Laren",
    "1696": "Wijdemeren",
}
