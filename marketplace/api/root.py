"""GET /api/v1/: what the API has, section by section, with a link to each list or entry point (no login needed)."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Section -> URL names (a name, or a mapping of names) of the entry points a client starts from.
SECTIONS: dict[str, str | dict[str, str]] = {
    "docs": "docs",
    "schema": "schema",
    "health": "health",
    "me": "me",
    "jobs": "job-list",
    "work": {
        "jobs": "work-job-list",
        "assignments": "work-assignment-list",
        "qualifications": "work-qualification-list",
        "quality": "work-quality",
        "disputes": "work-dispute-list",
    },
    "qualifications": "qualification-list",
    "payments": {
        "balances": "payments-balances",
        "transactions": "payments-transactions",
        "deposits": "payments-deposits",
        "payouts": "payments-payouts",
    },
    "webhooks": "webhook-list",
    "admin": {"disputes": "admin-dispute-list"},
}
# allauth's headless API lives outside /api/v1/ (its URL names depend on the client kind): spelt out.
AUTH = {"signup": "/_allauth/app/v1/auth/signup", "login": "/_allauth/app/v1/auth/login"}


class ApiRootApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []  # nothing to personalise: no session lookup

    @extend_schema(exclude=True)  # an index of the schema's own operations, open to anyone: not one of them
    def get(self, request: Request) -> Response:
        links = {section: _links(names, request) for section, names in SECTIONS.items()}
        links["auth"] = {name: request.build_absolute_uri(path) for name, path in AUTH.items()}
        return Response(links)


def _links(names: str | dict[str, str], request: Request) -> str | dict[str, str]:
    if isinstance(names, str):
        return reverse(names, request=request)
    return {key: reverse(name, request=request) for key, name in names.items()}
