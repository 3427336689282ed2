"""The PyPI ``as4`` library's side of ``gateway bench as4``, run with the interop kit's ``venv-as4`` python.

Started as a file (``python as4_library.py SETUP.json``), never imported by the gateway. The setup names
the key and certificate files of both access points, the trust anchors and the UBL documents to send. Each
line read from stdin is the index of a document: the library builds one message for it (SBDH, gzip,
sign, encrypt, MIME) and receives it (MIME, verify, decrypt, decompress), and one JSON line is written:
``{"build_ms": ..., "receive_ms": ..., "body_bytes": ...}``. So the gateway's bench alternates with it,
round by round, on the same documents and keys.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from as4 import AS4LocalPrivateKey
from as4.peppol import (
    BusdoxDocidQnsDocumentIdentifier,
    PeppolAS4MessageBuilderArgs,
    PeppolAS4Profile,
    PeppolSendingExchange,
    create_peppol_external_party,
    create_peppol_internal_party,
    parse_peppol_message,
    peppol_security_policy,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def _cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def main(setup_path: str) -> int:
    """Serve the rounds asked on stdin until it closes."""
    setup: dict[str, Any] = json.loads(Path(setup_path).read_text())
    sender_cert, receiver_cert = _cert(setup["sender_cert"]), _cert(setup["receiver_cert"])
    sender_key = AS4LocalPrivateKey(load_pem_private_key(Path(setup["sender_key"]).read_bytes(), None))
    receiver_key = AS4LocalPrivateKey(load_pem_private_key(Path(setup["receiver_key"]).read_bytes(), None))
    local = create_peppol_internal_party(setup["from_party"], sender_cert, sender_key)
    remote = create_peppol_external_party(setup["to_party"], receiver_cert)
    receiving = create_peppol_internal_party(setup["to_party"], receiver_cert, receiver_key)
    policy = peppol_security_policy(
        _cert(setup["root"]), intermediates=[_cert(path) for path in setup["intermediates"]]
    )
    documents = [Path(path).read_bytes() for path in setup["documents"]]
    doctype = BusdoxDocidQnsDocumentIdentifier.from_identifier_value(setup["document_type"])
    for line in sys.stdin:
        ubl = documents[int(line)]
        args = PeppolAS4MessageBuilderArgs(
            sender=setup["original_sender"],
            recipient=setup["final_recipient"],
            document_type_identifier=doctype,
            document_identification_instance_identifier=str(uuid.uuid4()),
            process_identifier=setup["process"],
            c1_country_id="BE",
        )
        t0 = time.perf_counter()
        exchange = PeppolSendingExchange(profile=PeppolAS4Profile, local_party=local, remote_party=remote)
        headers, body = exchange.build(ubl, args)
        t1 = time.perf_counter()
        received = parse_peppol_message(
            request_headers=dict(headers), request_body=body, local_party=receiving, security_policy=policy
        )
        t2 = time.perf_counter()
        if not received.successful:
            raise RuntimeError(f"the as4 library refused its own message: {received.message.parse_error}")
        figures = {"build_ms": (t1 - t0) * 1000, "receive_ms": (t2 - t1) * 1000, "body_bytes": len(body)}
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
