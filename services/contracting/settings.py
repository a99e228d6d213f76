"""Contracting service configuration."""

from services.runtime.settings import LOCAL_POSTGRES, ServiceSettings


class ContractingSettings(ServiceSettings):
    service: str = "contracting"
    port: int = 8002
    database_url: str = f"{LOCAL_POSTGRES}/schakel_contracting"
