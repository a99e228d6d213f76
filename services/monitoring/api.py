"""Monitoring's HTTP routes: published aggregates (JSON, CSV), the live feed, the acknowledge proxy."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from services.monitoring import queries
from services.monitoring.settings import MonitoringSettings
from services.runtime.auth import Principal, Role, require
from services.runtime.errors import Forbidden, Invalid, problem_response
from services.runtime.openapi import problems
from services.runtime.service import runtime_of
from services.runtime.signal import PgSignal

router = APIRouter(prefix="/v1", tags=["monitoring"])

AGGREGATE_ROLES = (Role.OPERATOR, Role.GEMEENTE)
SCHAKEL_ROLES = (Role.SCHAKELFUNCTIONARIS, Role.EXPERTTEAM, Role.OPERATOR)
HEARTBEAT_SECONDS = 15.0
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"

MunicipalityQuery = Annotated[str | None, Query(pattern=r"^\d{4}$", description="CBS code; absent: the region")]
FromQuery = Annotated[str | None, Query(alias="from", pattern=MONTH, description="First month, YYYY-MM")]
ToQuery = Annotated[str | None, Query(alias="to", pattern=MONTH, description="Last month, YYYY-MM")]


def _settings(request: Request) -> MonitoringSettings:
    return request.app.state.runtime.settings


def scope_for(principal: Principal, municipality: str | None, first: str | None, last: str | None) -> queries.Scope:
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
    return queries.Scope(municipality, first, last)


@router.get("/overview", summary="Totals, monthly trend, per municipality, capacity and shortages (counts <5 as '<5')")
async def get_overview(
    request: Request,
    municipality: MunicipalityQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    principal: Principal = Depends(require(*AGGREGATE_ROLES)),
) -> dict:
    return await queries.overview(
        runtime_of(request).pool, _settings(request), scope_for(principal, municipality, first, last)
    )


@router.get(
    "/flows",
    summary="Instroom, start, uitstroom (by JZ588 reason) and stand per month × municipality × product category",
)
async def get_flows(
    request: Request,
    municipality: MunicipalityQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    principal: Principal = Depends(require(*AGGREGATE_ROLES)),
) -> list[dict]:
    return await queries.flow_rows(
        runtime_of(request).pool, _settings(request), scope_for(principal, municipality, first, last)
    )


@router.get(
    "/waiting-times",
    summary="Waiting time from referral to start of care: median, p90, share over the contract's maximum",
)
async def get_waiting_times(
    request: Request,
    municipality: MunicipalityQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    principal: Principal = Depends(require(*AGGREGATE_ROLES)),
) -> list[dict]:
    return await queries.waiting_rows(
        runtime_of(request).pool, _settings(request), scope_for(principal, municipality, first, last)
    )


CSV_COLUMNS = (
    "maand",
    "gemeente",
    "productcategorie",
    "instroom",
    "gestart",
    "beeindigd",
    "uitval",
    "in_zorg_einde_maand",
    "wachttijd_jeugdigen",
    "wachttijd_mediaan_dagen",
    "wachttijd_p90_dagen",
    "max_wachttijd_dagen",
    "aandeel_boven_max",
)


@router.get(
    "/export.csv",
    summary="Flows and waiting time per municipality and month, for the region's Power BI",
    response_class=Response,
)
async def export_csv(
    request: Request,
    municipality: MunicipalityQuery = None,
    first: FromQuery = None,
    last: ToQuery = None,
    principal: Principal = Depends(require(*AGGREGATE_ROLES)),
) -> Response:
    rows = await queries.flow_rows(
        runtime_of(request).pool, _settings(request), scope_for(principal, municipality, first, last)
    )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")  # ';' as Dutch Excel and Power BI expect
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        wait = r["waiting"] or {}
        writer.writerow(
            [
                r["month"],
                r["municipality"],
                r["product_category"],
                r["referrals_in"],
                r["care_started"],
                r["care_ended"],
                r["uitval"],
                r["in_care_at_month_end"],
                wait.get("youths", ""),
                _blank(wait.get("median_days")),
                _blank(wait.get("p90_days")),
                _blank(wait.get("max_wait_days")),
                _blank(wait.get("share_over_max")),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="schakel-monitoring.csv"'},
    )


def _blank(value: object) -> object:
    return "" if value is None else value


@router.get("/schakelfunctie", summary="Open shortages, youths waiting for a place and escalations (pseudonymous)")
async def get_schakelfunctie(request: Request, _: Principal = Depends(require(*SCHAKEL_ROLES))) -> dict:
    return await queries.schakelfunctie(runtime_of(request).pool)


@router.get("/capacity", summary="Capacity tiles per verblijf setting and active shortages (no personal data)")
async def get_capacity(request: Request) -> dict:
    return await queries.live_state(runtime_of(request).pool, datetime.now(UTC))


@router.get("/live", summary="Server-Sent Events: the capacity tiles and shortages after every change")
async def live(request: Request) -> EventSourceResponse:
    """Carries no personal data, so it needs no key; pages re-fetch their keyed data on each event.

    Its events have no id and each carries the whole state, so a Last-Event-ID is never read:
    a reconnecting page gets the current state at once, whatever id it sends."""
    pool = runtime_of(request).pool
    feed: PgSignal = request.app.state.live_feed

    async def events():
        changed = True  # a new subscriber gets the current state at once
        while True:
            wake = feed.current()
            if changed:
                state = await queries.live_state(pool, datetime.now(UTC))
                yield {"event": "update", "data": json.dumps(state)}
            await feed.wait(wake, HEARTBEAT_SECONDS)
            changed = wake.is_set()

    return EventSourceResponse(events(), ping=HEARTBEAT_SECONDS)


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
    url = f"{_settings(request).capacity_url.rstrip('/')}/v1/alerts/{alert_id}/acknowledge"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(url, headers={"Authorization": authorization})
    except httpx.TransportError as exc:
        return problem_response(502, "Bad Gateway", f"capacity did not answer ({type(exc).__name__}); please retry")
    # Capacity's answer as it came, problem+json included; only its own headers that still hold.
    kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after", "www-authenticate")}
    return Response(answer.content, status_code=answer.status_code, headers=kept)
