"""The TikTok tracking ID in the first WhatsApp / Messenger / Instagram message of an Instant Messaging ad.

The one public description of where it sits (reference/tiktok.md section 5c, DESIGN.md
section 4): the prefilled first message reads "TikTok ID: <id>. Hello! I came across your
ad on TikTok ...". Its exact token format is not public; the form this project documents
and tests is TikTok's own id form, a run of decimal digits (ad, advertiser and message
ids are all such runs), like "TikTok ID: 7412345678901234567.".

The default rule asks for that whole shape: "TikTok ID", a colon, then 6 to 64 digits that
end there (no letter, digit or underscore follows). An ordinary word is never an ID, and
"TikTok" and "ID" without the colon and the digits are a sentence, not a marker: "How do I
change my TikTok ID settings?" and "TikTok identity" stay organic. Case, spacing, "Tik Tok",
full-width forms and invisible characters are tolerated: the text is normalized first (NFKC
folds full-width forms; zero-width and bidirectional marks are dropped).

Only the first SCAN_LIMIT characters are read. The prefilled text opens the message, so an
unedited message carries its ID within its first 30 or so characters; the limit leaves
room for a long greeting typed before it, and it makes the time spent on a message the
same whatever the message's length. An ID cut by the limit is not read as a shorter ID:
a match that reaches the end of a cut text is not trusted.

A message without the ID is organic: the user deleted it, or never came from an ad.

Patterns can be configured (the TrackingIdPatterns parameter). Python's `re` backtracks, so
a pattern like `([a-z]+)+:` or `[ ]*[ ]*:` can take seconds or hours on a hostile message even
within the limit, and no timeout can stop a match once started. A configured pattern is
therefore checked when it is loaded, from the stdlib's own parse of it, and refused unless
the ways it can try to match from one position are few: a repeat may only repeat something
that matches in one way (no nested quantifiers, no alternation inside a repeat), there are
no back-references, and the repeats' widths (an unbounded one counts as the whole scanned
text) multiplied together stay within MAX_PATHS. A possessive repeat (`*+`, `{1,9}+`) never
gives back what it took and counts as one. Every pattern then runs on the scanned part only.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Characters of a message that are read for its tracking ID (see the module's docstring).
SCAN_LIMIT = 1_000
# Ways a pattern may try to match from one position: one unbounded repeat over the scanned
# text (1,001 lengths) and a choice of two, or bounded repeats whose widths multiply to this.
# At most SCAN_LIMIT * MAX_PATHS tries per message: about 50 ms of CPU time in the worst case
# measured (python -m bench tracking).
MAX_PATHS = 2 * SCAN_LIMIT

# Zero-width spaces/joiners, word joiner, BOM, soft hyphen and bidirectional marks.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

DEFAULT_PATTERNS = (
    # "TikTok ID: 7412345678901234567." in any case, "Tik Tok", up to three spaces around "ID"
    # and the colon; no letter or digit just before "tik" (checked after it: a pattern that
    # opens with a letter lets `re` skip ahead to that letter, three times faster measured on
    # long texts). Repeats are bounded and possessive (`{0,3}+`): nothing is tried twice, so a
    # scan takes time in proportion to the text, never more.
    r"tik(?<![0-9a-z]tik)\s?+tok\s{0,3}+id\s{0,3}+:\s{0,3}+(?P<id>[0-9]{6,64}+)(?![0-9a-z_])",
)


@dataclass(frozen=True)
class TrackingIdExtractor:
    patterns: Sequence[str] = DEFAULT_PATTERNS
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)
        for pattern in compiled:
            if "id" not in pattern.groupindex:
                raise ValueError(f"tracking ID pattern {pattern.pattern!r} needs a named group (?P<id>...)")
            paths = backtracking_paths(pattern.pattern)
            if paths > MAX_PATHS:
                raise NotLinear(
                    f"tracking ID pattern {pattern.pattern!r} may try {paths:,} or more ways to match from one position"
                    f" (at most {MAX_PATHS:,}): bound its repeats ({{0,9}} rather than *), make them possessive (*+),"
                    " or use fewer of them"
                )
        object.__setattr__(self, "_compiled", compiled)

    def extract(self, text: str | None) -> str | None:
        if not text:
            return None
        normalized = normalize(text[:SCAN_LIMIT])
        cut = len(text) > SCAN_LIMIT or len(normalized) > SCAN_LIMIT  # NFKC can lengthen a text
        normalized = normalized[:SCAN_LIMIT]
        for pattern in self._compiled:
            found = pattern.search(normalized)
            if found and not (cut and found.end() == len(normalized)):  # what follows a cut is unknown
                return str(found.group("id")).rstrip("-_")
        return None


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


class NotLinear(ValueError):
    """A pattern whose matching time this module cannot bound."""


# The stdlib's regular-expression parser (sre_parse before Python 3.11): the tree re.compile builds from.
_parser: Any = importlib.import_module("re._parser")


def backtracking_paths(pattern: str) -> int:
    """How many ways, at most, the pattern can try to match from one position of a scanned text.

    Counted over the parse tree: a sequence multiplies its parts, an alternation adds its
    branches, a repeat counts its width (the number of lengths it can take, at most
    SCAN_LIMIT + 1), and a possessive one counts 1. Above MAX_PATHS the count stops growing.
    Raises NotLinear for what cannot be bounded this way (nested repeats, back-references).
    """
    return _paths(_parser.parse(pattern, re.IGNORECASE), pattern)


def _paths(sequence: Any, pattern: str) -> int:
    total = 1
    for op, argument in sequence:
        total = min(total * _item_paths(op.name, argument, pattern), MAX_PATHS + 1)
    return total


def _item_paths(name: str, argument: Any, pattern: str) -> int:
    if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "AT", "CATEGORY"):
        return 1
    if name == "SUBPATTERN":
        return _paths(argument[3], pattern)
    if name in ("ASSERT", "ASSERT_NOT"):
        return _paths(argument[1], pattern)
    if name == "ATOMIC_GROUP":
        return _paths(argument, pattern)
    if name == "BRANCH":
        return min(sum(_paths(branch, pattern) for branch in argument[1]), MAX_PATHS + 1)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, body = int(argument[0]), int(argument[1]), argument[2]
        inner = _paths(body, pattern)
        if high <= 1:  # an optional part, not a loop
            return inner + 1 - low if name != "POSSESSIVE_REPEAT" else inner
        if inner != 1:
            raise NotLinear(
                f"tracking ID pattern {pattern!r} repeats a part that can match in several ways"
                " (a nested quantifier or an alternation inside a repeat): its matching time cannot be bounded"
            )
        if name == "POSSESSIVE_REPEAT":
            return 1
        return max(1, min(high, SCAN_LIMIT) - low + 1)
    if name in ("GROUPREF", "GROUPREF_EXISTS"):
        raise NotLinear(f"tracking ID pattern {pattern!r} uses a back-reference: its matching time cannot be bounded")
    raise NotLinear(f"tracking ID pattern {pattern!r} uses {name}, which this check does not know")
