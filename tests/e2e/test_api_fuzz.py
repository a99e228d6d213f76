"""Property-based fuzzing of every service's OpenAPI with a key of every role (schemathesis).

The four services run as real processes on real Kafka and PostgreSQL. For each operation,
schemathesis generates requests that fit the schema (positive) and requests that do not
(negative); every answer must be no 5xx, a documented status, in the documented media type and
schema. The run is bounded and derandomized, so CI sees the same cases every time; raise
SCHAKEL_FUZZ_EXAMPLES for a deeper run by hand. Figures go to test-artifacts/fuzz-report-<service>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.infra import Infrastructure, Isolation, drop_schemas
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, bearer, service_process
from tests.support.server import free_port

SERVICES = ("intake", "contracting", "capacity", "monitoring")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
# Server-Sent Events streams never end, so schemathesis cannot read a whole response: for them
# only the status line and headers are checked (a documented status; an error as problem+json).
STREAMS = {"/v1/alerts/stream", "/v1/live"}
# A key of every role, with a subject of the form that role's keys must have.
PROVIDER = "30000001"
ROLES = {
    "referrer": "02:01234567",
    "gemeente": "0402",
    "provider": PROVIDER,
    "schakelfunctionaris": "sf.gooi",
    "expertteam": "et.gooi",
    "operator": "ops",
    "admin": "beheer",
}
EXAMPLES = {
    GenerationMode.POSITIVE: int(os.environ.get("SCHAKEL_FUZZ_EXAMPLES", "8")),
    GenerationMode.NEGATIVE: max(1, int(os.environ.get("SCHAKEL_FUZZ_EXAMPLES", "8")) // 2),
}


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)  # per role
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, check) -> first example

    def fail(self, operation: str, check: str, example: str) -> None:
        self.failures.setdefault((operation, check), example[:1000])


Running = tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]


def _seed(urls: dict[str, str], keys: dict[str, dict[str, str]]) -> dict[str, str]:
    """A referral with a toewijzing, an admitted provider with places and a crisis placement proposed
    to it, so that a second pass reaches past "404 no such thing" into the rules; by path parameter."""

    def call(method: str, url: str, role: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.request(method, url, json=body, headers=keys[role], timeout=30)
        assert response.is_success, response.text
        return response.json()

    call(
        "PUT",
        f"{urls['capacity']}/v1/providers/{PROVIDER}",
        "admin",
        {"settings": ["crisisplek"], "municipality_code": "0402"},
    )
    call("PUT", f"{urls['capacity']}/v1/capacity/{PROVIDER}/crisisplek", "provider", {"total": 3, "occupied": 1})
    referral = call(
        "POST",
        f"{urls['intake']}/v1/referrals",
        "referrer",
        {
            "client": {"bsn": "111222333", "birth_date": "2012-05-01", "municipality_code": "0402"},
            "referrer": {"type": "02", "agb": "01234567"},
            "product_category": "45",
            "urgency": "regulier",
            "ambulant_tried": True,
        },
    )
    allocation = call(
        "POST",
        f"{urls['intake']}/v1/referrals/{referral['referral_id']}/allocations",
        "gemeente",
        {
            "provider_agb": PROVIDER,
            "product_category": "45",
            "product_code": "45A48",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
            "volume": 4,
            "unit": "04",
            "frequency": "2",
        },
    )
    crisis = call(
        "POST",
        f"{urls['intake']}/v1/referrals",
        "referrer",
        {
            "client": {"bsn": "123456782", "birth_date": "2011-06-01", "municipality_code": "0402"},
            "referrer": {"type": "02", "agb": "01234567"},
            "product_category": "46",
            "setting": "crisisplek",
            "urgency": "crisis",
            "ambulant_tried": True,
        },
    )

    async def proposed() -> str | None:
        async with httpx.AsyncClient(timeout=30) as http:
            placements = (await http.get(f"{urls['capacity']}/v1/placements", headers=keys["provider"])).json()
        return next((p["id"] for p in placements if p["referral_id"] == crisis["referral_id"]), None)

    placement_id = asyncio.run(eventually(proposed, what="capacity to propose the crisis referral"))
    return {
        "referral_id": referral["referral_id"],
        "allocation_id": allocation["allocation_id"],
        "placement_id": placement_id,
        "code": "CRISIS",
        "agb": PROVIDER,
        "setting": "crisisplek",
    }


@pytest.fixture(scope="module")
def running(infra: Infrastructure) -> Iterator[Running]:
    """The four services, the Authorization header of a key per role, and resources that exist."""
    isolation = Isolation.new()
    env = isolation.env(infra)
    ports = {name: free_port() for name in SERVICES}
    env["SCHAKEL_CAPACITY_URL"] = f"http://127.0.0.1:{ports['capacity']}"
    try:
        with ExitStack() as stack:
            urls = {
                name: stack.enter_context(service_process(name, ports[name], env, f"fuzz-{name}")) for name in SERVICES
            }
            keys = {role: bearer(role, subject, env) for role, subject in ROLES.items()}
            yield urls, keys, _seed(urls, keys)
    finally:
        asyncio.run(drop_schemas(infra.database_url, isolation))


def _stream_head(
    case: schemathesis.Case,
    url: str,
    headers: dict[str, str],
    session: requests.Session,
    label: str,
    role: str,
    tally: Tally,
) -> None:
    documented = case.operation.definition.raw["responses"]
    kwargs = case.as_transport_kwargs(base_url=url, headers=headers)
    with session.request(**kwargs, stream=True, timeout=15) as response:
        status, media_type = response.status_code, response.headers.get("content-type", "").split(";")[0]
    expected = "text/event-stream" if status == 200 else "application/problem+json"
    if status >= 500 or str(status) not in documented or media_type != expected:
        tally.fail(label, f"stream answered {status} {media_type}", f"{role}: {case.as_curl_command()[:400]}")


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    headers: dict[str, str],
    session: requests.Session,
    role: str,
    tally: Tally,
    path_parameters: dict[str, str] | None = None,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: schemathesis.Case) -> None:
        tally.cases[role] += 1
        try:
            if operation.path in STREAMS:
                return _stream_head(case, url, headers, session, label, role, tally)
            case.call_and_validate(base_url=url, session=session, headers=headers, checks=CHECKS, timeout=15)
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.fail(label, failure.title, f"{role}: {failure.message}\n{case.as_curl_command()[:400]}")
        except requests.RequestException as exc:
            tally.fail(label, type(exc).__name__, f"{role}: {exc}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body has no negative cases.
        assert mode is GenerationMode.NEGATIVE, label


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_5xx_or_outside_its_documentation(running: Running, service: str) -> None:
    urls, keys, existing = running
    schema = schemathesis.openapi.from_url(f"{urls[service]}/openapi.json")
    results = list(schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)], "an operation's OpenAPI is invalid"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    tally, seeded = Tally(), 0
    with requests.Session() as session:
        for role, headers in keys.items():
            for operation in operations:
                for mode in EXAMPLES:
                    _fuzz(operation, mode, urls[service], headers, session, role, tally)
                names = re.findall(r"{(\w+)}", operation.path)
                if names and all(name in existing for name in names):
                    seeded += 1
                    _fuzz(
                        operation,
                        GenerationMode.POSITIVE,
                        urls[service],
                        headers,
                        session,
                        role,
                        tally,
                        {name: existing[name] for name in names},
                    )

    report = {
        "service": service,
        "operations": len(operations),
        "streams_checked_by_head": sorted(STREAMS),
        "operations_also_run_on_existing_resources": seeded // len(ROLES),
        "examples_per_operation_and_role": {m.value: n for m, n in EXAMPLES.items()},
        "cases_per_role": dict(tally.cases),
        "cases": sum(tally.cases.values()),
        "failures": [{"operation": o, "check": c, "example": m} for (o, c), m in tally.failures.items()],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"fuzz-report-{service}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}))
    assert set(tally.cases) == set(ROLES) and len(operations) > 0
    assert not tally.failures, "\n\n".join(f"{o} — {c}\n{m}" for (o, c), m in tally.failures.items())
