"""Identifier types shared by events and requests, validated where they enter the system."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

# A youth-care region's id (contracts/regions.py), e.g. gooi-en-vechtstreek: lower-case words joined by hyphens.
REGION_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"

AgbCode = Annotated[str, Field(pattern=r"^\d{8}$", description="AGB code of a provider or referrer: 8 digits.")]
GemeenteCode = Annotated[str, Field(pattern=r"^\d{4}$", description="CBS municipality code: 4 digits.")]
ProductCode = Annotated[
    str, Field(pattern=r"^[0-9A-Z]{1,5}$", description="iJw product code (JZ21), up to 5 characters.")
]
ClientRef = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Pseudonymous client reference: a keyed hash made by intake, never the BSN itself.",
    ),
]
PerceelCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,19}$", description="Code of a lot (perceel).")]
Age = Annotated[
    int,
    Field(
        ge=-1,
        le=23,
        description="Age in whole years on the event date; -1 for an unborn child; verlengde jeugdhulp runs to 23.",
    ),
]
# Ten billion euro: above any youth-care amount or total (the Netherlands spends ~€6 billion a
# year on all of it), far inside PostgreSQL's bigint and the integers every JSON reader keeps exact.
EUROCENT_MAX = 10**12
Eurocent = Annotated[int, Field(ge=0, le=EUROCENT_MAX, description="An amount in eurocent, at most 10^12.")]
# Dates that enter through the API: wide enough for any birth date and any contract term, narrow
# enough that month and year arithmetic on them never leaves the calendar Python can represent.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2100, 12, 31)
CalendarDate = Annotated[date, Field(ge=FIRST_DATE, le=LAST_DATE, description="A date from 1900-01-01 to 2100-12-31.")]
