"""Capacity service configuration (``SCHAKEL_*`` environment variables; JSON for the mappings).

The region a deployment serves and the pools it takes part in are validated when the settings are
made: an unknown region, an unreadable or invalid pools file, or an opt-out of a pool that does
not exist, and the service refuses to start (docs/pools.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from contracts import regions, topics
from contracts.codes import Urgentie
from contracts.pool import POOLS_FILE, Pool, load_pools
from contracts.verblijf import Setting
from services.capacity.domain import DEFAULT_ESCALATION, EscalationTimer, ShortageThreshold
from services.runtime.settings import ServiceSettings, local_database


class CapacitySettings(ServiceSettings):
    service: str = "capacity"
    port: int = 8003
    database_url: str = local_database("schakel_capacity")
    # The region this deployment serves: an id of contracts/regions.py (the registry or the 2013 survey).
    region: str = "gooi-en-vechtstreek"
    # Which regions pool which settings; every member region runs with the same file.
    pools_file: Path = POOLS_FILE
    # Pools of which the region is a member but this deployment does not take part in (names).
    pools_opt_out: list[str] = Field(default_factory=list)
    # Prefixes pool topics instead of ``topic_namespace``: regions sharing one cluster under their own
    # namespaces set it to the namespace they share ("" for none). Unset, it is ``topic_namespace``.
    pool_topic_namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]*$")
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

    @model_validator(mode="after")
    def _region_and_pools(self) -> CapacitySettings:
        regions.known_region(self.region)
        pools = load_pools(self.pools_file)
        unknown = sorted(name for name in self.pools_opt_out if pools.named(name) is None)
        if unknown:
            raise ValueError(f"SCHAKEL_POOLS_OPT_OUT names pools not in {self.pools_file}: {', '.join(unknown)}")
        return self

    def pools(self) -> tuple[Pool, ...]:
        """The pools this deployment takes part in: its region's, less those it opted out of."""
        return tuple(p for p in load_pools(self.pools_file).of_region(self.region) if p.name not in self.pools_opt_out)

    def pools_sharing(self, setting: str) -> tuple[Pool, ...]:
        """The pools this deployment shares ``setting`` with; empty for a setting it keeps to itself."""
        return tuple(p for p in self.pools() if p.shares(setting))

    def topic(self, name: str) -> str:
        """The real Kafka topic of ``name``; a pool's topic is shared by its members, so it takes the
        pool namespace rather than the region's own."""
        if not topics.is_pool_topic(name):
            return super().topic(name)
        namespace = self.topic_namespace if self.pool_topic_namespace is None else self.pool_topic_namespace
        return f"{namespace}.{name}" if namespace else name

    def threshold(self, setting: Setting) -> ShortageThreshold:
        return self.shortage_thresholds.get(setting, ShortageThreshold())

    def escalation_timer(self, urgency: Urgentie) -> EscalationTimer:
        return self.escalation.get(urgency, DEFAULT_ESCALATION[urgency])
