"""The error responses every operation documents, derived in one place from what the route is.

A route's statuses follow from its shape — a key (401, 403, 429), parameters or a body (422), a
body that cannot be decoded (400), a body-carrying method (413), the database (503) — plus the
domain errors it declares with ``responses=problems(404, 409)``. Each is documented as RFC 9457
``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from services.runtime.errors import PROBLEM_MEDIA_TYPE, FieldError, Problem, ValidationProblem, title_of

# Operations that answer without the database (readiness documents its own 503).
WITHOUT_DATABASE = frozenset({"/healthz", "/readyz", "/metrics", "/asyncapi", "/openapi.json"})
BODY_METHODS = frozenset({"post", "put", "patch"})

_WHY = {
    400: "The body could not be read as JSON at all (e.g. not UTF-8)",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role or subject may not do this",
    404: "No such resource (or not one this key may see)",
    409: "The resource's current state does not allow this",
    413: "The request body is larger than the service accepts",
    422: "The request does not fit the schema or a rule of the domain; the fields at fault are named, "
    "never their values",
    429: "Too many requests for this key; retry after the number of seconds in Retry-After",
    502: "A service this one relies on did not answer",
    503: "The database is unavailable; nothing was stored; retry after Retry-After seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the domain errors (404, 409, ...) it can answer besides its shape's."""
    return {status: {"description": _WHY.get(status, title_of(status))} for status in statuses}


def install_problem_documentation(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every error status of every operation as problem+json."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, FieldError, ValidationProblem):
        definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definition.pop("$defs", {}))
        components[model.__name__] = definition
    # FastAPI's own validation error bodies are never sent: the 422 handler answers a ValidationProblem.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)

    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            _document(path, method, operation)


def _document(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    # Declared with problems(), or FastAPI's 422 for a route with parameters or a body.
    statuses = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses.add(400)  # FastAPI's answer to a body it cannot even decode
    if method in BODY_METHODS:
        statuses.add(413)
    if path not in WITHOUT_DATABASE:
        statuses.add(503)
    for status in sorted(statuses):
        declared = responses.get(str(status), {})
        if declared.get("content") and status != 422:
            continue  # the route documents a body of its own (readiness)
        model = ValidationProblem if status == 422 else Problem
        response: dict[str, Any] = {
            "description": (status != 422 and declared.get("description")) or _WHY.get(status, title_of(status)),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[str(status)] = response
