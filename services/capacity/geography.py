"""Where the region's municipalities are, for "nearest municipality first" in matching.

Approximate centroids (WGS84) of the municipalities of Gooi en Vechtstreek, today's and former
members. A provider or youth elsewhere is "unknown distance" and ranks after every known one.
"""

from __future__ import annotations

import math

CENTROIDS: dict[str, tuple[float, float]] = {
    "0376": (52.272, 5.245),  # Blaricum
    "1942": (52.300, 5.100),  # Gooise Meren
    "0402": (52.223, 5.176),  # Hilversum
    "0406": (52.299, 5.242),  # Huizen
    "0417": (52.255, 5.228),  # Laren
    "1696": (52.205, 5.085),  # Wijdemeren
    "0457": (52.307, 5.041),  # Weesp (member until 2022)
}


def distance_km(a: str | None, b: str | None) -> float:
    """Great-circle distance between two municipalities; infinite when either is unknown."""
    if a is None or b is None:
        return math.inf
    if a == b:
        return 0.0
    if a not in CENTROIDS or b not in CENTROIDS:
        return math.inf
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, CENTROIDS[m])) for m in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))
