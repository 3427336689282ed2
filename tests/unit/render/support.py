"""Documents for the rendering tests: the Belgian sample, optionally altered, as UBL."""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import TypeAdapter

from gateway.model import CreditNote, Document, Invoice, complete_document
from gateway.ubl import write_ubl
from tests.conftest import ROOT

DOCUMENTS = ROOT / "tests" / "data" / "documents"
ADAPTER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)


def sample(name: str = "be-domestic-mixed-rates") -> dict[str, Any]:
    """The JSON of a sample document."""
    data: dict[str, Any] = json.loads((DOCUMENTS / f"{name}.json").read_text())
    return data


def to_ubl(data: dict[str, Any]) -> bytes:
    """Complete and write a JSON document as UBL (no validation)."""
    return write_ubl(complete_document(ADAPTER.validate_python(data)))


def with_lines(data: dict[str, Any], count: int) -> dict[str, Any]:
    """The document with ``count`` lines, copies of its first line without allowances."""
    big = copy.deepcopy(data)
    big.pop("allowances_charges", None)
    template = {**data["lines"][0], "allowances_charges": []}
    big["lines"] = [{**copy.deepcopy(template), "id": str(n)} for n in range(1, count + 1)]
    return big
