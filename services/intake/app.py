"""Wiring of the intake service: routes, consumers, the vault, the overdue-request and retention watches."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Gauge

from contracts import topics
from services.intake import allocations, handlers, registry, store
from services.intake.api import router
from services.intake.context import Intake
from services.intake.personal_data import RetentionWatch
from services.intake.personal_data_api import router as personal_data_router
from services.intake.privacy import Vault
from services.intake.settings import IntakeSettings
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer
from services.runtime.periodic import Periodic
from services.runtime.service import Runtime, ServiceSpec, create_app


class OverdueWatch:
    """Reports requests left unanswered past five working days, and keeps their gauge current."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.gauge = Gauge(
            "schakel_intake_allocation_requests_overdue",
            "Open requests for a toewijzing past their answer deadline.",
            registry=intake.runtime.registry,
        )
        self._periodic = Periodic("intake-overdue-watch", self.check, intake.settings.overdue_check_seconds)

    async def check(self) -> int:
        reported = await allocations.report_overdue(self.intake)
        self.gauge.set(await store.count_overdue_open(self.intake.runtime.pool, self.intake.now()))
        return reported

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


def build(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()

    async def start(app: FastAPI, runtime: Runtime) -> None:
        app.state.intake = Intake(
            runtime=runtime,
            settings=settings,
            vault=Vault(settings.fernet_keys()),
            registry=registry.load(),
            clock=clock or Clock(),
        )
        app.state.overdue = OverdueWatch(app.state.intake)
        app.state.overdue.start()
        app.state.retention = RetentionWatch(app.state.intake)
        app.state.retention.start()

    async def stop(app: FastAPI, _runtime: Runtime) -> None:
        await app.state.overdue.stop()
        await app.state.retention.stop()

    def consumers(_app: FastAPI, _runtime: Runtime) -> list[Consumer]:
        return handlers.consumers()

    app = create_app(
        ServiceSpec(
            settings=settings,
            title="Schakel intake",
            description="Referrals, allocations (toewijzingen), start and end of care. The only service that "
            "knows who a youth is; everything it publishes is pseudonymous.",
            migrations=Path(__file__).parent / "migrations",
            routers=[router, personal_data_router],
            consumers=consumers,
            publishes=[topics.INTAKE_EVENTS],
            on_start=start,
            on_stop=stop,
        )
    )

    return app
