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
    _FORMAT_CHARACTERS,
    _UNSPACED_RANGES,
    MAX_KEYWORDS,
    InvalidKeywords,
    KeywordMatcher,
    KeywordRule,
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


def test_format_characters_are_exactly_unicodes() -> None:
    database = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    listed = {chr(c) for c in range(sys.maxunicode + 1) if _FORMAT_CHARACTERS.fullmatch(chr(c))}
    assert database - listed == set(), "a format character is missing from the list"
    newer = {c for c in listed - database if unicodedata.category(c) == "Cn"}  # Unicode 15 characters, unassigned before
    assert listed - database - newer == set(), "the list holds a character that is not a format character"


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
