"""No parse of outside bytes opens a file the document names.

libxml2 reads a local file named by a parameter entity of the internal subset even with ``load_dtd=False``
and ``no_network=True`` (with ``collect_ids`` off, as the hardened parser has it): ``/dev/zero`` kept the
parse reading for ever and a FIFO made it wait for a writer, before the DTD was refused. Each entry point
that parses outside bytes is given a document naming a FIFO: it must answer (refuse, or decline the fast
path) at once, without opening it, and a refusal must not come from reading a file the document names.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.errors import GatewayError
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbd_stream import stream_sbd
from gateway.ubl.sbdh import read_sbd_header
from gateway.validation import ValidationEngine
from gateway.validation.streamed import streamed_document
from gateway.xmlcore import (
    check_element,
    check_well_formed,
    parse_xml,
    root_name,
    root_skeleton,
    top_level_element,
)
from gateway.xmlcore.stream import tree_refusal

MAX = 10**8
SBD = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def naming(path: Path, root: str) -> bytes:
    return f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{path}"> %p;]>{root}'.encode()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def answers_without_opening(parse: Callable[[], object], fifo: Path) -> str:
    """What ``parse`` answered ("ok" or the error's text), failing the test if it waited on the FIFO."""
    answer: list[str] = []

    def run() -> None:
        try:
            parse()
            answer.append("ok")
        except GatewayError as exc:
            answer.append(str(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # it opened the FIFO: a writer lets it go on, then the test fails
        os.close(os.open(fifo, os.O_WRONLY))
        thread.join(10)
        pytest.fail("the parse opened a file the document names")
    return answer[0]


ENTRY_POINTS: dict[str, Callable[[bytes], object]] = {
    "parse_xml": lambda data: parse_xml(data, max_bytes=MAX),
    "check_well_formed": lambda data: check_well_formed(data, max_bytes=MAX, what="x"),
    "check_element": lambda data: check_element(data, depth=0, max_bytes=MAX, what="x"),
    "tree_refusal": lambda data: tree_refusal(data, max_bytes=MAX),
    "root_name": lambda data: root_name(data, what="x"),
    "top_level_element": lambda data: top_level_element(data, "{urn:x}b", what="x"),
    "root_skeleton": lambda data: root_skeleton(data, keep=lambda _: True, what="x", max_bytes=MAX),
    "read_sbd_header": lambda data: read_sbd_header(data, max_bytes=MAX),
    "stream_sbd": lambda data: stream_sbd(data, max_bytes=MAX),
    "read_sbd": lambda data: read_sbd(data, max_bytes=MAX),
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_a_parameter_entity_naming_a_file_is_not_read(name: str, fifo: Path) -> None:
    sbd = (
        f'<StandardBusinessDocument xmlns="{SBD}"><StandardBusinessDocumentHeader/>'
        + "</StandardBusinessDocument>"
    )
    root = sbd if "sbd" in name else '<a xmlns="urn:x"><b/></a>'
    answer = answers_without_opening(lambda: ENTRY_POINTS[name](naming(fifo, root)), fifo)
    assert "fifo" not in (answer or ""), answer  # a refusal, if any, is not the file's parse error


def test_the_tree_parse_refuses_the_dtd_not_the_file_it_names(tmp_path: Path) -> None:
    named = tmp_path / "named.txt"
    named.write_text("root:x:0:0")  # not a declaration: read, it was "Content error in the internal subset"
    with pytest.raises(GatewayError, match="carries a DTD"):
        parse_xml(naming(named, "<a/>"))


def test_the_streamed_validation_does_not_read_it(fifo: Path, validation_engine: ValidationEngine) -> None:
    invoice = f'<Invoice xmlns="{INVOICE}"><x/></Invoice>'
    xsd = validation_engine.compiled().xsd
    answer = answers_without_opening(
        lambda: streamed_document(naming(fifo, invoice), xsd, max_bytes=MAX), fifo
    )
    assert answer == "ok"  # declined (None): the tree path refuses the DTD
