"""Constrained scalar types of the invoice model (text, codes, Decimal money) and EN 16931 rounding.

Amounts are ``Decimal`` with at most two fraction digits (the BR-DEC-* rules); prices, quantities and
rates may carry more. Rounding is commercial (ROUND_HALF_UP) to two decimals, as EN 16931 expects.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from gateway.model.currencies import is_iso4217

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0")
HUNDRED: Final = Decimal("100")

MAX_MAGNITUDE: Final = Decimal(10) ** 15
"""Every number of a document, stated or computed, stays below this in absolute value.

No real invoice comes near it, and it keeps every EN 16931 calculation (sums, products, rounding to
cents) inside Decimal's default 28-digit precision, where quantizing can never fail.
"""
MAX_FRACTION_DIGITS: Final = 20
"""Most significant fraction digits of a quantity, price or percentage (trailing zeros do not count)."""
#: The quantum of MAX_FRACTION_DIGITS places, 1E-20.
_MOST_PLACES: Final = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)
#: A context that quantizes a number below MAX_MAGNITUDE to at most MAX_FRACTION_DIGITS places exactly: its
#: precision and exponent range are the largest (such a result has at most 35 digits, its quantum's exponent
#: is in range), so ``quantize`` never signals InvalidOperation and only drops the digits below the quantum;
#: no trap. Explicit, so the thread's context (``decimal.getcontext``) plays no part.
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])

#: A number written as text: ASCII digits, an optional sign, point and exponent (no blanks, no ``_``
#: separators, no other scripts' digits, which Python's Decimal would read too).
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)

#: A character XML 1.0 (§2.2 Char) cannot carry: C0 controls other than TAB/LF/CR, surrogates, U+FFFE/F.
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def round_amount(value: Decimal) -> Decimal:
    """Round to two decimals, half away from zero (EN 16931 BR-DEC / BR-CO-17 rounding).

    Example:
        >>> round_amount(Decimal("2.345"))
        Decimal('2.35')
    """
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_decimal(value: Decimal) -> str:
    """Render a Decimal as an ``xs:decimal`` lexical form (never exponent notation; a zero without a sign,
    as ``-0.00`` would read as a negative amount, e.g. a negative price, BR-27)."""
    text = format(value if value else value.copy_abs(), "f")
    return "0" if text in ("-0", "+0") else text


def fraction_digits(value: Decimal) -> int:
    """Significant fraction digits of a finite Decimal (``1.2300`` -> 2), computed without rounding."""
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:  # an integer (written without a point, or with a positive exponent)
        return 0
    significant = len(digits)
    while significant and digits[significant - 1] == 0:
        significant -= 1
    if not significant:  # zero
        return 0
    return max(0, -(exponent + len(digits) - significant))


def _digits_below(value: Decimal, quantum: Decimal) -> bool:
    """``fraction_digits(value) > k`` for ``quantum`` 1E-k, ``value`` finite and below MAX_MAGNITUDE, k at
    most MAX_FRACTION_DIGITS: quantized to ``quantum`` exactly (``_EXACT``), the value is unchanged unless it
    has a non-zero digit below the quantum. Without ``as_tuple``, whose named tuple is built in Python: ≈ 2 k
    instructions against 7 k, for each of the ≈ 60 numbers a received invoice's model checks
    (BENCHMARKS.md, *Expense draft read instructions*)."""
    return _EXACT.quantize(value, quantum) != value


def _finite(value: Decimal) -> Decimal:
    """A finite number below MAX_MAGNITUDE with at most MAX_FRACTION_DIGITS fraction digits."""
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value.copy_abs() >= MAX_MAGNITUDE:
        raise ValueError("must be below 10^15 in absolute value")
    # A zero's decimal places are all trailing zeros, which fraction_digits does not count; but they are
    # written out in the UBL, so "0e-999999999" (12 characters) would become a gigabyte: bounded as well.
    if _digits_below(value, _MOST_PLACES) or (not value and -value.adjusted() > MAX_FRACTION_DIGITS):
        raise ValueError(f"must have at most {MAX_FRACTION_DIGITS} decimals")
    return value


def _decimal_text(value: object) -> object:
    # Digits with at most one point (ASCII's only digits are 0-9) are a number the expression takes; only
    # other text is matched (a call to it costs twice the test).
    if (
        isinstance(value, str)
        and not (value.isascii() and value.replace(".", "", 1).isdigit())
        and not _DECIMAL_TEXT.fullmatch(value)
    ):
        raise ValueError("must be a number written with ASCII digits, e.g. 1234.56")
    return value


def _two_decimals(value: Decimal) -> Decimal:
    if value.same_quantum(CENT) and value.copy_abs() < MAX_MAGNITUDE:
        # Finite (a NaN or infinity is not of a finite number's quantum), written with exactly two decimals
        # (so at most two significant ones, and a zero's places are two) and below the bound: every check
        # below passes. Most amounts are written so: a sixth of the checks' cost.
        return value
    _finite(value)
    if _digits_below(value, CENT):
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


def _vat_rate(value: Decimal) -> Decimal:
    _not_negative(value)
    if value > HUNDRED:
        raise ValueError("a VAT rate is a percentage of at most 100")
    return value


def _upper(value: str) -> str:
    return value.upper()


def _iso4217(value: str) -> str:
    if not is_iso4217(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (BR-CL-04)")
    return value


def _xml_chars(value: str) -> str:
    if value.isprintable():  # no control character, surrogate or non-character (U+FFFE/F): nothing to find
        return value
    found = _NOT_XML_CHAR.search(value)
    if found is not None:
        raise ValueError(
            f"contains the character U+{ord(found.group()):04X}, which XML 1.0 cannot carry (§2.2 Char)"
        )
    return value


#: Free text (stripped, never empty: PEPPOL-EN16931-R008 forbids empty elements; XML 1.0 characters only).
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000),
    AfterValidator(_xml_chars),
]
#: A short code (code list value, scheme id, unit code).
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_xml_chars)
]
#: ISO 3166-1 alpha-2 country code (upper-cased on input).
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)
]
#: An active ISO 4217 currency code (upper-cased on input).
CurrencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_upper),
    AfterValidator(_iso4217),
]
#: A monetary amount: at most two decimals, may be negative.
Amount = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_two_decimals)]
#: A monetary amount that must not be negative (e.g. allowance base amounts are free, prices are not).
UnitPrice = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_not_negative)]
#: A quantity (any sign, any precision).
Quantity = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_finite)]
#: A strictly positive quantity (price base quantity, PEPPOL-EN16931-R121).
PositiveQuantity = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_positive)]
#: A percentage (allowance/charge percentage): not negative.
Percentage = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_not_negative)]
#: A VAT rate in percent: from 0 to 100.
VatRate = Annotated[Decimal, BeforeValidator(_decimal_text), AfterValidator(_vat_rate)]


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
