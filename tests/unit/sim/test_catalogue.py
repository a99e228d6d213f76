"""docs/events.md is generated from contracts/: this fails when a contract changed and the page did not."""

from __future__ import annotations

import importlib.util

from tests.support.infra import REPO


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_catalogue", REPO / "docs" / "generate_catalogue.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_event_catalogue_matches_the_contracts() -> None:
    generator = _generator()
    assert generator.CATALOGUE.read_text() == generator.render(), (
        "docs/events.md is out of date: run `.venv/bin/python docs/generate_catalogue.py`"
    )


def test_alerts_and_events_of_capacity_are_catalogued_under_their_own_topics() -> None:
    page = _generator().render()
    from contracts.capacity import CapacityReported, ShortageDetected
    from contracts.intake import ReferralReceived

    assert ShortageDetected.topic == "capacity.alerts.v1"
    assert CapacityReported.topic == "capacity.events.v1"
    assert ReferralReceived.topic == "intake.events.v1"
    # The page lists each event under the topic its class names.
    alerts = page.index("## `capacity.alerts.v1`")
    assert page.index("### ShortageDetected") > alerts > page.index("### CapacityReported")
