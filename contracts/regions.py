"""The municipality and region registry every service shares, shipped as versioned data in ``data/``.

Membership changes over time (municipalities merge, Weesp left Gooi en Vechtstreek when it
joined Amsterdam), so every fact carries a validity period and every question names a date.
The 2013 national survey (``regions-2013.json``) is kept beside it as reference: it names
municipalities but has no CBS codes, so it can describe a region but not validate a referral.
Each of its answering units has a region id (``region_id_2013``: "Regio Gooi en Vechtstreek" is
``gooi-en-vechtstreek``), the id a deployment and a pool name a region by (``known_region``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Period:
    valid_from: date | None
    valid_to: date | None  # inclusive

    def contains(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    period: Period
    successor: str | None = None


@dataclass(frozen=True)
class Membership:
    code: str
    period: Period


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    members: tuple[Membership, ...]
    region_2013: str | None = None

    def member_codes(self, day: date) -> list[str]:
        return [m.code for m in self.members if m.period.contains(day)]


@dataclass(frozen=True)
class Region2013:
    """One answering unit of the 2013 survey; names only, and not unique across regions."""

    number: str
    name: str
    parent: str | None
    municipalities: tuple[str, ...]

    @property
    def id(self) -> str:
        return region_id_2013(self.name)


@dataclass(frozen=True)
class TaskLevel:
    region_number: str
    task: str
    levels: tuple[str, ...]
    status: str


class UnknownRegion(ValueError):
    """The configured region is not in the registry."""


class Registry:
    def __init__(self, version: str, municipalities: Sequence[Municipality], regions: Sequence[Region]) -> None:
        self.version = version
        self._municipalities = {m.code: m for m in municipalities}
        self._regions = {r.id: r for r in regions}

    def region(self, region_id: str) -> Region:
        try:
            return self._regions[region_id]
        except KeyError:
            known = ", ".join(sorted(self._regions))
            raise UnknownRegion(f"region {region_id!r} is not in the registry (known: {known})") from None

    def has_region(self, region_id: str) -> bool:
        return region_id in self._regions

    def municipality(self, code: str) -> Municipality | None:
        return self._municipalities.get(code)

    def members(self, region_id: str, day: date) -> list[Municipality]:
        """The municipalities that belong to the region on ``day``."""
        return [self._municipalities[code] for code in self.region(region_id).member_codes(day)]

    def check_member(self, region_id: str, code: str, day: date) -> Municipality:
        """The municipality ``code`` if it exists and belongs to the region on ``day``; else ``ValueError``."""
        region = self.region(region_id)
        municipality = self._municipalities.get(code)
        if municipality is None:
            raise ValueError(f"municipality {code} is not in the registry")
        if not municipality.period.contains(day):
            after = f"; it became {municipality.successor}" if municipality.successor else ""
            raise ValueError(f"municipality {code} ({municipality.name}) did not exist on {day}{after}")
        if code not in region.member_codes(day):
            members = ", ".join(region.member_codes(day))
            raise ValueError(
                f"municipality {code} ({municipality.name}) was not a member of {region.name} "
                f"on {day} (members then: {members})"
            )
        return municipality


def _period(raw: dict) -> Period:
    parse = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
    return Period(parse(raw.get("valid_from")), parse(raw.get("valid_to")))


@cache
def load(path: Path = DATA / "regions.json") -> Registry:
    raw = json.loads(path.read_text())
    municipalities = [Municipality(m["code"], m["name"], _period(m), m.get("successor")) for m in raw["municipalities"]]
    regions = [
        Region(r["id"], r["name"], tuple(Membership(m["code"], _period(m)) for m in r["members"]), r.get("region_2013"))
        for r in raw["regions"]
    ]
    return Registry(raw["version"], municipalities, regions)


@cache
def regions_2013() -> dict[str, Region2013]:
    raw = json.loads((DATA / "regions-2013.json").read_text())
    return {
        r["number"]: Region2013(r["number"], r["name"], r["parent"], tuple(r["municipalities_normalised"])) for r in raw
    }


@cache
def tasks_2013() -> list[TaskLevel]:
    with (DATA / "region-tasks-2013.csv").open(newline="") as f:
        return [
            TaskLevel(row["region_number"], row["task"], tuple(filter(None, row["level"].split("|"))), row["status"])
            for row in csv.DictReader(f)
        ]


def region_id_2013(name: str) -> str:
    """The region id of a 2013 survey name: its words without "Regio"/"Profiel"/"Subregio", lower
    case, joined by hyphens ("Regio Midden IJssel / Oost Veluwe" is ``midden-ijssel-oost-veluwe``)."""
    words = re.sub(r"^(Regio|Profiel|Subregio)\s+", "", name)
    return "-".join(re.findall(r"[a-z0-9]+", words.lower()))


@cache
def regions_2013_by_id() -> dict[str, Region2013]:
    """The 2013 survey's answering units (and West-Brabant, their parent) by region id."""
    return {r.id: r for r in regions_2013().values()}


def known_region(region_id: str) -> str:
    """The name of ``region_id`` if the dated registry or the 2013 survey knows it; else ``UnknownRegion``.

    A deployment that only pools capacity needs no CBS codes of its region, so the survey's regions
    count too; intake, which validates municipalities, needs the dated registry (``Registry.region``).
    """
    registry = load()
    if registry.has_region(region_id):
        return registry.region(region_id).name
    survey = regions_2013_by_id()
    if region_id in survey:
        return survey[region_id].name
    raise UnknownRegion(
        f"region {region_id!r} is neither in the registry nor in the 2013 survey "
        f"(e.g. {', '.join(sorted(survey)[:4])}, …; see contracts/data/regions-2013.json)"
    )
