"""HTTP routes to register, list and remove alert webhooks (signed pushes for the alert roles)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AnyHttpUrl, BaseModel, Field

from services.capacity.api import runtime
from services.capacity.commands import webhooks
from services.capacity.webhook_store import Subscriptions
from services.runtime.auth import Principal, require
from services.runtime.openapi import problems
from services.runtime.roles import ALERT_ROLES, Role

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

MANAGERS = (*ALERT_ROLES, Role.ADMIN)
# ``ALERT_ROLES`` spelled out for the OpenAPI document (a unit test keeps the two the same).
AlertRole = Literal["schakelfunctionaris", "expertteam", "expertisenetwerk", "operator"]


class WebhookRequest(BaseModel):
    url: AnyHttpUrl = Field(description="Where alerts are POSTed: https (http only where the operator allows it).")
    description: str = Field(default="", max_length=200)
    role: AlertRole | None = Field(
        default=None, description="Whose alerts it receives; only an admin names it, others get their own role."
    )


class Webhook(BaseModel):
    id: uuid.UUID
    role: AlertRole
    url: str
    description: str
    created_by: str
    created_at: datetime
    delivered_seq: int = Field(description="The last alert seq delivered (or skipped as not for this role).")
    attempts: int = Field(description="Failed attempts in a row at the next alert; 0 when healthy.")
    last_error: str | None
    next_attempt_at: datetime | None
    last_delivered_at: datetime | None


class RegisteredWebhook(Webhook):
    secret: str = Field(
        description="Standard Webhooks signing secret (whsec_ + base64 key) to verify the "
        "webhook-signature header with; shown only now."
    )


@router.post(
    "",
    status_code=201,
    response_model=RegisteredWebhook,
    summary="Register a webhook for your role's alerts; the signing secret is shown once",
    description="Deliveries follow the Standard Webhooks specification: headers webhook-id (the "
    "envelope id, the same on retries), webhook-timestamp and webhook-signature (v1, "
    "HMAC-SHA256), verifiable with any Standard Webhooks library.",
)
async def register_webhook(
    body: WebhookRequest, request: Request, principal: Principal = Depends(require(*MANAGERS))
) -> RegisteredWebhook:
    requested = Role(body.role) if body.role else None
    async with runtime(request).work(Subscriptions) as uow:
        row = await webhooks.register(uow, str(body.url), body.url.scheme, body.description, requested, principal)
    return RegisteredWebhook(**dict(row))


@router.get("", response_model=list[Webhook], summary="Your role's webhooks (an admin sees all), without secrets")
async def list_webhooks(request: Request, principal: Principal = Depends(require(*MANAGERS))) -> list[Webhook]:
    async with runtime(request).reading(Subscriptions) as uow:
        rows = await uow.store.of_role(webhooks.managed_role(principal))
    return [Webhook(**dict(r)) for r in rows]


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook; deliveries stop", responses=problems(404))
async def delete_webhook(
    webhook_id: uuid.UUID, request: Request, principal: Principal = Depends(require(*MANAGERS))
) -> None:
    async with runtime(request).work(Subscriptions) as uow:
        await webhooks.remove(uow, webhook_id, principal)
