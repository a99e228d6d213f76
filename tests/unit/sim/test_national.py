"""The national year generator: valid contract events, in causal order, for every region, nothing personal."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime

import pytest

from contracts import topics
from contracts.envelope import Envelope, decode
from services.sim.national.generate import Year, events, load_regions, split

COUNT = 2_000
# A whole token of nine digits: what a BSN looks like (hex runs inside a UUID or client_ref are not).
NINE_DIGITS = re.compile(rb"(?<![0-9A-Za-z])[0-9]{9}(?![0-9A-Za-z])")
# The first event of each kind of aggregate; every later one is caused by the one before it.
STARTS = {
    "nl.schakel.intake.ReferralReceived",
    "nl.schakel.capacity.CapacityReported",
    "nl.schakel.capacity.ShortageDetected",
    "nl.schakel.contracting.DeclarationSubmitted",
}


@pytest.fixture(scope="module")
def batch() -> list[tuple[str, bytes, str]]:
    return [(e.topic, e.envelope.to_bytes(), e.envelope.subject) for e in events(COUNT, seed=7)]


def test_exactly_the_count_asked_for_and_the_same_seed_gives_the_same_events(
    batch: list[tuple[str, bytes, str]],
) -> None:
    assert len(batch) == COUNT
    again = [e.envelope.to_bytes() for e in events(COUNT, seed=7)]
    assert again == [raw for _, raw, _ in batch]
    assert [e.envelope.to_bytes() for e in events(50, seed=8)] != again[:50]


def test_every_event_decodes_to_its_contract_model_on_its_topic(batch: list[tuple[str, bytes, str]]) -> None:
    sources = {
        topics.INTAKE_EVENTS: "intake",
        topics.CAPACITY_EVENTS: "capacity",
        topics.CAPACITY_ALERTS: "capacity",
        topics.CONTRACTING_EVENTS: "contracting",
    }
    types = set()
    for topic, raw, subject in batch:
        envelope, payload = decode(raw)
        assert payload is not None
        assert type(payload).event_type == envelope.type
        assert envelope.dataschema == type(payload).dataschema()
        assert envelope.subject == subject
        assert envelope.source == sources[topic]
        assert envelope.type.split(".")[2] == topic.split(".")[0]
        types.add(envelope.type.rsplit(".", 1)[1])
    # The mix of a year, not one kind over and over.
    expected = {
        "ReferralReceived",
        "AllocationIssued",
        "CareStarted",
        "CareEnded",
        "CapacityReported",
        "PlacementRequested",
        "PlacementProposed",
        "PlacementConfirmed",
        "ShortageDetected",
        "ShortageResolved",
        "DeclarationSubmitted",
        "DeclarationAssessed",
    }
    assert expected <= types, expected - types


def test_each_aggregate_comes_in_causal_order(batch: list[tuple[str, bytes, str]]) -> None:
    last: dict[str, tuple[str, datetime]] = {}
    chains: defaultdict[str, list[str]] = defaultdict(list)
    for _, raw, subject in batch:
        envelope, _ = decode(raw)
        chains[subject].append(envelope.type.rsplit(".", 1)[1])
        if subject not in last or envelope.causationid is None:
            assert envelope.type in STARTS, (subject, chains[subject])
        else:
            previous_id = last[subject][0]
            assert str(envelope.causationid) == previous_id, (subject, chains[subject])
        if subject in last:
            assert envelope.time >= last[subject][1], (subject, chains[subject])
        last[subject] = (str(envelope.id), envelope.time)
    referrals = [c for c in chains.values() if c[0] == "ReferralReceived"]
    assert any(c[:3] == ["ReferralReceived", "AllocationIssued", "CareStarted"] for c in referrals)
    assert any(c[:2] == ["ReferralReceived", "PlacementRequested"] for c in referrals)
    for chain in referrals:
        if "CareEnded" in chain:
            assert chain.index("CareStarted") < chain.index("CareEnded"), chain
        if "PlacementConfirmed" in chain and "AllocationIssued" in chain:
            assert chain.index("PlacementConfirmed") < chain.index("AllocationIssued"), chain


def test_every_region_of_2013_is_in_a_small_batch(batch: list[tuple[str, bytes, str]]) -> None:
    regions = load_regions()
    assert len(regions) == 42
    assert sum(len(r.municipalities) for r in regions) == 408
    region_of = {m.code: r.number for r in regions for m in r.municipalities}
    assert len(region_of) == 408  # one code each
    region_of.update({agb: r.number for r in regions for agb in r.providers})
    seen, referred = set(), set()
    for _, raw, _ in batch:
        envelope = Envelope.from_bytes(raw)
        data = envelope.data
        place = data.get("municipality_code") or data.get("provider_agb") or data.get("agb")
        if place is not None:
            seen.add(region_of[place])
        if envelope.type == "nl.schakel.intake.ReferralReceived":
            referred.add(region_of[data["municipality_code"]])
    assert seen == {r.number for r in regions}
    # Most regions' youths are referred even in 2,000 events; larger ones more often than small.
    assert len(referred) >= 35, len(referred)


def test_nothing_personal_travels(batch: list[tuple[str, bytes, str]]) -> None:
    for _, raw, _ in batch:
        assert NINE_DIGITS.search(raw) is None, raw
        for key in Envelope.from_bytes(raw).data:
            assert not any(word in key for word in ("bsn", "name", "birth")), key


def test_several_writers_share_the_regions_and_the_count_between_them() -> None:
    regions = load_regions()
    parts = [Year(part=p, parts=3).regions for p in range(3)]
    numbers = [r.number for part in parts for r in part]
    assert sorted(numbers) == sorted(r.number for r in regions)  # each region in exactly one part
    counts = split(3_001, 3)
    assert sum(counts) == 3_001 and all(c > 0 for c in counts)
    written = [list(events(n, seed=7 + p, part=p, parts=3)) for p, n in enumerate(counts)]
    assert [len(w) for w in written] == counts
    agb_part = {agb: p for p, part in enumerate(parts) for r in part for agb in r.providers}
    for p, part_events in enumerate(written):
        for event in part_events:
            agb = event.envelope.data.get("agb") or event.envelope.data.get("provider_agb")
            if agb is not None:
                assert agb_part[agb] == p
