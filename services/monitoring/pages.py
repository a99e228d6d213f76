"""The two web pages: the dashboard (``/``) and the schakelfunctionaris' inbox (``/schakelfunctie``).

Pages are server-rendered shells; figures come from the JSON API with the user's own key
(kept in sessionStorage), and the capacity tiles from the unauthenticated live feed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from contracts import regions
from services.monitoring import live_views
from services.monitoring.api import runtime
from services.monitoring.queries import ReadModels

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

SETTING_LABELS = {
    "pleegzorg": "Pleegzorg",
    "gezinshuis": "Gezinshuis",
    "tussenvoorziening": "Tussenvoorziening",
    "residentieel": "Residentieel",
    "driemilieu": "Driemilieu / OBC",
    "crisisplek": "Crisisplek",
    "jeugdzorgplus": "JeugdzorgPlus",
}
STATE_LABELS = {"tekort": "Tekort", "krap": "Krap", "ruim": "Ruimte", "onbekend": "Niets gemeld"}
DOORBRAAK_LABELS = {
    "stages": {
        "te_laat": "Te laat",
        "besluit_loopt": "Besluit loopt",
        "besluit_nodig": "Wacht op besluit",
        "uitgevoerd": "Uitgevoerd, wacht op start zorg",
    },
    "kinds": {
        "maatwerk": "Maatwerk",
        "perceel": "Nieuw of uitgebreid perceel",
        "buiten_regio": "Plek buiten de regio",
        "pgb": "Pgb",
        "anders": "Anders",
    },
    "executors": {
        "contractmanagement": "Contractmanagement",
        "gemeente": "Gemeente",
        "schakelfunctionaris": "Schakelfunctionaris",
        "aanbieder": "Aanbieder",
    },
}


def _context(request: Request, **extra: object) -> dict[str, object]:
    settings = runtime(request).settings
    return {
        "request": request,
        "municipalities": settings.municipalities,
        "region_title": regions.known_region(settings.region),
        "setting_labels": SETTING_LABELS,
        "state_labels": STATE_LABELS,
        "doorbraak_labels": DOORBRAAK_LABELS,
        **extra,
    }


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    async with runtime(request).reading(ReadModels) as uow:
        tiles = await live_views.capacity_tiles(uow)
    return templates.TemplateResponse(request, "dashboard.html", _context(request, tiles=tiles))


@router.get("/schakelfunctie", response_class=HTMLResponse)
async def schakelfunctie(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "schakelfunctie.html", _context(request))
