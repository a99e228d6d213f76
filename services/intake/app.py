"""Wiring of the intake service: routes, consumers, the vault, the overdue-request and retention watches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from contracts import topics
from services.intake import handlers
from services.intake.allocations_api import router as allocations_router
from services.intake.api import router
from services.intake.personal_data_api import router as personal_data_router
from services.intake.privacy import Vault
from services.intake.settings import IntakeSettings
from services.intake.watches import OverdueWatch, RetentionWatch
from services.runtime.clock import Clock
from services.runtime.periodic import Periodic
from services.runtime.service import Runtime, ServiceSpec, create_app

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()

    async def start(app: FastAPI, runtime: Runtime[Any]) -> None:
        app.state.overdue = OverdueWatch(runtime)
        app.state.retention = RetentionWatch(runtime)
        app.state.watches = [
            Periodic("intake-overdue-watch", app.state.overdue.check, settings.overdue_check_seconds),
            Periodic("intake-retention-watch", app.state.retention.check, settings.retention_check_seconds),
        ]
        for watch in app.state.watches:
            watch.start()

    async def stop(app: FastAPI, _runtime: Runtime[Any]) -> None:
        for watch in app.state.watches:
            await watch.stop()

    app = create_app(
        ServiceSpec(
            settings=settings,
            title="Schakel intake",
            description="Referrals, allocations (toewijzingen), start and end of care. The only service that "
            "knows who a youth is; everything it publishes is pseudonymous.",
            migrations=MIGRATIONS,
            routers=[router, allocations_router, personal_data_router],
            consumers=lambda _app, _runtime: handlers.consumers(),
            publishes=[topics.INTAKE_EVENTS],
            on_start=start,
            on_stop=stop,
            clock=clock or Clock(),
        )
    )
    app.state.vault = Vault(settings.fernet_keys())
    return app
