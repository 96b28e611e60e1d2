"""Who may open the requester's pages: a signed-in requester, and only their own jobs."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from marketplace import selectors
from marketplace.errors import NotFound
from marketplace.models import Job

View = Callable[..., HttpResponse]


def requester_required(view: View) -> View:
    """Log in first; then a user without the requester role gets a 403, never a requester's page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_requester:
            raise PermissionDenied("This page is for requesters.")
        return view(request, *args, **kwargs)

    return wrapped


def own_job(request: HttpRequest, job_id: int) -> Job:
    """The signed-in requester's job; another requester's job is a 404, as if it did not exist (as in the API)."""
    try:
        return selectors.job_get(requester=request.user, job_id=job_id)
    except NotFound:
        raise Http404("No such job.") from None
