"""What an API key may do: the one rule, by URL name and method, that `ApiKeyAuthentication` applies to every API
request made with a key (before the view runs, so no endpoint can forget it).

- Every key reads what its user may read (safe methods), except a worker's and staff's endpoints and the key list.
- A change (any other method) needs the scope its endpoint is listed under below; an endpoint that is not listed
  takes no change from any key: accounts and roles, the keys themselves, the worker's and staff's endpoints. A new
  endpoint is closed to keys until it is listed here (tests/accounts/test_api_keys.py checks every route).
"""

from marketplace.accounts.models import ApiKey, ApiKeyScope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JOBS, MONEY = ApiKeyScope.JOBS, ApiKeyScope.MONEY

WRITE_SCOPES: dict[str, str] = {
    # Jobs and uploads (launching reserves the job's cost in escrow from the balance a deposit made).
    **dict.fromkeys(["job-list", "job-detail", "job-launch", "job-pause", "job-resume", "job-cancel"], JOBS),
    **dict.fromkeys(["job-uploads", "job-media", "job-predictions", "gold-review", "job-aggregation"], JOBS),
    **dict.fromkeys(["job-model-endpoints", "job-model-endpoint"], JOBS),
    "job-complaints": JOBS,
    **dict.fromkeys(["job-worker-block", "job-worker-unblock", "worker-block", "worker-unblock"], JOBS),
    **dict.fromkeys(["job-webhooks", "webhook-list", "webhook-detail", "webhook-rotate", "webhook-test"], JOBS),
    **dict.fromkeys(
        [
            "qualification-list",
            "qualification-detail",
            "qualification-questions",
            "qualification-grants",
            "qualification-grant-revoke",
        ],
        JOBS,
    ),
    # Money: deposits, and reviews and bonuses (approving pays a worker, rejecting refunds the escrow).
    **dict.fromkeys(["payments-deposits", "job-review", "job-bonuses"], MONEY),
}
# Changes no key makes though their readers may use one: roles (`me`) and a worker's payouts. Listed as a decision
# (tests check that every route taking a change is in WRITE_SCOPES, here, or behind CLOSED_PREFIXES).
SESSION_ONLY = frozenset({"me", "payments-payouts"})
# Reads no key makes: what only a worker or staff reads, the keys themselves and organisations' members (managed in a
# signed-in session).
CLOSED_PREFIXES = ("work-", "admin-", "worker-ban", "worker-unban", "api-key", "organisation")


def api_key_refusal(*, api_key: ApiKey, url_name: str | None, method: str) -> str | None:
    """Why `api_key` may not make this request, or None if it may."""
    name = url_name or ""
    if name.startswith(CLOSED_PREFIXES):
        return "API keys cannot use this endpoint; sign in instead."
    return change_refusal(
        scopes=api_key.scopes,
        url_name=name,
        method=method,
        unlisted="API keys cannot make this change; sign in instead.",
        lacking="This API key lacks the '{scope}' scope.",
    )


def change_refusal(*, scopes: list[str], url_name: str, method: str, unlisted: str, lacking: str) -> str | None:
    """Why a holder of `scopes` may not make this request (`unlisted`, or `lacking` with the scope named), or None:
    reads are free, a change needs the scope its route is listed under in WRITE_SCOPES."""
    if method in SAFE_METHODS:
        return None
    scope = WRITE_SCOPES.get(url_name)
    if scope is None:
        return unlisted
    if scope not in scopes:
        return lacking.format(scope=scope)
    return None
