"""What a member may do for an organisation: the one rule, by URL name and method, that the API's authentication
applies to every request sent with an `X-Organisation` header (before the view runs, as for API keys).

- Every role reads what the organisation's account may read.
- A change needs a manager or an owner, on the routes an API key may change (`WRITE_SCOPES`) and on the
  organisation's API keys; a viewer changes nothing.
- Nobody works, administers, manages organisations or changes roles and payouts *as* an organisation: those routes
  are refused with the header (membership is managed as oneself, at `/api/v1/organisations/`).
"""

from marketplace.accounts.api_keys import CLOSED_PREFIXES, SESSION_ONLY, change_refusal
from marketplace.accounts.models import ApiKeyScope, OrganisationRole

KEY_ROUTES = ("api-key-list", "api-key-revoke")
CLOSED_TO_ORGANISATIONS = tuple(prefix for prefix in CLOSED_PREFIXES if prefix != "api-key")
ROLE_SCOPES: dict[str, list[str]] = {
    OrganisationRole.VIEWER: [],
    OrganisationRole.MANAGER: [ApiKeyScope.JOBS, ApiKeyScope.MONEY],
    OrganisationRole.OWNER: [ApiKeyScope.JOBS, ApiKeyScope.MONEY],
}


def member_refusal(*, role: str, url_name: str | None, method: str) -> str | None:
    """Why a member of this `role` may not make this request for their organisation, or None if they may."""
    name = url_name or ""
    if name.startswith(CLOSED_TO_ORGANISATIONS) or (name in SESSION_ONLY and method != "GET"):
        return "This is done as yourself, not for an organisation: send it without the X-Organisation header."
    viewer = "A viewer of the organisation changes nothing; ask an owner for the manager role."
    if name in KEY_ROUTES:
        return viewer if role == OrganisationRole.VIEWER and method not in ("GET", "HEAD", "OPTIONS") else None
    return change_refusal(
        scopes=ROLE_SCOPES[role],
        url_name=name,
        method=method,
        unlisted="This is done as yourself, not for an organisation: send it without the X-Organisation header.",
        lacking=viewer,
    )
