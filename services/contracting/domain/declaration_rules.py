"""The published declaration rules (Digitaal Leefplein): each check, its iJw return code, and whom to ask.

Rules are published so a provider knows in advance what is checked, and some are switchable
by configuration: a strict rule that rejects on a move inside the region recreates the
administrative burden the region wants to cut (seed 001, bijlage 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.codes import Retourcode
from contracts.contracting import Contact


@dataclass(frozen=True)
class Rule:
    code: str
    return_code: Retourcode
    description: str
    contact: Contact
    # A rule the checker cannot work without (finding the allocation) cannot be switched off.
    switchable: bool = True


ALLOCATION_KNOWN = "allocation-known"
MUNICIPALITY_OF_ALLOCATION = "municipality-of-allocation"
MOVED_WITHIN_REGION = "moved-within-region"
ALLOCATION_WITHDRAWN = "allocation-withdrawn"
PRODUCT_ALLOCATED = "product-allocated"
START_WITHIN_ALLOCATION = "start-within-allocation"
END_WITHIN_ALLOCATION = "end-within-allocation"
SINGLE_CALENDAR_MONTH = "single-calendar-month"
CONTRACT = "contract"
TARIFF = "tariff"
AMOUNT = "amount"
VOLUME = "volume"
VOLUME_PER_PERIOD = "volume-per-period"
BUDGET = "budget"
NO_STACKING = "no-stacking"
CREDIT_MATCHES_DEBIT = "credit-matches-debit"

C, A, ICB = Contact.CONSULENT, Contact.ADMINISTRATIE, Contact.INKOOP_EN_CONTRACTBEHEER
R = Retourcode

RULES: tuple[Rule, ...] = (
    Rule(
        ALLOCATION_KNOWN,
        R.GEEN_TOEWIJZING,
        "The line names an allocation (toewijzing) of this gemeente to this "
        "provider; a client_ref on the line must be the allocation's.",
        C,
        switchable=False,
    ),
    # 9019: to the gemeente it is declared to, the line links to no allocation of that gemeente.
    # Not switchable: paid anyway, the line would count in another gemeente's spending and figures.
    Rule(
        MUNICIPALITY_OF_ALLOCATION,
        R.GEEN_TOEWIJZING,
        "A line is declared to the gemeente that issued its "
        "allocation: the declaration's municipality is the allocation's, so no gemeente pays for, or counts in its "
        "figures, care another gemeente allocated.",
        A,
        switchable=False,
    ),
    Rule(
        MOVED_WITHIN_REGION,
        R.GEEN_TOEWIJZING,
        "Reject a line declared to the youth's new gemeente while the "
        "allocation is of another gemeente of the region (the youth moved). Switched off, the line is paid "
        "against the old allocation (coulance within the region).",
        C,
    ),
    Rule(
        ALLOCATION_WITHDRAWN,
        R.TOEWIJZING_INGETROKKEN,
        "The allocation was withdrawn as never valid (reden wijziging 13).",
        C,
    ),
    Rule(PRODUCT_ALLOCATED, R.GEEN_TOEWIJZING, "The product category and code are the ones allocated.", C),
    Rule(
        START_WITHIN_ALLOCATION,
        R.BEGIN_BUITEN_TOEWIJZING,
        "The product period starts on or after the allocation's start date.",
        C,
    ),
    Rule(
        END_WITHIN_ALLOCATION,
        R.EIND_BUITEN_TOEWIJZING,
        "The product period ends on or before the allocation's end date (or the day before its withdrawal).",
        C,
    ),
    Rule(SINGLE_CALENDAR_MONTH, R.EIND_BUITEN_TOEWIJZING, "The product period lies within one calendar month.", A),
    Rule(
        CONTRACT,
        R.TARIEF_WIJKT_AF,
        "The provider holds a contract for the product on every day of the product "
        "period (Open House, uitloop for clients already in care, or maatwerk for this client; taakgerichte "
        "financiering is never paid per client).",
        ICB,
    ),
    Rule(
        TARIFF,
        R.TARIEF_WIJKT_AF,
        "The tariff is the contract tariff of the product and unit on the first day of the product period.",
        ICB,
    ),
    Rule(AMOUNT, R.BEDRAG_ONJUIST, "The amount is the delivered volume times the tariff.", A),
    Rule(
        VOLUME,
        R.VOLUME_OVERSCHREDEN,
        "All approved volume of an allocation allotted in total, this line "
        "included, stays within it, in the allocated unit.",
        C,
    ),
    Rule(
        VOLUME_PER_PERIOD,
        R.VOLUME_OVERSCHREDEN_PERIODE,
        "For an allocation per day, week or month, the approved "
        "volume in each calendar month stays within what the allocation allows in that month.",
        C,
    ),
    Rule(
        BUDGET,
        R.BUDGET_OVERSCHREDEN,
        "All approved amounts of a budget allocation, this line included, stay within the budget.",
        C,
    ),
    Rule(
        NO_STACKING,
        R.VOLUME_OVERSCHREDEN_PERIODE,
        "The same product of the same allocation is not declared "
        "twice for overlapping periods (iJw OP259); correct a line with a credit and a new debit.",
        A,
    ),
    Rule(
        CREDIT_MATCHES_DEBIT,
        R.GEEN_TOEWIJZING,
        "A credit line reverses an approved, not yet credited line "
        "with the same allocation, product, period, volume and amount.",
        A,
        switchable=False,
    ),
)

BY_CODE = {rule.code: rule for rule in RULES}

# The region's wish (seed 001): providers should not suffer from a youth moving inside the region.
DEFAULT_DISABLED = frozenset({MOVED_WITHIN_REGION})


@dataclass(frozen=True)
class Finding:
    """A rule a declaration line broke, and why in words the provider can act on."""

    rule: str
    reason: str

    @property
    def return_code(self) -> Retourcode:
        return BY_CODE[self.rule].return_code


@dataclass(frozen=True)
class RuleSet:
    disabled: frozenset[str] = DEFAULT_DISABLED

    @classmethod
    def without(cls, codes: Iterable[str]) -> RuleSet:
        codes = frozenset(codes)
        unknown = codes - BY_CODE.keys()
        if unknown:
            raise ValueError(f"unknown declaration rules {sorted(unknown)}; known: {sorted(BY_CODE)}")
        fixed = sorted(c for c in codes if not BY_CODE[c].switchable)
        if fixed:
            raise ValueError(f"declaration rules {fixed} cannot be switched off")
        return cls(codes)

    def active(self, code: str) -> bool:
        return code not in self.disabled
