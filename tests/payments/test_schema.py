"""The OpenAPI schema, with the payments API in it, validates without a single warning (as `make` checks it)."""

import pytest
from django.core.management import call_command
from drf_spectacular.plumbing import _load_enum_name_overrides
from drf_spectacular.settings import patched_settings, spectacular_settings

# Asked for in the wiring (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]): `kind` and `status` are also the names
# of marketplace fields with other choices, and the schema must not guess the enums' names. The first entry keeps
# the name the uploads' `kind` enum has today.
PAYMENTS_ENUMS = {
    "KindEnum": "marketplace.models.items.Upload.Kind",
    "TransactionKindEnum": "payments.models.TransactionKind",
    "PayoutStatusEnum": "payments.models.PayoutStatus",
}


@pytest.fixture
def payments_enum_names():
    overrides = {**spectacular_settings.ENUM_NAME_OVERRIDES, **PAYMENTS_ENUMS}
    _load_enum_name_overrides.cache_clear()
    with patched_settings({"ENUM_NAME_OVERRIDES": overrides}):
        yield
    _load_enum_name_overrides.cache_clear()


def test_the_schema_with_the_payments_api_validates_without_warnings(settings, tmp_path, payments_enum_names):
    settings.ROOT_URLCONF = "tests.payments.urls"
    schema = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))

    text = schema.read_text()
    for route in ("/api/v1/payments/balances/", "/api/v1/payments/deposits/", "/api/v1/payments/payouts/{payout_id}/"):
        assert route in text
    assert "TransactionKindEnum:" in text
    assert "\n    KindEnum:\n" in text  # the uploads keep theirs
