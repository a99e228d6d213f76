"""Wiring of the contracting service (Open House and declarations arrive with their own issue)."""

from fastapi import FastAPI

from contracts import topics
from services.contracting.settings import ContractingSettings
from services.runtime.service import ServiceSpec, create_app


def build(settings: ContractingSettings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or ContractingSettings(),
        title="Schakel contracting",
        description="Open House admission, lots (percelen), contracts and declaration checks (Digitaal Leefplein).",
        publishes=[topics.CONTRACTING_EVENTS],
    ))
