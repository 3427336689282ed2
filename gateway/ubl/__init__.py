"""Model <-> BIS Billing 3.0 UBL 2.1 (Invoice, CreditNote) and the Peppol SBDH envelope; pure functions."""

from gateway.ubl.reader import read_ubl, read_ubl_tree
from gateway.ubl.sbdh import SBDHData, build_sbd, parse_sbd
from gateway.ubl.streamed_read import LineByLine, read_ubl_line_by_line, read_ubl_streamed
from gateway.ubl.writer import write_ubl

__all__ = [
    "LineByLine",
    "SBDHData",
    "build_sbd",
    "parse_sbd",
    "read_ubl",
    "read_ubl_line_by_line",
    "read_ubl_streamed",
    "read_ubl_tree",
    "write_ubl",
]
