"""iJw code lists (iStandaard iJw 3.2) the events and requests speak in (DOMAIN §4).

The values are the codes themselves, as strings, so they travel unchanged in JSON; the member
names carry the Dutch meaning. Do not invent codes: a code that is not in iJw does not belong here.
"""

from __future__ import annotations

from enum import StrEnum


class Productcategorie(StrEnum):
    """JZ020."""

    PERSOONLIJKE_VERZORGING = "40"
    DAGBEHANDELING = "41"
    VERVOER = "42"
    VERBLIJF_INCL_BEHANDELING = "43"
    VERBLIJF_EXCL_BEHANDELING = "44"
    AMBULANT = "45"
    CRISIS = "46"
    JEUGDRECLASSERING = "47"
    JEUGDBESCHERMING = "48"
    PREVENTIEF_JUSTITIEEL_KADER = "49"
    MAATWERKARRANGEMENTEN = "50"
    GENERALISTISCHE_BASIS_GGZ = "51"
    SPECIALISTISCHE_GGZ = "52"
    KINDERGENEESKUNDE = "53"
    JEUGD_GGZ = "54"
    LANDELIJK_INGEKOCHTE_ZORG = "55"

    @property
    def needs_setting(self) -> bool:
        """Verblijf and crisis care are placed in a setting; the schakelfunctie matches these."""
        return self in PLACEMENT_CATEGORIES


PLACEMENT_CATEGORIES = frozenset(
    {Productcategorie.VERBLIJF_INCL_BEHANDELING, Productcategorie.VERBLIJF_EXCL_BEHANDELING, Productcategorie.CRISIS}
)


class Verwijzer(StrEnum):
    """COD327 — the statutory referrer types. There is no 07."""

    GEMEENTE = "01"
    HUISARTS = "02"
    JEUGDARTS = "03"
    GECERTIFICEERDE_INSTELLING = "04"
    MEDISCH_SPECIALIST = "05"
    ZELFVERWIJZER = "06"
    RECHTER_OFFICIER = "08"

    @property
    def needs_gemeente_decision(self) -> bool:
        # A GI's or court's decision stands on its own (DOMAIN §3.1).
        return self not in (Verwijzer.GECERTIFICEERDE_INSTELLING, Verwijzer.RECHTER_OFFICIER)


class Eenheid(StrEnum):
    """WJ756."""

    MINUUT = "01"
    UUR = "04"
    ETMAAL = "14"
    DAGDEEL = "16"
    STUKS_OUTPUT = "82"
    EUROS = "83"
    STUKS_INSPANNING = "84"


class Frequentie(StrEnum):
    """The frequency a volume is allocated in."""

    PER_DAG = "1"
    PER_WEEK = "2"
    PER_MAAND = "4"
    TOTAAL_BINNEN_GELDIGHEIDSDUUR = "6"


class RedenBeeindiging(StrEnum):
    """JZ588."""

    OVERLIJDEN = "02"
    TIJDELIJK_BEEINDIGD = "20"
    VOLGENS_PLAN = "31"
    VOORTIJDIG_CLIENT = "32"
    VOORTIJDIG_AANBIEDER = "33"
    VOORTIJDIG_IN_OVEREENSTEMMING = "34"
    VOORTIJDIG_EXTERNE_OMSTANDIGHEDEN = "35"
    DOOR_GEMEENTE = "36"
    WIJZIGINGSVERZOEK = "37"
    OVERSTAP_ANDERE_AANBIEDER = "38"
    UITSTROOM_ANDER_DOMEIN = "39"

    @property
    def is_uitval(self) -> bool:
        """Drop-out: care ended early (32–35)."""
        return self in UITVAL


UITVAL = frozenset(
    {
        RedenBeeindiging.VOORTIJDIG_CLIENT,
        RedenBeeindiging.VOORTIJDIG_AANBIEDER,
        RedenBeeindiging.VOORTIJDIG_IN_OVEREENSTEMMING,
        RedenBeeindiging.VOORTIJDIG_EXTERNE_OMSTANDIGHEDEN,
    }
)


class RedenAfwijzing(StrEnum):
    """WJ759 — why a provider's request for an allocation is refused."""

    NIEUWE_AANVRAAG = "1"
    BUDGET = "2"
    GEEN_CONTRACT = "3"
    PAST_NIET_BINNEN_CONTRACT = "4"
    ANDERE_GEMEENTE = "5"
    STAPELING = "6"
    ZORGINHOUDELIJK = "7"
    WOONPLAATSBEGINSEL = "8"
    LEEFTIJDSGRENS = "9"


class RedenWijziging(StrEnum):
    """The reasons an allocation is changed or withdrawn that Schakel acts on (JZ585)."""

    ADMINISTRATIEVE_CORRECTIE = "01"
    WIJZIGING_ZORGBEHOEFTE = "02"
    # 13: the allocation was never valid; declarations against it are refused (JW325 9384).
    NOOIT_GELDIG = "13"


class Retourcode(StrEnum):
    """JW325 return codes of a declaration line (the ones the DLP checks use)."""

    GOEDGEKEURD = "8001"
    TARIEF_WIJKT_AF = "0611"
    VOLUME_OVERSCHREDEN = "9321"
    VOLUME_OVERSCHREDEN_PERIODE = "9322"
    BUDGET_OVERSCHREDEN = "9369"
    BEGIN_BUITEN_TOEWIJZING = "9307"
    EIND_BUITEN_TOEWIJZING = "9308"
    BEDRAG_ONJUIST = "9346"
    GEEN_TOEWIJZING = "9019"
    TOEWIJZING_INGETROKKEN = "9384"


class Urgentie(StrEnum):
    """How soon a youth needs care; crisis escalates in hours, the others in working days."""

    REGULIER = "regulier"
    SPOED = "spoed"
    CRISIS = "crisis"
