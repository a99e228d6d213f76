"""Alert webhooks: how a delivery is signed (``signing``) and the dispatcher that sends them
(``dispatcher``); their SQL is in ``services.capacity.webhook_store``, their routes in ``webhooks_api``.

Every alert of ``capacity.alerts.v1`` (table ``alert``) is POSTed, in ``alert.seq`` order, to
each webhook whose role is in the alert's audience (``services.capacity.audience``), with the
CloudEvents envelope as body, signed per the Standard Webhooks specification (standardwebhooks.com):

    Content-Type: application/json
    webhook-id: <envelope id>                  the same on every retry: dedupe on it
    webhook-timestamp: <unix seconds>          of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + raw body)>

The secret shown at registration is ``whsec_`` + base64 of the key, so a receiver verifies with
any Standard Webhooks library (``Webhook(secret).verify(body, headers)`` in Python), which also
refuses a timestamp more than five minutes from its clock. Answer 2xx within the timeout to
acknowledge; any other answer (redirects included) or a timeout is retried with exponential
backoff, and later alerts wait behind it, so order is kept per webhook. One webhook never
waits for another.

With several capacity processes, each webhook is delivered by one of them at a time: the one
holding its lease (``webhook.leased_by``/``lease_until``, migration 006). Why a lease row and
not an advisory lock: it holds no connection while a receiver is slow, it works behind a
transaction-pooling proxy, and the table shows who delivers what. The cursor moves only in a
statement that also checks and renews the lease, so a process that lost its lease cannot move
it. A process that stops releases its leases; one killed outright is taken over when its lease
runs out, and the alert it was posting may then come twice, with the same ``webhook-id``.
"""
