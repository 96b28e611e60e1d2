"""Errors the payments services raise. Each has a stable `code` that API clients can branch on.

Same shape as `marketplace.errors`: the API's exception handler turns them into `{"code", "message", "extra"}` with
the class's `status_code`. `transient` errors are worth retrying later with the same idempotency key; the others
are final for that request.
"""

from typing import Any


class DomainError(Exception):
    """The base of every app's own errors (here, in the lowest app, which every other may import): a stable `code`,
    an HTTP `status_code`, a message and `extra` fields, which the API's exception handler turns into one JSON shape."""

    code = "domain_error"
    status_code = 400
    default_message = "The request could not be carried out."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)


class PaymentsError(DomainError):
    code = "payments_error"
    default_message = "The payment could not be carried out."
    transient = False


class NotFound(PaymentsError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class InvalidAmount(PaymentsError):
    code = "invalid_amount"
    status_code = 400
    default_message = "Amounts are positive whole numbers of minor units (cents)."


class InvalidCurrency(PaymentsError):
    code = "invalid_currency"
    status_code = 400
    default_message = "Currencies are three-letter ISO 4217 codes such as USD."


class InvalidIdempotencyKey(PaymentsError):
    code = "invalid_idempotency_key"
    status_code = 400
    default_message = "An idempotency key is a non-empty string of at most 100 characters."


class UnbalancedTransaction(PaymentsError):
    """A programming error in a caller: the entries of a transaction must sum to zero in every currency."""

    code = "unbalanced_transaction"
    status_code = 400
    default_message = "The entries of a transaction must sum to zero in every currency."


class InsufficientFunds(PaymentsError):
    """`extra` names the account kind, the currency, what is available, what was asked and the shortfall."""

    code = "insufficient_funds"
    status_code = 409
    default_message = "The balance is too low for this."


class IdempotencyConflict(PaymentsError):
    code = "idempotency_conflict"
    status_code = 409
    default_message = "This idempotency key was already used for a different request."


class PayoutTooSmall(PaymentsError):
    code = "payout_too_small"
    status_code = 400
    default_message = "The payout is below the minimum amount."


class SelfPayment(PaymentsError):
    """Paying yourself would turn deposited money into withdrawable earnings without any work."""

    code = "self_payment"
    status_code = 409
    default_message = "You cannot pay yourself."


class NotEscrowOwner(PaymentsError):
    code = "forbidden"
    status_code = 403
    default_message = "This job's escrow belongs to another requester."


class AlreadyReversed(PaymentsError):
    code = "already_reversed"
    status_code = 409
    default_message = "This transaction was already reversed."


class NotReversible(PaymentsError):
    code = "not_reversible"
    status_code = 409
    default_message = "This transaction cannot be reversed; its own state machine corrects it."


class LedgerImmutable(PaymentsError):
    """Ledger rows are append-only; corrections are reversing transactions."""

    code = "ledger_immutable"
    status_code = 409
    default_message = "Ledger rows cannot be changed or deleted; post a reversing transaction instead."


class PaymentDeclined(PaymentsError):
    # 402 rather than the usual 400/409: a decline is neither a malformed request nor a state conflict.
    code = "payment_declined"
    status_code = 402
    default_message = "The payment provider declined the charge."


class ProviderUnavailable(PaymentsError):
    """The provider did not answer; the outcome is unknown. Retrying with the same key is safe."""

    code = "provider_unavailable"
    status_code = 503
    default_message = "The payment provider is unavailable; try again with the same idempotency key."
    transient = True


class LedgerBusy(PaymentsError):
    """An account stayed locked longer than the lock timeout. Retrying with the same key is safe."""

    code = "ledger_busy"
    status_code = 503
    default_message = "The ledger is busy; try again with the same idempotency key."
    transient = True
