"""Every error answers as RFC 9457 problem+json; a rejected value is never echoed back."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.runtime.errors import Conflict, Problem, ValidationProblem, install_error_handlers, problem_response


class Client(BaseModel):
    bsn: str = Field(pattern=r"^\d{9}$")


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/clients")
    async def create(client: Client) -> dict[str, str]:
        return {}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("toewijzing already started; end it first")

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise HTTPException(403, "role referrer may not do this")

    return app


def test_problem_response_is_problem_json_with_the_rfc_members() -> None:
    response = problem_response(429, "Too Many Requests", "slow down", headers={"Retry-After": "3"}, limit=10)
    assert response.media_type == "application/problem+json"
    assert response.headers["retry-after"] == "3"
    problem = Problem.model_validate_json(bytes(response.body))
    assert (problem.type, problem.status, problem.detail, problem.model_extra) == (
        "about:blank",
        429,
        "slow down",
        {"limit": 10},
    )


def test_a_validation_error_names_the_field_but_never_its_value() -> None:
    response = TestClient(_app()).post("/clients", json={"bsn": "12345678X"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = ValidationProblem.model_validate(response.json())
    assert [e.loc for e in problem.errors] == [["body", "bsn"]]
    assert "body.bsn" in problem.detail
    assert "12345678X" not in response.text


def test_domain_http_and_routing_errors_keep_their_status_and_a_readable_detail() -> None:
    client = TestClient(_app())
    conflict, forbidden = client.get("/conflict"), client.get("/forbidden")
    unknown, wrong_method = client.get("/nowhere"), client.delete("/conflict")
    assert (conflict.status_code, conflict.json()["detail"]) == (409, "toewijzing already started; end it first")
    assert (forbidden.status_code, forbidden.json()["detail"]) == (403, "role referrer may not do this")
    assert (unknown.status_code, wrong_method.status_code) == (404, 405)
    for response in (conflict, forbidden, unknown, wrong_method):
        assert response.headers["content-type"] == "application/problem+json"
        assert Problem.model_validate(response.json()).status == response.status_code


def test_each_operation_documents_the_errors_its_shape_and_its_declaration_give_as_problem_json() -> None:
    from fastapi import Depends
    from fastapi.security import HTTPBearer

    from services.runtime.openapi import install_problem_documentation, problems

    app = FastAPI()
    install_error_handlers(app)
    install_problem_documentation(app)

    @app.put("/clients/{client_id}", responses=problems(404, 409), dependencies=[Depends(HTTPBearer())])
    async def replace(client_id: int, client: Client) -> dict[str, str]:
        return {}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    document = app.openapi()
    keyed = document["paths"]["/clients/{client_id}"]["put"]["responses"]
    assert sorted(keyed) == ["200", "400", "401", "403", "404", "409", "413", "422", "429", "503"]
    for status, response in keyed.items():
        if status != "200":
            assert list(response["content"]) == ["application/problem+json"], status
    assert keyed["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("/ValidationProblem")
    assert "Retry-After" in keyed["429"]["headers"] and "Retry-After" in keyed["503"]["headers"]
    assert sorted(document["paths"]["/healthz"]["get"]["responses"]) == ["200"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
