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
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

# Characters of a message that are read for its tracking ID (see the module's docstring).
SCAN_LIMIT = 1_000

# Zero-width spaces/joiners, word joiner, BOM, soft hyphen and bidirectional marks.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

DEFAULT_PATTERNS = (
    # "TikTok ID: 7412345678901234567." in any case, "Tik Tok", up to three spaces around "ID"
    # and the colon. Repeats are bounded and possessive (`{0,3}+`): nothing is tried twice,
    # so a scan takes time in proportion to the text, never more.
    r"(?<![0-9a-z])tik\s?+tok\s{0,3}+id\s{0,3}+:\s{0,3}+(?P<id>[0-9]{6,64}+)(?![0-9a-z_])",
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
