"""A provider's capacity report as it travels, for tests of what keeps the newest of them."""

from __future__ import annotations

from datetime import datetime

from contracts.capacity import CapacityReported
from contracts.envelope import Envelope
from contracts.verblijf import Setting


def capacity_report(agb: str, free: int, at: datetime, setting: Setting = Setting.GEZINSHUIS) -> Envelope:
    """``agb``'s report of ``free`` of its 4 places in ``setting``, made at ``at``."""
    event = CapacityReported(
        agb=agb,
        setting=setting,
        total=4,
        occupied=4 - free,
        free=free,
        closed_to_admission=False,
        reported_at=at,
        regional_free=free,
    )
    return Envelope.wrap(event, source="capacity", time=at)
