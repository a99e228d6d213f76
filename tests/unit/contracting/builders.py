"""Small builders for the contracting unit tests: an allocation, a contract, a declaration line."""

from __future__ import annotations

import uuid
from datetime import date

from contracts.contracting import ContractKind
from services.contracting.domain.declarations import Allocation, Contract, DeclarationLine
from services.contracting.domain.lots import Lot, LotStatus, Requirement, Tariff

AGB = "12345678"
OTHER_AGB = "87654321"
HILVERSUM, HUIZEN, UTRECHT = "0402", "0406", "0344"
REGION = frozenset({"0376", "1942", HILVERSUM, HUIZEN, "0417", "1696"})
CLIENT = "c" * 64
OTHER_CLIENT = "d" * 64
PRODUCT = "45A48"
HOUR = "04"
TARIFF_2026 = 9_500
TARIFF_2027 = 9_800


def lot(**changes) -> Lot:  # type: ignore[no-untyped-def]
    terms = dict(
        code="AMB-1",
        name="Ambulante jeugdhulp",
        product_categories=["45"],
        product_codes=[PRODUCT, "45A49"],
        tariffs=[
            Tariff(
                product_code=PRODUCT,
                unit=HOUR,
                eurocent=TARIFF_2026,
                valid_from=date(2026, 1, 1),
                valid_to=date(2026, 12, 31),
            ),
            Tariff(product_code=PRODUCT, unit=HOUR, eurocent=TARIFF_2027, valid_from=date(2027, 1, 1)),
        ],
        max_wait_days=28,
        min_capacity=0,
        requirements=[
            Requirement(code="kwaliteitskeurmerk", description="HKZ of gelijkwaardig keurmerk"),
            Requirement(code="vog", description="VOG van alle medewerkers"),
        ],
        status=LotStatus.OPEN,
    )
    return Lot(**(terms | changes))


def allocation(**changes) -> Allocation:  # type: ignore[no-untyped-def]
    fields = dict(
        allocation_id=uuid.uuid5(uuid.NAMESPACE_OID, str(changes.get("allocation_number", 1001))),
        allocation_number=1001,
        municipality_code=HILVERSUM,
        client_ref=CLIENT,
        provider_agb=AGB,
        product_category="45",
        product_code=PRODUCT,
        start_date=date(2026, 9, 1),
        end_date=date(2027, 2, 28),
        volume=40,
        unit=HOUR,
        frequency="6",
    )
    return Allocation(**(fields | changes))


def contract(**changes) -> Contract:  # type: ignore[no-untyped-def]
    fields = dict(
        contract_id=uuid.uuid4(),
        kind=ContractKind.OPEN_HOUSE,
        provider_agb=AGB,
        lot=lot(),
        valid_from=date(2026, 1, 1),
        valid_to=date(2033, 12, 31),
    )
    return Contract(**(fields | changes))


def line(**changes) -> DeclarationLine:  # type: ignore[no-untyped-def]
    fields = dict(
        line_number=1,
        allocation_number=1001,
        municipality_code=HILVERSUM,
        product_category="45",
        product_code=PRODUCT,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        volume=8,
        unit=HOUR,
        tariff=TARIFF_2026,
    )
    fields |= changes
    fields.setdefault("amount", fields["volume"] * fields["tariff"])
    return DeclarationLine(**fields)
