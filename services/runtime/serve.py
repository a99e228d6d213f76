"""Run one service as a process: ``python -m services.<name>``."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from services.runtime.logs import configure_logging
from services.runtime.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service, settings.log_level, settings.log_format)
    # log_config=None: uvicorn keeps the logging set up above instead of installing its own handlers.
    # Its access log stays off; ``services.runtime.access`` writes one without query strings.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
