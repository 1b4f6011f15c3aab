"""The TikTok tracking ID in the first WhatsApp / Messenger / Instagram message of an Instant Messaging ad.

The one public description of where it sits (reference/tiktok.md section 5c, DESIGN.md
section 4): the prefilled first message reads "TikTok ID: <id>. Hello! I came across your
ad on TikTok ...". Users can edit that text, and phones insert invisible or full-width
characters, so the text is normalized (NFKC folds full-width forms; zero-width and
bidirectional marks are dropped) before a configurable list of patterns is tried.
A message without the ID is organic: the user deleted it, or never came from an ad.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

# Zero-width spaces/joiners, word joiner, BOM, soft hyphen and bidirectional marks.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

DEFAULT_PATTERNS = (
    # "TikTok ID: 7412345678901234567." with any case, spacing and separator (:, -, =, #, or none)
    r"\btik\s*tok\s*id\s*[:=#\-]?\s*(?P<id>[A-Za-z0-9_\-]{6,64})",
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
        object.__setattr__(self, "_compiled", compiled)

    def extract(self, text: str | None) -> str | None:
        if not text:
            return None
        normalized = normalize(text)
        for pattern in self._compiled:
            found = pattern.search(normalized)
            if found:
                return str(found.group("id")).rstrip("-_")
        return None


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
