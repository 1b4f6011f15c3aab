"""Keyword lists per ad account, and the matcher that finds their signals in a customer message.

The matcher, compiled once per list version:
- text and keywords are normalized alike: invisible characters (zero-width spaces and
  joiners, bidirectional marks, soft hyphens, variation selectors, the Arabic tatweel)
  removed, NFKC, case folding (Turkish dotted and dotless i fold to "i"), whitespace runs as
  one space, so a multi-word keyword matches across any whitespace;
- a keyword whose edge is a letter, mark or digit of a script written with spaces (Latin,
  Cyrillic, Greek, Arabic, Hebrew, Devanagari, ...) matches whole words only: `pay` fires in
  "pay now", not in "paypal" or "repayment"; punctuation and emoji are boundaries, and so is a
  neighbouring character of a script written without spaces ("买iPhone");
- in scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar)
  a keyword matches as a substring;
- accents count (Vietnamese `giá` is not `gia`) unless the keyword is accent-insensitive;
- one pass of an Aho-Corasick automaton per message: the cost does not grow with the number
  of keywords. A second pass only when the list has accent-insensitive keywords, or when the
  first found one of the rare characters normalization treats apart (a variation selector, a
  Turkish i, ...): the automaton looks for those too, so no message pays a separate scan.
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
SHOWN_LENGTH = MAX_KEYWORD_LENGTH  # how much of a keyword a refusal repeats
SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Property names an event already uses, TikTok's own and what a signal carries besides its flag
# (adapters/tiktok_api/signals.py): a keyword signal of the same name would overwrite one on the wire.
EVENT_PROPERTY_NAMES = frozenset(
    {"value", "currency", "content_type", "contents", "content_ids", "num_items", "order_id", "description", "query"}
    | {"tracking_id", "ad_id", "short_link_ref"}
)
CONVERSATION_SIGNAL = "conversation"  # sent once per TikTok conversation, not by a keyword

# Characters that change nothing a reader sees: Unicode's format characters (category Cf),
# its default-ignorable code points (combining grapheme joiner, variation selectors, Hangul
# fillers, ...), the Arabic tatweel (a stretch of the line, "ســعر" is "سعر"), and lone
# surrogates, which no text can carry. A unit test holds the list to the Unicode database.
_IGNORED_CHARACTERS = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u0640\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
# What str.isprintable() cannot reveal and normalize() must still handle, looked for in non-ASCII
# text only: the printable ignored characters (marks and letters), and the Turkish i's.
_LOOKED_FOR_RANGES = (
    (0x034F, 0x034F), (0x0640, 0x0640), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180D), (0x180F, 0x180F),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF),  # printable, yet ignored
    (0x0130, 0x0131), (0x0307, 0x0307), (0x1D6A4, 0x1D6A4),  # dotted capital I, dotless i, a dot above
)  # fmt: skip
_LOOKED_FOR_CHARACTERS = "".join(chr(code) for low, high in _LOOKED_FOR_RANGES for code in range(low, high + 1))
_LOOKED_FOR = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _LOOKED_FOR_RANGES) + "]")  # ranges: fast
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
    return _normalized(text, looked_for=not text.isascii() and _LOOKED_FOR.search(text) is not None)


def _normalized(text: str, looked_for: bool) -> str:
    """normalize(), told whether the text holds one of _LOOKED_FOR_CHARACTERS (if not, it may not look)."""
    # Most messages are printable (no format characters, no whitespace but the plain space), hold
    # nothing looked for and are already NFKC: then each step is one quick scan, nothing copied twice.
    printable = text.isprintable()
    if looked_for or not printable:
        text = _IGNORED_CHARACTERS.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
        printable = False  # compatibility forms can bring spaces ("¨" is " ̈")
    folded = text.casefold()
    if looked_for:
        # Turkish: capital dotted I folds to "i" + a combining dot above, and dotless i (U+0131)
        # has no fold; both are an "i" to anyone searching, or "FİYAT" would never match "fiyat".
        folded = folded.replace("i\u0307", "i").replace("\u0131", "i")
    if folded != text and not folded.isascii() and not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)  # folding can undo it ("ǅ")
    if printable and "  " not in folded and folded[:1] != " " and folded[-1:] != " ":
        return folded
    return " ".join(folded.split())


# What the looked-for characters become in _normalized(text, looked_for=False) (U+3164 is U+1160
# after NFKC, "İ" an "i" and a dot above): the matcher's automaton finds them in its one pass, so
# a message pays no separate look for characters it almost never holds.
_MARKERS = sorted({c for looked in _LOOKED_FOR_CHARACTERS for c in _normalized(looked, looked_for=False)} - {"i"})


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
        where = f"{where} ({_shown(keyword)})" if isinstance(keyword, str) else where
        if unknown:
            problems.append(f"{where}: unknown field {', '.join(unknown)}; use keyword, signal, accent_insensitive.")
        if not isinstance(keyword, str) or not 1 <= len(keyword) <= MAX_KEYWORD_LENGTH:
            problems.append(f"{where}: the keyword must be text of 1 to {MAX_KEYWORD_LENGTH} characters.")
        elif any("\ud800" <= character <= "\udfff" for character in keyword):
            problems.append(f"{where}: the keyword holds a lone surrogate (half of a UTF-16 pair), which is not text.")
        elif not normalize(keyword):
            problems.append(f"{where}: the keyword is only spaces or invisible characters.")
        elif insensitive is True and not without_accents(normalize(keyword)).strip():
            problems.append(f"{where}: the keyword is only accents; with accent_insensitive it would match nothing.")
        if not isinstance(signal, str) or not SIGNAL_NAME.fullmatch(signal):
            problems.append(f"{where}: the signal must match ^[a-z][a-z0-9_]{{0,39}}$, like payment or price_question.")
        elif signal == CONVERSATION_SIGNAL:
            problems.append(f"{where}: the signal {signal!r} is sent once per TikTok conversation; choose another name.")
        elif signal in EVENT_PROPERTY_NAMES:
            problems.append(f"{where}: the signal {signal!r} is a property TikTok events already carry; choose another name.")
        if not isinstance(insensitive, bool):
            problems.append(f"{where}: accent_insensitive must be true or false.")
        if len(problems) == problems_before:
            rules.append(KeywordRule(keyword=keyword, signal=signal, accent_insensitive=insensitive))
    if problems:
        raise InvalidKeywords(problems)
    return rules


def _shown(keyword: str) -> str:
    """The keyword as a refusal names it: whole when short, its start when not (a refusal never echoes a huge input)."""
    return repr(keyword) if len(keyword) <= SHOWN_LENGTH else f"{keyword[:SHOWN_LENGTH]!r}... ({len(keyword):,} characters)"


@dataclass(frozen=True)
class _Pattern:
    signals: tuple[str, ...]
    whole_word_start: bool  # the keyword starts with a letter, mark or digit of a spaced script
    whole_word_end: bool


_NO_SIGNALS: frozenset[str] = frozenset()


class _Automaton:
    """One Aho-Corasick automaton over normalized keywords, reporting every (overlapping) occurrence;
    with markers, it also tells when the text holds one (see _MARKERS)."""

    def __init__(self, keywords: dict[str, set[str]], markers: Sequence[str] = ()) -> None:
        self._keywords = len(keywords)
        self._search = ahocorasick_rs.AhoCorasick([*keywords, *markers]).find_matches_as_indexes
        self._patterns = [
            _Pattern(
                tuple(sorted(signals)),
                _word_character(key[0]) and not _unspaced(key[0]),
                _word_character(key[-1]) and not _unspaced(key[-1]),
            )
            for key, signals in keywords.items()
        ]

    def scan(self, text: str) -> tuple[frozenset[str], bool]:
        """The signals in normalized text, and whether it holds a marker."""
        matches = self._search(text, True)  # overlapping: a keyword inside another still fires its signal
        if not matches:
            return _NO_SIGNALS, False
        found: set[str] = set()
        marked = False
        for index, start, end in matches:
            if index >= self._keywords:
                marked = True
                continue
            pattern = self._patterns[index]
            if pattern.whole_word_start and start > 0 and not _bounds_a_word(text[start - 1]):
                continue
            if pattern.whole_word_end and end < len(text) and not _bounds_a_word(text[end]):
                continue
            found.update(pattern.signals)
        return frozenset(found), marked


class KeywordMatcher:
    """The signals a list fires for one message; build once per list version."""

    def __init__(self, rules: Iterable[KeywordRule]) -> None:
        exact: dict[str, set[str]] = {}
        accentless: dict[str, set[str]] = {}
        for rule in rules:
            key = normalize(rule.keyword)
            if rule.accent_insensitive:
                key = without_accents(key)
            if key.strip():  # keyword_rules refuses a keyword that is nothing once normalized; it would find nothing
                (accentless if rule.accent_insensitive else exact).setdefault(key, set()).add(rule.signal)
        self._exact = _Automaton(exact, markers=_MARKERS)  # always: it also finds the markers
        self._accentless = _Automaton(accentless) if accentless else None

    def signals_in(self, text: str | None) -> frozenset[str]:
        if not text:
            return _NO_SIGNALS
        normalized = _normalized(text, looked_for=False)
        found, marked = self._exact.scan(normalized)
        if marked:  # it holds a looked-for character after all: the full normalization, then
            normalized = normalize(text)
            found = self._exact.scan(normalized)[0]
        if self._accentless:
            found |= self._accentless.scan(without_accents(normalized))[0]
        return found
