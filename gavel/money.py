"""Amounts as people read them: minor units (the wire's int64) in the currency's own format."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def money(minor: int, currency: str) -> str:
    """e.g. ``money(1450, "EUR")`` is "€14.50"; JPY has no minor unit, so 1450 is "¥1,450"."""
    return format_currency(Decimal(minor).scaleb(-get_currency_precision(currency)), currency, locale="en_US")
