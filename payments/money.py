"""Money at the edges: validating amounts and currencies, fee splits, formatting.

Inside the ledger every amount is an `int` of minor units (cents) in one currency. Decimal appears only here, for
fee rates and display, with one rounding rule: a fee is rounded half-to-even to the minor unit (unbiased over the
many small payments of a marketplace, where half-cent fees are common: 5% of 10 cents), and the net is whatever
is left, so `fee + net == gross` always holds.
"""

import functools
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pycountry

from payments.errors import InvalidAmount, InvalidCurrency

ROUNDING = ROUND_HALF_EVEN
# A trillion minor units per movement: sums of millions of them stay far below the 64-bit limit.
MAX_AMOUNT = 10**12
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# ISO 4217 also codes things nobody deposits or is paid in: precious metals, bond-market and accounting units, the
# IMF's SDR, and the codes for testing and for "no currency". They are left out of the codes the ledger accepts.
NOT_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XAD", "XTS", "XXX"}
)
# ISO 4217 minor-unit exponents that differ from 2 (for formatting only; the ledger never needs them).
_EXPONENTS = {"BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3, "VND": 0}


def currency_clean(currency: object) -> str:
    """An ISO 4217 currency code in capitals (the list maintained by `pycountry`), or `InvalidCurrency` naming the
    field. Any three letters are not enough: `ZZZ` would open ledger accounts in a currency that does not exist."""
    if not isinstance(currency, str) or not _CURRENCY.match(currency) or currency not in _iso_4217():
        raise InvalidCurrency(field="currency", currency=str(currency))
    return currency


@functools.cache
def _iso_4217() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY


def amount_clean(amount: object, *, allow_zero: bool = False) -> int:
    """A positive (or, if allowed, zero) whole number of minor units; floats, Decimals and bools are refused."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(amount=str(amount))
    if amount < 0 or amount > MAX_AMOUNT or (amount == 0 and not allow_zero):
        raise InvalidAmount(amount=amount, maximum=MAX_AMOUNT)
    return amount


def rate_clean(rate: Decimal | str | int) -> Decimal:
    """A fee rate in [0, 1) as a Decimal; floats are refused (0.1 is not one tenth in binary)."""
    if isinstance(rate, float | bool):
        raise InvalidAmount("Fee rates are Decimals or strings such as '0.10', never floats.", rate=str(rate))
    try:
        value = Decimal(rate)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount("The fee rate is not a number.", rate=str(rate)) from None
    if not value.is_finite() or not Decimal(0) <= value < Decimal(1):
        raise InvalidAmount("The fee rate must be at least 0 and below 1.", rate=str(rate))
    return value


def fee_split(*, gross: int, rate: Decimal | str | int) -> tuple[int, int]:
    """Split `gross` minor units into `(fee, net)` at `rate`: fee rounded half-to-even, net the rest."""
    gross = amount_clean(gross)
    fee = int((Decimal(gross) * rate_clean(rate)).quantize(Decimal(1), rounding=ROUNDING))
    net = gross - fee
    if fee + net != gross or not 0 <= fee <= gross:
        raise AssertionError(f"fee split broke the books: {fee} + {net} != {gross}")
    return fee, net


def to_decimal(amount: int, currency: str) -> Decimal:
    """Minor units as a Decimal of major units: 1234 USD -> Decimal('12.34')."""
    return Decimal(amount).scaleb(-_EXPONENTS.get(currency, 2))


def format_amount(amount: int, currency: str) -> str:
    """For people: `format_amount(1234, "USD") == "12.34 USD"`."""
    return f"{to_decimal(amount, currency)} {currency}"
