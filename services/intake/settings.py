"""Intake service configuration, including the two secrets that protect who a youth is.

``SCHAKEL_CLIENT_REF_SECRET`` keys the pseudonym (client_ref) and ``SCHAKEL_ENCRYPTION_KEY``
(a Fernet key) encrypts BSN, name and birth date at rest. Unless development mode is
asked for (``SCHAKEL_DEV_MODE=true``), the service refuses to start without both: a pseudonym keyed with a
known secret can be reversed by hashing every possible BSN, and there are only a billion.

Rotation keeps the replaced keys in ``SCHAKEL_PREVIOUS_ENCRYPTION_KEYS`` and
``SCHAKEL_PREVIOUS_CLIENT_REF_SECRETS`` (JSON lists, newest first): old records still open and
known youths keep their client_ref. ``SCHAKEL_PERSONAL_DATA_RETENTION_YEARS`` sets how long
personal data is kept after a youth's last referral or toewijzing (docs/operations.md says why 7).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator

from services.intake import registry
from services.runtime.settings import ServiceSettings, local_database

# Development keys, derived from public labels: fine for a laptop, worthless as protection.
_DEV_CLIENT_REF_SECRET = hashlib.sha256(b"schakel-intake-dev-client-ref").hexdigest()
_DEV_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"schakel-intake-dev-encryption").digest()).decode()


class IntakeSettings(ServiceSettings):
    service: str = "intake"
    port: int = 8001
    database_url: str = local_database("schakel_intake")
    # Off unless asked for: a forgotten setting must fail closed, never run on public keys.
    dev_mode: bool = Field(default=False, description="Allows the development secrets (laptops and tests only).")
    client_ref_secret: SecretStr | None = Field(default=None, description="HMAC key of the client_ref pseudonym.")
    encryption_key: SecretStr | None = Field(default=None, description="Fernet key for personal data at rest.")
    previous_encryption_keys: list[SecretStr] = Field(
        default_factory=list, description="Replaced Fernet keys, newest first: they still open older records."
    )
    previous_client_ref_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Replaced pseudonym keys, newest first: youths known under them keep their client_ref.",
    )
    personal_data_retention_years: int = Field(
        default=7,
        ge=1,
        le=20,
        description="Years after a youth's last referral or toewijzing before BSN, name and birth date are erased.",
    )
    retention_check_seconds: float = Field(default=3600.0, gt=0)
    erasure_batch_size: int = Field(default=500, ge=1)
    # The region this intake serves; municipalities are validated against its membership on the referral date.
    region: str = "gooi-en-vechtstreek"
    request_answer_working_days: int = Field(default=5, ge=1)
    # Each verblijf or crisis referral reserves a place while capacity looks for one, so a flood of
    # them from one referrer fakes a shortage. Far above any real referrer's day (the region places
    # ~550 youths a year), and above the demo simulator's busiest referrer when it plays a year in a minute.
    verblijf_referrals_per_day: int = Field(
        default=50,
        ge=1,
        description="Open verblijf/crisis referrals one referrer (role and subject, whichever "
        "of its keys) may submit per Dutch calendar day.",
    )
    overdue_check_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> IntakeSettings:
        if not self.dev_mode:
            if self.client_ref_secret is None or self.encryption_key is None:
                missing = [
                    name
                    for name, value in (
                        ("SCHAKEL_CLIENT_REF_SECRET", self.client_ref_secret),
                        ("SCHAKEL_ENCRYPTION_KEY", self.encryption_key),
                    )
                    if value is None
                ]
                raise ValueError(f"{' and '.join(missing)} must be set when SCHAKEL_DEV_MODE is false")
            if len(self.client_ref_secret.get_secret_value()) < 32:
                raise ValueError("SCHAKEL_CLIENT_REF_SECRET must be at least 32 characters")
            if any(len(key) < 32 for key in self.client_ref_keys()):
                raise ValueError("every one of SCHAKEL_PREVIOUS_CLIENT_REF_SECRETS must be at least 32 characters")
            if (
                _DEV_CLIENT_REF_SECRET.encode() in self.client_ref_keys()
                or _DEV_ENCRYPTION_KEY.encode() in self.fernet_keys()
            ):
                raise ValueError("the development secrets are public and may only be used with SCHAKEL_DEV_MODE=true")
        for position, key in enumerate(self.fernet_keys()):
            name = "SCHAKEL_ENCRYPTION_KEY" if position == 0 else f"SCHAKEL_PREVIOUS_ENCRYPTION_KEYS[{position - 1}]"
            try:
                Fernet(key)
            except ValueError as exc:
                raise ValueError(f"{name} is not a Fernet key: {exc}") from None
        registry.load().region(self.region)
        return self

    def client_ref_key(self) -> bytes:
        """The pseudonym key for youths not known before."""
        secret = self.client_ref_secret.get_secret_value() if self.client_ref_secret else _DEV_CLIENT_REF_SECRET
        return secret.encode()

    def client_ref_keys(self) -> list[bytes]:
        """Every pseudonym key a known youth's client_ref may be made with, newest first."""
        return [self.client_ref_key(), *(s.get_secret_value().encode() for s in self.previous_client_ref_secrets)]

    def fernet_key(self) -> bytes:
        """The Fernet key that seals."""
        return (self.encryption_key.get_secret_value() if self.encryption_key else _DEV_ENCRYPTION_KEY).encode()

    def fernet_keys(self) -> list[bytes]:
        """Every Fernet key that may open a stored record, newest (the sealing one) first."""
        return [self.fernet_key(), *(k.get_secret_value().encode() for k in self.previous_encryption_keys)]
