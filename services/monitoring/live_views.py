"""The live views: capacity tiles and shortages (places, exact) and the schakelfunctionaris' inbox
(youths waiting and escalations, pseudonymous), with the runtime's time as "now"."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from pydantic import BaseModel, Field

from services.monitoring import domain
from services.monitoring.queries import Reading


class CapacityTile(BaseModel):
    """Places per verblijf setting and how fresh the figures are (places are not people: exact)."""

    setting: str
    free: int
    occupied: int
    total: int
    providers: int
    occupancy_rate: float | None
    last_report_at: str | None = Field(description="ISO 8601")
    report_age_seconds: float | None
    shortage_active: bool
    state: str = Field(description="tekort, krap or ruim")


class Shortage(BaseModel):
    shortage_id: uuid.UUID
    alert_id: uuid.UUID | None
    setting: str
    severity: str
    free_places: int | None
    waiting: int | None
    detected_at: str = Field(description="ISO 8601")
    resolved_at: str | None
    duration_seconds: float
    acknowledged_role: str | None
    acknowledged_at: str | None


class AcknowledgedShortage(Shortage):
    """A shortage with who acknowledged it: only in the keyed schakelfunctie view, since the public
    feeds (wall screens) name the role alone."""

    acknowledged_by: str | None


class LiveState(BaseModel):
    settings: list[CapacityTile]
    shortages: list[Shortage]


class WaitingYouth(BaseModel):
    placement_id: uuid.UUID
    age: int | None
    municipality: str | None
    settings: list[str]
    urgency: str | None
    days_waiting: int
    candidates_tried: int
    declines: int
    escalated_to: str | None


class Escalation(BaseModel):
    alert_id: uuid.UUID
    placement_id: uuid.UUID
    municipality: str
    level: str
    urgency: str
    settings: list[str]
    reason: str
    escalated_at: str = Field(description="ISO 8601")
    outcome: str = Field(description="geplaatst, ingetrokken or open")
    acknowledged_by: str | None
    acknowledged_role: str | None
    acknowledged_at: str | None


class SchakelfunctieInbox(BaseModel):
    shortages: list[AcknowledgedShortage]
    waiting: list[WaitingYouth]
    escalations: list[Escalation]


# --- views: capacity, shortages, the schakelfunctie --------------------------------------------


async def live_state(uow: Reading) -> LiveState:
    """The capacity tiles and the active shortages: what the public feed and ``/v1/capacity`` show."""
    active = await uow.store.shortages(active_only=True)
    return LiveState(
        settings=await capacity_tiles(uow, active),
        shortages=[Shortage.model_validate(_shortage(r, uow.now)) for r in active],
    )


async def capacity_tiles(uow: Reading, active_shortages: list[asyncpg.Record] | None = None) -> list[CapacityTile]:
    """Per verblijf setting: places and how fresh the figures are."""
    if active_shortages is None:
        active_shortages = await uow.store.shortages(active_only=True)
    active = {row["setting"] for row in active_shortages}
    reported = sorted(await uow.store.setting_capacity(), key=lambda c: c.setting)
    # A setting in shortage that no provider reports on still gets its (red) tile, after the others.
    unreported = [
        domain.SettingCapacity(setting, 0, 0, 0, 0, None, None)
        for setting in sorted(active - {c.setting for c in reported})
    ]
    return [
        CapacityTile(
            setting=cap.setting,
            free=cap.free,
            occupied=cap.occupied,
            total=cap.total,
            providers=cap.providers,
            occupancy_rate=cap.occupancy_rate,
            last_report_at=_iso(cap.last_report_at),
            report_age_seconds=domain.report_age_seconds(cap, uow.now),
            shortage_active=cap.setting in active,
            state=domain.tile_colour(cap.free, cap.setting in active),
        )
        for cap in reported + unreported
    ]


def _shortage(r: asyncpg.Record, now: datetime) -> dict[str, object]:
    return {
        **dict(r),
        "detected_at": r["detected_at"].isoformat(),
        "resolved_at": _iso(r["resolved_at"]),
        "duration_seconds": domain.shortage_duration_seconds(r["detected_at"], r["resolved_at"], now),
        "acknowledged_at": _iso(r["acknowledged_at"]),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def schakelfunctie(uow: Reading) -> SchakelfunctieInbox:
    """The schakelfunctionaris' inbox: open shortages, youths waiting, escalations (pseudonymous)."""
    return SchakelfunctieInbox(
        shortages=[
            AcknowledgedShortage.model_validate(_shortage(r, uow.now))
            for r in await uow.store.shortages(active_only=True)
        ],
        waiting=[
            WaitingYouth(
                placement_id=r["placement_id"],
                age=r["age"],
                municipality=r["municipality"],
                settings=list(r["settings"]),
                urgency=r["urgency"],
                days_waiting=max((uow.now - r["requested_at"]).days, 0),
                candidates_tried=r["proposals"],
                declines=r["declines"],
                escalated_to=r["level"],
            )
            for r in await uow.store.waiting_youths()
        ],
        escalations=[
            Escalation.model_validate(
                {
                    **dict(r),
                    "settings": list(r["settings"]),
                    "escalated_at": r["escalated_at"].isoformat(),
                    "outcome": domain.escalation_outcome(r["confirmed_at"], r["withdrawn_at"]),
                    "acknowledged_at": _iso(r["acknowledged_at"]),
                }
            )
            for r in await uow.store.escalations()
        ],
    )
