"""The region's contracting office: the admin registers the earlier tender's running contracts, and
the operator reads back the lots' tariffs and when each provider's contract began."""

from __future__ import annotations

from datetime import date, timedelta

from services.sim.schedule import Provider
from services.sim.world import Actor

# How long before the simulated year the incumbents' contracts began (the region's 2020-ish tender).
INCUMBENT_YEARS = 2


class ContractingOffice(Actor):
    async def register_running_contracts(self) -> None:
        """The earlier tender's providers are registered as running, from well before the simulated year."""
        since = (self.world.calendar.first - timedelta(days=INCUMBENT_YEARS * 365)).isoformat()

        async def register(provider: Provider) -> None:
            for lot in provider.lots:
                await self.calls.call(
                    "POST",
                    self.calls.urls.contracting,
                    "/v1/contracts",
                    self.calls.keys.admin,
                    {"kind": "open_house", "provider_agb": provider.agb, "lot": lot, "valid_from": since},
                    what="running contract registered",
                    quiet=True,
                )  # a rerun finds it already there
                provider.admitted_lots.add(lot)

        await self.calls.each([p for p in self.world.providers if p.incumbent], register)

    async def read_terms(self) -> None:
        """The tariffs the declarations are priced at, and each provider's running contract's start."""
        calls, operator = self.calls, self.calls.keys.operator
        lots = await calls.call("GET", calls.urls.contracting, "/v1/lots", operator, what="lots") or []
        tariffs: dict[tuple[str, str], list[tuple[date, date, int]]] = {}
        for lot in lots:
            for t in lot["tariffs"]:
                tariffs.setdefault((t["product_code"], t["unit"]), []).append(
                    (date.fromisoformat(t["valid_from"]), date.fromisoformat(t["valid_to"]), t["eurocent"])
                )
        self.world.tariffs = tariffs
        contracts = await calls.call("GET", calls.urls.contracting, "/v1/contracts", operator, what="contracts") or []
        for provider in self.world.providers:
            starts = [
                date.fromisoformat(c["valid_from"])
                for c in contracts
                if c["provider_agb"] == provider.agb and c["kind"] == "open_house" and c["ended_on"] is None
            ]
            # Admission happens today, not in the simulated past: its months before are not declared.
            provider.contracted_from = max(starts, default=None)
