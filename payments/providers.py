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
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from payments.models import SandboxOperation

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
    """Settles at once and keeps every key's first result in the database (`SandboxOperation`), like a real
    provider: another instance, thread or process repeating a call gets that result back and moves nothing.

    Tell it to fail with `fail_next("payout", error="account_closed")` (a final refusal, remembered like a success)
    or `transient=True` (it raises `ProviderError` and forgets the call, as if the network dropped it). `calls`
    counts every call this instance took and `executed` those that moved money (or were refused), per operation.
    The failures queued and the counters belong to the instance; the keys' results to the database.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the failures queued and the counts (the keys' results stay: they are the provider's books)."""
        with self._lock:
            self._failures: dict[str, deque[_Failure]] = {"charge": deque(), "payout": deque()}
            self.calls: Counter[str] = Counter()
            self.executed: Counter[str] = Counter()

    def fail_next(
        self, operation: Operation, *, error: str = "declined", transient: bool = False, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[operation].extend(_Failure(error, transient) for _ in range(times))

    def charge(self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str) -> ProviderResult:
        return self._settle("charge", idempotency_key, {"user": user.pk, "amount": amount, "currency": currency})

    def send_payout(
        self, *, idempotency_key: str, user: AbstractBaseUser, amount: int, currency: str
    ) -> ProviderResult:
        return self._settle("payout", idempotency_key, {"user": user.pk, "amount": amount, "currency": currency})

    def _settle(self, operation: Operation, key: str, params: dict[str, object]) -> ProviderResult:
        with self._lock:
            self.calls[operation] += 1
        if (first := _first_call(operation, key, params)) is not None:
            return first
        with self._lock:
            failure = self._failures[operation].popleft() if self._failures[operation] else None
        if failure is not None and failure.transient:
            raise ProviderError(f"sandbox: {failure.error} (transient)")
        reference = f"sandbox_{operation}_{uuid4().hex[:16]}"
        result = ProviderResult(ok=True, reference=reference)
        if failure is not None:
            result = ProviderResult(ok=False, reference=reference, error=failure.error)
        try:
            with transaction.atomic():  # a savepoint inside a caller's transaction (tests), for the race below
                SandboxOperation.objects.create(operation=operation, idempotency_key=key, params=params, **vars(result))
        except IntegrityError:  # another caller settled this key at the same moment: theirs is the first result
            return _first_call(operation, key, params)  # type: ignore[return-value]
        with self._lock:
            self.executed[operation] += 1
        return result


def _first_call(operation: Operation, key: str, params: dict[str, object]) -> ProviderResult | None:
    """The stored result of the key's first call, or None; `ProviderConflict` if that call had other parameters."""
    first = SandboxOperation.objects.filter(operation=operation, idempotency_key=key).first()
    if first is None:
        return None
    if first.params != params:
        raise ProviderConflict(f"sandbox: key {key!r} was used with {first.params}")
    return ProviderResult(ok=first.ok, reference=first.reference, error=first.error)


def provider_get() -> PaymentProvider:
    """The configured provider; one instance per process (the sandbox keeps its keys in the database)."""
    return _provider(getattr(settings, "PAYMENTS_PROVIDER", DEFAULT_PROVIDER))


@functools.cache
def _provider(path: str) -> PaymentProvider:
    return import_string(path)()
