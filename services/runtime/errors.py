"""Domain errors and their one mapping to HTTP status codes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.runtime.db import UNAVAILABLE

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain refused the request; the message says what would be right."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI would echo every rejected value back; a BSN or birth date is never repeated,
        # not even to its sender. Where the error is (loc) and why (msg) is what a client needs.
        errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable during a request: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "the database is unavailable; nothing was stored, please retry"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for exc_type in UNAVAILABLE:
        app.add_exception_handler(exc_type, unavailable)
