"""Wiring of the contracting service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from contracts import topics
from services.contracting import handlers, store
from services.contracting.api import router
from services.contracting.lots import Lot
from services.contracting.settings import ContractingSettings
from services.runtime.service import Runtime, ServiceSpec, create_app


def load_lots(path: Path) -> list[Lot]:
    return [Lot.model_validate(lot) for lot in json.loads(path.read_text())["lots"]]


async def _start(_app: FastAPI, runtime: Runtime) -> None:
    settings: ContractingSettings = runtime.settings  # type: ignore[assignment]
    await store.seed_lots(runtime.pool, load_lots(settings.lots_seed), datetime.now(UTC))


def build(settings: ContractingSettings | None = None) -> FastAPI:
    return create_app(
        ServiceSpec(
            settings=settings or ContractingSettings(),
            title="Schakel contracting",
            description="Open House admission, lots (percelen), contracts and declaration checks (Digitaal Leefplein).",
            migrations=Path(__file__).parent / "migrations",
            routers=[router],
            consumers=lambda _app, _runtime: handlers.consumers(),
            publishes=[topics.CONTRACTING_EVENTS],
            on_start=_start,
        )
    )
