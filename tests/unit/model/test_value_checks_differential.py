"""The model's number and text checks (``gateway.model.values``) answer as they did before their fast paths:
the same value or the same refusal (message) for every input below. Before, ``_finite`` and
``_two_decimals`` counted fraction digits with ``fraction_digits`` (``as_tuple``), ``_decimal_text`` matched
every text against its expression and ``_xml_chars`` searched every text; now a quantize in an exact context,
a digits test and ``str.isprintable`` answer first (BENCHMARKS.md, *Expense draft read instructions*). The
checks before are copied here verbatim as the oracle; every other check of the module calls these."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, localcontext
from typing import Any

from gateway.model import values
from gateway.model.values import MAX_FRACTION_DIGITS, MAX_MAGNITUDE, format_decimal, fraction_digits

# --- the checks before (main at 125f212), verbatim ---

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _finite_before(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value.copy_abs() >= MAX_MAGNITUDE:
        raise ValueError("must be below 10^15 in absolute value")
    if fraction_digits(value) > MAX_FRACTION_DIGITS or (
        not value and -value.adjusted() > MAX_FRACTION_DIGITS
    ):
        raise ValueError(f"must have at most {MAX_FRACTION_DIGITS} decimals")
    return value


def _decimal_text_before(value: object) -> object:
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError("must be a number written with ASCII digits, e.g. 1234.56")
    return value


def _two_decimals_before(value: Decimal) -> Decimal:
    _finite_before(value)
    if fraction_digits(value) > 2:
        raise ValueError(f"{format_decimal(value)} has more than two decimals (BR-DEC)")
    return value


def _xml_chars_before(value: str) -> str:
    found = _NOT_XML_CHAR.search(value)
    if found is not None:
        raise ValueError(
            f"contains the character U+{ord(found.group()):04X}, which XML 1.0 cannot carry (§2.2 Char)"
        )
    return value


# --- inputs ---

#: Coefficients: zero, one digit, trailing zeros, 15 digits (the magnitude bound's edge), 30 (beyond any
#: context's default precision).
COEFFICIENTS = (
    0,
    1,
    5,
    10,
    100,
    120,
    12345,
    999999999999999,
    1000000000000000,
    123456789012345678901234567890,
)


def _decimals() -> Iterator[Decimal]:
    for coefficient, exponent, sign in itertools.product(COEFFICIENTS, range(-45, 20), (0, 1)):
        yield Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent))
    for text in ("NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "0E-999999999", "1E-999999999", "9E+999999"):
        yield Decimal(text)
    for text in ("12.50", "1000.00", "-0.00", "0.005", "1E3", "1.000000000000000000001", "99999999999999.99"):
        yield Decimal(text)


def _outcome(check: Callable[[Any], object], value: object) -> tuple[str, object]:
    try:
        result = check(value)
    except ValueError as exc:
        return ("refused", str(exc))
    return ("kept", (result is value, result))


def test_the_number_checks_answer_as_before() -> None:
    checked = 0
    for value in _decimals():
        assert _outcome(values._finite, value) == _outcome(_finite_before, value), repr(value)
        assert _outcome(values._two_decimals, value) == _outcome(_two_decimals_before, value), repr(value)
        checked += 1
    assert checked > 1000


def test_the_number_checks_do_not_use_the_threads_context() -> None:
    value = Decimal(
        "1234567890.123456789012345678912"
    )  # 21 decimals, 31 digits: beyond the default precision
    with localcontext() as context:
        context.prec = 3
        context.traps = dict.fromkeys(context.traps, True)
        assert _outcome(values._finite, value) == ("refused", "must have at most 20 decimals")
        assert _outcome(values._two_decimals, Decimal("12.345")) == _outcome(
            _two_decimals_before, Decimal("12.345")
        )
        assert values._two_decimals(Decimal("12.34")) == Decimal("12.34")


def test_the_number_text_check_answers_as_before() -> None:
    alphabet = "09.+-eE x\u0661\uff11_,"  # digits, point, signs, exponent, blank, a letter, other digits
    checked = 0
    for length in range(5):
        for letters in itertools.product(alphabet, repeat=length):
            text = "".join(letters)
            assert _outcome(values._decimal_text, text) == _outcome(_decimal_text_before, text), repr(text)
            checked += 1
    for other in (12, 1.5, Decimal("1.5"), None, b"12"):
        assert _outcome(values._decimal_text, other) == _outcome(_decimal_text_before, other)
    assert checked > 30_000


def test_the_text_check_answers_as_before_for_every_character() -> None:
    for code in range(0x110000):
        char = chr(code)
        text = f"ab{char}c"
        assert _outcome(values._xml_chars, text) == _outcome(_xml_chars_before, text), hex(code)
    assert _outcome(values._xml_chars, "") == ("kept", (True, ""))
