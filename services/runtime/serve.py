"""Run one service as a process: ``python -m services.<name>``."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.runtime.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format=f"%(asctime)s %(levelname)s {settings.service} %(name)s: %(message)s",
    )
    # aiokafka reports every failed reconnect at ERROR; one warning of ours per retry is enough.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # httpx logs every request URL at INFO; a webhook URL can carry its receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                access_log=False, lifespan="on")
