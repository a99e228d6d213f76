"""The simulated region as data: municipalities, volumes, the mix of referrers, care and providers.

Everything here is pure and approximate on purpose: plausible figures for Gooi en Vechtstreek,
scaled from national rates (DOMAIN §6), not the region's own statistics.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from contracts.codes import Productcategorie, RedenBeeindiging, Urgentie, Verwijzer
from contracts.verblijf import Setting

T = TypeVar("T")

# --- volumes ---------------------------------------------------------------------------------

REGION_YOUTHS = 50_000
REGION_SEED = "gooi-en-vechtstreek"  # fixes who the region's providers and referrers are
# DOMAIN §6: ≈474k of the Dutch youths in care per year, ≈41k with verblijf; for this region ≈6.6k and ≈550.
IN_CARE_PER_YEAR = 6_600
WITH_VERBLIJF_PER_YEAR = 550
# Care lasts months, so about half of a year's clients enter that year (an assumption, not a CBS figure).
NEW_SHARE = 0.55


@dataclass(frozen=True)
class Volumes:
    """Expected new referrals per simulated day, for the region scaled by ``scale``."""

    referrals_per_day: float
    verblijf_share: float
    crisis_share: float

    @classmethod
    def for_region(cls, youths: int = REGION_YOUTHS, scale: float = 1.0) -> Volumes:
        in_care = IN_CARE_PER_YEAR * youths / REGION_YOUTHS
        return cls(
            referrals_per_day=in_care * NEW_SHARE / 365 * scale,
            # Verblijf starts are a larger share of new referrals than of the stand: crises are short.
            verblijf_share=WITH_VERBLIJF_PER_YEAR / IN_CARE_PER_YEAR * 0.8,
            crisis_share=WITH_VERBLIJF_PER_YEAR / IN_CARE_PER_YEAR * 0.3,
        )


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth); the daily counts here are small."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(round(rng.gauss(mean, mean**0.5)), 0)
    limit, k, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


# --- municipalities --------------------------------------------------------------------------


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    youth_share: float


# Approximate shares of the region's youths (0–17), from population size; not CBS figures.
MUNICIPALITIES: tuple[Municipality, ...] = (
    Municipality("0402", "Hilversum", 0.375),
    Municipality("1942", "Gooise Meren", 0.245),
    Municipality("0406", "Huizen", 0.17),
    Municipality("1696", "Wijdemeren", 0.105),
    Municipality("0417", "Laren", 0.055),
    Municipality("0376", "Blaricum", 0.05),
)


# Eemland, Gooi en Vechtstreek's neighbour in pool midden-nederland (contracts/data/pools.json), for a
# second region in the demo; its seven municipalities of the 2013 survey, shares from population size.
EEMLAND: tuple[Municipality, ...] = (
    Municipality("0307", "Amersfoort", 0.52),
    Municipality("0342", "Soest", 0.15),
    Municipality("0327", "Leusden", 0.10),
    Municipality("0313", "Bunschoten", 0.08),
    Municipality("0308", "Baarn", 0.08),
    Municipality("0351", "Woudenberg", 0.045),
    Municipality("0317", "Eemnes", 0.025),
)


@dataclass(frozen=True)
class SimulatedRegion:
    """A region the simulator can play: its id (contracts/regions.py), municipalities and youths."""

    id: str
    name: str
    municipalities: tuple[Municipality, ...]
    youths: int


REGIONS: dict[str, SimulatedRegion] = {
    REGION_SEED: SimulatedRegion(REGION_SEED, "Gooi en Vechtstreek", MUNICIPALITIES, REGION_YOUTHS),
    "eemland": SimulatedRegion("eemland", "Eemland", EEMLAND, 62_000),
}


def pick_municipality(rng: random.Random, municipalities: Sequence[Municipality] = MUNICIPALITIES) -> Municipality:
    return pick(rng, [(m, m.youth_share) for m in municipalities])


# --- who refers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferrerKind:
    """A kind of statutory referrer; ``veilig_thuis`` is referred as the gemeente (01) but counted apart."""

    type: Verwijzer
    veilig_thuis: bool = False

    @property
    def by_gemeente_key(self) -> bool:
        return self.type is Verwijzer.GEMEENTE


GP = ReferrerKind(Verwijzer.HUISARTS)
VEILIG_THUIS = ReferrerKind(Verwijzer.GEMEENTE, veilig_thuis=True)
GI = ReferrerKind(Verwijzer.GECERTIFICEERDE_INSTELLING)
WIJKTEAM = ReferrerKind(Verwijzer.GEMEENTE)
JEUGDARTS = ReferrerKind(Verwijzer.JEUGDARTS)
SPECIALIST = ReferrerKind(Verwijzer.MEDISCH_SPECIALIST)
RECHTER = ReferrerKind(Verwijzer.RECHTER_OFFICIER)

# About 75% from GPs, Veilig Thuis and the GI together (DOMAIN §2: GPs up to 75% on their own).
REFERRER_MIX: tuple[tuple[ReferrerKind, float], ...] = (
    (GP, 0.55),
    (VEILIG_THUIS, 0.08),
    (GI, 0.12),
    (WIJKTEAM, 0.15),
    (JEUGDARTS, 0.05),
    (SPECIALIST, 0.04),
    (RECHTER, 0.01),
)
# How many of each professional referrer the region has (each gets its own key and invented AGB).
REFERRER_COUNTS: dict[Verwijzer, int] = {
    Verwijzer.HUISARTS: 24,
    Verwijzer.GECERTIFICEERDE_INSTELLING: 2,
    Verwijzer.JEUGDARTS: 4,
    Verwijzer.MEDISCH_SPECIALIST: 3,
    Verwijzer.RECHTER_OFFICIER: 1,
}

# --- what is referred ------------------------------------------------------------------------

# Non-verblijf care, by share of those referrals.
AMBULANT_MIX: tuple[tuple[Productcategorie, float], ...] = (
    (Productcategorie.AMBULANT, 0.72),
    (Productcategorie.JEUGD_GGZ, 0.2),
    (Productcategorie.DAGBEHANDELING, 0.08),
)
# Verblijf (43/44) by most preferred setting; crisis (46) is drawn apart.
VERBLIJF_MIX: tuple[tuple[Setting, float], ...] = (
    (Setting.PLEEGZORG, 0.34),
    (Setting.GEZINSHUIS, 0.22),
    (Setting.RESIDENTIEEL, 0.28),
    (Setting.TUSSENVOORZIENING, 0.08),
    (Setting.DRIEMILIEU, 0.04),
    (Setting.JEUGDZORGPLUS, 0.04),
)
# Acceptable alternatives after the preferred setting, closest to home first (DOMAIN §3.3).
ALTERNATIVES: dict[Setting, tuple[Setting, ...]] = {
    Setting.PLEEGZORG: (Setting.GEZINSHUIS,),
    Setting.GEZINSHUIS: (Setting.RESIDENTIEEL,),
    Setting.RESIDENTIEEL: (Setting.GEZINSHUIS,),
    Setting.TUSSENVOORZIENING: (Setting.RESIDENTIEEL,),
    Setting.DRIEMILIEU: (Setting.RESIDENTIEEL,),
    Setting.JEUGDZORGPLUS: (),
    Setting.CRISISPLEK: (),
}


def category_of(setting: Setting) -> Productcategorie:
    if setting is Setting.CRISISPLEK:
        return Productcategorie.CRISIS
    if setting in (Setting.PLEEGZORG, Setting.GEZINSHUIS):
        return Productcategorie.VERBLIJF_EXCL_BEHANDELING
    return Productcategorie.VERBLIJF_INCL_BEHANDELING


# How long care lasts, in days (mean); and how long the first wait for ambulant care is (median).
STAY_DAYS: dict[Setting, int] = {
    Setting.PLEEGZORG: 420,
    Setting.GEZINSHUIS: 360,
    Setting.TUSSENVOORZIENING: 150,
    Setting.RESIDENTIEEL: 200,
    Setting.DRIEMILIEU: 240,
    Setting.JEUGDZORGPLUS: 150,
    Setting.CRISISPLEK: 28,
}
AMBULANT_CARE_DAYS = 180
AMBULANT_WAIT_MEDIAN_DAYS = 28

# JZ588 reasons care ends with; 32–35 is uitval (drop-out).
END_REASONS: tuple[tuple[RedenBeeindiging, float], ...] = (
    (RedenBeeindiging.VOLGENS_PLAN, 0.68),
    (RedenBeeindiging.VOORTIJDIG_CLIENT, 0.08),
    (RedenBeeindiging.VOORTIJDIG_AANBIEDER, 0.03),
    (RedenBeeindiging.VOORTIJDIG_IN_OVEREENSTEMMING, 0.06),
    (RedenBeeindiging.VOORTIJDIG_EXTERNE_OMSTANDIGHEDEN, 0.02),
    (RedenBeeindiging.OVERSTAP_ANDERE_AANBIEDER, 0.06),
    (RedenBeeindiging.UITSTROOM_ANDER_DOMEIN, 0.04),
    (RedenBeeindiging.DOOR_GEMEENTE, 0.03),
)


def urgency_for(rng: random.Random, category: Productcategorie, referrer: ReferrerKind) -> Urgentie:
    if category is Productcategorie.CRISIS:
        return Urgentie.CRISIS
    if referrer in (VEILIG_THUIS, GI, RECHTER) or (category.needs_setting and rng.random() < 0.3):
        return Urgentie.SPOED
    return Urgentie.REGULIER


# --- providers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderProfile:
    """A kind of provider: the lots it applies for, its places per setting (total), and how many there are."""

    kind: str
    count: int
    lots: tuple[str, ...]
    places: tuple[tuple[Setting, int], ...] = ()


# Many ambulant providers, few gezinshuizen, residential, crisis, driemilieu (which drew no bids in the
# 2020 procurement: one provider here) and JeugdzorgPlus (supra-regional).
PROVIDER_MIX: tuple[ProviderProfile, ...] = (
    ProviderProfile("ambulant", 14, ("AMB-BEHANDELING", "AMB-BEGELEIDING")),
    ProviderProfile("ggz", 5, ("JEUGD-GGZ", "AMB-BEHANDELING")),
    ProviderProfile("dagbehandeling", 2, ("DAGBEHANDELING", "AMB-BEHANDELING")),
    ProviderProfile("pleegzorg", 1, ("PLEEGZORG",), ((Setting.PLEEGZORG, 70),)),
    ProviderProfile("gezinshuis", 3, ("GEZINSHUIS",), ((Setting.GEZINSHUIS, 6),)),
    ProviderProfile("residentieel", 3, ("RESIDENTIEEL",), ((Setting.RESIDENTIEEL, 18), (Setting.TUSSENVOORZIENING, 5))),
    ProviderProfile("crisis", 2, ("CRISIS",), ((Setting.CRISISPLEK, 4),)),
    ProviderProfile("driemilieu", 1, ("DRIEMILIEU",), ((Setting.DRIEMILIEU, 8),)),
    ProviderProfile("jeugdzorgplus", 1, ("JEUGDZORGPLUS",), ((Setting.JEUGDZORGPLUS, 10),)),
)
# The lot each category is allocated under, with its product code (services/contracting/data/lots.json).
PRODUCT_OF: dict[Productcategorie, tuple[str, str]] = {
    Productcategorie.AMBULANT: ("AMB-BEHANDELING", "45A53"),
    Productcategorie.JEUGD_GGZ: ("JEUGD-GGZ", "54001"),
    Productcategorie.DAGBEHANDELING: ("DAGBEHANDELING", "41A06"),
}
PRODUCT_OF_SETTING: dict[Setting, str] = {
    Setting.PLEEGZORG: "44A01",
    Setting.GEZINSHUIS: "44A02",
    Setting.RESIDENTIEEL: "43A03",
    Setting.TUSSENVOORZIENING: "43A03",
    Setting.DRIEMILIEU: "43A05",
    Setting.CRISISPLEK: "46002",
    Setting.JEUGDZORGPLUS: "43A10",
}
# Open House evidence every lot asks for; the GI lot also wants 'gecertificeerde-instelling'.
EVIDENCE = ("kwaliteitskeurmerk", "vog", "aansprakelijkheidsverzekering", "skj-big-registratie", "meldcode")


# --- people (synthetic) ----------------------------------------------------------------------

# The BRP's test persons live in the 999… block; a generated BSN there cannot be a real person's.
BSN_PREFIX = "999"


def elfproef(bsn: str) -> bool:
    """(9·d1 + 8·d2 + … + 2·d8 − d9) mod 11 = 0."""
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    digits = [int(c) for c in bsn]
    return (sum(w * d for w, d in zip(range(9, 1, -1), digits[:8], strict=True)) - digits[8]) % 11 == 0


def synthetic_bsn(rng: random.Random) -> str:
    """A 9-digit number that passes the elfproef, in the test block: generated, never real."""
    while True:
        body = BSN_PREFIX + "".join(str(rng.randrange(10)) for _ in range(5))
        check = sum(w * int(d) for w, d in zip(range(9, 1, -1), body, strict=True)) % 11
        if check < 10:  # the check digit must be one digit
            return body + str(check)


FIRST_NAMES = (
    "Sem",
    "Noah",
    "Liam",
    "Luuk",
    "Daan",
    "Finn",
    "Milan",
    "Levi",
    "Jesse",
    "Thijs",
    "Emma",
    "Julia",
    "Mila",
    "Tess",
    "Sophie",
    "Zoë",
    "Nora",
    "Sara",
    "Evi",
    "Anna",
    "Yara",
    "Fenna",
    "Bram",
    "Ruben",
)
LAST_NAMES = (
    "de Vries",
    "Jansen",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
)


def fake_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def birth_date(rng: random.Random, today: date, min_age: int, max_age: int) -> date:
    """A birth date giving an age in [min_age, max_age] on ``today``."""
    age_days = rng.randrange(min_age * 365 + 1, (max_age + 1) * 365 - 1)
    return today - timedelta(days=age_days)


def invented_agb(rng: random.Random, taken: set[str]) -> str:
    """An invented 8-digit AGB code, unique within ``taken``; it may match a real one by chance, which is
    harmless because nothing the simulator makes leaves this system."""
    while True:
        agb = "98" + "".join(str(rng.randrange(10)) for _ in range(6))
        if agb not in taken:
            taken.add(agb)
            return agb
