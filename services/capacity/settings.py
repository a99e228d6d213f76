"""Capacity service configuration (``SCHAKEL_*`` environment variables; JSON for the mappings).

The region a deployment serves and the pools it takes part in are validated when the settings are
made: an unknown region, an unreadable or invalid pools file, or an opt-out of a pool that does
not exist, and the service refuses to start (docs/pools.md).
"""

from __future__ import annotations

from pydantic import Field

from contracts.codes import Urgentie
from contracts.verblijf import Setting
from services.capacity.domain import DEFAULT_ESCALATION, EscalationTimer, ShortageThreshold
from services.runtime.pools import PooledSettings
from services.runtime.settings import local_database


class CapacitySettings(PooledSettings):
    service: str = "capacity"
    port: int = 8003
    database_url: str = local_database("schakel_capacity")
    # Per setting, e.g. SCHAKEL_SHORTAGE_THRESHOLDS='{"crisisplek": {"min_free": 1, "resolve_margin": 2}}'.
    shortage_thresholds: dict[Setting, ShortageThreshold] = Field(default_factory=dict)
    # Per urgency, e.g. SCHAKEL_ESCALATION='{"crisis": {"unit": "hours", "to_schakelfunctionaris": 2,
    # "to_expertteam": 12}}'; urgencies not named keep their defaults.
    escalation: dict[Urgentie, EscalationTimer] = Field(default_factory=dict)
    # How long a proposed place stays reserved for the youth before the next candidate is asked.
    reservation_minutes: float = Field(default=240, gt=0)
    # A report older than this raises CapacityReportStale once.
    stale_after_hours: float = Field(default=24, gt=0)
    # How often timers (lapsed reservations, escalations, stale reports) are checked.
    timer_interval_seconds: float = Field(default=5, gt=0)
    # Webhook receivers must be https unless this allows plain http (a receiver on a trusted network).
    webhook_allow_http: bool = False
    # Lets an admin move this service's clock forward (tests and demos only; never in production).
    test_clock: bool = False

    def threshold(self, setting: Setting) -> ShortageThreshold:
        return self.shortage_thresholds.get(setting, ShortageThreshold())

    def escalation_timer(self, urgency: Urgentie) -> EscalationTimer:
        return self.escalation.get(urgency, DEFAULT_ESCALATION[urgency])
