"""What the running service checks now and then: requests left unanswered past their deadline,
and personal data past its retention period; each check also keeps its metric current."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge

from services.intake import store
from services.intake.commands import personal_data, requests
from services.intake.personal_data_store import PersonalDataStore
from services.intake.settings import IntakeSettings
from services.runtime.service import Runtime


class OverdueWatch:
    """Reports requests left unanswered past five working days, and keeps their gauge current."""

    def __init__(self, runtime: Runtime[IntakeSettings]) -> None:
        self.runtime = runtime
        self.gauge = Gauge(
            "schakel_intake_allocation_requests_overdue",
            "Open requests for a toewijzing past their answer deadline.",
            registry=runtime.registry,
        )

    async def check(self) -> int:
        async with self.runtime.work(store.postgres) as uow:
            reported = await requests.report_overdue(uow)
            overdue = await uow.store.count_overdue_open(uow.now)
        self.gauge.set(overdue)
        return reported


class RetentionWatch:
    """Erases personal data past its retention period, and counts the youths whose data went."""

    def __init__(self, runtime: Runtime[IntakeSettings]) -> None:
        self.runtime = runtime
        self.erased = Counter(
            "schakel_intake_personal_data_erased",
            "Youths whose personal data was erased.",
            ["reason"],
            registry=runtime.registry,
        )

    async def check(self) -> int:
        work = functools.partial(self.runtime.work, PersonalDataStore)
        erased = await personal_data.erase_expired(work, personal_data.RETENTION_ACTOR)
        self.erased.labels("retention").inc(erased)
        return erased
