from services.contracting.app import build
from services.contracting.settings import ContractingSettings
from services.runtime.serve import serve

settings = ContractingSettings()
serve(build(settings), settings)
