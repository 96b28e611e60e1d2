"""Webhooks: requesters' endpoints, events emitted inside domain transactions, and signed delivery with retries.

One module per concern, re-exported here so that callers import the webhooks services from one place:
- `webhook_endpoints`: register, change, rotate the secret of and remove an endpoint;
- `webhook_events`: `webhook_emit`, `webhook_send_test` and what each event carries;
- `webhook_delivery`: `webhook_deliver` (one signed attempt) and the sweeper `webhook_deliveries_requeue`;
- `webhook_signing`: secrets, `webhook_sign` and `webhook_verify` (which receivers may copy);
- `webhook_http`: one POST with a total deadline, no redirects, no private addresses.
The reads (an owner's endpoints, the delivery log, the endpoints listening to a job) are in
`marketplace.selectors_webhooks`.

An event is recorded, not sent, by the transaction that produced it: `webhook_emit` writes one `WebhookDelivery`
row per matching endpoint and asks for delivery with `transaction.on_commit`. A rolled-back transaction takes its
rows with it and never enqueues anything, so an event that did not happen is never announced.

Delivery (`webhook_deliver`, run by `webhook_deliver_task`) never holds a transaction while it waits on the network:
it claims the row with a conditional UPDATE (pending → sending, whose row count must be 1), POSTs, then records
the outcome with another single UPDATE. Two runs of the same task send once; a delivered row is never sent again.
A failed attempt is retried after 10 s, 1 min, 5 min, 30 min and 2 h; after the sixth attempt the delivery fails.
A retry waits as a due time on its row (`next_attempt_at`), not as a countdown task in a worker: the sweeper enqueues
it when due (beat, every 10 s), so a broker or worker restart loses none. Webhook tasks have their own queue
(`webhooks`), so slow receivers never hold up payouts; each attempt ends WEBHOOK_TIMEOUT_SECONDS after it starts.

Signature: `X-Crowdmarket-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
"""

from marketplace.services.webhook_delivery import (
    MAX_ATTEMPTS,
    DeliveryOutcome,
    webhook_deliver,
    webhook_deliveries_requeue,
)
from marketplace.services.webhook_endpoints import (
    MAX_ENDPOINTS_PER_SCOPE,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from marketplace.services.webhook_events import (
    webhook_assignment_data,
    webhook_emit,
    webhook_job_data,
    webhook_results_data,
    webhook_send_test,
)
from marketplace.services.webhook_signing import webhook_secret_new, webhook_sign, webhook_verify

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_ENDPOINTS_PER_SCOPE",
    "DeliveryOutcome",
    "webhook_assignment_data",
    "webhook_deliver",
    "webhook_deliveries_requeue",
    "webhook_emit",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
    "webhook_job_data",
    "webhook_results_data",
    "webhook_secret_new",
    "webhook_send_test",
    "webhook_sign",
    "webhook_verify",
]
