"""HTTP routes to register, list and remove alert webhooks (signed pushes for the alert roles)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AnyHttpUrl, BaseModel, Field

from services.capacity import webhook_store
from services.capacity.api import runtime
from services.capacity.webhooks.signing import new_secret
from services.runtime.auth import ALERT_ROLES, Principal, Role, require
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.openapi import problems

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

MANAGERS = (*ALERT_ROLES, Role.ADMIN)
# ``ALERT_ROLES`` spelled out for the OpenAPI document (a unit test keeps the two the same).
AlertRole = Literal["schakelfunctionaris", "expertteam", "operator"]


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


def _role_for(principal: Principal, requested: AlertRole | None) -> Role:
    if principal.role is Role.ADMIN:
        if requested is None:
            raise Invalid(
                "role: an admin must name the role the webhook is for (schakelfunctionaris, expertteam or operator)"
            )
        return Role(requested)
    if requested is not None and requested != principal.role:
        raise Forbidden(f"a {principal.role} key may register webhooks only for role {principal.role}")
    return principal.role


def _own_role(principal: Principal) -> Role | None:
    """The role whose webhooks the caller manages; None: all (admin)."""
    return None if principal.role is Role.ADMIN else principal.role


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
    capacity = runtime(request)
    if body.url.scheme != "https" and not capacity.settings.webhook_allow_http:
        # Escalations carry pseudonymous case data; they do not travel unencrypted.
        raise Invalid(
            "url: must be https (set SCHAKEL_WEBHOOK_ALLOW_HTTP=true only for a receiver on a trusted network)"
        )
    row = await webhook_store.create_webhook(
        capacity.pool,
        role=_role_for(principal, body.role),
        url=str(body.url),
        description=body.description,
        secret=new_secret(),
        created_by=principal.actor,
        now=capacity.now(),
    )
    return RegisteredWebhook(**dict(row))


@router.get("", response_model=list[Webhook], summary="Your role's webhooks (an admin sees all), without secrets")
async def list_webhooks(request: Request, principal: Principal = Depends(require(*MANAGERS))) -> list[Webhook]:
    return [Webhook(**dict(r)) for r in await webhook_store.list_webhooks(runtime(request).pool, _own_role(principal))]


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook; deliveries stop", responses=problems(404))
async def delete_webhook(
    webhook_id: uuid.UUID, request: Request, principal: Principal = Depends(require(*MANAGERS))
) -> None:
    role = _own_role(principal)
    if not await webhook_store.delete_webhook(runtime(request).pool, webhook_id, role):
        raise NotFound(f"no webhook {webhook_id}" + (f" for role {role}" if role else ""))
