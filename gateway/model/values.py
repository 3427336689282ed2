"""Constrained scalar types of the invoice model (text, codes, Decimal money) and EN 16931 rounding.

Amounts are ``Decimal`` with at most two fraction digits (the BR-DEC-* rules); prices, quantities and
rates may carry more. Rounding is commercial (ROUND_HALF_UP) to two decimals, as EN 16931 expects.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0")
HUNDRED: Final = Decimal("100")


def round_amount(value: Decimal) -> Decimal:
    """Round to two decimals, half away from zero (EN 16931 BR-DEC / BR-CO-17 rounding).

    Example:
        >>> round_amount(Decimal("2.345"))
        Decimal('2.35')
    """
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_decimal(value: Decimal) -> str:
    """Render a Decimal as an ``xs:decimal`` lexical form (never exponent notation)."""
    text = format(value, "f")
    return "0" if text in ("-0", "+0") else text


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _two_decimals(value: Decimal) -> Decimal:
    _finite(value)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(CENT):
        raise ValueError(f"{format_decimal(value)} has more than two decimals (BR-DEC)")
    return value


def _not_negative(value: Decimal) -> Decimal:
    _finite(value)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    _finite(value)
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _upper(value: str) -> str:
    return value.upper()


#: Free text (stripped, never empty: PEPPOL-EN16931-R008 forbids empty elements).
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]
#: A short code (code list value, scheme id, unit code).
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: ISO 3166-1 alpha-2 country code (upper-cased on input).
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)
]
#: ISO 4217 currency code (upper-cased on input).
CurrencyCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{3}$"), AfterValidator(_upper)
]
#: A monetary amount: at most two decimals, may be negative.
Amount = Annotated[Decimal, AfterValidator(_two_decimals)]
#: A monetary amount that must not be negative (e.g. allowance base amounts are free, prices are not).
UnitPrice = Annotated[Decimal, AfterValidator(_not_negative)]
#: A quantity (any sign, any precision).
Quantity = Annotated[Decimal, AfterValidator(_finite)]
#: A strictly positive quantity (price base quantity, PEPPOL-EN16931-R121).
PositiveQuantity = Annotated[Decimal, AfterValidator(_positive)]
#: A percentage (VAT rate, allowance/charge percentage): not negative.
Percentage = Annotated[Decimal, AfterValidator(_not_negative)]


class ModelBase(BaseModel):
    """Base of every model class: immutable, no unknown fields, numbers kept as Decimal."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Identifier(ModelBase):
    """An identifier with an optional scheme (ISO 6523 ICD or another code list value).

    Used for BT-29/46/60 party identifiers, BT-30/47/61 legal registration ids, BT-71 location ids,
    BT-18/128 object identifiers and BT-157 standard item ids.
    """

    value: Text
    scheme: Code | None = None


class ElectronicAddress(ModelBase):
    """An electronic address (BT-34 seller, BT-49 buyer): UBL ``cbc:EndpointID`` with its mandatory
    ``schemeID`` (EAS code list; BR-62/BR-63). Belgians use ``0208`` (enterprise number) or ``9925`` (VAT)."""

    value: Text
    scheme: Code
