"""Specification of intake's key rotation (encryption and pseudonym) and of the retention cut-off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from cryptography.fernet import InvalidToken
from pydantic import ValidationError

from services.intake.domain import retention_cutoff
from services.intake.privacy import PersonalData, Vault, client_ref, client_refs
from services.intake.settings import IntakeSettings

PERSON = PersonalData("111222333", date(2012, 5, 1), "Voorbeeld")


def test_a_vault_seals_with_its_newest_key_and_opens_with_any() -> None:
    old, new = Vault.new_key(), Vault.new_key()
    sealed_before = Vault(old).seal(PERSON)
    vault = Vault([new, old])
    assert vault.open(sealed_before) == PERSON
    assert not vault.sealed_with_newest(sealed_before)
    sealed_now = vault.seal(PERSON)
    assert vault.sealed_with_newest(sealed_now)
    assert Vault(new).open(sealed_now) == PERSON
    with pytest.raises(InvalidToken):
        Vault(old).open(sealed_now)


def test_rotating_a_record_reseals_it_under_the_newest_key_only() -> None:
    old, new = Vault.new_key(), Vault.new_key()
    rotated = Vault([new, old]).rotate(Vault(old).seal(PERSON))
    assert Vault(new).open(rotated) == PERSON
    assert b"111222333" not in rotated


def test_a_record_no_configured_key_opens_cannot_be_rotated() -> None:
    with pytest.raises(InvalidToken):
        Vault([Vault.new_key()]).rotate(Vault(Vault.new_key()).seal(PERSON))


def test_a_vault_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Vault([])


def test_a_youth_may_be_known_under_every_pseudonym_key_newest_first() -> None:
    new, old = b"n" * 32, b"o" * 32
    assert client_refs("111222333", [new, old]) == [client_ref("111222333", new), client_ref("111222333", old)]


def test_previous_keys_come_from_json_lists_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    current, previous = Vault.new_key(), Vault.new_key()
    monkeypatch.setenv("SCHAKEL_ENCRYPTION_KEY", current)
    monkeypatch.setenv("SCHAKEL_PREVIOUS_ENCRYPTION_KEYS", json.dumps([previous]))
    monkeypatch.setenv("SCHAKEL_CLIENT_REF_SECRET", "n" * 40)
    monkeypatch.setenv("SCHAKEL_PREVIOUS_CLIENT_REF_SECRETS", json.dumps(["o" * 40, "p" * 40]))
    settings = IntakeSettings()
    assert settings.fernet_keys() == [current.encode(), previous.encode()]
    assert settings.fernet_key() == current.encode()
    assert settings.client_ref_keys() == [b"n" * 40, b"o" * 40, b"p" * 40]
    assert settings.client_ref_key() == b"n" * 40


def test_without_previous_keys_only_the_current_ones_count() -> None:
    settings = IntakeSettings(dev_mode=True)
    assert settings.fernet_keys() == [settings.fernet_key()]
    assert settings.client_ref_keys() == [settings.client_ref_key()]


def test_previous_keys_are_held_to_the_same_rules_as_current_ones() -> None:
    secrets = {"client_ref_secret": "s" * 40, "encryption_key": Vault.new_key()}
    with pytest.raises(ValidationError, match=r"SCHAKEL_PREVIOUS_ENCRYPTION_KEYS\[1\] is not a Fernet key"):
        IntakeSettings(**secrets, previous_encryption_keys=[Vault.new_key(), "nope"])
    with pytest.raises(ValidationError, match="SCHAKEL_PREVIOUS_CLIENT_REF_SECRETS must be at least 32"):
        IntakeSettings(**secrets, previous_client_ref_secrets=["short"])
    dev = IntakeSettings(dev_mode=True)
    with pytest.raises(ValidationError, match="development secrets are public"):
        IntakeSettings(**secrets, previous_encryption_keys=[dev.fernet_key().decode()])
    with pytest.raises(ValidationError, match="development secrets are public"):
        IntakeSettings(**secrets, previous_client_ref_secrets=[dev.client_ref_key().decode()])


def test_a_bad_previous_key_stops_the_process_without_echoing_it() -> None:
    env = {
        **os.environ,
        "SCHAKEL_DEV_MODE": "false",
        "SCHAKEL_CLIENT_REF_SECRET": "s" * 40,
        "SCHAKEL_ENCRYPTION_KEY": Vault.new_key(),
        "SCHAKEL_PREVIOUS_ENCRYPTION_KEYS": json.dumps(["not-a-fernet-key-but-secret"]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.intake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 1
    assert "SCHAKEL_PREVIOUS_ENCRYPTION_KEYS[0] is not a Fernet key" in result.stderr
    assert "not-a-fernet-key-but-secret" not in result.stderr + result.stdout


def test_the_retention_cutoff_lies_whole_years_back() -> None:
    assert retention_cutoff(datetime(2033, 12, 1, 9, 30, tzinfo=UTC), 7) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    # A leap day falls back to the 28th rather than overshooting into March.
    assert retention_cutoff(datetime(2032, 2, 29, tzinfo=UTC), 1) == datetime(2031, 2, 28, tzinfo=UTC)


def test_retention_defaults_to_seven_years_and_never_outlasts_a_providers_20_year_dossier() -> None:
    assert IntakeSettings(dev_mode=True).personal_data_retention_years == 7
    with pytest.raises(ValidationError):
        IntakeSettings(dev_mode=True, personal_data_retention_years=0)
    with pytest.raises(ValidationError):
        IntakeSettings(dev_mode=True, personal_data_retention_years=21)
