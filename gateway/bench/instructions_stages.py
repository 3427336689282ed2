"""``gateway bench instructions --stages``: each path's instructions per document split by named stages.

The probe (``instructions_probe.py``) wraps each function of ``STAGES`` after the warm-up so that the marker
is called on its entry and on its exit too, and answers the marker's calls in order (``events``): ``doc``
before each counted document, ``end`` after the last, ``+<stage>`` and ``-<stage>`` around a stage's
calls. callgrind dumps before each call, so each stretch between two events is one dump; a stage's count is
the sum of the stretches while it is open (inclusive: a stage called inside another counts in both; a
stage called inside itself once). A function a tree does not have (an older reference) is no stage of it
(``-`` in the table). The markers' own instructions (a few thousand per call) are in the figures, so a
document's total with stages is a little above its count without them.

The functions are wrapped where they are defined and wherever a module of the ``gateway`` package bound
them by name (``from ... import``); a method on its class. Coroutines are not wrapped (the HTTP send):
stretches of other tasks would fall in them.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

#: Per path, the stages (label, ``module:qualname``), the order printed.
STAGES: Mapping[str, Sequence[tuple[str, str]]] = {
    "sender": (
        ("json read", "gateway.services.conversion:parse_document_json"),
        ("completion", "gateway.model.completion:complete_document"),
        ("write_ubl", "gateway.ubl.writer:write_ubl"),
        ("submit", "gateway.services.outbound:OutboundSubmitter.submit"),
        ("validation", "gateway.validation.engine:ValidationEngine.validate"),
    ),
    "worker": (
        ("lease", "gateway.worker.loop:DeliveryWorker._lease"),
        ("message build", "gateway.services.delivery_message:MessageFactory.build"),
        ("build_sbd", "gateway.ubl.sbdh:build_sbd"),
        ("build_user_message", "gateway.as4.builder:build_user_message"),
        ("sign_envelope", "gateway.as4.wss:sign_envelope"),
        ("verify_receipt", "gateway.as4.signal_check:verify_receipt"),
    ),
    "receiver": (
        ("parse_incoming", "gateway.as4.parser:parse_incoming"),
        ("decrypt_attachments", "gateway.as4.inbound_security:decrypt_attachments"),
        ("build_receipt", "gateway.as4.signals:build_receipt"),
        ("sign_envelope", "gateway.as4.wss:sign_envelope"),
        ("validation", "gateway.validation.engine:ValidationEngine.validate"),
        ("read_ubl_tree", "gateway.ubl.reader:read_ubl_tree"),
        ("check_start_tags", "gateway.xmlcore.start_tags:check_start_tags"),
    ),
}

DOCUMENT = "document"
"""The key of a document's whole count in ``split``'s answer."""


def split(parts: Sequence[int], events: Sequence[str]) -> list[dict[str, int]]:
    """Per counted document, its whole count (``DOCUMENT``), each stage's inclusive count and its calls
    (``<stage> calls``), from the stretches between the marker's ``events`` (``parts[k]``: from event
    ``k`` to event ``k + 1``).

    Raises:
        ValueError: not one stretch fewer than events, a stage left that was not entered, or events
            before the first document's.
    """
    if len(parts) != len(events) - 1:
        raise ValueError(f"{len(parts)} stretches for {len(events)} marker calls")
    documents: list[dict[str, int]] = []
    open_stages: dict[str, int] = {}
    for part, event in zip(parts, events, strict=False):
        if event == "doc":
            documents.append({DOCUMENT: 0})
        elif not documents:
            raise ValueError(f"marker call {event!r} before the first document")
        elif event.startswith("+"):
            name = event[1:]
            open_stages[name] = open_stages.get(name, 0) + 1
            calls = documents[-1]
            calls[f"{name} calls"] = calls.get(f"{name} calls", 0) + 1
        elif event.startswith("-"):
            name = event[1:]
            if not open_stages.get(name):
                raise ValueError(f"stage {name} left where it was not entered")
            open_stages[name] -= 1
        document = documents[-1]
        document[DOCUMENT] += part
        for name, depth in open_stages.items():
            if depth:
                document[name] = document.get(name, 0) + part
    return documents


def format_stages(found: Mapping[str, Mapping[str, list[dict[str, int]]]], labels: Sequence[str]) -> str:
    """Per path (``found``: path -> tree label -> ``split``'s documents), one row per stage and one for the
    whole document: the median per document in M instructions (its calls per document in brackets) in each
    tree's column (``labels``), ``-`` where a tree has no such stage."""
    width = max(16, *(len(label) + 2 for label in labels))
    lines = []
    for path, trees in found.items():
        lines.append(f"{path + ' (inclusive, M)':<28}" + "".join(f"{label:>{width}}" for label in labels))
        for stage, _ in STAGES[path]:
            cells = [_cell(trees.get(label, []), stage) for label in labels]
            lines.append(f"  {stage:<26}" + "".join(f"{cell:>{width}}" for cell in cells))
        cells = [_cell(trees.get(label, []), DOCUMENT) for label in labels]
        lines.append(f"  {'whole document':<26}" + "".join(f"{cell:>{width}}" for cell in cells))
    return "\n".join(lines)


def _cell(documents: list[dict[str, int]], stage: str) -> str:
    if not documents or (not any(f"{stage} calls" in d for d in documents) and stage != DOCUMENT):
        return "-"
    median = statistics.median(d.get(stage, 0) for d in documents) / 1e6
    if stage == DOCUMENT:
        return f"{median:.2f}"
    calls = statistics.median(d.get(f"{stage} calls", 0) for d in documents)
    return f"{median:.2f} [{calls:g}]"
