"""Who may open the requester's pages: a signed-in requester, and only their own jobs."""

from django.http import Http404, HttpRequest

from marketplace import selectors
from marketplace.errors import NotFound
from marketplace.models import Job
from marketplace.web.access import role_required

requester_required = role_required(lambda user: user.is_requester, "This page is for requesters.")


def own_job(request: HttpRequest, job_id: int) -> Job:
    """The signed-in requester's job; another requester's job is a 404, as if it did not exist (as in the API)."""
    try:
        return selectors.job_get(requester=request.user, job_id=job_id)
    except NotFound:
        raise Http404("No such job.") from None
