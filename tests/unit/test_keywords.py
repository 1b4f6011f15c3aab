"""The keyword matcher and keyword list validation: scripts with and without spaces, accents, invisible characters."""

from __future__ import annotations

import itertools
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from messaging_partner.domain.keywords import (
    _IGNORED_CHARACTERS,
    _LOOKED_FOR,
    _LOOKED_FOR_CHARACTERS,
    _MARKERS,
    _UNSPACED_RANGES,
    MAX_KEYWORDS,
    InvalidKeywords,
    KeywordMatcher,
    KeywordRule,
    _normalized,
    _unspaced,
    keyword_rules,
    normalize,
)

CASE_FILE = Path(__file__).parent.parent / "data" / "keyword_cases.json"  # make bench scores its peers on it too
CASES = json.loads(CASE_FILE.read_text(encoding="utf-8"))
RULES = [KeywordRule(**rule) for rule in CASES["rules"]]
MATCHER = KeywordMatcher(RULES)


@pytest.mark.parametrize(("text", "signals"), [(case["text"], set(case["signals"])) for case in CASES["cases"]])
def test_matches(text: str, signals: set[str]) -> None:
    assert MATCHER.signals_in(text) == signals


def test_a_lone_surrogate_in_a_message_is_dropped_not_fatal() -> None:
    # json.loads turns "\\ud800" into a lone surrogate, which UTF-8 (and the automaton) cannot take.
    assert normalize("pay \ud800 now") == "pay now"
    assert MATCHER.signals_in("pay\udc00 now") == {"payment"}


def test_an_accent_only_keyword_never_reaches_the_automaton() -> None:
    rules = [KeywordRule(keyword="pay", signal="payment"), KeywordRule(keyword="\u0301", signal="o", accent_insensitive=True)]
    assert KeywordMatcher(rules).signals_in("I want to pay") == {"payment"}


def test_no_text_fires_nothing() -> None:
    assert MATCHER.signals_in(None) == frozenset()


def test_one_keyword_can_fire_two_signals_and_two_keywords_one() -> None:
    matcher = KeywordMatcher(
        [
            KeywordRule(keyword="pay", signal="payment"),
            KeywordRule(keyword="pay", signal="intent"),
            KeywordRule(keyword="paid", signal="payment"),
        ]
    )
    assert matcher.signals_in("I paid, can I pay again?") == {"payment", "intent"}


# Default_Ignorable_Code_Point, from Unicode 15.1's DerivedCoreProperties.txt (Python has no accessor for it).
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
]  # fmt: skip
TATWEEL = "\u0640"
EVERY_CHARACTER = [chr(c) for c in range(sys.maxunicode + 1)]


def test_ignored_characters_are_unicodes_format_and_default_ignorable_ones() -> None:
    listed = {c for c in EVERY_CHARACTER if _IGNORED_CHARACTERS.fullmatch(c)}
    format_characters = {c for c in EVERY_CHARACTER if unicodedata.category(c) in ("Cf", "Cs")}
    ignorable = {chr(c) for low, high in DEFAULT_IGNORABLE for c in range(low, high + 1)}
    assert format_characters - listed == set(), "a format character (or a surrogate) is missing"
    assert ignorable - listed == set(), "a default-ignorable code point is missing"
    newer = {c for c in listed if unicodedata.category(c) == "Cn"}  # assigned after this Python's Unicode
    assert listed - format_characters - ignorable - newer == {TATWEEL}, "the list holds a character a reader sees"


def test_the_printable_ones_are_looked_for_apart() -> None:
    # normalize() removes ignored characters only when str.isprintable() is False or one of these is present.
    printable = {c for c in EVERY_CHARACTER if _IGNORED_CHARACTERS.fullmatch(c) and c.isprintable()}
    assert {c for c in printable if not _LOOKED_FOR.fullmatch(c)} == set()


def test_each_looked_for_character_leaves_a_marker_when_not_looked_for() -> None:
    # The matcher skips the look (the automaton finds the markers instead): nothing may slip through.
    for looked in _LOOKED_FOR_CHARACTERS:
        for text in (looked, f"a{looked}b", f"I{looked}"):
            quick = _normalized(text, looked_for=False)
            assert quick == normalize(text) or set(quick) & set(_MARKERS), hex(ord(looked))


def test_every_character_that_folds_to_a_turkish_i_is_looked_for() -> None:
    def turkish_i_in(c: str) -> bool:
        folded = unicodedata.normalize("NFKC", c).casefold()
        return "\u0131" in folded or "\u0307" in folded

    # U+02D9 (a spacing dot above) becomes a space and a dot: never a dot on an i.
    assert {c for c in EVERY_CHARACTER if turkish_i_in(c) and not _LOOKED_FOR.fullmatch(c)} == {"\u02d9"}


@pytest.mark.parametrize(
    ("character", "unspaced"),
    [
        *[(c, True) for c in ("付", "い", "カ", "ก", "ລ", "ក", "က", "ㄅ")],
        *[(c, False) for c in ("a", "д", "ع", "א", "क", "한", "α")],
    ],
)
def test_scripts_written_without_spaces(character: str, unspaced: bool) -> None:
    assert _unspaced(character) is unspaced


def test_unspaced_ranges_are_found_at_their_edges() -> None:
    for (low, high), (next_low, _) in itertools.pairwise(_UNSPACED_RANGES):
        assert low <= high < next_low, "ranges must be sorted and apart for the bisect"
    for code in sorted({edge + step for low, high in _UNSPACED_RANGES for edge in (low, high) for step in (-1, 0, 1)}):
        assert _unspaced(chr(code)) == any(low <= code <= high for low, high in _UNSPACED_RANGES), hex(code)


def test_normalization() -> None:
    assert normalize("  Ｈｏｗ\t\u200bMUCH \n ") == "how much"
    assert normalize("Straße") == "strasse"


def entries(*items: Any) -> dict[str, Any]:
    return {"keywords": list(items)}


def test_a_valid_list() -> None:
    rules = keyword_rules(
        entries({"keyword": "how much", "signal": "price"}, {"keyword": "付款", "signal": "payment", "accent_insensitive": True})
    )
    assert rules == [
        KeywordRule(keyword="how much", signal="price"),
        KeywordRule(keyword="付款", signal="payment", accent_insensitive=True),
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], 'The body must be {"keywords"'),
        ({"keywords": "pay"}, 'The body must be {"keywords"'),
        (entries("pay"), "keywords[0]: must be an object"),
        (entries({"keyword": "", "signal": "price"}), "keywords[0] (''): the keyword must be text of 1 to 80"),
        (entries({"keyword": "x" * 81, "signal": "price"}), "the keyword must be text of 1 to 80"),
        (entries({"keyword": "\u200b\u200b", "signal": "price"}), "the keyword is only spaces or invisible characters"),
        (entries({"keyword": "pay", "signal": "Payment!"}), "keywords[0] ('pay'): the signal must match ^[a-z][a-z0-9_]{0,39}$"),
        (entries({"keyword": "pay", "signal": "p" * 41}), "the signal must match"),
        (entries({"keyword": "pay"}), "the signal must match"),
        (entries({"keyword": "hi", "signal": "conversation"}), "the signal 'conversation' is sent once per TikTok conversation"),
        (
            entries({"keyword": "pay", "signal": "payment", "accent_insensitive": "yes"}),
            "accent_insensitive must be true or false",
        ),
        (entries({"keyword": "pay", "signal": "payment", "weight": 2}), "unknown field weight"),
        (entries({"keyword": "pay\ud800", "signal": "payment"}), "the keyword holds a lone surrogate"),
        (
            entries({"keyword": "\u0301", "signal": "oops", "accent_insensitive": True}),
            "keywords[0] ('\u0301'): the keyword is only accents; with accent_insensitive it would match nothing",
        ),
        (entries({"keyword": "\u00b4", "signal": "oops", "accent_insensitive": True}), "the keyword is only accents"),
        (entries({"keyword": "free", "signal": "value"}), "the signal 'value' is a property TikTok events already carry"),
        (entries({"keyword": "vip", "signal": "tracking_id"}), "the signal 'tracking_id' is a property"),
    ],
)
def test_a_bad_entry_is_named_with_why(body: Any, problem: str) -> None:
    with pytest.raises(InvalidKeywords) as refused:
        keyword_rules(body)
    assert any(problem in line for line in refused.value.problems), refused.value.problems


def test_every_bad_entry_is_reported_and_nothing_is_kept() -> None:
    body = entries({"keyword": "ok", "signal": "fine"}, {"keyword": "", "signal": "x"}, {"keyword": "pay", "signal": "BAD"})
    with pytest.raises(InvalidKeywords) as refused:
        keyword_rules(body)
    assert [p.split(":")[0] for p in refused.value.problems] == ["keywords[1] ('')", "keywords[2] ('pay')"]


def test_at_most_a_thousand_keywords() -> None:
    keyword_rules(entries(*({"keyword": f"k{i}", "signal": "s"} for i in range(MAX_KEYWORDS))))
    with pytest.raises(InvalidKeywords) as refused:
        keyword_rules(entries(*({"keyword": f"k{i}", "signal": "s"} for i in range(MAX_KEYWORDS + 1))))
    assert refused.value.problems == ["1001 keywords: an ad account has at most 1000."]
