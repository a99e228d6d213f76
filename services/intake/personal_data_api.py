"""Intake's privacy route: erase a youth's personal data on request (AVG art. 17), admins only."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from services.intake.api import runtime
from services.intake.commands import personal_data
from services.intake.personal_data_store import PersonalDataStore
from services.intake.watches import RetentionWatch
from services.runtime.auth import Principal, require
from services.runtime.errors import NotFound
from services.runtime.openapi import problems
from services.runtime.roles import Role

router = APIRouter(prefix="/v1", tags=["privacy"])


class ErasureDone(BaseModel):
    referral_id: uuid.UUID
    erased_clients: int  # 0 when the youth's data was erased before
    erased_at: datetime


@router.delete(
    "/referrals/{referral_id}/personal-data",
    response_model=ErasureDone,
    summary="Erase the BSN, name and birth date of a referral's youth; the pseudonymous referral stays",
    responses=problems(404),
)
async def erase_personal_data(
    referral_id: uuid.UUID, request: Request, by: Principal = Depends(require(Role.ADMIN))
) -> ErasureDone:
    async with runtime(request).work(PersonalDataStore) as uow:
        erased = await personal_data.erase_on_request(uow, referral_id, by.actor)
    if erased is None:
        raise NotFound(f"no referral {referral_id}")
    retention: RetentionWatch = request.app.state.retention
    retention.erased.labels("request").inc(erased)
    return ErasureDone(referral_id=referral_id, erased_clients=erased, erased_at=uow.now)
