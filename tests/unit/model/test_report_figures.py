"""TSR / EUSR figures of a synthetic month against hand-computed counts (tests/reporting_month.py), and the
end-user identity normalisation (peppol-commons 12.8.1: 9925:BE0123456789 ≡ 0208:0123456789)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.model.identifiers import ParticipantID
from gateway.model.report import (
    ReportMonth,
    end_user_key,
    end_user_statistics,
    transaction_statistics,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from tests.reporting_month import CN, IN, INV, MONTH, OUT, SEAT, TRAFFIC, transmission

SP2, SP3 = ("SP", "CertSubjectCN", "POP000002"), ("SP", "CertSubjectCN", "POP000003")
DT_INV, DT_CN = ("DT", "busdox-docid-qns", INV), ("DT", "busdox-docid-qns", CN)
PR = ("PR", "cenbii-procid-ubl", "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0")


def _cc(c1: str, c4: str) -> tuple[tuple[str, str, str], ...]:
    return (("CC", "SenderCountry", c1), ("CC", "ReceiverCountry", c4))


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("9925:BE0739484052", "0208:0739484052"),
        ("9925:be0739484052", "0208:0739484052"),
        ("0208:0739484052", "0208:0739484052"),
        ("iso6523-actorid-upis::9925:BE0739484052", "0208:0739484052"),
        ("9925:NL0739484052", "9925:nl0739484052"),  # not a Belgian VAT number: only case-folded
        ("9925:BE073948405", "9925:be073948405"),  # 9 digits: not the BE VAT form
        ("0088:5412345000013", "0088:5412345000013"),
    ],
)
def test_end_user_identity_normalisation(given: str, key: str) -> None:
    assert end_user_key(ParticipantID.parse(given)) == key


def test_month_bounds() -> None:
    assert ReportMonth.parse("2024-02").end.isoformat() == "2024-02-29"
    assert str(ReportMonth.parse("2026-12").next()) == "2027-01"
    assert str(ReportMonth.parse("2026-01").previous()) == "2025-12"
    for bad in ("2026-13", "2026-1", "26-01", "2026-00"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            ReportMonth.parse(bad)


def test_tsr_of_the_synthetic_month() -> None:
    stats = transaction_statistics(MONTH, SEAT, TRAFFIC)
    # Outgoing transmissions appear in no per-country subtotal (SCH-TSR-43).
    assert (stats.incoming, stats.outgoing) == (3, 3)
    got = {(s.kind, s.keys): (s.incoming, s.outgoing) for s in stats.subtotals}
    assert got == {
        ("PerTP", (("TP", "Peppol", "peppol-transport-as4-v2_0"),)): (3, 3),
        ("PerSP-DT-PR", (SP2, DT_INV, PR)): (1, 2),
        ("PerSP-DT-PR", (SP2, DT_CN, PR)): (1, 0),
        ("PerSP-DT-PR", (SP3, DT_CN, PR)): (0, 1),
        ("PerSP-DT-PR", (SP3, DT_INV, PR)): (1, 0),
        ("PerSP-DT-PR-CC", (SP2, DT_INV, PR, *_cc("NL", "BE"))): (1, 0),
        ("PerSP-DT-PR-CC", (SP2, DT_CN, PR, *_cc("DE", "BE"))): (1, 0),
        ("PerSP-DT-PR-CC", (SP3, DT_INV, PR, *_cc("ZZ", "BE"))): (1, 0),
    }


def test_eusr_counts_distinct_normalised_end_users() -> None:
    stats = end_user_statistics(MONTH, SEAT, TRAFFIC)
    # Sending {A, B}, receiving {A, C}: A (under three spellings) counts once; either = {A, B, C}.
    assert (stats.sending, stats.receiving, stats.sending_or_receiving) == (2, 2, 3)
    be = ("CC", "EndUserCountry", "BE")
    got = {(s.kind, s.keys): (s.sending, s.receiving, s.sending_or_receiving) for s in stats.subsets}
    assert got == {
        ("PerDT-PR", (DT_INV, PR)): (1, 1, 1),
        ("PerDT-PR", (DT_CN, PR)): (1, 1, 2),
        ("PerDT-PR-EUC", (DT_INV, PR, be)): (1, 1, 1),
        ("PerDT-PR-EUC", (DT_CN, PR, be)): (1, 1, 2),
        ("PerDT-EUC", (DT_INV, be)): (1, 1, 1),
        ("PerDT-EUC", (DT_CN, be)): (1, 1, 2),
        ("PerEUC", (be,)): (2, 2, 3),
    }


def test_empty_month_has_zero_figures() -> None:
    tsr = transaction_statistics(ReportMonth(2026, 2), SEAT, TRAFFIC)
    eusr = end_user_statistics(ReportMonth(2026, 2), SEAT, TRAFFIC)
    assert (tsr.incoming, tsr.outgoing, tsr.subtotals) == (0, 0, ())
    assert (eusr.sending, eusr.receiving, eusr.sending_or_receiving, eusr.subsets) == (0, 0, 0, ())


def test_mls_counts_in_the_tsr_but_not_in_the_eusr() -> None:
    # An MLS is between access points: its "end user" is the Service Provider's own SPID (0242:…), no end
    # user of ours. It is a transmission (TSR) but no end user (EUSR) - the OpenPeppol SPOG on MLS, as
    # peppol-reporting's eligibility check applies it.
    at = datetime(2026, 11, 10, tzinfo=UTC)
    mls = [
        replace(
            transmission(mid, at, d, "POP000002", MLS_DOCUMENT_TYPE.value, "BE", "BE", "0242:000001"),
            process=MLS_PROCESS.value,
        )
        for mid, d in (("m-out", OUT), ("m-in", IN))
    ]
    tsr = transaction_statistics(MONTH, SEAT, [*TRAFFIC, *mls])
    assert (tsr.incoming, tsr.outgoing) == (4, 4)
    with_mls = end_user_statistics(MONTH, SEAT, [*TRAFFIC, *mls])
    assert with_mls == end_user_statistics(MONTH, SEAT, TRAFFIC)


def test_an_enterprise_number_starting_with_1_is_one_end_user_under_both_schemes() -> None:
    # KBO/BCE numbers start with 0 or 1 (new ones with 1; bis-billing.md, 0208): 9925:BE1… and 0208:1… are
    # one enterprise, counted once in the EUSR, as the BE0… form is.
    at = datetime(2026, 11, 10, tzinfo=UTC)
    rows = [
        transmission("n1", at, OUT, "POP000002", INV, "BE", "BE", "0208:1000000021"),
        transmission("n2", at, OUT, "POP000002", INV, "BE", "BE", "9925:BE1000000021"),
    ]
    assert end_user_statistics(MONTH, SEAT, rows).sending == 1


def test_rows_recorded_by_an_earlier_release_are_reported_by_the_current_rules() -> None:
    # Rows stored before the country list and the BE enterprise-number rule: a "UK" sender country (fatal in
    # the TSR: the month's report never sent) and a "9925:be1…" end user (counted apart from 0208:1…). A
    # stored report is never made again, so the rules apply when the month is reported, not only on record.
    at = datetime(2026, 11, 10, tzinfo=UTC)
    old = [
        replace(transmission("u1", at, IN, "POP000002", INV, "GB", "BE", "0208:1000000021"), c1_country="UK"),
        replace(
            transmission("u2", at, OUT, "POP000002", INV, "BE", "BE", "0208:1000000021"),
            end_user="9925:be1000000021",
        ),
    ]
    tsr = transaction_statistics(MONTH, SEAT, old)
    countries = {k for s in tsr.subtotals for k in s.keys if k[0] == "CC"}
    assert countries == {("CC", "SenderCountry", "ZZ"), ("CC", "ReceiverCountry", "BE")}
    assert end_user_statistics(MONTH, SEAT, old).sending_or_receiving == 1
