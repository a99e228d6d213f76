"""Monitoring service configuration (``SCHAKEL_*`` environment variables; JSON for the mappings).

The region and its pools are validated as capacity validates them (docs/pools.md): an unknown
region, an unreadable or invalid pools file, or an opt-out of a pool that does not exist, and the
service refuses to start.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from contracts import regions, topics
from contracts.gemeenten import GOOI_EN_VECHTSTREEK
from contracts.pool import POOLS_FILE, Pool, load_pools
from services.runtime.settings import ServiceSettings, local_database


class MonitoringSettings(ServiceSettings):
    service: str = "monitoring"
    port: int = 8004
    database_url: str = local_database("schakel_monitoring")
    # Where the schakelfunctie page's acknowledgements are forwarded to.
    capacity_url: str = "http://127.0.0.1:8003"
    # Maximum waiting time (days) per product category, e.g. SCHAKEL_DEFAULT_MAX_WAIT_DAYS='{"45": 42, "46": 1}';
    # a category not named has the fallback. Six weeks is the usual treeknorm.
    default_max_wait_days: dict[str, int] = Field(default_factory=lambda: {"46": 1})
    fallback_max_wait_days: int = Field(default=42, ge=0)

    # Names to show for CBS codes; membership changes over time, so it is configuration, not code.
    municipalities: dict[str, str] = Field(default_factory=lambda: dict(GOOI_EN_VECHTSTREEK))

    # The pools shown, as capacity takes part in them: the same four settings, the same meaning.
    region: str = "gooi-en-vechtstreek"
    pools_file: Path = POOLS_FILE
    pools_opt_out: list[str] = Field(default_factory=list)
    pool_topic_namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]*$")

    @model_validator(mode="after")
    def _region_and_pools(self) -> MonitoringSettings:
        regions.known_region(self.region)
        pools = load_pools(self.pools_file)
        unknown = sorted(name for name in self.pools_opt_out if pools.named(name) is None)
        if unknown:
            raise ValueError(f"SCHAKEL_POOLS_OPT_OUT names pools not in {self.pools_file}: {', '.join(unknown)}")
        return self

    def max_wait_days(self, product_category: str) -> int:
        return self.default_max_wait_days.get(product_category, self.fallback_max_wait_days)

    def pools(self) -> tuple[Pool, ...]:
        """The pools shown: the region's, less those it opted out of (capacity takes part in the same)."""
        return tuple(p for p in load_pools(self.pools_file).of_region(self.region) if p.name not in self.pools_opt_out)

    def pool_topics_with_dead_letters(self) -> list[str]:
        """The real topics of the pools shown and their dead letters: the runtime makes only the region's own."""
        names = [self.topic(pool.topic) for pool in self.pools()]
        return names + [topics.dead_letter(name) for name in names]

    def topic(self, name: str) -> str:
        """The real Kafka topic of ``name``; a pool's topic is shared by its members, so it takes the
        pool namespace rather than the region's own (as in capacity's settings)."""
        if not topics.is_pool_topic(name):
            return super().topic(name)
        namespace = self.topic_namespace if self.pool_topic_namespace is None else self.pool_topic_namespace
        return f"{namespace}.{name}" if namespace else name
