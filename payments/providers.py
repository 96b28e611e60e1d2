"""The payment provider interface: charge a requester's payment method, send a payout to a worker.

Every call carries an idempotency key, and a provider must honour it: the same key returns the first call's result
and moves money at most once (real providers keep keys for a day or more). The ledger relies on this to retry a
payout whose outcome it never recorded. A provider returns `ProviderResult(ok=False)` for a final refusal (the money
did not move) and raises `ProviderError` when the outcome is unknown (timeout, outage): the caller retries later
with the same key. A key reused with other parameters raises `ProviderConflict`.

The provider is chosen by the setting `PAYMENTS_PROVIDER` (a dotted path to a class; default: the sandbox).
"""

import functools
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Literal, Protocol

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.module_loading import import_string

DEFAULT_PROVIDER = "payments.providers.SandboxProvider"
Operation = Literal["charge", "payout"]


class ProviderError(Exception):
    """The provider did not give an answer; the money may or may not have moved. Retry with the same key."""


class ProviderConflict(Exception):
    """The idempotency key was already used with another amount, currency or user: nothing moved."""


@dataclass(frozen=True)
class ProviderResult:
    ok: bool
    reference: str = ""
    error: str = ""


class PaymentProvider(Protocol):
    def charge(self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str) -> ProviderResult:
        """Take `amount` minor units from the user's payment method."""
        ...

    def send_payout(
        self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str
    ) -> ProviderResult:
        """Send `amount` minor units to the user's payout destination."""
        ...


@dataclass(frozen=True)
class _Failure:
    error: str
    transient: bool


class SandboxProvider:
    """Settles at once, in memory, and keeps every key's first result, like a real provider.

    Tell it to fail with `fail_next("payout", error="account_closed")` (a final refusal) or `transient=True` (it
    raises `ProviderError` and forgets the call, as if the network dropped it). `calls` counts every call and
    `executed` only those that moved money (or were refused), per operation. Thread-safe; one per process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self._results: dict[tuple[str, str], tuple[tuple[object, ...], ProviderResult]] = {}
            self._failures: dict[str, deque[_Failure]] = {"charge": deque(), "payout": deque()}
            self.calls: Counter[str] = Counter()
            self.executed: Counter[str] = Counter()

    def fail_next(
        self, operation: Operation, *, error: str = "declined", transient: bool = False, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[operation].extend(_Failure(error, transient) for _ in range(times))

    def charge(self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str) -> ProviderResult:
        return self._settle("charge", idempotency_key, (user.pk, amount, currency))

    def send_payout(
        self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str
    ) -> ProviderResult:
        return self._settle("payout", idempotency_key, (user.pk, amount, currency))

    def _settle(self, operation: Operation, key: str, params: tuple[object, ...]) -> ProviderResult:
        with self._lock:
            self.calls[operation] += 1
            if (operation, key) in self._results:
                first_params, first_result = self._results[(operation, key)]
                if first_params != params:
                    raise ProviderConflict(f"sandbox: key {key!r} was used with {first_params}")
                return first_result
            failure = self._failures[operation].popleft() if self._failures[operation] else None
            if failure is not None and failure.transient:
                raise ProviderError(f"sandbox: {failure.error} (transient)")
            self.executed[operation] += 1
            reference = f"sandbox_{operation}_{sum(self.executed.values())}"
            result = ProviderResult(ok=True, reference=reference)
            if failure is not None:
                result = ProviderResult(ok=False, reference=reference, error=failure.error)
            self._results[(operation, key)] = (params, result)
            return result


def provider_get() -> PaymentProvider:
    """The configured provider; one instance per process, so the sandbox's memory of keys lasts."""
    return _provider(getattr(settings, "PAYMENTS_PROVIDER", DEFAULT_PROVIDER))


@functools.cache
def _provider(path: str) -> PaymentProvider:
    return import_string(path)()
