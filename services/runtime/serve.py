"""Run one service as a process: ``python -m services.<name>``."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from services.runtime import collector
from services.runtime.logs import configure_logging
from services.runtime.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings.service, settings.log_level, settings.log_format)
    # log_config=None: uvicorn keeps the logging set up above instead of installing its own handlers.
    # Its access log stays off; ``services.runtime.access`` writes one without query strings.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    collector.settle()
    server.run(sockets=[_listening_socket(settings)] if settings.reuse_port else None)


def _listening_socket(settings: ServiceSettings) -> socket.socket:
    """A socket several replicas of one service bind together (SO_REUSEPORT): the kernel spreads new
    connections over the live ones, so a replica that dies takes no port with it."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    return sock
