"""Who a youth is, kept inside intake: the keyed pseudonym and personal data encrypted at rest.

Both keys can be rotated. Encryption keys form a list, newest first: the newest seals, every one
still opens, and ``Vault.rotate`` re-seals a record under the newest. Pseudonym keys rotate only
for youths not yet known: a youth keeps the client_ref it was first given (see ``client_refs``),
because every other service and every published event knows the youth by it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def client_ref(bsn: str, key: bytes) -> str:
    """The pseudonym every other service knows a youth by: HMAC-SHA256 of the BSN, hex."""
    return hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest()


def client_refs(bsn: str, keys: Sequence[bytes]) -> list[str]:
    """The pseudonyms a youth may already have, one per pseudonym key (newest key first).

    A youth seen before a rotation is found under an older key and keeps that client_ref; only a
    youth found under none gets the first (the newest key's).
    """
    return [client_ref(bsn, key) for key in keys]


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
    """Encrypts personal data for the intake database (Fernet: AES-128-CBC + HMAC-SHA256).

    ``keys`` newest first: the first seals, all of them open.
    """

    def __init__(self, keys: str | bytes | Sequence[str | bytes]) -> None:
        keys = [keys] if isinstance(keys, str | bytes) else list(keys)
        if not keys:
            raise ValueError("a vault needs at least one key")
        self._newest = Fernet(keys[0])
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, person: PersonalData) -> bytes:
        plain = {"bsn": person.bsn, "birth_date": person.birth_date.isoformat(), "name": person.name}
        return self._fernet.encrypt(json.dumps(plain).encode())

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def open(self, sealed: bytes) -> PersonalData:
        plain = json.loads(self._fernet.decrypt(sealed))
        return PersonalData(plain["bsn"], date.fromisoformat(plain["birth_date"]), plain["name"])

    def sealed_with_newest(self, sealed: bytes) -> bool:
        try:
            self._newest.decrypt(sealed)
        except InvalidToken:
            return False
        return True

    def rotate(self, sealed: bytes) -> bytes:
        """The same record sealed with the newest key; raises ``InvalidToken`` if no key opens it."""
        return self._fernet.rotate(sealed)
