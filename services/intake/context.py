"""What intake's commands work with: the runtime, the vault, the registry and the clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from contracts import topics
from contracts.envelope import Envelope, EventData
from services.intake.privacy import Vault
from services.intake.registry import Registry
from services.intake.settings import IntakeSettings
from services.runtime.clock import Clock
from services.runtime.db import Connection
from services.runtime.service import Runtime
from services.runtime.workdays import dutch_date

SOURCE = "intake"


@dataclass
class Intake:
    runtime: Runtime
    settings: IntakeSettings
    vault: Vault
    registry: Registry
    # Injected so tests move time (overdue requests) instead of waiting for it.
    clock: Clock = field(default_factory=Clock)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        # Dates in iJw messages are Dutch calendar dates.
        return dutch_date(self.now())

    async def emit(
        self, conn: Connection, data: EventData, subject: uuid.UUID, now: datetime, causation: Envelope | None = None
    ) -> Envelope:
        envelope = Envelope.wrap(data, source=SOURCE, subject=str(subject), time=now, cause=causation)
        await self.runtime.emit(conn, topics.INTAKE_EVENTS, envelope)
        return envelope
