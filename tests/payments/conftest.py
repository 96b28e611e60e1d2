import pytest

from payments.errors import PaymentsError
from payments.providers import SandboxProvider, provider_get


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made by the dozen here; the default hasher would spend most of the run on passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _payments_errors_in_the_api(monkeypatch):
    """The API's exception handler maps `PaymentsError` once it is wired in (`marketplace.api.errors`); until then
    the tests add it themselves, the way the wiring will."""
    from marketplace.api import errors  # noqa: PLC0415

    if not issubclass(PaymentsError, errors.DOMAIN_ERRORS):
        monkeypatch.setattr(errors, "DOMAIN_ERRORS", (*errors.DOMAIN_ERRORS, PaymentsError))


@pytest.fixture(autouse=True)
def sandbox() -> SandboxProvider:
    """The sandbox provider, with no memory of earlier tests' keys, failures or counts."""
    provider = provider_get()
    assert isinstance(provider, SandboxProvider)
    provider.reset()
    return provider
