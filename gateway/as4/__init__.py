"""Sans-IO Peppol AS4 (ebMS3 + WS-Security): build and parse UserMessages, receipts and errors, MIME.

Bytes and values in, bytes and values out: time, ids and randomness are parameters.
"""

from gateway.as4.builder import build_user_message
from gateway.as4.constants import DEFAULT_MAX_PAYLOAD_BYTES, GZIP_LEVEL, SIGNAL_CONTENT_TYPE
from gateway.as4.ebms_errors import PEPPOL_NOT_SERVICED, Category, EbmsError, Severity
from gateway.as4.inbound_structure import CODED_BODY_REFUSED, declared_coding
from gateway.as4.messages import IncomingUserMessage, OutgoingMessage, ReceiptVerdict
from gateway.as4.mime import MimePart, build_multipart, parse_multipart, split_raw_message
from gateway.as4.outcome import SendOutcome
from gateway.as4.parser import CN_MISMATCH_ERROR, Served, parse_incoming
from gateway.as4.pmode import PEPPOL_PMODE, PeppolPMode
from gateway.as4.restore import restore_outgoing
from gateway.as4.signal_check import load_signal, read_signal, verify_receipt, verify_signal_signature
from gateway.as4.signals import build_error, build_receipt

__all__ = [
    "CN_MISMATCH_ERROR",
    "CODED_BODY_REFUSED",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "GZIP_LEVEL",
    "PEPPOL_NOT_SERVICED",
    "PEPPOL_PMODE",
    "SIGNAL_CONTENT_TYPE",
    "Category",
    "EbmsError",
    "IncomingUserMessage",
    "MimePart",
    "OutgoingMessage",
    "PeppolPMode",
    "ReceiptVerdict",
    "SendOutcome",
    "Served",
    "Severity",
    "build_error",
    "build_multipart",
    "build_receipt",
    "build_user_message",
    "declared_coding",
    "load_signal",
    "parse_incoming",
    "parse_multipart",
    "read_signal",
    "restore_outgoing",
    "split_raw_message",
    "verify_receipt",
    "verify_signal_signature",
]
