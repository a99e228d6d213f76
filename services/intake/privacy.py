"""Who a youth is, kept inside intake: the keyed pseudonym and personal data encrypted at rest."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet


def client_ref(bsn: str, key: bytes) -> str:
    """The pseudonym every other service knows a youth by: HMAC-SHA256 of the BSN, hex."""
    return hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PersonalData:
    bsn: str
    birth_date: date
    name: str | None = None

    def __repr__(self) -> str:
        # Keeps the BSN and birth date out of tracebacks and debug logs.
        return "PersonalData(<redacted>)"

    __str__ = __repr__


class Vault:
    """Encrypts personal data for the intake database (Fernet: AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, person: PersonalData) -> bytes:
        plain = {"bsn": person.bsn, "birth_date": person.birth_date.isoformat(), "name": person.name}
        return self._fernet.encrypt(json.dumps(plain).encode())

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def open(self, sealed: bytes) -> PersonalData:
        plain = json.loads(self._fernet.decrypt(sealed))
        return PersonalData(plain["bsn"], date.fromisoformat(plain["birth_date"]), plain["name"])
