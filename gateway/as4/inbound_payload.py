"""The payload of a received AS4 message (peppol-as4.md §13 #7-#8): its PartInfo, MIME type and decompression.

Peppol carries exactly one payload, named by a ``cid:`` PartInfo with a MimeType property, gzip-compressed
or not (CEF 1.14 §1.4.3.1). Decompression is bounded: it stops as soon as the size cap is exceeded (gzip
bombs, phase4#318), counts at most :data:`MAX_GZIP_MEMBERS` members and stays linear in the input.
"""

from __future__ import annotations

import zlib
from typing import Final

from gateway.as4.constants import EB_NS, GZIP_MIME
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.envelope import UserMessageHeader, text_of
from gateway.as4.inbound_security import DecryptedPart
from gateway.as4.mime import normalise_cid
from gateway.errors import RemoteProtocolError

_EB = f"{{{EB_NS}}}"
#: Most gzip members decompressed from one payload (RFC 1952 allows several; senders write one).
MAX_GZIP_MEMBERS: Final = 64
#: Input fed to zlib per call: zlib copies the input left after a member into ``unused_data``, so feeding
#: the whole payload would copy it once per member (quadratic); a bounded chunk keeps the loop linear.
_GZIP_CHUNK: Final = 64 * 1024


def gunzip(data: bytes, cap: int) -> bytes:
    """RFC 1952 gzip, possibly several members, into at most ``cap`` bytes.

    Raises:
        RemoteProtocolError: EBMS:0303 for bad or truncated gzip, too many members or more than ``cap``.
    """
    # Linear: the input is walked through a memoryview in bounded chunks and the member count is capped.
    out = bytearray()
    view = memoryview(data)
    end = len(data.rstrip(b"\0"))  # trailing NUL padding after the last member is tolerated
    pos = 0
    members = 0
    failure = EbmsError.DECOMPRESSION_FAILURE
    try:
        while True:
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise RemoteProtocolError(failure, f"more than {MAX_GZIP_MEMBERS} gzip members")
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                if pos >= len(view):
                    raise RemoteProtocolError(failure, "gzip stream truncated")
                chunk = view[pos : pos + _GZIP_CHUNK]
                out += d.decompress(chunk, cap + 1 - len(out))
                if len(out) > cap or d.unconsumed_tail:
                    raise RemoteProtocolError(failure, "decompressed payload exceeds the size cap")
                pos += len(chunk) - len(d.unused_data)
            if pos >= end:
                return bytes(out)
    except zlib.error as exc:
        raise RemoteProtocolError(failure, "payload is not valid gzip") from exc


def read_payload(
    hdr: UserMessageHeader, decrypted: dict[str, DecryptedPart], max_payload: int
) -> tuple[str, bytes]:
    """The payload's Content-ID and its bytes (decompressed), from the decrypted attachments.

    ``decrypted`` is emptied once a compressed payload is decompressed, so the compressed bytes are not
    held alongside the SBD.

    Raises:
        RemoteProtocolError: not exactly one payload, a PartInfo that names no attachment or has no
            MimeType, an unsupported compression, bad gzip or a payload over ``max_payload``.
    """
    if len(hdr.part_infos) != 1:
        raise RemoteProtocolError(
            EbmsError.OTHER, f"Peppol needs exactly one payload, PayloadInfo has {len(hdr.part_infos)}"
        )
    if len(decrypted) != len(hdr.part_infos):  # = the attachment count (checked after decryption)
        raise RemoteProtocolError(
            EbmsError.EXTERNAL_PAYLOAD_ERROR, "PartInfo count differs from the attachment count"
        )
    part_info = hdr.part_infos[0]
    href = (part_info.get("href") or "").strip()
    if not href.lower().startswith("cid:"):
        raise RemoteProtocolError(EbmsError.VALUE_INCONSISTENT, "PartInfo href is not a cid: reference")
    cid = normalise_cid(href)
    if cid not in decrypted:
        raise RemoteProtocolError(EbmsError.VALUE_INCONSISTENT, "PartInfo href names no attachment")
    part_props: dict[str, str] = {}
    for prop in part_info.findall(f"{_EB}PartProperties/{_EB}Property"):
        part_props[(prop.get("name") or "").strip()] = text_of(prop)
    if not part_props.get("MimeType"):
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "PartProperties MimeType missing")
    compressed = decrypted[cid].data
    compression = part_props.get("CompressionType", "").lower()
    if compression:
        if compression != GZIP_MIME:
            raise RemoteProtocolError(
                EbmsError.DECOMPRESSION_FAILURE, f"CompressionType {compression} not supported"
            )
        sbd = gunzip(compressed, max_payload)
        decrypted.clear()
        del compressed
        return cid, sbd
    # CEF 1.14 §1.4.3.1: MUST NOT reject uncompressed parts
    if len(compressed) > max_payload:
        raise RemoteProtocolError(EbmsError.OTHER, "payload exceeds the size cap")
    return cid, compressed
