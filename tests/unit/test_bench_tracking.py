"""The tracking-ID benchmark runs and prints its ratios (on small inputs; no time is asserted here)."""

from __future__ import annotations

import io

from bench.tracking import INPUTS, bench_tracking


def test_the_benchmark_prints_every_input_and_the_ratios() -> None:
    report = io.StringIO()
    bench_tracking(report, sizes=(1 << 10, 1 << 12), rounds=1, before_sizes=(1 << 8, 1 << 9), floor_seconds=0.001)
    printed = report.getvalue()
    for label, _, _ in INPUTS:
        assert printed.count(f"  {label:<32}") == 2  # a row with the cut, a row for the pattern alone
    assert printed.count("4 KB / 1 KB") == 2
    assert "goal: about 1x, the time does not grow with the message" in printed
    assert "goal: about 1x, the pattern is linear" in printed
    assert "The rule this replaced" in printed
    assert "The costliest configured pattern accepted" in printed


def test_the_inputs_are_the_sizes_asked_for_and_yield_what_they_should() -> None:
    for _, build, _ in INPUTS:
        assert {len(build(size)) for size in (1 << 10, 1 << 16)} == {1 << 10, 1 << 16}
