"""Request ids and the access log: a fit ``X-Request-ID`` is kept, anything else replaced; every
line of a request carries its id; one access line names the route template, never the raw path."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from structlog.contextvars import get_contextvars

from services.runtime.access import MAX_REQUEST_ID_LENGTH, AccessLog, accepted_request_id

UUID = "3f1c2d9e-5b7a-4c8e-9f10-2a3b4c5d6e7f"


@pytest.mark.parametrize(
    "value", [UUID, "01HZX3K9V7Q4M2N8P6R5T1W0YB", "req-42", "a.b_c:d+e/f=", "x" * MAX_REQUEST_ID_LENGTH]
)
def test_a_fit_request_id_is_kept(value: str) -> None:
    assert accepted_request_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "x" * (MAX_REQUEST_ID_LENGTH + 1),
        "two words",
        "line\nbreak",
        '"quoted"',
        "<script>",
        "café",
        "a;b",
        "tab\there",
    ],
)
def test_an_unfit_request_id_is_refused(value: str | None) -> None:
    assert accepted_request_id(value) is None


def app_with_routes(registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    handler_log = logging.getLogger("schakel.test.handler")

    @app.get("/v1/referrals/{referral_id}")
    async def referral(referral_id: str) -> dict[str, str]:
        handler_log.info("looking up a referral")
        return {"request_id": get_contextvars().get("request_id", "")}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(AccessLog, registry=registry)
    return app


def client(raise_app_exceptions: bool = True, registry: CollectorRegistry | None = None) -> httpx.AsyncClient:
    app = app_with_routes(registry or CollectorRegistry())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "services.runtime.access"]


def written(record: logging.LogRecord) -> str:
    """All a record holds that a formatter could write: its message and every attribute."""
    return record.getMessage() + repr(vars(record))


async def test_a_fit_incoming_id_is_bound_to_the_request_and_returned(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with client() as http:
        response = await http.get("/v1/referrals/r-1", headers={"X-Request-ID": UUID})
    assert response.headers["X-Request-ID"] == UUID
    assert response.json() == {"request_id": UUID}
    assert get_contextvars() == {}


@pytest.mark.parametrize("headers", [{}, {"X-Request-ID": "not fit for a log"}, {"X-Request-ID": "x" * 500}])
async def test_a_missing_or_unfit_id_is_replaced_by_a_new_one(headers: dict[str, str]) -> None:
    async with client() as http:
        first = await http.get("/v1/referrals/r-1", headers=headers)
        second = await http.get("/v1/referrals/r-1", headers=headers)
    made = first.headers["X-Request-ID"]
    assert accepted_request_id(made) == made and made != headers.get("X-Request-ID")
    assert first.json() == {"request_id": made}
    assert second.headers["X-Request-ID"] != made


async def test_one_access_line_with_route_template_status_and_duration_never_the_path_or_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with client() as http:
        response = await http.get("/v1/referrals/111222333?bsn=123456782", headers={"X-Request-ID": "req-1"})
    [line] = access_lines(caplog)
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith("GET /v1/referrals/{referral_id} 200 ")
    assert (line.method, line.route, line.status) == ("GET", "/v1/referrals/{referral_id}", 200)  # type: ignore[attr-defined]
    assert isinstance(line.duration_ms, float) and line.duration_ms >= 0  # type: ignore[attr-defined]
    assert "111222333" not in written(line) and "123456782" not in written(line)
    assert response.headers["X-Request-ID"] == "req-1"


async def test_an_unknown_path_is_logged_as_unmatched(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with client() as http:
        await http.get("/v1/personen/111222333")
    [line] = access_lines(caplog)
    assert (line.route, line.status) == ("unmatched", 404)  # type: ignore[attr-defined]
    assert "111222333" not in written(line)


async def test_probes_are_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with client() as http:
        await http.get("/healthz")
    assert access_lines(caplog) == []


async def test_a_request_that_raises_is_logged_as_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with client(raise_app_exceptions=False) as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    [line] = access_lines(caplog)
    assert (line.route, line.status) == ("/boom", 500)  # type: ignore[attr-defined]


async def test_latency_is_observed_by_route_template_and_status_the_same_as_the_access_line() -> None:
    registry = CollectorRegistry()
    async with client(raise_app_exceptions=False, registry=registry) as http:
        await http.get("/v1/referrals/111222333")
        await http.get("/v1/referrals/444555666")
        await http.get("/boom")

    def observed(route: str, status: str) -> float | None:
        labels = {"method": "GET", "route": route, "status": status}
        return registry.get_sample_value("schakel_http_request_duration_seconds_count", labels)

    assert observed("/v1/referrals/{referral_id}", "200") == 2
    assert observed("/boom", "500") == 1
