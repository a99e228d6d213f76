"""Places: a provider's report (and what it sets off), and which providers may report them."""

from __future__ import annotations

from contracts.capacity import CapacityReported
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.envelope import Envelope, EventAttributes
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.commands import Work
from services.capacity.commands.matching import rematch
from services.capacity.commands.shortages import reevaluate
from services.runtime.auth import Principal
from services.runtime.errors import Conflict


async def report_capacity(
    uow: Work, agb: str, setting: Setting, figures: domain.CapacityFigures, reported_by: Principal
) -> CapacityReported:
    """Store a provider's report and act on it: rematch waiting youths, open or close the shortage."""
    await uow.store.lock_settings([setting])
    if setting not in await uow.store.admitted_settings(agb):
        raise Conflict(
            f"provider {agb} is not admitted for {setting}: only providers admitted to a lot "
            f"covering this setting (Open House) may report places for it"
        )
    reported, envelope = await record_report(uow, agb, setting, figures, reported_by.actor)
    # A place that came free goes to whoever waits for it before anyone else sees it as free.
    touched = await rematch(uow, setting, envelope)
    await reevaluate(uow, {setting, *touched}, envelope)
    return reported


async def record_report(
    uow: Work,
    agb: str,
    setting: str,
    figures: domain.CapacityFigures,
    reported_by: str,
    cause: EventAttributes | None = None,
) -> tuple[CapacityReported, Envelope]:
    """Keep a report in the history and announce it with the region's free places after it."""
    await uow.store.insert_report(agb, setting, figures, uow.now, reported_by)
    mine = domain.ProviderCapacity(figures.total, figures.occupied, figures.closed_to_admission)
    reported = CapacityReported(
        agb=agb,
        setting=setting,
        total=figures.total,
        occupied=figures.occupied,
        free=mine.free,
        closed_to_admission=figures.closed_to_admission,
        age_min=figures.age_min,
        age_max=figures.age_max,
        reported_at=uow.now,
        regional_free=domain.regional_free(await uow.store.providers_of(setting)),
    )
    return reported, uow.collect(reported, cause=cause)


async def occupy_place(uow: Work, agb: str, setting: str, reported_by: str, cause: Envelope) -> None:
    """A youth took one of the provider's places: the occupancy changes as a report of its own, so
    history shows why the place went. A provider admitted for one youth alone (a doorbraak's maatwerk
    contract) reports no places, so there is nothing to change."""
    current = await uow.store.current_figures(agb, setting)
    if current is not None:
        occupied = current.model_copy(update={"occupied": min(current.occupied + 1, current.total)})
        await record_report(uow, agb, setting, occupied, reported_by, cause)


async def register_provider(uow: Work, agb: str, settings: list[Setting], municipality_code: str | None) -> set[str]:
    """An admin admits a provider for settings by hand (until contracting's ProviderAdmitted arrives)."""
    await uow.store.admit_provider(agb, settings, "admin", uow.now, municipality_code)
    return await uow.store.admitted_settings(agb)


async def admit(uow: Work, admitted: ProviderAdmitted) -> None:
    """Contracting admitted a provider to a lot: it may report places in the lot's settings.

    Admission alone changes no figures: its places count from the provider's first report.
    """
    if admitted.settings:
        await uow.store.admit_provider(
            admitted.provider_agb, admitted.settings, str(admitted.contract_id), admitted.admitted_at
        )


async def end_contract(uow: Work, ended: ContractEnded) -> None:
    """Its places stop counting and it is no longer proposed; open proposals run out on their timer."""
    settings = await uow.store.end_admissions(str(ended.contract_id), uow.now)
    # A maatwerk contract admitted its provider for one youth only: that ends with it too.
    await uow.store.end_placement_admissions(str(ended.contract_id), uow.now)
    await reevaluate(uow, settings)
