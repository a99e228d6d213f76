"""The versioned municipality registry, the intake secrets, the pseudonym and the vault."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date

import pytest
from pydantic import ValidationError

from contracts.gemeenten import GOOI_EN_VECHTSTREEK
from services.intake import registry
from services.intake.privacy import PersonalData, Vault, client_ref
from services.intake.settings import IntakeSettings

GV = "gooi-en-vechtstreek"


def test_today_gooi_en_vechtstreek_has_its_six_municipalities() -> None:
    assert sorted(registry.load().region(GV).member_codes(date(2026, 11, 24))) == [
        "0376",
        "0402",
        "0406",
        "0417",
        "1696",
        "1942",
    ]


def test_weesp_was_a_member_until_its_merger_into_amsterdam() -> None:
    reg = registry.load()
    assert reg.check_member(GV, "0457", date(2022, 3, 23)).name == "Weesp"
    with pytest.raises(ValueError, match=r"0457 .Weesp. did not exist on 2022-03-24; it became 0363"):
        reg.check_member(GV, "0457", date(2022, 3, 24))
    with pytest.raises(ValueError, match=r"not a member of Gooi en Vechtstreek"):
        reg.check_member(GV, "0363", date(2026, 1, 1))


def test_gooise_meren_exists_from_2016_and_its_predecessors_before() -> None:
    reg = registry.load()
    with pytest.raises(ValueError, match=r"did not exist"):
        reg.check_member(GV, "1942", date(2015, 12, 31))
    assert reg.check_member(GV, "0381", date(2015, 12, 31)).name == "Bussum"
    with pytest.raises(ValueError, match=r"not in the registry"):
        reg.check_member(GV, "9999", date(2026, 1, 1))


def test_the_2013_registry_holds_408_municipalities_in_42_answering_units() -> None:
    regions = registry.regions_2013()
    units = [r for r in regions.values() if r.number != "34"]
    assert len(units) == 42
    assert sum(len(r.municipalities) for r in units) == 408
    # Names are not unique: two Bergens in two regions.
    assert [r.number for r in units if "Bergen" in r.municipalities] == ["19", "38"]
    assert len(registry.tasks_2013()) == 462
    gv_2013 = regions[registry.load().region(GV).region_2013]
    assert {"Weesp", "Bussum", "Muiden", "Naarden"} <= set(gv_2013.municipalities)


def test_an_unknown_region_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match=r"region 'atlantis' is not in the registry"):
        IntakeSettings(dev_mode=True, region="atlantis")


def test_outside_dev_mode_the_service_refuses_to_start_without_its_secrets() -> None:
    with pytest.raises(ValidationError, match=r"SCHAKEL_CLIENT_REF_SECRET and SCHAKEL_ENCRYPTION_KEY must be set"):
        IntakeSettings()  # development mode is never the default
    with pytest.raises(ValidationError, match=r"development secrets are public"):
        IntakeSettings(
            dev_mode=False,
            client_ref_secret=IntakeSettings(dev_mode=True).client_ref_key().decode(),
            encryption_key=Vault.new_key(),
        )
    with pytest.raises(ValidationError, match=r"at least 32"):
        IntakeSettings(dev_mode=False, client_ref_secret="short", encryption_key=Vault.new_key())
    with pytest.raises(ValidationError, match=r"not a Fernet key"):
        IntakeSettings(dev_mode=False, client_ref_secret="s" * 40, encryption_key="nope")
    settings = IntakeSettings(dev_mode=False, client_ref_secret="s" * 40, encryption_key=Vault.new_key())
    assert settings.client_ref_key() == b"s" * 40


def test_client_ref_is_a_keyed_64_hex_hash_of_the_bsn() -> None:
    ref = client_ref("111222333", b"k1" * 16)
    assert re.fullmatch(r"[0-9a-f]{64}", ref)
    assert ref == client_ref("111222333", b"k1" * 16)
    assert ref != client_ref("111222333", b"k2" * 16)
    assert "111222333" not in ref


def test_personal_data_is_sealed_and_never_shown() -> None:
    vault = Vault(Vault.new_key())
    person = PersonalData("111222333", date(2012, 5, 1), "Voorbeeld")
    sealed = vault.seal(person)
    assert b"111222333" not in sealed and b"2012" not in sealed
    assert vault.open(sealed) == person
    assert "111222333" not in repr(person) and "2012" not in str(person)


def test_the_process_refuses_to_start_without_secrets_and_does_not_echo_them() -> None:
    env = {
        **os.environ,
        "SCHAKEL_DEV_MODE": "false",
        "SCHAKEL_CLIENT_REF_SECRET": "weak-secret-value",
        "SCHAKEL_ENCRYPTION_KEY": Vault.new_key(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.intake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "intake refuses to start: SCHAKEL_CLIENT_REF_SECRET must be at least 32 characters" in result.stderr
    assert "weak-secret-value" not in result.stderr + result.stdout


def test_the_registry_and_the_shared_default_agree_on_todays_region() -> None:
    region = registry.load().region(GV)
    assert set(region.member_codes(date.today())) == set(GOOI_EN_VECHTSTREEK)
    assert {code: registry.load().municipality(code).name for code in GOOI_EN_VECHTSTREEK} == GOOI_EN_VECHTSTREEK
