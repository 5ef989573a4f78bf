"""Money: integer cents of EUR; rates are Decimals; one rounding rule, half-up to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

Cents = int


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    """Return `value` as a Decimal (floats through their shortest repr, never binary noise)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def half_up(amount: Decimal) -> Cents:
    """Round an amount in cents half-up to a whole cent (0.5 -> 1, -0.5 -> -1)."""
    return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def apply_rate(cents: Cents, rate: Decimal) -> Cents:
    """Return `rate` of `cents`, rounded half-up to the cent."""
    return half_up(Decimal(cents) * rate)


def prorate(cents_per_hour: Cents, minutes: int) -> Cents:
    """Return an hourly amount for `minutes`, rounded half-up to the cent."""
    return half_up(Decimal(cents_per_hour) * minutes / 60)
