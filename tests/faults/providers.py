"""A payment provider for fault tests, shared by every process of a worker through files in FAULTS_PROVIDER_DIR.

It keeps the provider contract (one key moves money once, and returns its first result ever after) and fails the
first call with each key as an outage would (ProviderError: outcome unknown, nothing moved). Every call is logged,
one line per call, so a test can count calls and executions per key across processes.
"""

import hashlib
import os
from pathlib import Path

from django.contrib.auth.base_user import AbstractBaseUser

from payments.providers import ProviderError, ProviderResult


class FirstCallFailsProvider:
    def __init__(self) -> None:
        self.folder = Path(os.environ["FAULTS_PROVIDER_DIR"])

    def charge(self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str) -> ProviderResult:
        raise NotImplementedError("the fault tests only send payouts")

    def send_payout(
        self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str
    ) -> ProviderResult:
        name = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        if _create(self.folder / f"{name}.tried"):
            _log(self.folder / f"{name}.calls", "outage")
            raise ProviderError("faults: the first call with each key is lost")
        executed = _create(self.folder / f"{name}.settled")
        _log(self.folder / f"{name}.calls", "executed" if executed else "replayed")
        return ProviderResult(ok=True, reference=f"faults_{name}")


def _create(path: Path) -> bool:
    """Create `path`; False if it was there (atomic across processes)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _log(path: Path, line: str) -> None:
    with path.open("a") as calls:
        calls.write(line + "\n")
