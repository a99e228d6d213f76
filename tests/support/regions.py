"""Two regions of the Midden-Nederland pool as real processes, for the end-to-end tests of pools:
Gooi en Vechtstreek and Eemland, each with its own schemas, key store and topic namespace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

GV, EEMLAND = "gooi-en-vechtstreek", "eemland"
HILVERSUM, AMERSFOORT = "0402", "0307"
AGB_GV, AGB_EM, GP = "24000011", "34000011", "01234567"
BIRTH_DATE = "2011-06-01"


def region_env(infra: Infrastructure, isolation: Isolation, tag: str) -> dict[str, str]:
    """A region's deployment: its own schemas (``<schema>_<tag>_<service>``), key store and topic
    namespace; the pool's topic in the namespace both regions share."""
    return {
        **isolation.env(infra),
        "SCHAKEL_DB_SCHEMA": f"{isolation.schema}_{tag}",
        "SCHAKEL_AUTH_DB_SCHEMA": f"{isolation.schema}_{tag}_keys",
        "SCHAKEL_TOPIC_NAMESPACE": f"{isolation.namespace}-{tag}",
        "SCHAKEL_POOL_TOPIC_NAMESPACE": isolation.namespace,
    }


@contextmanager
def region_services(env: dict[str, str], region: str, tag: str, *names: str) -> Iterator[list[str]]:
    """The region's services ``names``, their URLs in that order; intake takes its municipalities
    from the dated registry."""
    env = {**env, "SCHAKEL_REGION": region}
    with ExitStack() as stack:
        yield [stack.enter_context(service_process(name, free_port(), env, f"e2e-{tag}-{name}")) for name in names]


def jeugdzorgplus_referral(bsn: str, municipality: str) -> dict[str, object]:
    return {
        "client": {"bsn": bsn, "birth_date": BIRTH_DATE, "municipality_code": municipality},
        "referrer": {"type": "02", "agb": GP},
        "product_category": "43",
        "setting": "jeugdzorgplus",
        "urgency": "spoed",
        "ambulant_tried": True,
    }


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def gooi_full_eemland_free(
    http: httpx.AsyncClient, capacity: dict[str, str], env: dict[str, dict[str, str]], *, timeout: float
) -> None:
    """Gooi en Vechtstreek's one JeugdzorgPlus place is taken, one of Eemland's two is free (each
    provider admitted by its region's admin); returns once Gooi en Vechtstreek's capacity sees, in
    its pool view, that Eemland and no other member has room. ``capacity`` and ``env`` by tag."""
    for tag, agb, municipality, total, occupied in (
        ("gv", AGB_GV, HILVERSUM, 1, 1),
        ("em", AGB_EM, AMERSFOORT, 2, 1),
    ):
        body = {"settings": ["jeugdzorgplus"], "municipality_code": municipality}
        admin = bearer("admin", "beheer", env[tag])
        await ok(await http.put(f"{capacity[tag]}/v1/providers/{agb}", headers=admin, json=body))
        figures = {"total": total, "occupied": occupied}
        provider = bearer("provider", agb, env[tag])
        await ok(await http.put(f"{capacity[tag]}/v1/capacity/{agb}/jeugdzorgplus", headers=provider, json=figures))
    sf = bearer("schakelfunctionaris", "sf.gooi", env["gv"])

    async def room_in_eemland() -> bool:
        pools = await ok(await http.get(f"{capacity['gv']}/v1/pools", headers=sf))
        return pools["pools"][0]["figures"][0]["room_elsewhere"] == [EEMLAND]

    await eventually(room_in_eemland, timeout=timeout, what="gooi-en-vechtstreek to see eemland's free place")
