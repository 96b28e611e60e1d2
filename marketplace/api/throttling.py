"""Per-user rate limits on the hot work endpoints, counted in fixed windows.

DRF's `ScopedRateThrottle` keeps the time of every request in the window as a list in the cache, reads it and
writes it back whole on each request: two round trips and a pickled list of up to `rate` floats (600 at the default
claim rate). This throttle counts requests in fixed windows instead: one atomic increment per request. A burst that
straddles the edge of two windows may reach twice the rate, the usual price of fixed windows.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from marketplace.cache import cache_count


class WindowRateThrottle(ScopedRateThrottle):
    """`ScopedRateThrottle` (same `throttle_scope` and `DEFAULT_THROTTLE_RATES`), counted in fixed windows."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        count = cache_count(f"{self.key}:{window}", timeout=self.duration)
        return count is None or count <= self.num_requests  # None: the cache is down, and the throttle fails open

    def wait(self) -> float:
        return max(self.window_ends - self.now, 0.0)


class ClaimWindowRateThrottle(WindowRateThrottle):
    """The claim rate (`claim_throttle_scope`) on a view that claims besides its own scope: submit-and-claim counts
    as a submit and as a claim, against the same counters as the two endpoints."""

    scope_attr = "claim_throttle_scope"
