"""The keyword benchmark's corpus is what the README says it is, and the benchmark runs (on a small corpus)."""

from __future__ import annotations

import io
import unicodedata

from bench.keywords import SCRIPTS, bench_keywords, cases, corpus
from messaging_partner.domain.keywords import KeywordMatcher


def script_of(keyword: str) -> str:
    name = unicodedata.name(keyword[0])
    return next(s for s in ("CJK", "THAI", "CYRILLIC", "ARABIC", "LATIN") if name.startswith(s))


def test_a_thousand_distinct_keywords_in_six_scripts() -> None:
    rules, texts = corpus(messages=2000)
    assert len({rule.keyword for rule in rules}) == 1000
    assert len(SCRIPTS) == 6
    # Vietnamese is written in Latin letters: five Unicode scripts, Vietnamese ones carry its tone marks.
    assert {script_of(rule.keyword) for rule in rules} == {"CJK", "THAI", "CYRILLIC", "ARABIC", "LATIN"}
    assert len(texts) == 2000
    matcher = KeywordMatcher(rules)
    fired = sum(1 for text in texts if matcher.signals_in(text))
    assert 0.15 < fired / len(texts) < 0.4  # about a third carry a keyword, some of them inside a longer word


def test_the_benchmark_prints_every_matcher_and_the_ratio() -> None:
    report = io.StringIO()
    bench_keywords(report, messages=300, rounds=1)
    printed = report.getvalue()
    for name in ("ours (KeywordMatcher)", "flashtext", "pyahocorasick", "re alternation", "regex module"):
        assert name in printed
    every = len(cases()[1])
    assert f"{every}/{every}" in printed.split("ours (KeywordMatcher)")[1].splitlines()[0]
    assert "ours / fastest peer:" in printed
