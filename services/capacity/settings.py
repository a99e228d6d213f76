"""Capacity service configuration."""

from __future__ import annotations

from pydantic import Field

from contracts.verblijf import Setting
from services.capacity.domain import ShortageThreshold
from services.runtime.settings import LOCAL_POSTGRES, ServiceSettings


class CapacitySettings(ServiceSettings):
    service: str = "capacity"
    port: int = 8003
    database_url: str = f"{LOCAL_POSTGRES}/schakel_capacity"
    # Per setting, e.g. SCHAKEL_SHORTAGE_THRESHOLDS='{"crisisplek": {"min_free": 1, "resolve_margin": 2}}'.
    shortage_thresholds: dict[Setting, ShortageThreshold] = Field(default_factory=dict)

    def threshold(self, setting: Setting) -> ShortageThreshold:
        return self.shortage_thresholds.get(setting, ShortageThreshold())
