"""eb:Messaging and wsse:Security must be marked mustUnderstand true, and eb:MessageId must be an RFC 2822
msg-id (peppol-as4.md §2, §3; ebMS3 Core §5.2.2.1): EBMS:0009 otherwise. Every message is re-signed by the
trusted sender, so the signature cannot be what refuses it; the forms real senders use keep passing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from as4_support import NSX, make_message, receive, resign
from lxml import etree

from gateway.as4 import EbmsError
from gateway.as4.pmode import PeppolPMode, check_message_id
from gateway.errors import InboundMessageRejected, RemoteProtocolError

S12 = "{" + NSX["S12"] + "}"
HEADERS = {"messaging": ".//eb:Messaging", "security": ".//wsse:Security"}


def _must_understand(which: str, value: str | None) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        block = root.find(HEADERS[which], NSX)
        if value is None:
            del block.attrib[S12 + "mustUnderstand"]
        else:
            block.set(S12 + "mustUnderstand", value)

    return edit


def _message_id(value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(".//eb:MessageInfo/eb:MessageId", NSX).text = value

    return edit


def _refused(edit: Callable[[etree._Element], None]) -> InboundMessageRejected:
    msg = make_message()
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), resign(msg, edit))
    assert not info.value.internal, info.value.detail
    return info.value


@pytest.mark.parametrize("which", sorted(HEADERS))
@pytest.mark.parametrize("value", ["false", "0", " false ", None])
def test_our_header_blocks_must_be_marked_must_understand(which: str, value: str | None) -> None:
    exc = _refused(_must_understand(which, value))
    assert exc.ebms is EbmsError.INVALID_HEADER
    assert "mustUnderstand" in exc.detail
    assert exc.ref_to_message_id == "msg-1@gateway.test"  # answered as a signed error about that message


@pytest.mark.parametrize("which", sorted(HEADERS))
@pytest.mark.parametrize("value", ["true", "1", " 1 "])
def test_both_boolean_spellings_of_true_pass(which: str, value: str) -> None:
    msg = make_message()
    assert receive(dict(msg.headers), resign(msg, _must_understand(which, value))).message_id


@pytest.mark.parametrize(
    "value",
    [
        "a b@gateway.test",  # blank
        "<msg-1@gateway.test>",  # angle brackets are MIME delimiters, never part of eb:MessageId
        "msg-1@gateway.test@x",  # two @
        "@gateway.test",  # empty id-left
        "msg-1@",  # empty id-right
        "msg..1@gateway.test",  # empty atom
        "msg-1@gate\u00e9way.test",  # not ASCII
        "msg-1\t@gateway.test",
        "msg-1@[a[b]",  # '[' inside a domain literal
    ],
)
def test_message_id_that_is_not_a_msg_id_is_refused(value: str) -> None:
    exc = _refused(_message_id(value))
    assert exc.ebms is EbmsError.INVALID_HEADER
    assert "MessageId" in exc.detail


@pytest.mark.parametrize(
    "value",
    [
        "1384cf77-2de9-4303-a4e7-ca935a20f4fd@phase4",  # phase4 (vectors)
        "18acfd2d-1fb6-44dd-a196-a077132cf999@lppapqa002.dpaorinp.de",  # Holodeck (vector dataport1)
        "2011-921@5209999001264.example.com",  # vector UserMessage12.xml
        "49267c79-d822-45d9-aa91-c57b3ca508db",  # .NET sender without @ (vector test-2023-03-15.xml)
        "abc@localhost",  # peppol-as4.md §14 item 8
        '"quoted.left"@[192.0.2.1]',  # RFC 2822 no-fold-quote and no-fold-literal
    ],
)
def test_message_ids_real_senders_use_pass(value: str) -> None:
    msg = make_message()
    assert receive(dict(msg.headers), resign(msg, _message_id(value))).message_id == value


def test_message_id_without_domain_is_a_named_tolerance() -> None:
    check_message_id("49267c79-d822-45d9-aa91-c57b3ca508db")
    with pytest.raises(RemoteProtocolError) as info:
        check_message_id(
            "49267c79-d822-45d9-aa91-c57b3ca508db", pmode=PeppolPMode(message_id_without_domain=False)
        )
    assert info.value.ebms is EbmsError.INVALID_HEADER
