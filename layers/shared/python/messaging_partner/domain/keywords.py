"""Keyword lists per ad account, and the matcher that finds their signals in a customer message.

The matcher, compiled once per list version:
- text and keywords are normalized alike: format characters (zero-width spaces and joiners,
  bidirectional marks, soft hyphens) removed, NFKC, case folding, whitespace runs as one
  space, so a multi-word keyword matches across any whitespace;
- a keyword whose edge is a letter, mark or digit of a script written with spaces (Latin,
  Cyrillic, Greek, Arabic, Hebrew, Devanagari, ...) matches whole words only: `pay` fires in
  "pay now", not in "paypal" or "repayment"; punctuation and emoji are boundaries, and so is a
  neighbouring character of a script written without spaces ("买iPhone");
- in scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar)
  a keyword matches as a substring;
- accents count (Vietnamese `giá` is not `gia`) unless the keyword is accent-insensitive;
- one pass of an Aho-Corasick automaton per message: the cost does not grow with the number
  of keywords (a second pass only when the list has accent-insensitive keywords).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick_rs

from .models import KeywordRule

MAX_KEYWORDS = 1000
MAX_KEYWORD_LENGTH = 80
SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
RESERVED_SIGNALS = frozenset({"conversation"})  # sent once per TikTok conversation, not by a keyword

# Unicode's format characters (general category Cf); a unit test holds this list to the database.
_FORMAT_CHARACTERS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# Accents and optional vowel marks an accent-insensitive keyword ignores: the combining
# diacritics blocks (Latin, Greek, Cyrillic, Vietnamese), Hebrew points, Arabic harakat.
_ACCENTS = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u064b-\u065f\u0670]"
)
# Scripts written without spaces between words: Han (with radicals and compatibility forms),
# Hiragana, Katakana, Bopomofo, Thai, Lao, Myanmar, Khmer.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended B
    (0xAA60, 0xAA7F),  # Myanmar extended A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B and beyond
)


def normalize(text: str) -> str:
    """The form keywords and messages are compared in."""
    # Most messages are printable (no format characters, no whitespace but the plain space) and
    # already NFKC: then each step below is one quick scan and nothing is copied twice.
    printable = text.isprintable()
    if not printable:
        text = _FORMAT_CHARACTERS.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
        printable = False  # compatibility forms can bring spaces ("¨" is " ̈")
    text = text.casefold()
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):  # folding can undo it ("ǅ")
        text = unicodedata.normalize("NFKC", text)
    if printable and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def without_accents(normalized: str) -> str:
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", normalized)))


_UNSPACED_STARTS = [low for low, _ in _UNSPACED_RANGES]  # sorted: the ranges are in code point order


def _unspaced(character: str) -> bool:
    code = ord(character)
    index = bisect.bisect_right(_UNSPACED_STARTS, code) - 1
    return index >= 0 and code <= _UNSPACED_RANGES[index][1]


def _word_character(character: str) -> bool:
    return character.isalnum() or unicodedata.category(character)[0] == "M"


@functools.lru_cache(maxsize=4096)  # asked once per match edge; a chat uses few distinct characters
def _bounds_a_word(character: str) -> bool:
    """Whether a match ending next to this character stops at a word boundary."""
    return not _word_character(character) or _unspaced(character)


class InvalidKeywords(Exception):
    """The list was refused as a whole; each problem names the entry and why."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def keyword_rules(body: Any) -> list[KeywordRule]:
    """The rules of a `{"keywords": [...]}` body; InvalidKeywords lists every bad entry (nothing is half-saved)."""
    if not isinstance(body, dict) or not isinstance(body.get("keywords"), list):
        raise InvalidKeywords(['The body must be {"keywords": [{"keyword": "...", "signal": "..."}, ...]}.'])
    entries: list[Any] = body["keywords"]
    problems = []
    if len(entries) > MAX_KEYWORDS:
        problems.append(f"{len(entries)} keywords: an ad account has at most {MAX_KEYWORDS}.")
    rules = []
    for index, entry in enumerate(entries):
        where, problems_before = f"keywords[{index}]", len(problems)
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object with a keyword and a signal.")
            continue
        unknown = sorted(set(entry) - {"keyword", "signal", "accent_insensitive"})
        keyword, signal, insensitive = entry.get("keyword"), entry.get("signal"), entry.get("accent_insensitive", False)
        where = f"{where} ({keyword!r})" if isinstance(keyword, str) else where
        if unknown:
            problems.append(f"{where}: unknown field {', '.join(unknown)}; use keyword, signal, accent_insensitive.")
        if not isinstance(keyword, str) or not 1 <= len(keyword) <= MAX_KEYWORD_LENGTH:
            problems.append(f"{where}: the keyword must be text of 1 to {MAX_KEYWORD_LENGTH} characters.")
        elif not normalize(keyword):
            problems.append(f"{where}: the keyword is only spaces or invisible characters.")
        if not isinstance(signal, str) or not SIGNAL_NAME.fullmatch(signal):
            problems.append(f"{where}: the signal must match ^[a-z][a-z0-9_]{{0,39}}$, like payment or price_question.")
        elif signal in RESERVED_SIGNALS:
            problems.append(f"{where}: the signal {signal!r} is sent once per TikTok conversation; choose another name.")
        if not isinstance(insensitive, bool):
            problems.append(f"{where}: accent_insensitive must be true or false.")
        if len(problems) == problems_before:
            rules.append(KeywordRule(keyword=keyword, signal=signal, accent_insensitive=insensitive))
    if problems:
        raise InvalidKeywords(problems)
    return rules


@dataclass(frozen=True)
class _Pattern:
    signals: tuple[str, ...]
    whole_word_start: bool  # the keyword starts with a letter, mark or digit of a spaced script
    whole_word_end: bool


_NO_SIGNALS: frozenset[str] = frozenset()


class _Automaton:
    """One Aho-Corasick automaton over normalized keywords, reporting every (overlapping) occurrence."""

    def __init__(self, keywords: dict[str, set[str]]) -> None:
        self._search = ahocorasick_rs.AhoCorasick(list(keywords)).find_matches_as_indexes
        self._patterns = [
            _Pattern(
                tuple(sorted(signals)),
                _word_character(key[0]) and not _unspaced(key[0]),
                _word_character(key[-1]) and not _unspaced(key[-1]),
            )
            for key, signals in keywords.items()
        ]

    def signals_in(self, text: str) -> frozenset[str]:
        matches = self._search(text, True)  # overlapping: a keyword inside another still fires its signal
        if not matches:
            return _NO_SIGNALS
        found: set[str] = set()
        for index, start, end in matches:
            pattern = self._patterns[index]
            if pattern.whole_word_start and start > 0 and not _bounds_a_word(text[start - 1]):
                continue
            if pattern.whole_word_end and end < len(text) and not _bounds_a_word(text[end]):
                continue
            found.update(pattern.signals)
        return frozenset(found)


class KeywordMatcher:
    """The signals a list fires for one message; build once per list version."""

    def __init__(self, rules: Iterable[KeywordRule]) -> None:
        exact: dict[str, set[str]] = {}
        accentless: dict[str, set[str]] = {}
        for rule in rules:
            key = normalize(rule.keyword)
            if rule.accent_insensitive:
                accentless.setdefault(without_accents(key), set()).add(rule.signal)
            else:
                exact.setdefault(key, set()).add(rule.signal)
        self._exact = _Automaton(exact) if exact else None
        self._accentless = _Automaton(accentless) if accentless else None

    def signals_in(self, text: str | None) -> frozenset[str]:
        if not text:
            return _NO_SIGNALS
        normalized = normalize(text)
        found = self._exact.signals_in(normalized) if self._exact else _NO_SIGNALS
        if self._accentless:
            found |= self._accentless.signals_in(without_accents(normalized))
        return found
