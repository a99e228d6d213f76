from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.runtime.serve import serve

settings = CapacitySettings()
serve(build(settings), settings)
