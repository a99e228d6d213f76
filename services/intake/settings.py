"""Intake service configuration."""

from services.runtime.settings import LOCAL_POSTGRES, ServiceSettings


class IntakeSettings(ServiceSettings):
    service: str = "intake"
    port: int = 8001
    database_url: str = f"{LOCAL_POSTGRES}/schakel_intake"
