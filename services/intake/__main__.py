from services.intake.app import build
from services.intake.settings import IntakeSettings
from services.runtime.serve import serve

settings = IntakeSettings()
serve(build(settings), settings)
