"""The edge of every service: body size, API key and per-key rate limit, settled before a byte
of a request body is read.

FastAPI reads and parses a body before it runs the route's dependencies, so without this a 5 MB
body without a key is parsed first and invalid JSON answers 422 instead of 401. ``EdgeGuard`` is a
pure ASGI middleware (no ``BaseHTTPMiddleware``: it sits on every request). It cannot know the
route when a request arrives — FastAPI's router finds it later — so it hands the app a ``receive``
that admits the request at the first read of the body, when the route is known. A route that reads
no body is admitted by its ``Require`` dependency instead; both go through the same ``Admission``, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NoReturn

from fastapi import HTTPException
from fastapi.dependencies.models import Dependant
from prometheus_client import CollectorRegistry, Counter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.auth import Principal, Require, bearer_key, hash_key, principal_for
from services.runtime.db import UNAVAILABLE
from services.runtime.ratelimit import TokenBuckets, retry_after
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

ADMISSION_SCOPE_KEY = "schakel.admission"
_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


class EdgeGuard:
    """Installed once by ``create_app``; one ``Admission`` per request."""

    def __init__(
        self, app: ASGIApp, settings: ServiceSettings, registry: CollectorRegistry, buckets: TokenBuckets | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.buckets = buckets or TokenBuckets()
        # By id: routes compare by path and endpoint and are not hashable; each entry keeps its route alive.
        self._routes: dict[int, tuple[object, bool, int | None]] = {}
        self.refused = Counter(
            "schakel_http_refused_total",
            "Requests refused at the edge before their body was read, by reason.",
            ["reason"],
            registry=registry,
        )

    def route_needs(self, route: object) -> tuple[bool, int | None]:
        """Whether ``route`` takes a key, and the body budget it allows (None: the default); worked
        out from its dependencies once per route, not per request."""
        found = self._routes.get(id(route))
        if found is None or found[0] is not route:
            found = self._routes[id(route)] = (route, needs_key(route), body_budget_of(route))
        return found[1], found[2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admission = Admission(self, scope)
        scope[ADMISSION_SCOPE_KEY] = admission
        await self.app(scope, admission.guarded(receive), send)


class Admission:
    """One request's way past the edge: its body budget, and (where the route needs one) its key."""

    def __init__(self, guard: EdgeGuard, scope: Scope) -> None:
        self.guard = guard
        self.scope = scope
        self.principal: Principal | None = None

    def guarded(self, receive: Receive) -> Receive:
        received = 0
        budget: int | None = None  # known at the first read, when the router has found the route

        async def guarded_receive() -> Message:
            nonlocal received, budget
            if budget is None:
                needs, route_budget = self.guard.route_needs(self.scope.get("route"))
                budget = route_budget or self.guard.settings.max_body_bytes
                self.check_declared_size(budget)
                if needs:
                    await self._admit_while_reading()
            message = await receive()
            if message["type"] == "http.request":
                # A chunked body declares no length: count what arrives and stop at the budget.
                received += len(message.get("body", b""))
                if received > budget:
                    self.refuse(413, "too_large", f"the request body exceeds {budget} bytes")
            return message

        return guarded_receive

    async def _admit_while_reading(self) -> None:
        # Inside FastAPI's body read anything but an HTTPException becomes "400 error parsing the
        # body", and a client would drop a valid request it should retry (seen while PostgreSQL
        # restarted): whatever else stops the key lookup is the service's trouble, so 503.
        try:
            await self.admit()
        except HTTPException:
            raise
        except Exception as exc:
            log.warning("could not admit a request: %s", type(exc).__name__)
            raise HTTPException(
                503, "the key store could not be read; please retry", headers={"Retry-After": "5"}
            ) from None

    def check_declared_size(self, budget: int) -> None:
        declared = Headers(scope=self.scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > budget:
            self.refuse(413, "too_large", f"the request body of {declared} bytes exceeds {budget} bytes")

    async def admit(self) -> Principal:
        """The caller's ``Principal``, looked up and rate-limited once per request; raises 401 or 429."""
        if self.principal is not None:
            return self.principal
        key = bearer_key(Headers(scope=self.scope).get("authorization"))
        if key is None:
            self.refuse(401, "unauthenticated", "missing API key: send 'Authorization: Bearer <key>'", _UNAUTHENTICATED)
        runtime = self.scope["app"].state.runtime
        keys = getattr(runtime, "keys", None)
        try:
            principal = await (keys.principal(key) if keys is not None else principal_for(runtime.auth_pool, key))
        except UNAVAILABLE as exc:
            log.warning("key store unavailable during a request: %s", type(exc).__name__)
            raise HTTPException(
                503, "the key store is unavailable; please retry", headers={"Retry-After": "5"}
            ) from None
        if principal is None:
            self.refuse(401, "unauthenticated", "unknown, revoked or expired API key", _UNAUTHENTICATED)
        self._limit(principal, key)
        self.principal = principal
        self.scope.setdefault("state", {})["principal"] = principal
        return principal

    def _limit(self, principal: Principal, key: str) -> None:
        settings = self.guard.settings
        if not settings.rate_limiting:
            return
        rate = settings.rate_limits[principal.role.value]
        wait = self.guard.buckets.take(principal.key_id or hash_key(key), rate)
        if wait > 0:
            self.refuse(
                429,
                "rate_limited",
                f"this key made more than {rate.burst} requests at once or over {rate.per_second:g} per "
                f"second, the limit for role {principal.role}; retry after the time in Retry-After",
                {"Retry-After": retry_after(wait)},
            )

    def refuse(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
        self.guard.refused.labels(reason).inc()
        # Raised inside the app, so the one error mapping answers it as application/problem+json.
        raise HTTPException(status, detail, headers=headers)


class BodyBudget:
    """A route dependency that allows the route a larger body than ``SCHAKEL_MAX_BODY_BYTES``:
    ``dependencies=[Depends(BodyBudget(n))]``. The edge reads it; run as a dependency it does nothing.

    (Not FastAPI's own ``max_body_size=``: its limiter sits inside this edge and answers in plain text.)
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def __call__(self) -> None:
        return None


def body_budget_of(route: object) -> int | None:
    dependant = getattr(route, "dependant", None)
    if not isinstance(dependant, Dependant):
        return None
    return max((d.call.max_bytes for d in _walk(dependant) if isinstance(d.call, BodyBudget)), default=None)


def admission_of(scope: Scope) -> Admission | None:
    return scope.get(ADMISSION_SCOPE_KEY)


def needs_key(route: object) -> bool:
    """Whether a route authenticates: some dependency of it, at any depth, is a ``Require``."""
    dependant = getattr(route, "dependant", None)
    return isinstance(dependant, Dependant) and any(isinstance(d.call, Require) for d in _walk(dependant))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)
