"""News the payments app sends to the apps above it, which it never imports (they connect receivers)."""

from django.dispatch import Signal

# A deposit was credited and committed: `user` (the requester), `currency`, `amount` (minor units). Sent after the
# commit (a replayed request returns before it); receivers must be quick and idempotent, and are sent robustly.
deposit_settled = Signal()

# A payout's outcome was recorded and committed: `payout` (sent, or failed and back in the worker's balance). Sent
# after the commit, once per payout; receivers must be quick and idempotent, and are sent robustly.
payout_finished = Signal()
