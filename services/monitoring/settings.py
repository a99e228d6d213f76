"""Monitoring service configuration (``SCHAKEL_*`` environment variables; JSON for the mappings).

The region and its pools (``services/runtime/pools.py``, docs/pools.md) are those capacity takes
part in, validated the same way when the settings are made.
"""

from __future__ import annotations

from pydantic import Field

from contracts.gemeenten import GOOI_EN_VECHTSTREEK
from services.runtime.pools import PooledSettings
from services.runtime.settings import local_database


class MonitoringSettings(PooledSettings):
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

    def max_wait_days(self, product_category: str) -> int:
        return self.default_max_wait_days.get(product_category, self.fallback_max_wait_days)
