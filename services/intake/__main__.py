import sys

from pydantic import ValidationError

from services.intake.app import build
from services.intake.settings import IntakeSettings
from services.runtime.serve import serve

try:
    settings = IntakeSettings()
except ValidationError as exc:
    # Only the messages: pydantic's own text would repeat the rejected values, secrets included.
    reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors(include_input=False))
    sys.exit(f"intake refuses to start: {reasons}")
serve(build(settings), settings)
