"""Properties of the keyword matcher over arbitrary text."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_partner.domain.keywords import (
    _IGNORED_CHARACTERS,
    _LOOKED_FOR_CHARACTERS,
    _MARKERS,
    KeywordMatcher,
    KeywordRule,
    _normalized,
    normalize,
)

LATIN_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
HAN = st.text(alphabet="付款价格多少钱我想买请问", min_size=1, max_size=4)
FILLER = st.text(alphabet=st.sampled_from([*"abcxyz ,.!?👍\n\t", "\u200b", "\u00a0", "付", "é", "1", "ß"]), max_size=30)
INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"])


def whole_word_oracle(keyword: str, text: str) -> bool:
    """What a careful human means by a whole word, written independently of the matcher."""
    normalized = normalize(text)
    word = r"[^\W_]|[\u0300-\u036f]"  # letters and digits of any script (and combining marks)
    for found in re.finditer(re.escape(keyword), normalized):
        before = normalized[found.start() - 1] if found.start() else " "
        after = normalized[found.end()] if found.end() < len(normalized) else " "
        spaced = lambda c: bool(re.match(word, c)) and not ("\u4e00" <= c <= "\u9fff")  # noqa: E731
        if not spaced(before) and not spaced(after):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(LATIN_WORDS, FILLER, FILLER)
def test_a_latin_keyword_fires_exactly_when_it_stands_as_a_whole_word(keyword: str, left: str, right: str) -> None:
    text = left + keyword + right
    matcher = KeywordMatcher([KeywordRule(keyword=keyword, signal="s")])
    assert (matcher.signals_in(text) == {"s"}) == whole_word_oracle(keyword, text)


@settings(max_examples=300, deadline=None)
@given(HAN, FILLER, FILLER)
def test_a_han_keyword_fires_wherever_it_stands(keyword: str, left: str, right: str) -> None:
    assert KeywordMatcher([KeywordRule(keyword=keyword, signal="s")]).signals_in(left + keyword + right) == {"s"}


@settings(max_examples=300, deadline=None)
@given(st.lists(LATIN_WORDS, min_size=1, max_size=4), FILLER, st.data())
def test_invisible_characters_and_case_never_change_the_result(keywords: list[str], text: str, data: st.DataObject) -> None:
    matcher = KeywordMatcher([KeywordRule(keyword=k, signal=f"s{i}") for i, k in enumerate(keywords)])
    text = text + " " + " ".join(keywords[:2])
    positions = data.draw(st.lists(st.integers(0, len(text)), max_size=5))
    noisy = text
    for position in sorted(positions, reverse=True):
        noisy = noisy[:position] + data.draw(INVISIBLE) + noisy[position:]
    assert matcher.signals_in(noisy) == matcher.signals_in(text) == matcher.signals_in(text.upper())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(LATIN_WORDS, min_size=2, max_size=3),
    st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\u3000", "\u00a0"]), min_size=2, max_size=2),
)
def test_a_multi_word_keyword_matches_across_any_whitespace(words: list[str], gaps: list[str]) -> None:
    keyword = " ".join(words)
    spaced = words[0] + "".join(gap + word for gap, word in zip(gaps * 2, words[1:], strict=False))
    assert KeywordMatcher([KeywordRule(keyword=keyword, signal="s")]).signals_in(spaced) == {"s"}


def normalize_step_by_step(text: str) -> str:
    """normalize() without its shortcuts: every step applied to every text."""
    text = unicodedata.normalize("NFKC", _IGNORED_CHARACTERS.sub("", text)).casefold()
    text = unicodedata.normalize("NFKC", text.replace("i\u0307", "i").replace("\u0131", "i"))
    return " ".join(text.split())


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters()))
def test_the_shortcuts_in_normalize_change_no_result(text: str) -> None:
    assert normalize(text) == normalize_step_by_step(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_canonically_equivalent_texts_normalize_alike(text: str) -> None:
    # A keyword typed with composed accents matches a message typed with combining ones, and back.
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(unicodedata.normalize("NFC", text))


LOOKED_FOR_OR_NOT = st.text(
    alphabet=st.one_of(st.sampled_from(list(_LOOKED_FOR_CHARACTERS)), st.sampled_from(list("aiI\u0130\u0131xyz \u015f\u0301\n"))),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(LOOKED_FOR_OR_NOT)
def test_not_looking_is_right_or_leaves_a_marker(text: str) -> None:
    quick = _normalized(text, looked_for=False)
    assert quick == normalize(text) or set(quick) & set(_MARKERS)


@settings(max_examples=300, deadline=None)
@given(LOOKED_FOR_OR_NOT, LOOKED_FOR_OR_NOT)
def test_the_matcher_answers_as_on_the_full_normalization(left: str, right: str) -> None:
    matcher = KeywordMatcher([KeywordRule(keyword="fiyat", signal="s"), KeywordRule(keyword="\u0131l\u0131k", signal="t")])
    text = left + "F\u0130YAT" + right + " ILIK"
    expected = {s for s, k in (("s", "fiyat"), ("t", "ilik")) if whole_word_oracle(k, text)}
    assert matcher.signals_in(text) == expected
