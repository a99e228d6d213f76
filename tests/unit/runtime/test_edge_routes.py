"""Which routes the edge asks a key for before reading a body: exactly those with a ``Require``
dependency, so public pages, health and the key-forwarding proxy stay open."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from services.capacity.api import router as capacity
from services.contracting.api import BODY_BYTES
from services.contracting.api import router as contracting
from services.intake.api import router as intake
from services.monitoring.api import router as monitoring
from services.monitoring.pages import router as pages
from services.runtime.auth import bearer_key
from services.runtime.edge import body_budget_of, needs_key

ROUTES = {
    (method, route.path): route
    for router in (intake, contracting, capacity, monitoring, pages)
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods
}


@pytest.mark.parametrize(
    "endpoint",
    [
        ("POST", "/v1/referrals"),
        ("GET", "/v1/referrals/{referral_id}"),
        ("POST", "/v1/declarations"),
        ("PUT", "/v1/capacity/{agb}/{setting}"),
        ("GET", "/v1/alerts"),
        ("GET", "/v1/overview"),
        ("GET", "/v1/schakelfunctie"),
    ],
)
def test_a_route_with_a_role_dependency_needs_a_key(endpoint: tuple[str, str]) -> None:
    assert needs_key(ROUTES[endpoint])


@pytest.mark.parametrize(
    "endpoint",
    [
        ("GET", "/"),
        ("GET", "/schakelfunctie"),
        ("GET", "/v1/capacity"),
        ("GET", "/v1/live"),
        # Monitoring forwards the caller's key to capacity, which checks it.
        ("POST", "/v1/alerts/{alert_id}/acknowledge"),
    ],
)
def test_a_public_route_needs_no_key(endpoint: tuple[str, str]) -> None:
    route = ROUTES[endpoint]
    assert route.dependant.call is not None and not needs_key(route)


def test_every_v1_route_of_the_four_services_but_monitorings_public_ones_needs_a_key() -> None:
    open_ = {path for (_, path), route in ROUTES.items() if path.startswith("/v1/") and not needs_key(route)}
    assert open_ == {"/v1/capacity", "/v1/live", "/v1/alerts/{alert_id}/acknowledge"}


def test_something_that_is_not_a_route_needs_no_key() -> None:
    assert not needs_key(None)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer sk_abc", "sk_abc"),
        ("bearer sk_abc ", "sk_abc"),
        ("Basic dXNlcg==", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_the_key_is_read_only_from_a_bearer_authorization(header: str | None, key: str | None) -> None:
    assert bearer_key(header) == key


def test_only_the_declarations_route_allows_a_larger_body() -> None:
    larger = {endpoint: body_budget_of(route) for endpoint, route in ROUTES.items() if body_budget_of(route)}
    assert larger == {("POST", "/v1/declarations"): BODY_BYTES}
