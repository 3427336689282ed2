"""``gateway as4 build|receive``: build a Peppol AS4 message from a UBL file, or judge a received one.

For people who debug exchanges: the message directory layout (headers.json + body.bin) is the one of the
interop kit, so its tools (peer-receive, santuario-check, msg-tamper) read our output directly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.as4 import (
    SIGNAL_CONTENT_TYPE,
    build_error,
    build_receipt,
    build_user_message,
    parse_incoming,
    split_raw_message,
)
from gateway.config import Settings
from gateway.crypto import KeyMaterial, TrustStore, load_certificates, load_key_material
from gateway.errors import GatewayError, InboundMessageRejected
from gateway.model import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    DocumentTypeID,
    ParticipantID,
    ProcessID,
)
from gateway.ubl.sbdh import build_sbd
from gateway.xmlcore import parse_xml


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``as4 build`` and ``as4 receive``."""
    p = subparsers.add_parser("as4", help="build or receive Peppol AS4 messages (debugging)")
    sub = p.add_subparsers(dest="as4_command", metavar="ACTION", required=True)

    b = sub.add_parser(
        "build", help="wrap a UBL document in an SBDH and build a signed, encrypted AS4 message"
    )
    _key_args(b)
    b.add_argument("--receiver-cert", type=Path, required=True, help="receiver AP certificate (PEM/DER)")
    b.add_argument("--sender-id", required=True, help="C1 participant id, e.g. 0208:0123456749")
    b.add_argument("--receiver-id", required=True, help="C4 participant id")
    b.add_argument("--country", default="BE", help="SBDH COUNTRY_C1 (default BE)")
    b.add_argument("--doctype", help="document type id (default: BIS Billing 3.0 Invoice/CreditNote by root)")
    b.add_argument("--process", default=BIS_BILLING_PROCESS.value, help="process id")
    b.add_argument("--message-id", help="eb:MessageId (default <uuid>@gateway)")
    b.add_argument("ubl", type=Path, metavar="UBL")
    b.add_argument(
        "-o", "--out", type=Path, required=True, help="directory for headers.json, body.bin, sbd.xml"
    )
    b.set_defaults(func=run_as4_build)

    r = sub.add_parser(
        "receive", help="verify, decrypt and check a received AS4 message; print a JSON verdict"
    )
    _key_args(r)
    r.add_argument("--trust", type=Path, action="append", default=[], help="trusted CA PEM (repeatable)")
    r.add_argument("--at-time", help="ISO time for certificate validity (default now)")
    r.add_argument("message", type=Path, metavar="DIR_OR_RAW_FILE")
    r.add_argument("--out", type=Path, help="write payload.xml and signal.xml here")
    r.set_defaults(func=run_as4_receive)


def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, help="our PKCS#12 or PEM key (default: settings keystore.path)")
    p.add_argument("--password", help="key password (default: GATEWAY_KEYSTORE__PASSWORD)")
    p.add_argument(
        "--cert", type=Path, help="certificate for a PEM key (default: settings keystore.cert_path)"
    )


def _load_key(args: argparse.Namespace, settings: Settings) -> KeyMaterial:
    path = args.key or settings.keystore.path
    if path is None:
        raise SystemExit("gateway: no key given (--key or GATEWAY_KEYSTORE__PATH)")
    password = args.password
    if password is None and settings.keystore.password is not None:
        password = settings.keystore.password.get_secret_value()
    cert_path = args.cert or settings.keystore.cert_path
    return load_key_material(
        Path(path).read_bytes(),
        password=password,
        certificate=Path(cert_path).read_bytes() if cert_path else None,
    )


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, indent=2))


def run_as4_build(args: argparse.Namespace, settings: Settings) -> int:
    """Build the message and write headers.json, body.bin, sbd.xml and meta.json."""
    try:
        key = _load_key(args, settings)
        receiver_cert = load_certificates(args.receiver_cert.read_bytes())[0]
        ubl = args.ubl.read_bytes()
        root = parse_xml(ubl, what="UBL document")
        if args.doctype:
            doctype = DocumentTypeID.parse(args.doctype)
        else:
            doctype = BIS_CREDIT_NOTE if root.tag.endswith("}CreditNote") else BIS_INVOICE
        now = datetime.now(UTC)
        sbd = build_sbd(
            ubl,
            sender=ParticipantID.parse(args.sender_id),
            receiver=ParticipantID.parse(args.receiver_id),
            document_type=doctype,
            process=ProcessID.parse(args.process),
            country_c1=args.country,
            instance_id=str(uuid.uuid4()),
            created=now,
        )
        out = build_user_message(
            sbd,
            sender=key,
            receiver_certificate=receiver_cert,
            message_id=args.message_id or f"{uuid.uuid4()}@gateway",
            timestamp=now,
        )
    except (GatewayError, OSError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "headers.json").write_text(json.dumps(dict(out.headers), indent=2))
    (args.out / "body.bin").write_bytes(out.body)
    (args.out / "sbd.xml").write_bytes(sbd)
    meta = {
        "message_id": out.message_id,
        "conversation_id": out.conversation_id,
        "instance_id": out.instance_id,
        "payload_content_id": out.payload_content_id,
        "sbd_sha256": hashlib.sha256(sbd).hexdigest(),
        "body_bytes": len(out.body),
        "signed_references": [r.decode() for r in out.signed_references],
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2))
    _emit({"written": str(args.out), **{k: v for k, v in meta.items() if k != "signed_references"}})
    return 0


def _read_message(path: Path) -> tuple[dict[str, str], bytes]:
    if path.is_dir():
        return json.loads((path / "headers.json").read_text()), (path / "body.bin").read_bytes()
    return split_raw_message(path.read_bytes())


def run_as4_receive(args: argparse.Namespace, settings: Settings) -> int:
    """Judge a message; exit 0 accepted, 1 rejected (ebMS error), 2 unusable input."""
    try:
        key = _load_key(args, settings)
        trust_files = args.trust or settings.truststore.paths
        if not trust_files:
            raise SystemExit("gateway: no trust anchors (--trust or GATEWAY_TRUSTSTORE__PATHS)")
        trust = TrustStore.from_pem(*(Path(p).read_bytes() for p in trust_files))
        at = (
            datetime.fromisoformat(args.at_time.replace("Z", "+00:00")) if args.at_time else datetime.now(UTC)
        )
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        headers, body = _read_message(args.message)
    except (GatewayError, OSError, ValueError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    signal_id = f"{uuid.uuid4()}@gateway"
    now = datetime.now(UTC)
    try:
        inc = parse_incoming(headers, body, our_key=key, trust=trust, at=at)
    except InboundMessageRejected as exc:
        verdict = {
            "accepted": False,
            "ebms_error": exc.ebms.code,
            "error_short": exc.ebms.short_description,
            "error_detail": exc.detail,  # internal detail: fine for a local debugging tool, never sent
            "message_id": exc.ref_to_message_id,
        }
        signal = build_error(
            exc.ref_to_message_id,
            exc.ebms,
            key=key,
            message_id=signal_id,
            timestamp=now,
            detail=exc.error_detail,
        )
        _write(args.out, None, signal, verdict)
        _emit(verdict)
        return 1
    verdict = {
        "accepted": True,
        "ebms_error": None,
        "message_id": inc.message_id,
        "sender": inc.from_party,
        "receiver": inc.to_party,
        "original_sender": str(inc.original_sender),
        "final_recipient": str(inc.final_recipient),
        "document_type": inc.document_type.uri,
        "process": inc.process.uri,
        "country_c1": inc.sbdh.country_c1,
        "instance_id": inc.sbdh.instance_id,
        "payload_sha256": hashlib.sha256(inc.sbd).hexdigest(),
    }
    signal = build_receipt(inc, key=key, message_id=signal_id, timestamp=now)
    _write(args.out, inc.sbd, signal, verdict)
    _emit(verdict)
    return 0


def _write(out: Path | None, payload: bytes | None, signal: bytes, verdict: dict[str, Any]) -> None:
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    if payload is not None:
        (out / "payload.xml").write_bytes(payload)
    (out / "signal.xml").write_bytes(signal)
    (out / "signal.headers.json").write_text(json.dumps({"Content-Type": SIGNAL_CONTENT_TYPE}))
    (out / "verdict.json").write_text(json.dumps(verdict, indent=2))
