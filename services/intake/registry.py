"""The municipality and region registry, shared with the other services from ``contracts.regions``."""

from contracts.regions import (
    DATA,
    Membership,
    Municipality,
    Period,
    Region,
    Region2013,
    Registry,
    TaskLevel,
    UnknownRegion,
    load,
    regions_2013,
    tasks_2013,
)

__all__ = [
    "DATA",
    "Membership",
    "Municipality",
    "Period",
    "Region",
    "Region2013",
    "Registry",
    "TaskLevel",
    "UnknownRegion",
    "load",
    "regions_2013",
    "tasks_2013",
]
