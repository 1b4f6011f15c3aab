"""Tracking-ID scan time against message size, on first messages built to be slow.

Each input comes at 1 KB, 64 KB and 1 MB (ASCII, so characters are bytes). What is timed:

- the extractor as AttributionFunction runs it (cut to SCAN_LIMIT characters, normalized,
  the default pattern): the time per message must not grow with the message, so the ratio
  of times 1 MB / 1 KB is held to about 1;
- the default pattern alone, finding every match in the whole text without the cut: the time
  per byte must not grow either (the pattern is linear), so the ratio of per-byte times
  1 MB / 1 KB is held to about 1;
- the rule this replaced, on "tiktok id" and spaces, at 1, 2 and 4 KB only: its per-byte time
  grows with the size (48 s for 60,000 spaces), shown so that the ratios above have
  something to be compared with;
- the costliest pattern the configuration check accepts, on its worst input: what a
  configured pattern can cost at most per message.

Figures are medians of repeated runs, in CPU time (time.process_time): on a shared machine
the other work's share of the cores would otherwise swamp the ratios.
"""

from __future__ import annotations

import gc
import re
import statistics
import time
from collections.abc import Callable
from typing import TextIO

from messaging_partner.domain.tracking import (
    DEFAULT_PATTERNS,
    MAX_PATHS,
    SCAN_LIMIT,
    TrackingIdExtractor,
    backtracking_paths,
    normalize,
)

ID = "7412345678901234567"
PREFILLED = f"TikTok ID: {ID}. Hello! I came across your ad on TikTok and would like to find out more. "
SIZES = (1 << 10, 1 << 16, 1 << 20)
# The default before this change: two unbounded repeats of spaces side by side, any word as an ID.
RULE_BEFORE = r"\btik\s*tok\s*id\s*[:=#\-]?\s*(?P<id>[A-Za-z0-9_\-]{6,64})"
# The costliest kind of configured pattern the check lets through: 44 x 45 = 1,980 ways per position.
WORST_ACCEPTED = r"(?P<id>[a-z]{0,43}[a-z]{0,44})!"


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# (label, builder of a message of a given size, the ID it must yield)
INPUTS: tuple[tuple[str, Callable[[int], str], str | None], ...] = (
    ('"tiktok id" + spaces', lambda size: "tiktok id" + " " * (size - 9), None),
    ('"TikTok ID:" repeated', lambda size: _repeat("TikTok ID:", size), None),
    ("IDs one digit too long", lambda size: _repeat("TikTok ID: " + "7" * 65 + " ", size), None),
    ("digits run into a letter", lambda size: _repeat("tik tok  id :  " + "1" * 63 + "x ", size), None),
    ("the prefilled message + text", lambda size: (PREFILLED + _repeat("Tudo bem? ", size))[:size], ID),
)


def seconds_per_call(works: list[Callable[[], object]], rounds: int, floor_seconds: float = 0.05) -> list[float]:
    """Median CPU time per call of each work; a round runs every work in turn (a slow spell hits them all alike),
    each repeated for at least floor_seconds."""
    repeats = []
    for work in works:
        work()
        started = time.process_time()
        work()
        repeats.append(max(1, int(floor_seconds / max(time.process_time() - started, 1e-7))))
    samples: list[list[float]] = [[] for _ in works]
    for _ in range(rounds):
        for work, times, sample in zip(works, repeats, samples, strict=True):
            gc.collect()
            started = time.process_time()
            for _ in range(times):
                work()
            sample.append((time.process_time() - started) / times)
    return [statistics.median(sample) for sample in samples]


def bench_tracking(
    report: TextIO,
    sizes: tuple[int, ...] = SIZES,
    rounds: int = 5,
    before_sizes: tuple[int, ...] = (1 << 10, 1 << 11, 1 << 12),
    floor_seconds: float = 0.05,
) -> None:
    extract = TrackingIdExtractor().extract
    pattern = re.compile(DEFAULT_PATTERNS[0], re.IGNORECASE)
    small, large = sizes[0], sizes[-1]
    heading = "".join(f"{_size(size):>12}" for size in sizes)
    print(f"\nTracking-ID scan of messages built to be slow (median of {rounds} rounds)", file=report)
    print(f"  The extractor as attribution runs it (first {SCAN_LIMIT:,} characters), CPU us per message", file=report)
    print(f"  {'input':<32}{heading}{f'{_size(large)} / {_size(small)}':>14}", file=report)
    texts = {label: {size: build(size) for size in sizes} for label, build, _ in INPUTS}
    for label, _, expected in INPUTS:
        for size in sizes:
            found = extract(texts[label][size])
            assert found == expected, (label, size, found)
        times = seconds_per_call([lambda text=texts[label][size]: extract(text) for size in sizes], rounds, floor_seconds)
        cells = "".join(f"{seconds * 1e6:>12.1f}" for seconds in times)
        print(f"  {label:<32}{cells}{times[-1] / times[0]:>13.2f}x", file=report)
    print("  goal: about 1x, the time does not grow with the message", file=report)

    print("  The default pattern alone, every match in the whole text (no limit), CPU ns per byte", file=report)
    print(f"  {'input':<32}{heading}{f'{_size(large)} / {_size(small)}':>14}", file=report)
    for label, _, _ in INPUTS:
        normalized = {size: normalize(texts[label][size]) for size in sizes}
        works = [lambda text=normalized[size]: pattern.findall(text) for size in sizes]
        per_byte = [seconds / size for seconds, size in zip(seconds_per_call(works, rounds, floor_seconds), sizes, strict=True)]
        cells = "".join(f"{seconds * 1e9:>12.2f}" for seconds in per_byte)
        print(f"  {label:<32}{cells}{per_byte[-1] / per_byte[0]:>13.2f}x", file=report)
    print("  goal: about 1x, the pattern is linear (a quadratic one multiplies by the size ratio)", file=report)

    before = re.compile(RULE_BEFORE, re.IGNORECASE).search
    works = [lambda text="tiktok id" + " " * (size - 9): before(text) for size in before_sizes]
    per_byte = [seconds / size for seconds, size in zip(seconds_per_call(works, 3, 0), before_sizes, strict=True)]
    cells = ", ".join(f"{_size(size)} {seconds * 1e9:,.0f}" for size, seconds in zip(before_sizes, per_byte, strict=True))
    print(
        f'  The rule this replaced, "tiktok id" + spaces, CPU ns per byte: {cells};'
        f" {_size(before_sizes[-1])} / {_size(before_sizes[0])} {per_byte[-1] / per_byte[0]:.1f}x (superlinear)",
        file=report,
    )

    worst = TrackingIdExtractor(patterns=(WORST_ACCEPTED,)).extract
    hostile = "a" * large
    assert worst(hostile) is None
    (seconds,) = seconds_per_call([lambda: worst(hostile)], rounds, 0)
    print(
        f"  The costliest configured pattern accepted, {WORST_ACCEPTED} ({backtracking_paths(WORST_ACCEPTED):,} of"
        f" {MAX_PATHS:,} ways per position), on {_size(large)} of 'a': {seconds * 1e3:.1f} CPU ms per message",
        file=report,
    )


def _size(size: int) -> str:
    return f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
