"""Identifier types shared by events and requests, validated where they enter the system."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

AgbCode = Annotated[str, Field(pattern=r"^\d{8}$", description="AGB code of a provider or referrer: 8 digits.")]
GemeenteCode = Annotated[str, Field(pattern=r"^\d{4}$", description="CBS municipality code: 4 digits.")]
ProductCode = Annotated[str, Field(pattern=r"^[0-9A-Z]{1,5}$", description="iJw product code (JZ21), up to 5 characters.")]
ClientRef = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{64}$",
          description="Pseudonymous client reference: a keyed hash made by intake, never the BSN itself."),
]
PerceelCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,19}$", description="Code of a lot (perceel).")]
Age = Annotated[int, Field(ge=-1, le=23, description="Age in whole years on the event date; -1 for an unborn child; verlengde jeugdhulp runs to 23.")]
Eurocent = Annotated[int, Field(ge=0, description="An amount in eurocent.")]
