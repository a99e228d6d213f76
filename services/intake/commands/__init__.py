"""Intake's commands: each changes state through one unit of work (``uow.store``, ``uow.now``,
``uow.settings``) and announces what happened with ``uow.collect``; the route or consumer that
calls it opened the unit of work and commits it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeAlias

from services.intake.personal_data_store import PersonalDataStore
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from services.runtime.unit_of_work import UnitOfWork

IntakeWork: TypeAlias = UnitOfWork[IntakeStore, IntakeSettings]
PersonalDataWork: TypeAlias = UnitOfWork[PersonalDataStore, IntakeSettings]
# Opens one unit of work on personal data, for the commands that work in several transactions.
PersonalDataWorkMaker: TypeAlias = Callable[[], AbstractAsyncContextManager[PersonalDataWork]]
