"""Monitoring service configuration."""

from services.runtime.settings import LOCAL_POSTGRES, ServiceSettings


class MonitoringSettings(ServiceSettings):
    service: str = "monitoring"
    port: int = 8004
    database_url: str = f"{LOCAL_POSTGRES}/schakel_monitoring"
