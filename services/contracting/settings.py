"""Contracting service configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from contracts.gemeenten import GOOI_EN_VECHTSTREEK
from services.contracting.domain.declaration_rules import DEFAULT_DISABLED, RuleSet
from services.runtime.settings import ServiceSettings, local_database

DATA = Path(__file__).parent / "data"


def _codes(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string from the environment."""
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text.startswith("[") else [c.strip() for c in text.split(",") if c.strip()]
    return value


class ContractingSettings(ServiceSettings):
    service: str = "contracting"
    port: int = 8002
    database_url: str = local_database("schakel_contracting")
    # e.g. SCHAKEL_DECLARATION_RULES_DISABLED=tariff,moved-within-region ; empty string switches every rule on.
    declaration_rules_disabled: Annotated[frozenset[str], NoDecode] = DEFAULT_DISABLED
    # Gooi en Vechtstreek today (DOMAIN §6); membership changes, so it is configuration, not code.
    region_municipalities: Annotated[frozenset[str], NoDecode] = frozenset(GOOI_EN_VECHTSTREEK)
    lots_seed: Path = Field(default=DATA / "lots.json", description="Lots inserted at start-up when not yet known.")

    _split = field_validator("declaration_rules_disabled", "region_municipalities", mode="before")(_codes)

    @field_validator("declaration_rules_disabled")
    @classmethod
    def _known_and_switchable(cls, value: frozenset[str]) -> frozenset[str]:
        RuleSet.without(value)
        return value

    @field_validator("region_municipalities")
    @classmethod
    def _cbs_codes(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(c for c in value if not (len(c) == 4 and c.isdigit()))
        if bad:
            raise ValueError(f"region municipalities must be 4-digit CBS codes, not {bad}")
        return value

    def rules(self) -> RuleSet:
        return RuleSet.without(self.declaration_rules_disabled)
