"""The keyword matcher against flashtext, pyahocorasick, one `re` alternation and the `regex` module.

Every matcher gets the same 1,000 keywords in six scripts (Latin with accents, Vietnamese,
Cyrillic, Arabic, Han, Thai) and the same 50,000 generated customer messages, and answers
what the signal worker asks: which signals does this message fire. Each peer is set up as
its documentation suggests for case-insensitive whole-word search; none normalizes text, so
their speed is the floor ours is held to. Correctness is scored on the case file the unit
tests use (tests/data/keyword_cases.json).
"""

from __future__ import annotations

import gc
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import ahocorasick
import ahocorasick_rs
import flashtext
import regex

from messaging_partner.domain.keywords import KeywordMatcher
from messaging_partner.domain.models import KeywordRule

CASE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "keyword_cases.json"

Find = Callable[[str], Iterable[str]]

# Letters each generated script draws from; spaced scripts make words, the others runs of characters.
LATIN = "abcdefghijklmnopqrstuvwxyzáàâãçéèêíïñóôõúü"
VIETNAMESE_VOWELS = "aăâeêioôơuưyáắấéếíóốớúứýàằầèềìòồờùừỳảẳẩẻểỉỏổởủửỷãẵẫẽễĩõỗỡũữỹạặậẹệịọộợụựỵ"
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыьэюя"
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
HAN = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2500))
THAI = "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะาำิีึืุูเแโใไ่้๊๋"
EMOJI = "👍🙏😊🔥❤️"


def _latin_word(rng: random.Random) -> str:
    return "".join(rng.choice(LATIN[:26] if rng.random() < 0.8 else LATIN) for _ in range(rng.randint(3, 8)))


def _vietnamese_word(rng: random.Random) -> str:
    return rng.choice("bcdghklmnpqrstvx") + rng.choice(VIETNAMESE_VOWELS) + rng.choice(["", "n", "ng", "c", "t", "m"])


def _word(alphabet: str) -> Callable[[random.Random], str]:
    return lambda rng: "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 8)))


SPACED = {"latin": _latin_word, "vietnamese": _vietnamese_word, "cyrillic": _word(CYRILLIC), "arabic": _word(ARABIC)}
UNSPACED = {"han": HAN, "thai": THAI}
SCRIPTS = (*SPACED, *UNSPACED)


def _keyword(script: str, rng: random.Random) -> str:
    if script in SPACED:
        return " ".join(SPACED[script](rng) for _ in range(rng.choice((1, 1, 2))))
    return "".join(rng.choice(UNSPACED[script]) for _ in range(rng.randint(2, 4)))


def _filler(script: str, rng: random.Random) -> str:
    if script in SPACED:
        words = [SPACED[script](rng) for _ in range(rng.randint(3, 14))]
        return " ".join(w.capitalize() if rng.random() < 0.1 else w for w in words)
    return "".join(rng.choice(UNSPACED[script]) for _ in range(rng.randint(8, 40)))


def _disguised(keyword: str, script: str, rng: random.Random) -> str:
    """The keyword as customers type it: another case, extra or other whitespace, invisible characters."""
    roll = rng.random()
    if script in SPACED and roll < 0.25:
        return keyword.upper()
    if roll < 0.35:
        return keyword.replace(" ", "  ") if " " in keyword else keyword
    if roll < 0.4:
        cut = rng.randint(1, len(keyword) - 1)
        return keyword[:cut] + "\u200b" + keyword[cut:]
    return keyword


def corpus(keywords: int = 1000, messages: int = 50_000, seed: int = 20261130) -> tuple[list[KeywordRule], list[str]]:
    """Keywords spread evenly over the scripts; a third of the messages carry one, some inside a longer word."""
    rng = random.Random(seed)
    signals = [f"signal_{n}" for n in range(40)]
    by_script: dict[str, list[str]] = {}
    for n, script in enumerate(SCRIPTS):
        quota = keywords // len(SCRIPTS) + (n < keywords % len(SCRIPTS))
        distinct: dict[str, None] = {}
        while len(distinct) < quota:
            distinct[_keyword(script, rng)] = None
        by_script[script] = list(distinct)
    rules = [KeywordRule(keyword=k, signal=rng.choice(signals)) for words in by_script.values() for k in words]
    texts = []
    for _ in range(messages):
        script = rng.choice(SCRIPTS)
        text = _filler(script, rng)
        roll = rng.random()
        if roll < 0.33:
            keyword = _disguised(rng.choice(by_script[script]), script, rng)
            glue = " " if script in SPACED else ""
            if script in SPACED and roll < 0.08:
                keyword = keyword + SPACED[script](rng)  # inside a longer word: must not fire
            text = glue.join((text, keyword, _filler(script, rng)))
        if rng.random() < 0.1:
            text += rng.choice(EMOJI)
        texts.append(text)
    return rules, texts


def ours(rules: list[KeywordRule]) -> Find:
    return KeywordMatcher(rules).signals_in


def _signals_by_keyword(rules: list[KeywordRule]) -> dict[str, set[str]]:
    by_keyword: dict[str, set[str]] = {}
    for rule in rules:
        by_keyword.setdefault(rule.keyword.casefold(), set()).add(rule.signal)
    return by_keyword


def flashtext_peer(rules: list[KeywordRule]) -> Find:
    processor = flashtext.KeywordProcessor()  # case-insensitive; word characters [A-Za-z0-9_]
    for rule in rules:
        processor.add_keyword(rule.keyword, rule.signal)
    return processor.extract_keywords


def pyahocorasick_peer(rules: list[KeywordRule]) -> Find:
    automaton = ahocorasick.Automaton()
    for keyword, signals in _signals_by_keyword(rules).items():
        automaton.add_word(keyword, tuple(signals))
    automaton.make_automaton()

    def find(text: str) -> set[str]:
        return {signal for _, signals in automaton.iter(text.casefold()) for signal in signals}

    return find


def _alternation(rules: list[KeywordRule]) -> str:
    # Longest first, so that a keyword is not cut short by one of its prefixes.
    return "|".join(sorted((re.escape(keyword) for keyword in _signals_by_keyword(rules)), key=len, reverse=True))


def re_peer(rules: list[KeywordRule]) -> Find:
    by_keyword = _signals_by_keyword(rules)
    pattern = re.compile(rf"(?<!\w)(?:{_alternation(rules)})(?!\w)", re.IGNORECASE)

    def find(text: str) -> set[str]:
        return {signal for match in pattern.findall(text) for signal in by_keyword.get(match.casefold(), ())}

    return find


def regex_peer(rules: list[KeywordRule]) -> Find:
    by_keyword = _signals_by_keyword(rules)
    # Full case folding, Unicode default word boundaries, overlapping matches: the most the module offers.
    pattern = regex.compile(rf"\b(?:{_alternation(rules)})\b", regex.IGNORECASE | regex.FULLCASE | regex.WORD | regex.V1)

    def find(text: str) -> set[str]:
        matches = pattern.findall(text, overlapped=True)
        return {signal for match in matches for signal in by_keyword.get(match.casefold(), ())}

    return find


def engine_alone(rules: list[KeywordRule]) -> Find:
    """Our Aho-Corasick engine on raw text, no normalization or word boundaries: what the rest costs."""
    by_keyword = _signals_by_keyword(rules)
    signals = list(by_keyword.values())
    search = ahocorasick_rs.AhoCorasick(list(by_keyword)).find_matches_as_indexes

    def find(text: str) -> set[str]:
        return {signal for index, _, _ in search(text.casefold(), True) for signal in signals[index]}

    return find


MATCHERS: tuple[tuple[str, Callable[[list[KeywordRule]], Find]], ...] = (
    ("ours (KeywordMatcher)", ours),
    ("flashtext", flashtext_peer),
    ("pyahocorasick", pyahocorasick_peer),
    ("re alternation", re_peer),
    ("regex module", regex_peer),
)


def cases() -> tuple[list[KeywordRule], list[dict[str, Any]]]:
    data = json.loads(CASE_FILE.read_text(encoding="utf-8"))
    return [KeywordRule(**rule) for rule in data["rules"]], data["cases"]


def seconds_per_pass(find: Find, texts: list[str]) -> float:
    gc.collect()  # a collection owed to earlier garbage is not this matcher's cost
    started = time.perf_counter()
    for text in texts:
        find(text)
    return time.perf_counter() - started


def bench_keywords(report: TextIO, messages: int = 50_000, rounds: int = 3) -> None:
    rules, texts = corpus(messages=messages)
    case_rules, case_list = cases()
    print(
        f"\nKeyword matching: {len(rules)} keywords in {len(SCRIPTS)} scripts, {len(texts):,} messages"
        f" (median of {rounds} rounds); correct = cases of {CASE_FILE.name} answered right",
        file=report,
    )
    print(f"  {'matcher':<24}{'build ms':>9}{'messages/s':>12}{'ours / it':>11}{'correct':>10}  wrong on", file=report)
    contenders = (*MATCHERS, ("(our engine alone)", engine_alone))
    finders, build_ms = {}, {}
    for name, build in contenders:
        gc.collect()
        started = time.perf_counter()
        finders[name] = build(rules)
        build_ms[name] = (time.perf_counter() - started) * 1e3
    # Rounds go over every matcher in turn, so a slow spell on this shared machine hits them all alike.
    passes: dict[str, list[float]] = {name: [] for name in finders}
    for _ in range(rounds):
        for name, find in finders.items():
            passes[name].append(seconds_per_pass(find, texts))
    speeds = {name: len(texts) / statistics.median(seconds) for name, seconds in passes.items()}
    for name, build in contenders:
        on_cases = build(case_rules)
        wrong = [case for case in case_list if set(on_cases(case["text"])) != set(case["signals"])]
        ratio, right = speeds[MATCHERS[0][0]] / speeds[name], len(case_list) - len(wrong)
        examples = ", ".join(json.dumps(case["text"], ensure_ascii=True) for case in wrong[:3])
        print(
            f"  {name:<24}{build_ms[name]:>9.1f}{speeds[name]:>12,.0f}{ratio:>10.2f}x{right:>5}/{len(case_list):<4}"
            f"  {examples}{' ...' if len(wrong) > 3 else ''}",
            file=report,
        )
    fastest_peer = max(speeds[name] for name, _ in MATCHERS[1:])
    print(
        f"  ours / fastest peer: {speeds[MATCHERS[0][0]] / fastest_peer:.2f}x (goal >= 1.00); the engine alone"
        " (no normalization, substrings) shows what correctness costs",
        file=report,
    )
