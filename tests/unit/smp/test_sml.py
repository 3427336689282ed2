"""SML name computation (the documented vectors) and NAPTR answer interpretation."""

from __future__ import annotations

import pytest

from gateway.errors import ParticipantNotRegistered
from gateway.model.identifiers import ParticipantID
from gateway.smp import (
    LookupOutcome,
    NaptrAnswer,
    NaptrRecord,
    SMLZone,
    apply_naptr_regexp,
    hash_label,
    participant_host,
    smp_url_from_answer,
    zone_by_name,
)

# peppol-as4.md §9.2 and ../shared/artefacts/peppol-smp-vectors/README.md (upstream BDXLURLProviderTest,
# PeppolNaptrURLProviderTest).
VECTORS = [
    ("0088:1234567890123", "sjsyvccmqyjxk3weuapffq4x3umcrf4qryherj4vovhmonh7gccq"),
    ("0088:123abc", "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq"),
    ("0088:123ABC", "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq"),
    ("0010:5798000000001", "xukhfqabqziki3ykvr2fhr4snfa3pf5vpq6k4tonv3lmvsy5arvq"),
    ("9999:elonia", "hsh3fmc5cyerdv5j6ln6mmqcn2pp2ucyvczrwueahosobvikb6kq"),
    ("9915:test", "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a"),
]


@pytest.mark.parametrize(("value", "label"), VECTORS)
def test_hash_label_matches_the_documented_vectors(value: str, label: str) -> None:
    assert hash_label(value) == label


def test_participant_host_uses_scheme_and_test_zone() -> None:
    host = participant_host(ParticipantID.parse("iso6523-actorid-upis::0088:123ABC"), "test")
    assert host == (
        "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq.iso6523-actorid-upis."
        "participant.sml.test.tech.peppol.org."
    )


def test_zones_known_by_name_and_custom_zone_kept() -> None:
    assert zone_by_name("production") == SMLZone.PRODUCTION.value
    assert zone_by_name("TEST") == SMLZone.TEST.value
    assert zone_by_name("sml.devnet.example") == "sml.devnet.example."


def _rec(
    regexp: str, *, order: int = 100, pref: int = 10, flags: str = "U", service: str = "Meta:SMP"
) -> NaptrRecord:
    return NaptrRecord(order, pref, flags, service, regexp)


def test_naptr_answer_gives_smp_url() -> None:
    answer = NaptrAnswer("x.zone.", True, (_rec("!^.*$!https://smp.example.com/!"),))
    assert smp_url_from_answer(answer) == "https://smp.example.com"


def test_naptr_order_then_preference_and_only_meta_smp() -> None:
    answer = NaptrAnswer(
        "x.zone.",
        True,
        (
            _rec("!^.*$!https://other.example!", order=1, service="Meta:Other"),
            _rec("!^.*$!https://second.example!", order=10, pref=20),
            _rec("!^.*$!https://first.example!", order=10, pref=5),
            _rec("!^.*$!https://notu.example!", order=1, flags="S"),
        ),
    )
    assert smp_url_from_answer(answer) == "https://first.example"


def test_nxdomain_is_not_registered() -> None:
    with pytest.raises(ParticipantNotRegistered) as info:
        smp_url_from_answer(NaptrAnswer("x.zone.", False))
    assert info.value.outcome is LookupOutcome.NOT_REGISTERED
    assert not info.value.retryable


def test_no_meta_smp_record_is_not_registered() -> None:
    answer = NaptrAnswer("x.zone.", True, (_rec("!^.*$!https://a.example!", service="Meta:Other"),))
    with pytest.raises(ParticipantNotRegistered):
        smp_url_from_answer(answer)


@pytest.mark.parametrize(
    ("regexp", "expected"),
    [
        ("!^.*$!https://smp.example.com!", "https://smp.example.com"),
        ("#^(.*)\\.zone$#https://\\1.smp.example#", "https://abc.smp.example"),
        ("!^.*$!ftp://smp.example!", None),
        ("!^nomatch$!https://smp.example!", None),
        ("!(!https://smp.example!", None),
        ("x^.*$xhttps://a.examplex", None),
        ("", None),
        ("!^.*$!https://a.example!g", None),
        ("!^(\\w+)*.*$!https://a.example!", None),  # would match: refused as a nested quantifier
        ("!^([a-z0-9]+.?)+x$!https://a.example!", None),
        ("!" + "a" * 300 + "!https://a.example!", None),
        # Alternation under a quantifier backtracks exponentially on the 110-character SML name (a hostile
        # DNS answer would stop the event loop): any quantified group is refused.
        ("!^(.|..)*$!https://a.example!", None),
        ("!^(?:a|b|c|z|o|n|e|\\.)+$!https://a.example!", None),
        ("!^(abc)?.*$!https://a.example!", None),
        # Quantifiers in a row multiply the backtracking (four unanchored ones take a second on the SML
        # name, each NAPTR record of the answer is tried): at most two are allowed.
        ("!^[^#]*[^#]*[^#]*[^#]*[^#]*$!https://a.example!", None),
        ("![^#]*?[^#]*?[^#]*?$!https://a.example!", None),
        ("!^[a-c]+.z{0,3}o?ne$!https://a.example!", None),
        ("!^[^.]*\\.[a-z]*$!https://a.example!", "https://a.example"),
        ("!^[a-c]+\\.z?one$!https://a.example!", "https://a.example"),
        ("!^[*+?]?.*$!https://a.example!", "https://a.example"),
    ],
)
def test_apply_naptr_regexp(regexp: str, expected: str | None) -> None:
    assert apply_naptr_regexp(regexp, "abc.zone") == expected


def test_only_the_first_candidate_records_are_tried() -> None:
    # Each record's expression runs in the event loop: a hostile answer with hundreds of records is cut short.
    unusable = [NaptrRecord(1, i, "U", "Meta:SMP", "!^nomatch$!https://a.example!") for i in range(8)]
    usable = NaptrRecord(2, 0, "U", "Meta:SMP", "!^.*$!https://smp.example!")
    assert smp_url_from_answer(NaptrAnswer("n.zone.", True, (*unusable[:7], usable))) == "https://smp.example"
    with pytest.raises(ParticipantNotRegistered):
        smp_url_from_answer(NaptrAnswer("n.zone.", True, (*unusable, usable)))
