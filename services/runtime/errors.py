"""Domain errors, their one mapping to HTTP status codes, and the one error body: RFC 9457."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.db import UNAVAILABLE

# Text a client may send as valid JSON that PostgreSQL (or UTF-8) cannot take.
UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.UntranslatableCharacterError,
    asyncpg.exceptions.CharacterNotInRepertoireError,
    UnicodeEncodeError,
)

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# RFC 9457 §4.2.1: "about:blank" says the status code is all there is to know; its title is the
# status phrase. Problems with more to them name their own type.
ABOUT_BLANK = "about:blank"
VALIDATION_TYPE = "urn:schakel:problem:invalid-request"


class DomainError(Exception):
    """A rule of the domain refused the request; the message says what would be right.

    ``headers`` go out with the problem, e.g. ``Retry-After`` when the refusal lifts at a known time."""

    status_code = 400

    def __init__(self, message: str = "", *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers) if headers else None


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


class Problem(BaseModel):
    """An RFC 9457 problem detail: what went wrong, for a machine (type, status) and a person."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(ABOUT_BLANK, description="A URI naming the kind of problem")
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What was wrong in this request, and what would be right")


class FieldError(BaseModel):
    """One field at fault: where it is and why. Never its value — it may be a BSN."""

    loc: list[str | int] = Field(description="Where the field is, e.g. ['body', 'client', 'bsn']")
    msg: str
    type: str


class ValidationProblem(Problem):
    """A request that did not fit (422). ``errors`` names every field at fault when the schema refused
    it; when a rule of the domain did, ``detail`` names the field."""

    errors: list[FieldError] = Field(default_factory=list, description="The fields at fault, never their values")


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An ``application/problem+json`` response; ``extra`` adds members (``type=`` names the kind)."""
    body: dict[str, Any] = {
        "type": extra.pop("type", ABOUT_BLANK),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # FastAPI would echo every rejected value back; a BSN or birth date is never repeated,
    # not even to its sender. Where the error is (loc) and why (msg) is what a client needs.
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        where = ", ".join(".".join(str(part) for part in e["loc"]) for e in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        return problem_response(
            422,
            "Invalid request",
            f"the request does not fit the schema at: {where}{more}",
            type=VALIDATION_TYPE,
            errors=errors,
        )

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.status_code, title_of(exc.status_code), str(exc), headers=exc.headers)

    # Starlette's, so that unknown routes (404) and methods (405) answer in the same format.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else title_of(exc.status_code)
        return problem_response(exc.status_code, title_of(exc.status_code), detail, headers=exc.headers)

    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable during a request: %s", type(exc).__name__)
        return problem_response(
            503,
            title_of(503),
            "the database is unavailable; nothing was stored, please retry",
            headers={"Retry-After": "5"},
        )

    for exc_type in UNAVAILABLE:
        app.add_exception_handler(exc_type, unavailable)

    async def unstorable_text(_request: Request, exc: Exception) -> JSONResponse:
        # JSON allows "\u0000" and unpaired surrogates; PostgreSQL text cannot hold them. The statement
        # failed inside its transaction, so nothing was stored; which field is not known here.
        log.info("refused text PostgreSQL cannot store: %s", type(exc).__name__)
        return problem_response(
            422,
            "Invalid request",
            "a text value contains a character that cannot be stored (NUL or an unpaired surrogate); remove it",
            type=VALIDATION_TYPE,
            errors=[],
        )

    for unstorable in UNSTORABLE_TEXT:
        app.add_exception_handler(unstorable, unstorable_text)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette still logs the traceback; the body names no internals.
        return problem_response(500, title_of(500), "an unexpected error occurred; it has been logged")
