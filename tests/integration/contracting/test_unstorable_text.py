"""Text that is valid JSON but that PostgreSQL cannot store is a 422 problem, not a 500 (schemathesis found it)."""

from __future__ import annotations

import json

import pytest

from services.runtime.roles import Role


@pytest.mark.parametrize("description", ["a NUL \u0000 inside", "an unpaired surrogate \ud9cb"])
async def test_a_lot_with_text_postgresql_cannot_store_is_a_422_and_changes_nothing(
    contracting: str, keys, http, description: str
) -> None:
    admin = await keys(Role.ADMIN)
    lot = (await http.get(f"{contracting}/v1/lots/CRISIS", headers=admin)).json()
    terms = {k: v for k, v in lot.items() if k != "code"}
    terms["requirements"] = [*terms["requirements"], {"code": "extra", "description": description}]
    # Sent as JSON text with \u escapes, as any client would; httpx cannot encode a lone surrogate itself.
    body = json.dumps(terms)
    refused = await http.put(
        f"{contracting}/v1/lots/CRISIS", content=body, headers=admin | {"Content-Type": "application/json"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    # pydantic already refuses an unpaired surrogate; NUL reaches PostgreSQL, which refuses it.
    assert refused.json()["errors"] or "cannot be stored" in refused.json()["detail"]
    after = (await http.get(f"{contracting}/v1/lots/CRISIS", headers=admin)).json()
    assert after["requirements"] == lot["requirements"]
