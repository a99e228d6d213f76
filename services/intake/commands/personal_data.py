"""What happens to a youth's stored personal data over time: re-sealing under the newest encryption
key, and erasure after the retention period or on request — erasure keeps the pseudonymous
referral and toewijzing rows, so every count stays."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from services.intake import domain
from services.intake.commands import PersonalDataWork, PersonalDataWorkMaker
from services.intake.privacy import Vault
from services.runtime.workdays import dutch_date

log = logging.getLogger(__name__)

# Who the running service's own erasures are audited as.
RETENTION_ACTOR = "intake:retention"


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


async def reseal(work: PersonalDataWorkMaker, vault: Vault, batch_size: int, *, write: bool = True) -> SealCensus:
    """Re-seal every record not sealed with the newest key (``MultiFernet.rotate``), a batch per unit of work.

    Idempotent and safe beside the running service: records already under the newest key are left
    alone, and a record the service rewrote meanwhile is not overwritten. ``write=False`` only counts.
    """
    census, after = SealCensus(), ""
    while True:
        async with work() as uow:
            batch = await uow.store.sealed_clients(after, batch_size)
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
                elif await uow.store.reseal_client(row["client_ref"], sealed, fresh):
                    census.resealed += 1
                else:
                    census.changed_meanwhile += 1
        if not batch:
            return census
        after = batch[-1]["client_ref"]


async def erase_on_request(uow: PersonalDataWork, referral_id: uuid.UUID, actor: str) -> int | None:
    """Erase the BSN, name and birth date of a referral's youth, audited; None for an unknown referral."""
    erased = await uow.store.erase_client_of_referral(referral_id, uow.now)
    if erased is None:
        return None
    await uow.store.record_erasure(at=uow.now, actor=actor, reason="request", clients=erased, referral_id=referral_id)
    log.info("erased personal data of %d youth(s) for referral %s on request of %s", erased, referral_id, actor)
    return erased


async def erase_expired(work: PersonalDataWorkMaker, actor: str) -> int:
    """Erase the personal data of every youth inactive for the retention period, a batch per unit of
    work, each batch audited with it."""
    total, cutoff = 0, None
    while True:
        async with work() as uow:
            settings = uow.settings
            cutoff = cutoff or domain.retention_cutoff(uow.now, settings.personal_data_retention_years)
            erased = await uow.store.erase_clients_inactive_since(
                cutoff, dutch_date(cutoff), uow.now, settings.erasure_batch_size
            )
            if erased:
                await uow.store.record_erasure(
                    at=uow.now, actor=actor, reason="retention", clients=erased, cutoff=cutoff
                )
        total += erased
        if erased < settings.erasure_batch_size:
            break
    if total and cutoff:
        log.info("erased personal data of %d youth(s) without activity since %s", total, cutoff.date())
    return total
