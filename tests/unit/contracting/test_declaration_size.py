"""A declaration's DeclarationAssessed must fit one Kafka message (1 MiB), however badly its lines fail:
the API bounds the line count so that it does, and this measures the worst case we can build."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from contracts.contracting import DeclarationAssessed
from contracts.envelope import Envelope
from contracts.identifiers import EUROCENT_MAX
from services.contracting.domain.declaration_checks import assess
from services.contracting.domain.declarations import MAX_LINES, AssessedDeclaration, Declaration
from services.contracting.settings import ContractingSettings
from tests.unit.contracting.builders import AGB, CLIENT, HILVERSUM, PRODUCT, REGION, allocation, contract, line

KAFKA_MESSAGE_BUDGET = 1024 * 1024
# Room for the record's key, headers (trace context, type) and batch overhead.
HEADROOM = 64 * 1024
HIGHEST_NUMBER = 2**31 - 1


def _worst_declaration(lines: int) -> Declaration:
    """Every line breaks as many rules at once as we know how to, with the longest numbers."""
    return Declaration(
        declaration_number="X" * 20,
        provider_agb=AGB,
        municipality_code=HILVERSUM,
        period_start=date(2026, 8, 1),
        period_end=date(2027, 3, 31),
        lines=[
            line(
                line_number=i + 1,
                allocation_number=HIGHEST_NUMBER,
                client_ref=CLIENT,
                product_code=PRODUCT,
                period_start=date(2026, 8, 15),
                period_end=date(2027, 3, 20),
                volume=999_999,
                tariff=123_456_789,
                amount=1_000_000,
            )
            for i in range(lines)
        ],
    )


def _assessed_event(declaration: Declaration) -> bytes:
    declaration_id = uuid.uuid4()
    refused = allocation(
        allocation_number=HIGHEST_NUMBER,
        withdrawn_reason="13",
        withdrawn_on=date(2026, 9, 2),
        volume=1,
        frequency="2",
        budget=0,
        product_code="45A49",
    )
    assessment = assess(
        declaration_id,
        declaration.lines,
        provider_agb=AGB,
        municipality_code=declaration.municipality_code,
        allocations=[refused],
        contracts=[contract(valid_from=date(2026, 9, 1))],
        ledger=[],
        rules=ContractingSettings().rules(),
        region=REGION,
    )
    result = AssessedDeclaration.of(declaration_id, declaration, assessment, datetime.now(UTC))
    assert all(len(ln.rejections) >= 8 for ln in result.lines)
    event = DeclarationAssessed(
        declaration_id=result.declaration_id,
        provider_agb=result.provider_agb,
        municipality_code=result.municipality_code,
        lines=result.lines,
        approved_amount=result.approved_amount,
        rejected_amount=result.rejected_amount,
        assessed_at=result.assessed_at,
        declaration_number=result.declaration_number,
        submitted_amount=result.submitted_amount,
        credited_amount=result.credited_amount,
    )
    return Envelope.wrap(event, source="contracting", time=result.assessed_at).to_bytes()


def test_the_largest_allowed_declaration_refused_on_every_line_fits_one_kafka_message() -> None:
    size = len(_assessed_event(_worst_declaration(MAX_LINES)))
    assert size <= KAFKA_MESSAGE_BUDGET - HEADROOM, f"{MAX_LINES} lines make a {size}-byte DeclarationAssessed"


def test_the_line_limit_is_what_keeps_it_there() -> None:
    # The audit's 2,000 lines would not fit: the bound is load-bearing, not decoration.
    assert len(_assessed_event_unbounded(2000)) > KAFKA_MESSAGE_BUDGET


def _assessed_event_unbounded(lines: int) -> bytes:
    one = _worst_declaration(1)
    many = Declaration.model_construct(
        **{
            **one.__dict__,
            "lines": [ln.model_copy(update={"line_number": i + 1}) for i, ln in enumerate(one.lines * lines)],
        }
    )
    return _assessed_event(many)


def test_a_declaration_over_the_line_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValidationError) as refused:
        _worst_declaration(MAX_LINES + 1)
    assert f"at most {MAX_LINES} items" in str(refused.value)


def test_line_amounts_adding_up_past_the_eurocent_bound_are_refused() -> None:
    lines = [line(line_number=i + 1, volume=1, tariff=EUROCENT_MAX, amount=EUROCENT_MAX) for i in range(2)]
    with pytest.raises(ValidationError, match=f"more than {EUROCENT_MAX} eurocent"):
        Declaration(
            declaration_number="D-1",
            provider_agb=AGB,
            municipality_code=HILVERSUM,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            lines=lines,
        )
