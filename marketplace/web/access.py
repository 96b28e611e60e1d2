"""Who may open a page: `role_required` logs the visitor in first, then answers 403 to a user without the role."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def role_required(has_role: Callable[[object], bool], denied: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not has_role(request.user):
                raise PermissionDenied(denied)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
