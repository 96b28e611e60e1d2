import pytest

from payments.providers import SandboxProvider, provider_get
from payments.services.escrow import escrow_pay_worker
from tests.payments.helpers import funded_job, key


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made by the dozen here; the default hasher would spend most of the run on passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def sandbox() -> SandboxProvider:
    """The sandbox provider, with no memory of earlier tests' keys, failures or counts."""
    provider = provider_get()
    assert isinstance(provider, SandboxProvider)
    provider.reset()
    return provider


@pytest.fixture
def earning(requester, worker):
    """The worker has earned 1000 cents (net) from the requester's job."""
    job_id = funded_job(requester, 2000)
    escrow_pay_worker(
        job_id=job_id,
        worker=worker,
        gross=1000,
        currency="USD",
        fee_rate="0",
        idempotency_key=key(),
        reference_type="assignment",
        reference_id=1,
    )
    return worker
