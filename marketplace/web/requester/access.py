"""Who may open the requester's pages: a signed-in requester, and only their own jobs; or a member of an
organisation acting for it (chosen on the Teams page, kept in the session), within their role, as in the API's
`X-Organisation` (a viewer only reads)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from marketplace import selectors
from marketplace.accounts.models import Membership, OrganisationRole, User
from marketplace.accounts.selectors import membership_get
from marketplace.errors import NotFound
from marketplace.models import Job

View = Callable[..., HttpResponse]
ACTING_FOR = "acting_for"  # the session's key: the id of the organisation the member acts for
READS = ("GET", "HEAD", "OPTIONS")


def acting_membership(request: HttpRequest) -> Membership | None:
    """The membership of the organisation the signed-in user acts for, or None (themselves; also when they left)."""
    organisation_id = request.session.get(ACTING_FOR)
    if organisation_id is None:
        return None
    membership = membership_get(user=request.user, organisation_id=organisation_id)  # type: ignore[arg-type]
    if membership is None:
        del request.session[ACTING_FOR]
    return membership


def requester_required(view: View) -> View:
    """Signs the visitor in, then sets `request.account`: the organisation's account they act for, or themselves;
    403 for an account that is not a requester's, and for a viewer's change."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        membership = acting_membership(request)
        request.acting = membership  # type: ignore[attr-defined]
        request.account = membership.organisation.account if membership else request.user  # type: ignore[attr-defined]
        if not request.account.is_requester:  # type: ignore[attr-defined]
            raise PermissionDenied("This page is for requesters.")
        if membership and membership.role == OrganisationRole.VIEWER and request.method not in READS:
            raise PermissionDenied("A viewer of the organisation changes nothing; ask an owner for the manager role.")
        return view(request, *args, **kwargs)

    return wrapped


def account(request: HttpRequest) -> User:
    """The account a requester's page reads and writes for (set by `requester_required`)."""
    return request.account  # type: ignore[attr-defined,no-any-return]


def own_job(request: HttpRequest, job_id: int) -> Job:
    """The account's job; another requester's job is a 404, as if it did not exist (as in the API)."""
    try:
        return selectors.job_get(requester=account(request), job_id=job_id)
    except NotFound:
        raise Http404("No such job.") from None
