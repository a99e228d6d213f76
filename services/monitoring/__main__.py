import sys

from pydantic import ValidationError

from services.monitoring.app import build
from services.monitoring.settings import MonitoringSettings
from services.runtime.serve import serve

try:
    settings = MonitoringSettings()
except ValidationError as exc:
    # A region or pools file that does not validate is named with what is wrong, nothing else.
    reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors(include_input=False))
    sys.exit(f"monitoring refuses to start: {reasons}")
serve(build(settings), settings)
