"""``python -m services.sim``: run the simulated region against the four services."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from services.sim import region
from services.sim.calls import Ledger, Urls
from services.sim.keys import Keys
from services.sim.run import simulate

app = typer.Typer(add_completion=False)


@app.command()
def run(
    seed: Annotated[int, typer.Option(help="Seed of every random choice: the same seed, the same region.")] = 2026,
    days: Annotated[int, typer.Option(min=1, help="Simulated days to run; the last one is today.")] = 365,
    speed: Annotated[float, typer.Option(min=0.01, help="Simulated days per second of wall time.")] = 1.0,
    live: Annotated[bool, typer.Option(help="After the last day, go on in rounds of today until stopped.")] = False,
    scale: Annotated[float, typer.Option(min=0.01, max=10, help="Share of the region's referral volume.")] = 1.0,
    intake: Annotated[str, typer.Option(envvar="SCHAKEL_SIM_INTAKE_URL")] = Urls.intake,
    contracting: Annotated[str, typer.Option(envvar="SCHAKEL_SIM_CONTRACTING_URL")] = Urls.contracting,
    capacity: Annotated[str, typer.Option(envvar="SCHAKEL_SIM_CAPACITY_URL")] = Urls.capacity,
    monitoring: Annotated[str, typer.Option(envvar="SCHAKEL_SIM_MONITORING_URL")] = Urls.monitoring,
    keys_file: Annotated[Path | None, typer.Option(help="Write the keys it made here (role subject key).")] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(help='Append every call answered 2xx, as a JSON line {"kind": ..., "id": ...}, to this file.'),
    ] = None,
    region_id: Annotated[
        str,
        typer.Option("--region", envvar="SCHAKEL_REGION", help=f"The region played: {', '.join(region.REGIONS)}."),
    ] = region.REGION_SEED,
    pooled_shortage: Annotated[
        bool, typer.Option(help="End the run with a JeugdzorgPlus shortage, the setting the region pools.")
    ] = False,
    places_only: Annotated[
        bool,
        typer.Option(
            help="Only admit the providers and report their places; live, also take youths other pool members "
            "ask them to (a pool partner; no intake)."
        ),
    ] = False,
) -> None:
    """Admit providers through Open House, then refer, allocate, place, start, end and declare, day by day,
    over the ``days`` days that end today (nothing that happens is dated in the future).

    Keys are made on the shared key store (SCHAKEL_AUTH_DATABASE_URL, SCHAKEL_AUTH_DB_SCHEMA).
    """
    if region_id not in region.REGIONS:
        raise typer.BadParameter(
            f"unknown region {region_id!r}; known: {', '.join(region.REGIONS)}", param_hint="--region"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def written(keys: Keys) -> None:
        if keys_file:
            keys.write(keys_file)

    urls = Urls(intake=intake, contracting=contracting, capacity=capacity, monitoring=monitoring)
    answered = Ledger(ledger)
    try:
        counts = asyncio.run(
            simulate(
                urls,
                seed=seed,
                scale=scale,
                days=days,
                speed=speed,
                live=live,
                on_keys=written,
                ledger=answered,
                region_id=region_id,
                pooled_shortage=pooled_shortage,
                places_only=places_only,
            )
        )
    finally:
        answered.close()
    typer.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    app()
