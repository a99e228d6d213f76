"""The event contracts: schemas committed, envelopes round-trip, no personal data, iJw code lists."""

from __future__ import annotations

import json
import re
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from contracts import jsonschema, topics
from contracts.codes import Productcategorie, RedenBeeindiging, Verwijzer
from contracts.envelope import Envelope, EventAttributes, EventData, InvalidEvent, decode, registered_events
from contracts.intake import ReferralReceived
from tests.unit.contracts.examples import EXAMPLES, NOW, REF

# Words that would mean a field carries who the youth is (DOMAIN §7).
PERSONAL = re.compile(r"bsn|burgerservice|name|naam|birth|geboorte|address|adres|postcode|phone|email", re.I)


def test_committed_schemas_match_the_models() -> None:
    assert jsonschema.drift() == [], "run `make schemas` and commit contracts/schemas/"


def test_every_event_has_an_example_and_the_architecture_events_exist() -> None:
    names = {t.rsplit(".", 1)[1] for t in registered_events()}
    assert {type(e).event_type for e in EXAMPLES} == set(registered_events())
    assert {
        "ReferralReceived",
        "AllocationIssued",
        "CareEnded",
        "ProviderAdmitted",
        "DeclarationAssessed",
        "CapacityReported",
        "PlacementConfirmed",
        "ShortageDetected",
        "CaseEscalated",
        "AlertAcknowledged",
    } <= names


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_event_survives_the_wire(event) -> None:  # type: ignore[no-untyped-def]
    envelope = Envelope.wrap(event, source="test")
    decoded_envelope, decoded = decode(envelope.to_bytes())
    assert decoded == event
    assert decoded_envelope.id == envelope.id
    assert decoded_envelope.correlationid == envelope.id


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        annotation = field.annotation
        for arg in getattr(annotation, "__args__", (annotation,)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _field_names(arg)
    return names


@pytest.mark.parametrize(
    "model", sorted(registered_events().values(), key=lambda m: m.event_type), ids=lambda m: m.__name__
)
def test_no_event_has_a_field_for_personal_data(model) -> None:  # type: ignore[no-untyped-def]
    assert not {n for n in _field_names(model) if PERSONAL.search(n)}


def test_an_unknown_type_or_bad_payload_is_an_invalid_event() -> None:
    good = Envelope.wrap(EXAMPLES[0], source="test")
    with pytest.raises(InvalidEvent):
        decode(b"not json")
    with pytest.raises(InvalidEvent):
        decode(good.model_copy(update={"type": "nl.schakel.intake.Nonsense"}).to_bytes())
    with pytest.raises(InvalidEvent):
        decode(good.model_copy(update={"data": {**good.data, "age": 99}}).to_bytes())


def test_writers_refuse_unknown_fields() -> None:
    data = EXAMPLES[0].model_dump(mode="json") | {"bsn": "123456782"}
    with pytest.raises(ValidationError, match="bsn"):
        ReferralReceived.model_validate(data)


def test_a_client_ref_is_a_hash_never_a_bsn() -> None:
    data = EXAMPLES[0].model_dump(mode="json") | {"client_ref": "123456782"}
    with pytest.raises(ValidationError, match="client_ref"):
        ReferralReceived.model_validate(data)


def test_verblijf_categories_need_a_setting_and_others_refuse_one() -> None:
    base = EXAMPLES[0].model_dump(mode="json")
    with pytest.raises(ValidationError, match="needs at least one verblijf setting"):
        ReferralReceived.model_validate(base | {"settings": []})
    with pytest.raises(ValidationError, match="has no verblijf setting"):
        ReferralReceived.model_validate(base | {"product_category": "45"})
    assert ReferralReceived.model_validate(base | {"product_category": "45", "settings": []}).settings == []


def test_code_lists_follow_ijw() -> None:
    assert [v.value for v in Verwijzer] == ["01", "02", "03", "04", "05", "06", "08"]
    assert {c.value for c in Productcategorie} == {str(n) for n in range(40, 56)}
    assert {c.value for c in Productcategorie if c.needs_setting} == {"43", "44", "46"}
    assert {r.value for r in RedenBeeindiging if r.is_uitval} == {"32", "33", "34", "35"}
    assert not Verwijzer.RECHTER_OFFICIER.needs_gemeente_decision
    assert not Verwijzer.GECERTIFICEERDE_INSTELLING.needs_gemeente_decision
    assert Verwijzer.HUISARTS.needs_gemeente_decision


def test_every_topic_has_a_dead_letter_topic() -> None:
    assert [topics.dead_letter(t) for t in topics.ALL] == [t + ".dlq" for t in topics.ALL]
    assert NOW.tzinfo is not None and len(REF) == 64


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_decoding_in_one_pass_gives_what_the_envelope_and_then_its_payload_give(event: EventData) -> None:
    raw = Envelope.wrap(event, source="test").to_bytes()
    attributes, data = decode(raw)
    full = Envelope.from_bytes(raw)
    assert data == full.payload() == event
    assert {name: getattr(attributes, name) for name in EventAttributes.model_fields} == full.model_dump(
        exclude={"data"}
    )


def test_a_type_named_inside_data_does_not_mislead_the_decoding() -> None:
    # The first "type" in the bytes is data's (an extra field, ignored), naming another event.
    envelope = Envelope.wrap(EXAMPLES[0], source="test")
    attributes = envelope.model_dump(mode="json", exclude={"data"})
    data = {"type": "nl.schakel.capacity.ShortageDetected", **envelope.data}
    raw = json.dumps({"data": data, **attributes}).encode()
    decoded, payload = decode(raw)
    assert decoded.type == envelope.type and payload == EXAMPLES[0]


def test_a_reader_skips_types_it_does_not_handle_without_judging_them() -> None:
    newer = Envelope.wrap(EXAMPLES[0], source="test").model_copy(
        update={"type": "nl.schakel.intake.SomethingNewer", "data": {"whatever": 1}}
    )
    envelope, data = decode(newer.to_bytes(), accept={"nl.schakel.capacity.ShortageDetected"})
    assert envelope.id == newer.id and data is None


def test_a_field_added_to_the_contract_later_does_not_make_an_event_invalid_for_a_reader() -> None:
    envelope = Envelope.wrap(EXAMPLES[0], source="test")
    grown = envelope.model_copy(update={"data": {**envelope.data, "added_in_a_later_version": True}})
    _, data = decode(grown.to_bytes())
    assert data == EXAMPLES[0]


def test_an_invalid_event_is_described_without_repeating_its_values() -> None:
    envelope = Envelope.wrap(EXAMPLES[0], source="test")
    leaked = envelope.model_copy(update={"data": {**envelope.data, "client_ref": "123456782"}})
    with pytest.raises(InvalidEvent) as caught:
        decode(leaked.to_bytes())
    assert "client_ref" in str(caught.value) and "123456782" not in str(caught.value)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_knows_its_topic_and_its_subject(event: EventData) -> None:
    # A region's own topic, or a pool's (its class names the pattern, the event its pool's real topic).
    assert type(event).topic in topics.ALL or event.topic_of() == topics.pool_capacity(getattr(event, "pool", ""))
    envelope = Envelope.wrap(event, source="test", time=NOW)
    # The subject is the aggregate's key: never empty, never the youth's pseudonym.
    assert envelope.subject == event.subject() != ""
    assert REF not in envelope.subject


def test_an_event_whose_subject_names_a_field_it_lacks_is_refused_when_it_is_defined() -> None:
    with pytest.raises(TypeError, match="subject_fields names fields it does not have"):

        class _Orphan(EventData):
            event_type: ClassVar[str] = "nl.schakel.probe.Orphan"
            subject_fields: ClassVar[tuple[str, ...]] = ("case_id",)
            referral_id: str
