"""Money at the edges: fee splits with one rounding rule, validation, formatting. No database."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.errors import InvalidAmount, InvalidCurrency
from payments.money import MAX_AMOUNT, amount_clean, currency_clean, fee_split, format_amount


@pytest.mark.parametrize(
    ("gross", "rate", "fee", "net"),
    [
        (1000, "0.10", 100, 900),
        (25, "0.10", 2, 23),  # 2.5 rounds to the even 2
        (35, "0.10", 4, 31),  # 3.5 rounds to the even 4
        (10, "0.05", 0, 10),  # 0.5 rounds to 0
        (30, "0.05", 2, 28),  # 1.5 rounds to 2
        (1, "0.333", 0, 1),
        (100, "0", 0, 100),
        (7, Decimal("0.2"), 1, 6),
    ],
)
def test_a_fee_is_rounded_half_to_even_and_the_net_takes_the_rest(gross, rate, fee, net):
    assert fee_split(gross=gross, rate=rate) == (fee, net)


@given(gross=st.integers(1, MAX_AMOUNT), rate=st.decimals(0, "0.9999", places=4))
def test_fee_and_net_always_add_up_to_the_gross(gross, rate):
    fee, net = fee_split(gross=gross, rate=rate)
    assert fee + net == gross
    assert 0 <= fee <= gross


@pytest.mark.parametrize("rate", [0.1, "1", "-0.01", "1.5", "abc", "NaN"])
def test_it_refuses_float_and_out_of_range_fee_rates(rate):
    with pytest.raises(InvalidAmount):
        fee_split(gross=100, rate=rate)


@pytest.mark.parametrize("amount", [0, -1, 1.5, Decimal("2"), True, "100", MAX_AMOUNT + 1])
def test_it_refuses_amounts_that_are_not_positive_whole_minor_units(amount):
    with pytest.raises(InvalidAmount):
        amount_clean(amount)


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "", None, 840])
def test_it_refuses_currencies_that_are_not_three_capital_letters(currency):
    with pytest.raises(InvalidCurrency):
        currency_clean(currency)


@pytest.mark.parametrize("currency", ["ZZZ", "ABC", "XTS", "XXX", "XAU"])
def test_it_refuses_three_letter_codes_that_are_not_iso_4217_currencies(currency):
    """ZZZ is no currency at all; XTS (testing), XXX (no currency) and XAU (gold) are ISO 4217 codes, not money."""
    with pytest.raises(InvalidCurrency) as refused:
        currency_clean(currency)

    assert refused.value.extra == {"field": "currency", "currency": currency}


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "CHF", "XOF", "XCD", "BRL"])
def test_iso_4217_currencies_are_accepted(currency):
    assert currency_clean(currency) == currency


def test_amounts_are_formatted_with_the_currencys_minor_unit():
    assert format_amount(1234, "USD") == "12.34 USD"
    assert format_amount(5, "EUR") == "0.05 EUR"
    assert format_amount(1234, "JPY") == "1234 JPY"
