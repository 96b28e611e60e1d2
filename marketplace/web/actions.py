"""A page's write: call one service, and say how it went in a message (the page then redirects)."""

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from marketplace.errors import MarketplaceError
from payments.errors import PaymentsError
from workers.errors import WorkersError

T = TypeVar("T")


def run_service(request: HttpRequest, call: Callable[[], T], *, success: Callable[[T], str]) -> T | None:
    """The service's result, with `success(result)` as a message; None, with the refusal's text as an error
    message, when the service refuses (a domain error or a `ValidationError`: a 4xx in the API, never a 500)."""
    try:
        result = call()
    except (MarketplaceError, PaymentsError, WorkersError) as exc:
        messages.error(request, exc.message)
        return None
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return None
    messages.success(request, success(result))
    return result
