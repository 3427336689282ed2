"""Locale-aware formatting of amounts, quantities, rates, dates and payment references (Babel, CLDR)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, DecimalException

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from gateway.errors import InvalidDocumentData
from gateway.model.payment import format_structured_communication, is_valid_creditor_reference
from gateway.render.view import Amount

#: The Belgian structured communication as written on paper: ``+++123/4567/89012+++`` or ``***…***``.
_OGM_WRITTEN = re.compile(r"^\s*([+*]{3})?\s*\d{3}\s*/?\s*\d{4}\s*/?\s*\d{5}\s*([+*]{3})?\s*$")


class Formatter:
    """Formats values for one locale; the templates receive one as ``fmt``.

    Args:
        locale: a Babel locale identifier (``fr_BE``, ``nl_BE``, ``en_IE``).
    """

    def __init__(self, locale: str) -> None:
        self.locale = Locale.parse(locale)
        pattern = self.locale.percent_formats[None].pattern
        # The locale's percent pattern ("#,##0 %" in fr_BE) with up to two decimals: 5.5 % stays 5.5 %.
        self._percent_pattern = pattern.replace("#,##0", "#,##0.##", 1)

    def money(self, amount: Amount | None) -> str:
        """An amount with its currency, e.g. ``1 234,56 €`` (fr_BE) or ``€1,234.56`` (en_IE)."""
        if amount is None:
            return ""
        if amount.value is None:
            return f"{amount.raw} {amount.currency}".strip()
        try:
            if not amount.currency:
                return format_decimal(amount.value, locale=self.locale, decimal_quantization=False)
            return format_currency(
                amount.value, amount.currency, locale=self.locale, decimal_quantization=False
            )
        except DecimalException:  # rounding it for the pattern exceeds Decimal's precision: as stated
            return f"{amount.raw} {amount.currency}".strip()

    def number(self, value: Decimal | None) -> str:
        """A quantity or factor with every stated decimal (``1.5`` -> ``1,5`` in fr_BE)."""
        if value is None:
            return ""
        try:
            return format_decimal(value, format="#,##0.##########", locale=self.locale)
        except DecimalException:  # more than 18 digits before the point, rounded to ten decimals: as stated
            return str(value)

    def percent(self, rate: Decimal | None) -> str:
        """A rate stated in percent (``21`` -> ``21 %`` in fr_BE, ``21%`` in en_IE)."""
        if rate is None:
            return ""
        try:
            return format_decimal(rate / 100, format=self._percent_pattern, locale=self.locale)
        except DecimalException:  # as ``number``
            return f"{rate} %"

    def day(self, value: date | None) -> str:
        """A date in the locale's long form (``4 décembre 2026``)."""
        if value is None:
            return ""

        return format_date(value, format="long", locale=self.locale)

    def iban(self, value: str | None) -> str:
        """An IBAN in groups of four, as printed on paper (EPC guidance): ``BE68 5390 0754 7034``."""
        if not value:
            return ""
        compact = re.sub(r"\s", "", value)
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def payment_reference(reference: str | None, *, belgian: bool) -> str:
    """BT-83 as a reader expects it: a Belgian structured communication as ``+++ddd/dddd/ddddd+++``.

    A reference is shown as an OGM when it is written like one (``+++…+++``/``***…***``), or when it is
    twelve digits with valid mod-97 check digits and the payment goes to a Belgian account (``belgian``).
    An ISO 11649 creditor reference is shown in groups of four (``RF18 5390 0754 7034``), as printed on
    paper. Anything else is shown as stated.
    """
    if not reference:
        return ""
    if is_valid_creditor_reference(reference):
        compact = re.sub(r"\s", "", reference).upper()
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    written = _OGM_WRITTEN.match(reference)
    if written and (written.group(1) or belgian):
        try:
            return format_structured_communication(reference)
        except InvalidDocumentData:
            return reference
    return reference
