"""Contracting's configuration from the environment, and the seeded lots of the region."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.gemeenten import GOOI_EN_VECHTSTREEK
from services.contracting.app import load_lots
from services.contracting.domain.declaration_rules import DEFAULT_DISABLED, MOVED_WITHIN_REGION
from services.contracting.settings import DATA, ContractingSettings


def test_rules_are_switched_off_by_a_comma_separated_or_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHAKEL_DECLARATION_RULES_DISABLED", "tariff, amount")
    assert ContractingSettings().declaration_rules_disabled == {"tariff", "amount"}
    monkeypatch.setenv("SCHAKEL_DECLARATION_RULES_DISABLED", '["budget"]')
    assert not ContractingSettings().rules().active("budget")
    monkeypatch.setenv("SCHAKEL_DECLARATION_RULES_DISABLED", "")
    assert ContractingSettings().rules().active(MOVED_WITHIN_REGION)


def test_by_default_a_move_inside_the_region_is_not_held_against_the_provider() -> None:
    settings = ContractingSettings()
    assert settings.declaration_rules_disabled == DEFAULT_DISABLED == {MOVED_WITHIN_REGION}
    assert settings.region_municipalities == set(GOOI_EN_VECHTSTREEK)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SCHAKEL_DECLARATION_RULES_DISABLED", "allocation-known", "cannot be switched off"),
        ("SCHAKEL_DECLARATION_RULES_DISABLED", "nonsense", "unknown declaration rules"),
        ("SCHAKEL_REGION_MUNICIPALITIES", "0402,Huizen", "4-digit CBS codes"),
    ],
)
def test_a_wrong_setting_refuses_to_start_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        ContractingSettings()


def test_the_seeded_lots_are_valid_and_cover_every_verblijf_setting() -> None:
    lots = load_lots(DATA / "lots.json")
    settings = {s for lot in lots for s in lot.settings}
    assert settings == {
        "pleegzorg",
        "gezinshuis",
        "tussenvoorziening",
        "residentieel",
        "driemilieu",
        "crisisplek",
        "jeugdzorgplus",
    }
    assert all(lot.contract_term_years == 8 and lot.tariffs for lot in lots)
    assert [lot.code for lot in lots if lot.status == "waitlist"] == ["AMB-BEGELEIDING"]
