"""The CloudEvents 1.0-compatible envelope every Schakel event travels in, and the event registry."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Container
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model

SPEC_VERSION: Final = "1.0"


class EventData(BaseModel):
    """Base of every event payload.

    A subclass names its CloudEvents ``type`` and the ``version`` of its schema; defining the
    subclass registers it, so a consumer can turn any envelope back into its typed payload.
    Each event also knows where it goes: its ``topic`` and the fields that make its ``subject``
    (the Kafka key, so the events of one aggregate stay in order). Payloads never hold a BSN, a
    name or an exact birth date (DOMAIN §7).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    # A name from ``contracts.topics``; each module's base event sets it for its topic.
    topic: ClassVar[str]
    # The fields whose values, joined by "/", are the subject: the aggregate the event belongs to.
    subject_fields: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            if cls.event_type in _REGISTRY:
                raise TypeError(f"event type {cls.event_type} is defined twice")
            _REGISTRY[cls.event_type] = cls

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A subject naming a field the event does not have would only fail when it is first sent.
        missing = [f for f in getattr(cls, "subject_fields", ()) if f not in cls.model_fields]
        if "event_type" in cls.__dict__ and missing:
            raise TypeError(f"{cls.__name__}.subject_fields names fields it does not have: {missing}")

    @classmethod
    def dataschema(cls) -> str:
        return f"{cls.event_type}/v{cls.version}"

    def subject(self) -> str:
        """The envelope's subject and Kafka key: the values of ``subject_fields``, joined by "/"."""
        return "/".join(str(getattr(self, name)) for name in self.subject_fields)

    def topic_of(self) -> str:
        """The topic this event goes to: its class's ``topic``, unless its own fields choose one (a
        pool's events go to that pool's topic, ``contracts/pool.py``)."""
        return self.topic


_REGISTRY: dict[str, type[EventData]] = {}


def registered_events() -> dict[str, type[EventData]]:
    """Every event type of the published contract, by its CloudEvents ``type``.

    Only models defined in the ``contracts`` package count: a test may define a probe event
    (and decode it), but that does not make it part of the contract or its schemas.
    """
    return {t: m for t, m in _REGISTRY.items() if m.__module__.split(".")[0] == "contracts"}


class EventAttributes(BaseModel):
    """An envelope's CloudEvents context attributes: all of it but ``data``. What a consumer keeps of
    an event it decoded, with the typed payload beside it (``decode``).

    Extension attributes another producer adds (CloudEvents allows them) are ignored on reading.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(pattern=r"^nl\.schakel\.[a-z]+\.[A-Za-z]+$")
    source: str = Field(min_length=1, max_length=64)
    time: AwareDatetime
    subject: str = Field(min_length=1, max_length=200)
    dataschema: str
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: uuid.UUID
    causationid: uuid.UUID | None = None


class Envelope(EventAttributes):
    """One event on the bus. ``id`` is the idempotency key; ``subject`` is also the Kafka key.

    Extension attributes another producer adds (CloudEvents allows them) are ignored on reading.
    """

    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        data: EventData,
        *,
        source: str,
        time: datetime | None = None,
        cause: EventAttributes | None = None,
    ) -> Envelope:
        """Wrap ``data`` under its own subject; an event caused by ``cause`` carries its correlation
        and causation ids. The one place an envelope is made: services collect events in a unit of
        work (``services/runtime/unit_of_work.py``), which wraps them here at its clock's time; ``time``
        defaults to the wall clock for other producers (tools, tests)."""
        event_id = uuid.uuid4()
        return cls(
            id=event_id,
            type=data.event_type,
            source=source,
            time=time or datetime.now(UTC),
            subject=data.subject(),
            dataschema=data.dataschema(),
            # An event that starts a chain is its own correlation.
            correlationid=cause.correlationid if cause else event_id,
            causationid=cause.id if cause else None,
            data=data.model_dump(mode="json"),
        )

    def payload(self) -> EventData:
        """The typed payload; raises ``UnknownEventType`` or pydantic's ``ValidationError``.

        Reading is tolerant where writing is strict: a field added to the contract later (an
        additive change) is ignored by a reader that does not know it yet, instead of turning a
        valid event into a dead letter.
        """
        model = _REGISTRY.get(self.type)
        if model is None:
            raise UnknownEventType(f"no event model for type {self.type!r}")
        return model.model_validate(self.data, extra="ignore")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


class UnknownEventType(ValueError):
    """An envelope names a type no model is registered for."""


def decode(raw: bytes, accept: Container[str] | None = None) -> tuple[EventAttributes, EventData | None]:
    """Attributes and typed payload of a raw Kafka value; raises ``InvalidEvent`` when either is bad.

    With ``accept``, an envelope of another type is returned without a payload (``None``): a
    reader skips the types it does not handle, including types newer than itself.

    The attributes may be an ``Envelope`` or, decoded in one pass, a model whose ``data`` is the
    payload itself: read the payload from the second item, never ``data`` from the first.
    """
    typed = _decode_in_one_pass(raw, accept)
    if typed is not None:
        return typed, typed.data
    try:
        envelope = Envelope.from_bytes(raw)
        if accept is not None and envelope.type not in accept:
            return envelope, None
        return envelope, envelope.payload()
    except ValidationError as exc:
        # Where and why, never the offending values: a dead letter may carry a BSN by mistake.
        raise InvalidEvent(
            "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
        ) from None
    except UnknownEventType as exc:
        raise InvalidEvent(str(exc)) from None


# Where an envelope names its type; a match inside ``data`` or a duplicate key is caught by decoding,
# as the parsed type then differs.
_TYPE = re.compile(rb'"type"\s*:\s*"([A-Za-z.]+)"')


def named_type(raw: bytes) -> str | None:
    """The event type ``raw`` names, found without parsing it: a guess to pick a reader by, which
    ``decode`` confirms (a ``"type"`` inside ``data`` or written twice can mislead it)."""
    found = _TYPE.search(raw)
    return None if found is None else found.group(1).decode()


def _decode_in_one_pass(raw: bytes, accept: Container[str] | None) -> Any:
    """The usual case, a valid event of a handled type, parsed straight into its typed payload: the
    JSON is read once, where ``Envelope.from_bytes`` then ``payload()`` read it into a dict and then
    the dict into the model (a third of a consumer's decoding, issue 13). Anything else is left to
    the full decode (None), so an invalid event is explained the one way."""
    kind = named_type(raw)
    if kind is None:
        return None
    model = _REGISTRY.get(kind)
    if model is None or (accept is not None and kind not in accept):
        return None
    try:
        typed = _typed_envelope(model).model_validate_json(raw, extra="ignore")
    except ValidationError:
        return None
    return typed if typed.type == kind else None


@functools.cache
def _typed_envelope(model: type[EventData]) -> type[EventAttributes]:
    """The envelope of ``model``'s events with ``data`` parsed as ``model`` (tolerant, as ``payload()``)."""
    return create_model(f"{model.__name__}Envelope", __base__=EventAttributes, data=(model, ...))


class InvalidEvent(ValueError):
    """A message on a topic that is not a valid Schakel event; it belongs on the dead-letter topic."""
