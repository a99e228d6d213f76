"""What happens to a youth's stored personal data over time: the pseudonym that survives key
rotation, re-sealing under the newest encryption key, and erasure after the retention period or
on request — erasure keeps the pseudonymous referral and toewijzing rows, so every count stays."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cryptography.fernet import InvalidToken
from dateutil.relativedelta import relativedelta
from prometheus_client import Counter

from services.intake import store
from services.intake.context import Intake
from services.intake.privacy import Vault, client_refs
from services.runtime.periodic import Periodic
from services.runtime.workdays import dutch_date

log = logging.getLogger(__name__)

RETENTION_ACTOR = "intake:retention"


async def pseudonym(pool: asyncpg.Pool, bsn: str, keys: list[bytes]) -> str:
    """The youth's client_ref: the one it already has under any pseudonym key, else the newest key's."""
    candidates = client_refs(bsn, keys)
    if len(candidates) == 1:
        return candidates[0]
    return await store.known_client_ref(pool, candidates) or candidates[0]


def retention_cutoff(now: datetime, years: int) -> datetime:
    """Personal data of a youth with no activity since this moment is erased."""
    return now - relativedelta(years=years)


@dataclass
class SealCensus:
    """How stored records are sealed: a pass of ``reseal`` or a count for ``status``."""

    newest: int = 0
    resealed: int = 0
    changed_meanwhile: int = 0
    older: int = 0
    unreadable: int = 0

    @property
    def done(self) -> bool:
        """Every record opens with the newest key: the older keys may be retired."""
        return self.older == 0 and self.unreadable == 0


async def reseal(pool: asyncpg.Pool, vault: Vault, batch_size: int, *, write: bool = True) -> SealCensus:
    """Re-seal every record not sealed with the newest key (``MultiFernet.rotate``), a batch at a time.

    Idempotent and safe beside the running service: records already under the newest key are left
    alone, and a record the service rewrote meanwhile is not overwritten. ``write=False`` only counts.
    """
    census, after = SealCensus(), ""
    while batch := await store.sealed_clients(pool, after, batch_size):
        for row in batch:
            sealed = bytes(row["personal"])
            if vault.sealed_with_newest(sealed):
                census.newest += 1
                continue
            try:
                fresh = vault.rotate(sealed)
            except InvalidToken:
                census.unreadable += 1  # no configured key opens it: a key was retired too early
                continue
            if not write:
                census.older += 1
            elif await store.reseal_client(pool, row["client_ref"], sealed, fresh):
                census.resealed += 1
            else:
                census.changed_meanwhile += 1
        after = batch[-1]["client_ref"]
    return census


async def erase_on_request(pool: asyncpg.Pool, referral_id: uuid.UUID, actor: str, now: datetime) -> int | None:
    """Erase the BSN, name and birth date of a referral's youth, audited; None for an unknown referral."""
    async with pool.acquire() as conn, conn.transaction():
        erased = await store.erase_client_of_referral(conn, referral_id, now)
        if erased is None:
            return None
        await store.record_erasure(conn, at=now, actor=actor, reason="request", clients=erased, referral_id=referral_id)
    log.info("erased personal data of %d youth(s) for referral %s on request of %s", erased, referral_id, actor)
    return erased


async def erase_expired(pool: asyncpg.Pool, now: datetime, years: int, actor: str, batch_size: int) -> int:
    """Erase the personal data of every youth inactive for ``years``; each batch audited with it."""
    cutoff = retention_cutoff(now, years)
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            erased = await store.erase_clients_inactive_since(conn, cutoff, dutch_date(cutoff), now, batch_size)
            if erased:
                await store.record_erasure(conn, at=now, actor=actor, reason="retention", clients=erased, cutoff=cutoff)
        total += erased
        if erased < batch_size:
            break
    if total:
        log.info("erased personal data of %d youth(s) without activity since %s", total, cutoff.date())
    return total


class RetentionWatch:
    """Erases personal data past its retention period, now and then, inside the running service."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.erased = Counter(
            "schakel_intake_personal_data_erased",
            "Youths whose personal data was erased.",
            ["reason"],
            registry=intake.runtime.registry,
        )
        self._periodic = Periodic("intake-retention-watch", self.check, intake.settings.retention_check_seconds)

    async def check(self) -> int:
        settings = self.intake.settings
        erased = await erase_expired(
            self.intake.runtime.pool,
            self.intake.now(),
            settings.personal_data_retention_years,
            RETENTION_ACTOR,
            settings.erasure_batch_size,
        )
        self.erased.labels("retention").inc(erased)
        return erased

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
