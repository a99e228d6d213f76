from services.monitoring.app import build
from services.monitoring.settings import MonitoringSettings
from services.runtime.serve import serve

settings = MonitoringSettings()
serve(build(settings), settings)
