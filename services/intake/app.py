"""Wiring of the intake service (referrals and allocations arrive with their own issue)."""

from fastapi import FastAPI

from contracts import topics
from services.intake.settings import IntakeSettings
from services.runtime.service import ServiceSpec, create_app


def build(settings: IntakeSettings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or IntakeSettings(),
        title="Schakel intake",
        description="Referrals, allocations (toewijzingen), start and end of care. The only service that "
                    "knows who a youth is; everything it publishes is pseudonymous.",
        publishes=[topics.INTAKE_EVENTS],
    ))
