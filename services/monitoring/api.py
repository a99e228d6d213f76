"""Monitoring's HTTP routes: published aggregates (JSON, CSV), the live feed, the acknowledge proxy."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from services.monitoring import doorbraak_views, flow_views, live_views, pool_views
from services.monitoring.doorbraak_views import DoorbraakRow, DoorbraakView
from services.monitoring.flow_views import FlowRow, Overview, WaitingRow
from services.monitoring.live_views import LiveState, SchakelfunctieInbox
from services.monitoring.pool_views import PoolsView
from services.monitoring.queries import ReadModels, Scope
from services.monitoring.settings import MonitoringSettings
from services.runtime.auth import Principal, require
from services.runtime.errors import Forbidden, Invalid, problem_response
from services.runtime.openapi import problems
from services.runtime.roles import ALERT_ROLES, Role
from services.runtime.service import Runtime, runtime_of
from services.runtime.sse import signal_stream

router = APIRouter(prefix="/v1", tags=["monitoring"])

AGGREGATE_ROLES = (Role.OPERATOR, Role.GEMEENTE)
# The pool view is part of the schakelfunctie's pages: for its roles (the expertisenetwerk included).
POOL_ROLES = ALERT_ROLES
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"

MunicipalityQuery = Annotated[str | None, Query(pattern=r"^\d{4}$", description="CBS code; absent: the region")]
FromQuery = Annotated[str | None, Query(alias="from", pattern=MONTH, description="First month, YYYY-MM")]
ToQuery = Annotated[str | None, Query(alias="to", pattern=MONTH, description="Last month, YYYY-MM")]


def runtime(request: Request) -> Runtime[MonitoringSettings]:
    return runtime_of(request)


def scope_for(principal: Principal, municipality: str | None, first: str | None, last: str | None) -> Scope:
    """A gemeente sees its own municipality only; an operator any, or the region."""
    if first and last and first > last:
        raise Invalid(f"from ({first}) lies after to ({last})")
    if principal.role is Role.GEMEENTE:
        if municipality not in (None, principal.subject):
            raise Forbidden(
                f"a gemeente key for {principal.subject} may only see municipality {principal.subject}, "
                f"not {municipality}"
            )
        municipality = principal.subject
    return Scope(municipality, first, last)


async def aggregate_scope(
    municipality: MunicipalityQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    principal: Principal = Depends(require(*AGGREGATE_ROLES)),
) -> Scope:
    """The scope an aggregate route is asked for, as far as the caller's key may see."""
    return scope_for(principal, municipality, first, last)


AggregateScope = Annotated[Scope, Depends(aggregate_scope)]


@router.get("/overview", summary="Totals, monthly trend, per municipality, capacity and shortages (counts <5 as '<5')")
async def get_overview(request: Request, scope: AggregateScope) -> Overview:
    async with runtime(request).reading(ReadModels) as uow:
        return await flow_views.overview(uow, scope)


@router.get(
    "/flows",
    summary="Instroom, start, uitstroom (by JZ588 reason) and stand per month × municipality × product category",
)
async def get_flows(request: Request, scope: AggregateScope) -> list[FlowRow]:
    async with runtime(request).reading(ReadModels) as uow:
        return await flow_views.flow_rows(uow, scope)


@router.get(
    "/waiting-times",
    summary="Waiting time from referral to start of care: median, p90, share over the configured maximum",
)
async def get_waiting_times(request: Request, scope: AggregateScope) -> list[WaitingRow]:
    async with runtime(request).reading(ReadModels) as uow:
        return await flow_views.waiting_rows(uow, scope)


@router.get(
    "/export.csv",
    summary="Flows and waiting time per municipality and month, for the region's Power BI",
    response_class=Response,
)
async def export_csv(request: Request, scope: AggregateScope) -> Response:
    async with runtime(request).reading(ReadModels) as uow:
        rows = await flow_views.flow_rows(uow, scope)
    return Response(
        flow_views.flows_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="schakel-monitoring.csv"'},
    )


@router.get("/schakelfunctie", summary="Open shortages, youths waiting for a place and escalations (pseudonymous)")
async def get_schakelfunctie(request: Request, _: Principal = Depends(require(*ALERT_ROLES))) -> SchakelfunctieInbox:
    async with runtime(request).reading(ReadModels) as uow:
        return await live_views.schakelfunctie(uow)


@router.get(
    "/doorbraak",
    summary="The expert team's open cases with their open decision and due date, overdue first (pseudonymous)",
)
async def get_doorbraak(request: Request, _: Principal = Depends(require(*ALERT_ROLES))) -> DoorbraakView:
    async with runtime(request).reading(ReadModels) as uow:
        return await doorbraak_views.doorbraak(uow)


@router.get(
    "/doorbraak/figures",
    summary="Doorbraak per month × municipality: cases taken up, decisions by kind, median days to decision "
    "and to start of care (counts <5 as '<5')",
)
async def get_doorbraak_figures(request: Request, scope: AggregateScope) -> list[DoorbraakRow]:
    async with runtime(request).reading(ReadModels) as uow:
        return await doorbraak_views.figure_rows(uow, scope)


@router.get(
    "/pools",
    summary="Per pool and pooled setting, each member region's free, total and reserved places and open "
    "shortage, and the pool's totals; this region first and marked (no personal data)",
)
async def get_pools(request: Request, principal: Principal = Depends(require(*POOL_ROLES))) -> PoolsView:
    # An expertisenetwerk's key names its pool ("midden-nederland" or "midden-nederland.jzp"): that pool only.
    only = principal.subject.split(".")[0] if principal.role is Role.EXPERTISENETWERK else None
    async with runtime(request).reading(ReadModels) as uow:
        return await pool_views.pools(uow, only=only)


@router.get("/capacity", summary="Capacity tiles per verblijf setting and active shortages (no personal data)")
async def get_capacity(request: Request) -> LiveState:
    async with runtime(request).reading(ReadModels) as uow:
        return await live_views.live_state(uow)


@router.get("/live", summary="Server-Sent Events: the capacity tiles and shortages after every change")
async def live(request: Request) -> EventSourceResponse:
    """Carries no personal data, so it needs no key; pages re-fetch their keyed data on each event.

    Its events have no id and each carries the whole state, so a Last-Event-ID is never read:
    a reconnecting page gets the current state at once, whatever id it sends."""
    service = runtime(request)

    async def read(woken: bool) -> list[dict[str, str]]:
        if not woken:
            return []
        async with service.reading(ReadModels) as uow:
            state = await live_views.live_state(uow)
        return [{"event": "update", "data": json.dumps(state.model_dump(mode="json"))}]

    return signal_stream(request.app.state.live_feed, read)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert at capacity, with the caller's own key (forwarded unchanged)",
    responses=problems(401, 403, 404, 429, 502),
)
async def acknowledge(alert_id: uuid.UUID, request: Request) -> Response:
    authorization = request.headers.get("authorization")
    if not authorization:
        return problem_response(
            401,
            "Unauthorized",
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    url = f"{runtime(request).settings.capacity_url.rstrip('/')}/v1/alerts/{alert_id}/acknowledge"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(url, headers={"Authorization": authorization})
    except httpx.TransportError as exc:
        return problem_response(502, "Bad Gateway", f"capacity did not answer ({type(exc).__name__}); please retry")
    # Capacity's answer as it came, problem+json included; only its own headers that still hold.
    kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after", "www-authenticate")}
    return Response(answer.content, status_code=answer.status_code, headers=kept)
