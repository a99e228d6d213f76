"""Every metric of every service passes ``promtool check metrics`` (Prometheus' naming conventions:
base units such as seconds, counters ending in ``_total``), scraped from the four running apps."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import yaml
from fastapi import FastAPI

from contracts import topics
from services.capacity.app import build as capacity
from services.capacity.settings import CapacitySettings
from services.contracting.app import build as contracting
from services.contracting.settings import ContractingSettings
from services.intake.app import build as intake
from services.intake.settings import IntakeSettings
from services.monitoring.app import build as monitoring
from services.monitoring.settings import MonitoringSettings
from services.runtime.settings import ServiceSettings
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.server import serving

SERVICES: list[tuple[str, Callable[[Any], FastAPI], type[ServiceSettings], dict[str, Any]]] = [
    ("intake", intake, IntakeSettings, {"dev_mode": True}),
    ("contracting", contracting, ContractingSettings, {}),
    ("capacity", capacity, CapacitySettings, {}),
    ("monitoring", monitoring, MonitoringSettings, {}),
]


def promtool_check_metrics(exposition: str) -> str:
    """What promtool finds wrong with ``exposition``; empty when nothing."""
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60
    )
    return (result.stdout + result.stderr).strip() if result.returncode else ""


def _names(exposition: str) -> set[str]:
    """Every sample name a scrape can hold, including a histogram's _bucket, _count and _sum."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name} | ({name + s for s in ("_bucket", "_count", "_sum")} if kind == "histogram" else set())
    return names


def _used_by_dashboard_and_alerts() -> set[str]:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/schakel.json").read_text())
    rules = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return {m for e in exprs for m in re.findall(r"\b(?:schakel|faststream)_[a-z_]+", e)}


async def test_every_metric_name_of_every_service_passes_promtool(
    infra: Infrastructure, isolation: Isolation, http: httpx.AsyncClient
) -> None:
    async with contextlib.AsyncExitStack() as running:
        urls = {}
        for name, build, settings_class, extra in SERVICES:
            settings = isolation.settings(settings_class, infra, kafka_offsets_interval_seconds=0.5, **extra)
            # Each service its own schema, as each has its own database in production.
            settings = settings.model_copy(update={"db_schema": f"{isolation.schema}_{name}"})
            urls[name] = await running.enter_async_context(serving(build(settings)))
        # Traffic, so histograms and FastStream's own metrics carry samples and not only their names.
        await produce(infra.kafka, isolation.topic(topics.INTAKE_EVENTS), b"not an event", key=b"x")

        async def scraped(name: str) -> str | None:
            await http.get(f"{urls[name]}/healthz")
            text = (await http.get(f"{urls[name]}/metrics")).text
            ready = "faststream_received_messages_total{" in text and "schakel_dead_letters_waiting_messages{" in text
            return text if ready or name in ("intake", "contracting") else None

        expositions = {
            name: await eventually(lambda n=name: scraped(n), timeout=60, what=f"{name}'s metrics") for name in urls
        }

    for name, exposition in expositions.items():
        assert promtool_check_metrics(exposition) == "", f"{name}: {promtool_check_metrics(exposition)}"
    everything = set().union(*map(_names, expositions.values()))
    assert {
        "schakel_consumer_lag_messages",
        "schakel_dead_letters_waiting_messages",
        "schakel_outbox_oldest_unsent_age_seconds",
        "schakel_waiting_time_seconds",
        "schakel_http_request_duration_seconds",
    } <= everything
    assert "schakel_waiting_time_days" not in everything
    # The dashboard and the alert rules only ask for what the services expose.
    assert _used_by_dashboard_and_alerts() - everything == set()


def test_promtool_would_refuse_a_time_in_days_and_a_counter_without_total() -> None:
    # The check above can fail: promtool does flag what it is there to catch.
    bad = (
        "# HELP schakel_waiting_time_days Days.\n# TYPE schakel_waiting_time_days gauge\nschakel_waiting_time_days 1\n"
    )
    assert "days" in promtool_check_metrics(bad).lower()
    counter = "# HELP schakel_probes Probes.\n# TYPE schakel_probes counter\nschakel_probes 1\n"
    assert "_total" in promtool_check_metrics(counter)
