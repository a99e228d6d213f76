"""Capacity's HTTP routes: reports, the regional picture, providers, alerts and their live stream."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from contracts.identifiers import GemeenteCode
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity.audience import audience, kinds_seen_by
from services.capacity.commands import alerts, capacity
from services.capacity.settings import CapacitySettings
from services.capacity.store import open_store, reads
from services.capacity.store.reports import provider_capacity
from services.runtime.auth import Principal, require
from services.runtime.errors import Forbidden, NotFound
from services.runtime.openapi import problems
from services.runtime.roles import ALERT_ROLES, Role
from services.runtime.service import Runtime, runtime_of
from services.runtime.sse import signal_stream

router = APIRouter(prefix="/v1", tags=["capacity"])

ALL_ROLES = tuple(Role)

AgbPath = Annotated[str, Path(pattern=r"^\d{8}$", description="The provider's AGB code")]


def runtime(request: Request) -> Runtime[CapacitySettings]:
    """The capacity service's runtime, its settings typed."""
    return runtime_of(request)


class CapacityAccepted(BaseModel):
    agb: str
    setting: Setting
    free: int
    regional_free: int
    reported_at: datetime


@router.put(
    "/capacity/{agb}/{setting}",
    status_code=200,
    response_model=CapacityAccepted,
    summary="Report a provider's places for one verblijf setting (kept as history)",
    responses=problems(409),
)
async def put_capacity(
    figures: domain.CapacityFigures,
    agb: AgbPath,
    setting: Setting,
    request: Request,
    principal: Principal = Depends(require(Role.PROVIDER)),
) -> CapacityAccepted:
    if principal.agb != agb:
        raise Forbidden(f"a provider key for AGB {principal.agb} may only report for that AGB, not {agb}")
    async with runtime(request).work(open_store) as uow:
        reported = await capacity.report_capacity(uow, agb, setting, figures, principal)
    return CapacityAccepted(
        agb=agb,
        setting=setting,
        free=reported.free,
        regional_free=reported.regional_free,
        reported_at=reported.reported_at,
    )


@router.get(
    "/capacity",
    response_model=list[domain.SettingSummary],
    summary="Free places per setting across the region, with when they were last updated",
)
async def get_capacity(request: Request, _: Principal = Depends(require(*ALL_ROLES))) -> list[domain.SettingSummary]:
    by_setting: dict[str, list[tuple[domain.ProviderCapacity, datetime]]] = defaultdict(list)
    since: dict[str, datetime | None] = {}
    for row in await reads.current_reports(runtime(request).pool):
        by_setting[row["setting"]].append((provider_capacity(row), row["reported_at"]))
        since[row["setting"]] = row["shortage_since"]
    return [domain.summarise(Setting(s), reports, since[s]) for s, reports in by_setting.items()]


class Alert(BaseModel):
    id: uuid.UUID
    seq: int
    type: str
    setting: Setting | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_role: str | None
    event: dict[str, Any]


@router.get(
    "/alerts",
    response_model=list[Alert],
    summary="Alerts meant for the caller's role (as its webhooks get them), newest first",
)
async def get_alerts(
    request: Request,
    type: Annotated[str | None, Query(description="Event type, e.g. nl.schakel.capacity.ShortageDetected")] = None,
    setting: Setting | None = None,
    acknowledged: Annotated[bool | None, Query(description="true: only acknowledged; false: only open")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    principal: Principal = Depends(require(*ALERT_ROLES)),
) -> list[Alert]:
    kinds = [(k.event_type, k.level) for k in kinds_seen_by(principal.role)]
    rows = await reads.list_alerts(
        runtime(request).pool, alert_type=type, setting=setting, acknowledged=acknowledged, limit=limit, kinds=kinds
    )
    return [Alert(**{k: r[k] for k in r.keys() if k != "envelope"}, event=json.loads(r["envelope"])) for r in rows]


class Acknowledgement(BaseModel):
    acknowledged: bool = Field(description="False when the alert already was acknowledged (twice is harmless).")


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=Acknowledgement,
    summary="Acknowledge an alert (who and when are recorded)",
    responses=problems(404),
)
async def acknowledge_alert(
    alert_id: uuid.UUID, request: Request, principal: Principal = Depends(require(*ALERT_ROLES))
) -> Acknowledgement:
    alert = await reads.alert_kind(runtime(request).pool, alert_id)
    if alert is None or principal.role not in audience(alert["type"], json.loads(alert["data"] or "{}")):
        # An alert outside the caller's audience is not theirs to see, nor to acknowledge.
        raise NotFound(f"no alert with id {alert_id}")
    async with runtime(request).work(open_store) as uow:
        return Acknowledgement(acknowledged=await alerts.acknowledge(uow, alert_id, principal))


# An event id is an alert seq (bigint): ASCII digits only — str.isdigit() also takes "²", which int() refuses.
# Empty is what a client sends after the server reset its id: no id, as if absent.
EVENT_ID_PATTERN = r"^[0-9]{0,18}$"
MAX_EVENT_ID = 10**18 - 1


@router.get(
    "/alerts/stream",
    summary="Live alerts meant for the caller's role as Server-Sent Events; resumes from Last-Event-ID",
)
async def stream_alerts(
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", pattern=EVENT_ID_PATTERN, description="The id of the last event received"),
    ] = None,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Resume after this event id (if no Last-Event-ID)")
    ] = None,
    principal: Principal = Depends(require(*ALERT_ROLES)),
) -> EventSourceResponse:
    pool = runtime(request).pool
    resume = int(last_event_id) if last_event_id else since
    # A new subscriber starts at "now"; one that reconnects gets everything it missed.
    position = resume if resume is not None else await reads.latest_alert_seq(pool)

    async def read(_woken: bool) -> list[dict[str, str]]:
        nonlocal position
        events = []
        for row in await reads.alerts_after(pool, position):
            position = row["seq"]
            envelope = row["envelope"]
            if principal.role in audience(row["type"], json.loads(envelope).get("data") or {}):
                events.append({"id": str(row["seq"]), "event": row["type"].rsplit(".", 1)[-1], "data": envelope})
        return events

    return signal_stream(request.app.state.alert_feed, read, open_streams=request.app.state.alert_streams_open)


class ReportHistoryItem(BaseModel):
    total: int
    occupied: int
    closed_to_admission: bool
    age_min: int | None
    age_max: int | None
    reported_at: datetime


@router.get(
    "/capacity/{agb}/{setting}/history",
    response_model=list[ReportHistoryItem],
    summary="Every report of one provider and setting, newest first",
)
async def get_history(
    agb: AgbPath,
    setting: Setting,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    principal: Principal = Depends(require(Role.PROVIDER, *ALERT_ROLES, Role.ADMIN)),
) -> list[ReportHistoryItem]:
    if principal.role is Role.PROVIDER and principal.agb != agb:
        raise Forbidden("a provider sees only its own history")
    rows = await reads.report_history(runtime(request).pool, agb, setting, limit)
    return [ReportHistoryItem(**dict(r)) for r in rows]


class ProviderRegistration(BaseModel):
    settings: list[Setting] = Field(
        min_length=1, max_length=len(Setting), description="Settings the provider may offer places in."
    )
    municipality_code: GemeenteCode | None = Field(default=None, description="Where its places are (nearest first).")


class ProviderAdmission(BaseModel):
    agb: str
    settings: list[str] = Field(description="Every setting the provider is admitted for now, by any admission.")


@router.put(
    "/providers/{agb}",
    response_model=ProviderAdmission,
    summary="Admit a provider for settings by hand (until contracting admits it)",
)
async def put_provider(
    agb: AgbPath,
    registration: ProviderRegistration,
    request: Request,
    _: Principal = Depends(require(Role.ADMIN)),
) -> ProviderAdmission:
    async with runtime(request).work(open_store) as uow:
        admitted = await capacity.register_provider(uow, agb, registration.settings, registration.municipality_code)
    return ProviderAdmission(agb=agb, settings=sorted(admitted))
