"""Our signatures are computed on the tree we build, not on a parse of its bytes: the messages, receipts
and errors are byte for byte those of the old way, which serialised the envelope, parsed it and signed
the parsed tree (``_sign_by_parsing`` below, as ``wss.sign_envelope`` was), so every digest and canonical
form is the one a receiver computes from our bytes.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from as4_support import NOW, RECEIVER, SENDER, SHARED, counter_ids, dev_pki, make_message, receive
from cryptography.hazmat.primitives import serialization
from lxml import etree

import gateway.as4.builder as builder_module
import gateway.as4.signals as signals_module
from gateway.as4 import EbmsError, build_error, build_receipt, build_user_message
from gateway.as4.builder import assemble_user_message
from gateway.as4.constants import DS_NS, SOAP_NS, SOAP_PREFIX, WSSE_NS
from gateway.as4.messages import IncomingUserMessage
from gateway.as4.wss import ReferenceInput, add_str
from gateway.crypto import KeyMaterial, SecurityPolicy, append_reference, b64, exc_c14n, sign_bytes
from gateway.crypto.policy import CanonicalizationAlgorithm
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.ubl.sbdh import build_sbd
from gateway.xmlcore import NS, parse_xml

EXAMPLES = SHARED / "artefacts" / "peppol-bis-billing-3.0.21" / "examples"
VECTORS = SHARED / "as4-vectors"


def _sign_by_parsing(
    envelope: etree._Element,
    *,
    key: KeyMaterial,
    bst_id: str,
    references: Callable[[etree._Element], Sequence[ReferenceInput]],
    policy: SecurityPolicy,
    new_id: Callable[[], str],
    keep_references: bool = True,
) -> tuple[bytes, tuple[bytes, ...]]:
    """The old ``sign_envelope``: digests and SignedInfo canonicalised from parses of our own bytes."""
    from gateway.crypto import digest_bytes

    parsed = etree.fromstring(etree.tostring(envelope))
    security = parsed.find(f"{{{SOAP_NS}}}Header/{{{WSSE_NS}}}Security")
    assert security is not None
    sig = etree.SubElement(security, f"{{{DS_NS}}}Signature", Id="SIG-" + new_id())
    si = etree.SubElement(sig, f"{{{DS_NS}}}SignedInfo")
    cm = etree.SubElement(
        si, f"{{{DS_NS}}}CanonicalizationMethod", Algorithm=CanonicalizationAlgorithm.EXC_C14N.value
    )
    etree.SubElement(cm, f"{{{NS['ec']}}}InclusiveNamespaces", PrefixList=SOAP_PREFIX)
    etree.SubElement(si, f"{{{DS_NS}}}SignatureMethod", Algorithm=policy.signature.value)
    for r in references(parsed):
        append_reference(
            si,
            uri=r.uri,
            transforms=r.transforms,
            digest_method=policy.digest,
            digest_value=digest_bytes(r.data, policy.digest),
        )
    final = etree.fromstring(etree.tostring(parsed))
    final_security = final.find(f"{{{SOAP_NS}}}Header/{{{WSSE_NS}}}Security")
    assert final_security is not None
    sig = final_security[-1]
    si = sig[0]
    value = sign_bytes(key.private_key, exc_c14n(si, (SOAP_PREFIX,)), policy.signature)
    etree.SubElement(sig, f"{{{DS_NS}}}SignatureValue").text = b64(value)
    ki = etree.SubElement(sig, f"{{{DS_NS}}}KeyInfo", Id="KI-" + new_id())
    add_str(ki, bst_id)
    written = tuple(exc_c14n(r) for r in si.findall(f"{{{DS_NS}}}Reference")) if keep_references else ()
    return etree.tostring(final, xml_declaration=True, encoding="UTF-8"), written


def _one_parse_each(raws: tuple[bytes, ...]) -> list[etree._Element]:
    return [parse_xml(raw, what="received ds:Reference") for raw in raws]


def _fixed_key_transport(key: object, content_key: bytes, **kw: object) -> bytes:
    # RSA-OAEP pads at random: a fixed stand-in makes the whole envelope deterministic.
    return content_key * 8


def _both(monkeypatch: pytest.MonkeyPatch, build: Callable[[], object]) -> tuple[object, object]:
    """``build()`` with the code as it is, then with the old way of signing."""
    with monkeypatch.context() as m:
        m.setattr(builder_module, "rsa_oaep_wrap", _fixed_key_transport)
        now = build()
    with monkeypatch.context() as m:
        m.setattr(builder_module, "rsa_oaep_wrap", _fixed_key_transport)
        m.setattr(builder_module, "sign_envelope", _sign_by_parsing)
        m.setattr(signals_module, "sign_envelope", _sign_by_parsing)
        m.setattr(signals_module, "_reference_copies", _one_parse_each)
        before = build()
    return now, before


def _fixed_bytes(n: int) -> bytes:
    return bytes(range(n))


def _examples() -> Iterator[Path]:
    found = sorted(EXAMPLES.glob("*.xml"))
    if not found:
        pytest.fail(f"no official examples under {EXAMPLES}")
    yield from found


@pytest.mark.parametrize(
    "example", [*_examples(), SHARED / "interop" / "samples" / "invoice.xml"], ids=lambda p: p.name
)
def test_user_message_of_every_official_example_is_the_old_bytes(
    monkeypatch: pytest.MonkeyPatch, example: Path
) -> None:
    p = dev_pki()
    ubl = example.read_bytes()
    sbd = build_sbd(
        ubl,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=BIS_CREDIT_NOTE if b"<CreditNote" in ubl else BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id="inst-1",
        created=NOW,
    )

    def build() -> object:
        msg = build_user_message(
            sbd,
            sender=p.sender,
            receiver_certificate=p.receiver.certificate,
            message_id="msg-1@gateway.test",
            timestamp=NOW,
            new_id=counter_ids(),
            random_bytes=_fixed_bytes,
        )
        return msg.body, msg.signed_references

    now, before = _both(monkeypatch, build)
    assert now == before


@pytest.mark.parametrize("value", ["", "a&b<c>\"' \r\n\tz", "é€𝄞", "]]>", " x "])
def test_odd_header_values_give_the_old_bytes(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # An empty text serialises as <a></a> in the tree we build and as <a/> once parsed.
    p = dev_pki()
    for extra in (
        {"original_sender": value, "action": value, "service": value, "service_type": value or None},
        {"final_recipient": value, "compression": None, "mime_type": "application/octet-stream"},
        {"conversation_id": value, "from_party": value or None, "to_party": value or None},
    ):
        values: dict[str, object] = {
            "sender": p.sender,
            "receiver_certificate": p.receiver.certificate,
            "message_id": "msg-odd@gateway.test",
            "timestamp": NOW,
            "original_sender": "0208:1",
            "final_recipient": "0088:2",
            "action": "a",
            "service": "s",
            "service_type": "t",
            "random_bytes": _fixed_bytes,
            **extra,
        }

        def build(values: dict[str, object] = values) -> object:
            msg = assemble_user_message(b"payload", new_id=counter_ids("odd"), **values)  # type: ignore[arg-type]
            return msg.body, msg.signed_references

        now, before = _both(monkeypatch, build)
        assert now == before, extra


def _foreign_references() -> list[tuple[bytes, ...]]:
    """The ds:References of every signed vector (phase4, Holodeck...), as our parser keeps them."""
    sets = []
    for path in sorted(VECTORS.iterdir()):
        raw = path.read_bytes()
        start = raw.find(b"<", raw.find(b"Envelope") - 40)
        end = raw.rfind(b"Envelope>")
        if start < 0 or end < 0:
            continue
        try:
            root = etree.fromstring(raw[start : end + len(b"Envelope>")])
        except etree.XMLSyntaxError:
            continue
        refs = root.findall(f".//{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
        if refs:
            sets.append(tuple(etree.tostring(r) for r in refs))
    if len(sets) < 4:
        pytest.fail(f"expected the signed vectors of {VECTORS}, found {len(sets)}")
    ref = f'<ds:Reference xmlns:ds="{DS_NS}" URI="#a"><ds:DigestValue>AA</ds:DigestValue></ds:Reference>'
    crafted: list[tuple[str, ...]] = [
        # Our prefixes bound elsewhere, quoted either way: lxml's tree of the copy would not read back as
        # its bytes (the receipt is parsed first).
        (f'<eb:Reference xmlns:eb="{DS_NS}" xmlns:ds="urn:other"><ds:x/><!--c--><?p x?></eb:Reference>',),
        (
            f"<dsig:Reference xmlns:dsig='{DS_NS}' xmlns:ds = 'urn:o'><x><dsig:y ds:a='1'/></x>"
            "</dsig:Reference>",
        ),
        (f'<Reference xmlns="{DS_NS}"><x xmlns:eb="urn:other"><y/><eb:z/></x></Reference>',),
        # Our prefixes bound to our namespaces, and other prefixes: moved as they are.
        (f'<Reference xmlns="{DS_NS}" xmlns:eb="{NS["eb"]}" xmlns:q="urn:q"><q:a eb:b="1"/></Reference>',),
        (),
    ]
    return [
        *sets,
        (ref.encode() + b"\n\t ", ref.encode()),  # whitespace after one: kept out as before
        *(tuple(r.encode() for r in refs) for refs in crafted),
    ]


def test_receipts_over_our_own_and_foreign_references_are_the_old_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = dev_pki()
    sent = make_message()
    ours = receive(dict(sent.headers), sent.body)
    incomings: list[IncomingUserMessage] = [ours]
    incomings += [dataclasses.replace(ours, received_references=refs) for refs in _foreign_references()]
    for incoming in incomings:

        def build(incoming: IncomingUserMessage = incoming) -> object:
            return build_receipt(
                incoming,
                key=p.receiver,
                message_id="r-1@gateway.test",
                timestamp=NOW,
                new_id=counter_ids("r"),
            )

        now, before = _both(monkeypatch, build)
        assert now == before


def test_a_received_reference_with_text_after_it_is_refused_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = dev_pki()
    sent = make_message()
    ours = receive(dict(sent.headers), sent.body)
    ref = ours.received_references[0]
    incoming = dataclasses.replace(ours, received_references=(ref, ref + b"text"))

    def build() -> object:
        try:
            build_receipt(incoming, key=p.receiver, message_id="r@x", timestamp=NOW, new_id=counter_ids())
        except Exception as exc:  # the refusal itself is compared
            return type(exc), str(exc)
        return None

    now, before = _both(monkeypatch, build)
    assert now == before
    assert now is not None
    assert "not well-formed" in str(now[1])


@pytest.mark.parametrize("error", list(EbmsError), ids=lambda e: e.code)
def test_error_signals_are_the_old_bytes(monkeypatch: pytest.MonkeyPatch, error: EbmsError) -> None:
    p = dev_pki()
    for ref_to, detail in ((None, ""), ("msg-1@gateway.test", "PEPPOL:NOT_SERVICED"), ("", "a&<é")):

        def build(ref_to: str | None = ref_to, detail: str = detail) -> object:
            return build_error(
                ref_to,
                error,
                key=p.receiver,
                message_id="e-1@x",
                timestamp=NOW,
                detail=detail,
                new_id=counter_ids(),
            )

        now, before = _both(monkeypatch, build)
        assert now == before


_FRESH = """
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

import gateway.as4.builder as builder_module
from gateway.as4.constants import OUT_NSMAP, SOAP_NS, DS_NS
from gateway.crypto import KeyMaterial, exc_c14n

# No parse before this point: this thread's dictionary does not hold "S12".
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
certs = [x509.load_pem_x509_certificate(open(path, "rb").read()) for path in sys.argv[2:4]]
builder_module.rsa_oaep_wrap = lambda key, content_key, **kw: content_key * 8
msg = builder_module.assemble_user_message(
    b"payload", sender=KeyMaterial(key, certs[0]), receiver_certificate=certs[1], message_id="m@x",
    timestamp=__import__("datetime").datetime(2026, 6, 1, tzinfo=__import__("datetime").UTC),
    original_sender="0208:1", final_recipient="0088:2", action="a", service="s", service_type="t",
    new_id=iter(str(i) for i in range(100)).__next__, random_bytes=lambda n: bytes(n),
)
env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap=OUT_NSMAP)
si = etree.SubElement(etree.SubElement(env, f"{{{SOAP_NS}}}Header"), f"{{{DS_NS}}}SignedInfo")
sys.stdout.buffer.write(exc_c14n(si, ("S12",)) + b"\\nmessage " + msg.body)
"""


def test_a_fresh_process_signs_what_the_old_way_signs(tmp_path: Path) -> None:
    # lxml passes libxml2 only the InclusiveNamespaces prefixes its string dictionary holds; a process that
    # has parsed nothing with an S12 prefix yet would sign a SignedInfo without xmlns:S12 (the receiver's
    # canonical form has it). Another process: this one has long parsed such envelopes.
    p = dev_pki()
    key = tmp_path / "key.pem"
    key.write_bytes(
        p.sender.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    certs = []
    for name, km in (("sender", p.sender), ("receiver", p.receiver)):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(km.certificate.public_bytes(serialization.Encoding.PEM))
        certs.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FRESH), str(key), *certs],
        capture_output=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr.decode()
    built, message = done.stdout.split(b"\nmessage ", 1)
    assert b'<ds:SignedInfo xmlns:S12="http://www.w3.org/2003/05/soap-envelope"' in built
    ids = iter(str(i) for i in range(100))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(builder_module, "sign_envelope", _sign_by_parsing)
        m.setattr(builder_module, "rsa_oaep_wrap", _fixed_key_transport)
        before = assemble_user_message(
            b"payload",
            sender=KeyMaterial(p.sender.private_key, p.sender.certificate),
            receiver_certificate=p.receiver.certificate,
            message_id="m@x",
            timestamp=NOW.replace(hour=0),
            original_sender="0208:1",
            final_recipient="0088:2",
            action="a",
            service="s",
            service_type="t",
            new_id=ids.__next__,
            random_bytes=lambda n: bytes(n),
        )
    assert message == before.body
