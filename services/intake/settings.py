"""Intake service configuration, including the two secrets that protect who a youth is.

``SCHAKEL_CLIENT_REF_SECRET`` keys the pseudonym (client_ref) and ``SCHAKEL_ENCRYPTION_KEY``
(a Fernet key) encrypts BSN, name and birth date at rest. Unless development mode is
asked for (``SCHAKEL_DEV_MODE=true``), the service refuses to start without both: a pseudonym keyed with a
known secret can be reversed by hashing every possible BSN, and there are only a billion.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator

from services.intake import registry
from services.runtime.settings import LOCAL_POSTGRES, ServiceSettings

# Development keys, derived from public labels: fine for a laptop, worthless as protection.
_DEV_CLIENT_REF_SECRET = hashlib.sha256(b"schakel-intake-dev-client-ref").hexdigest()
_DEV_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"schakel-intake-dev-encryption").digest()).decode()


class IntakeSettings(ServiceSettings):
    service: str = "intake"
    port: int = 8001
    database_url: str = f"{LOCAL_POSTGRES}/schakel_intake"
    # Off unless asked for: a forgotten setting must fail closed, never run on public keys.
    dev_mode: bool = Field(default=False, description="Allows the development secrets (laptops and tests only).")
    client_ref_secret: SecretStr | None = Field(default=None, description="HMAC key of the client_ref pseudonym.")
    encryption_key: SecretStr | None = Field(default=None, description="Fernet key for personal data at rest.")
    # The region this intake serves; municipalities are validated against its membership on the referral date.
    region: str = "gooi-en-vechtstreek"
    request_answer_working_days: int = Field(default=5, ge=1)
    overdue_check_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> IntakeSettings:
        if not self.dev_mode:
            missing = [name for name, value in (("SCHAKEL_CLIENT_REF_SECRET", self.client_ref_secret),
                                                ("SCHAKEL_ENCRYPTION_KEY", self.encryption_key)) if value is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)} must be set when SCHAKEL_DEV_MODE is false")
            if len(self.client_ref_secret.get_secret_value()) < 32:  # type: ignore[union-attr]
                raise ValueError("SCHAKEL_CLIENT_REF_SECRET must be at least 32 characters")
            if self.client_ref_key() == _DEV_CLIENT_REF_SECRET.encode() or self.fernet_key() == _DEV_ENCRYPTION_KEY.encode():
                raise ValueError("the development secrets are public and may only be used with SCHAKEL_DEV_MODE=true")
        try:
            Fernet(self.fernet_key())
        except ValueError as exc:
            raise ValueError(f"SCHAKEL_ENCRYPTION_KEY is not a Fernet key: {exc}") from None
        registry.load().region(self.region)
        return self

    def client_ref_key(self) -> bytes:
        secret = self.client_ref_secret.get_secret_value() if self.client_ref_secret else _DEV_CLIENT_REF_SECRET
        return secret.encode()

    def fernet_key(self) -> bytes:
        return (self.encryption_key.get_secret_value() if self.encryption_key else _DEV_ENCRYPTION_KEY).encode()
