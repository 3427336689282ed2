"""Overlong mark runs cut for display: floods of every kind of mark capped, real scripts untouched, the
cut idempotent, and the Jinja2 finalize keeping markup as markup."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from gateway.render.mark_runs import MAX_MARK_RUN, SHORTENED, cap_mark_runs, shown

ACUTE = "\u0301"  # combining acute accent: Mn, canonical combining class 230
#: Text in scripts that stack marks, as written: each must render exactly as stated.
REAL_TEXT = {
    "vietnamese": "Công ty TNHH Nguyễn Thị Hường, đường Lê Lợi, Quận Ấp Bắc: hàng hoá ệ ặ ỗ ữ",
    "vietnamese decomposed": "Vie\u0323\u0302t Nam, Nguye\u0302\u0303n",
    "devanagari": "क्षत्रिय ट्रेडर्स प्राइवेट लिमिटेड, हिन्दी में विवरण",
    "thai": "บริษัท ไทยพาณิชย์ จำกัด ที่นี่ กำลัง น้ำ",
    "hebrew with points": "בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם",
    "hebrew with cantillation": "בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים",
    "tibetan stack": "\u0f67\u0f90\u0fb5\u0fa8\u0fb3\u0fba\u0fbc\u0fbb\u0f82",
    "emoji zwj family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "emoji skin tone and variation": "\U0001f44d\U0001f3fd \u2764\ufe0f \U0001f3f3\ufe0f\u200d\U0001f308",
    "emoji tag flag": "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "stream-safe run": "a" + ACUTE * MAX_MARK_RUN + "b",
}


@pytest.mark.parametrize("text", REAL_TEXT.values(), ids=REAL_TEXT.keys())
def test_real_text_is_left_as_stated(text: str) -> None:
    assert cap_mark_runs(text) is text


def test_a_flood_on_one_character_keeps_its_first_marks_and_a_sign() -> None:
    assert cap_mark_runs("Z" + ACUTE * 50_000) == "Z" + ACUTE * MAX_MARK_RUN + SHORTENED


def test_one_mark_past_the_bound_is_cut() -> None:
    cut = cap_mark_runs("Z" + ACUTE * (MAX_MARK_RUN + 1) + "!")
    assert cut == "Z" + ACUTE * MAX_MARK_RUN + SHORTENED + "!"


def test_every_run_is_cut_and_the_text_between_kept() -> None:
    text = "Note: a" + ACUTE * 500 + " and b" + "\u0316" * 40 + " end"
    assert cap_mark_runs(text) == (
        "Note: a" + ACUTE * MAX_MARK_RUN + SHORTENED + " and b" + "\u0316" * MAX_MARK_RUN + SHORTENED + " end"
    )


@pytest.mark.parametrize(
    "marks",
    [
        "\u0301\u0316",  # above and below (classes 230 and 220): "zalgo"
        ("\u0301" * 30) + "\u034f",  # the Stream-Safe Text Format of a flood: still one cluster
        "\ufe0f",  # variation selector (Mn, class 0)
        "\u093e",  # Devanagari vowel sign AA (Mc)
        "\u20dd",  # combining enclosing circle (Me)
        "\u200d",  # zero width joiner
        "\U000e0067",  # tag character
        "\U0001f3fd",  # emoji modifier
    ],
    ids=["zalgo", "stream-safe", "variation-selector", "spacing-mark", "enclosing", "zwj", "tag", "modifier"],
)
def test_a_flood_of_any_kind_of_mark_is_cut(marks: str) -> None:
    capped = cap_mark_runs("x" + marks * 2_000 + "y")
    assert capped.startswith("x")
    assert capped.endswith(SHORTENED + "y")
    assert len(capped) == 1 + MAX_MARK_RUN + 2


@pytest.mark.parametrize(
    "text",
    [
        "Z" + ACUTE * 50_000,
        "Z" + ACUTE * (MAX_MARK_RUN + 1),
        "a" + ACUTE * 31 + SHORTENED + ACUTE * 31,
        ACUTE * 100,  # marks with no character before them
        *REAL_TEXT.values(),
    ],
)
def test_the_cut_is_idempotent(text: str) -> None:
    once = cap_mark_runs(text)
    assert cap_mark_runs(once) == once


def test_the_finalize_keeps_markup_as_markup_and_other_values_as_they_are() -> None:
    flood = Markup("<b>Z" + ACUTE * 100 + "</b>")
    capped = shown(flood)
    assert isinstance(capped, Markup)
    assert capped == Markup("<b>Z" + ACUTE * MAX_MARK_RUN + SHORTENED + "</b>")
    assert type(shown("Z" + ACUTE * 100)) is str
    real = REAL_TEXT["vietnamese"]
    assert shown(real) is real
    assert shown(None) is None
    assert shown(21) == 21
