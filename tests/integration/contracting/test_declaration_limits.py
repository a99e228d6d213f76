"""A declaration's size budget at contracting's edge: at most 500 lines (so its DeclarationAssessed fits
one Kafka message), a body budget of its own above the service's default, and the default elsewhere."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from services.contracting.api import BODY_BYTES
from services.contracting.domain.declarations import MAX_LINES
from services.runtime.roles import Role
from tests.integration.contracting.conftest import AGB_A

DEFAULT_BODY_BYTES = 128 * 1024


def declaration(lines: int) -> dict[str, Any]:
    return {
        "declaration_number": f"LIMIT-{lines}",
        "provider_agb": AGB_A,
        "municipality_code": "0402",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "lines": [
            {
                "line_number": i + 1,
                "allocation_number": 900_000 + i,
                "municipality_code": "0402",
                "product_category": "45",
                "product_code": "45A48",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
                "volume": 8,
                "unit": "04",
                "tariff": 9_500,
                "amount": 76_000,
            }
            for i in range(lines)
        ],
    }


async def test_a_declaration_of_more_than_500_lines_is_a_422_naming_the_limit(
    contracting: str,
    keys,  # type: ignore[no-untyped-def]
    http,
) -> None:
    response = await http.post(
        f"{contracting}/v1/declarations", json=declaration(MAX_LINES + 1), headers=await keys(Role.PROVIDER, AGB_A)
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "lines"] and f"at most {MAX_LINES} items" in error["msg"]


async def test_500_lines_pretty_printed_fit_the_declaration_budget_though_not_the_default(
    contracting: str,  # type: ignore[no-untyped-def]
    keys,
    http,
) -> None:
    body = json.dumps(declaration(MAX_LINES), indent=4).encode()
    assert DEFAULT_BODY_BYTES < len(body) < BODY_BYTES
    response = await http.post(
        f"{contracting}/v1/declarations",
        content=body,
        headers={"Content-Type": "application/json", **await keys(Role.PROVIDER, AGB_A)},
    )
    assert response.status_code == 201, response.text
    assessed = response.json()
    # No allocation is known, so every line is refused: the largest DeclarationAssessed there is.
    assert len(assessed["lines"]) == MAX_LINES and assessed["approved_amount"] == 0


async def test_a_body_over_the_declaration_budget_is_413(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{contracting}/v1/declarations",
        content=b" " * (BODY_BYTES + 1),
        headers={"Content-Type": "application/json", **await keys(Role.PROVIDER, AGB_A)},
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_other_routes_keep_the_default_body_budget(contracting: str, keys, http) -> None:  # type: ignore[no-untyped-def]
    padded = {
        "name": "Lot",
        "product_categories": ["45"],
        "product_codes": ["45A48"],
        "max_wait_days": 28,
        "requirements": [{"code": "vog", "description": "x" * 200}] * 1,
        "tariffs": [
            {"product_code": "45A48", "unit": "04", "eurocent": 9_500, "valid_from": date(2026, 1, 1).isoformat()}
        ],
    }
    body = json.dumps(padded).encode() + b" " * DEFAULT_BODY_BYTES
    response = await http.put(
        f"{contracting}/v1/lots/AMB-1",
        content=body,
        headers={"Content-Type": "application/json", **await keys(Role.ADMIN)},
    )
    assert response.status_code == 413, response.text
    assert f"exceeds {DEFAULT_BODY_BYTES} bytes" in response.json()["detail"]
