"""Hypothesis profiles for the webhook fuzz (test_webhook_fuzz.py): short by default, 10,000 cases when CI=true.

Only the fuzz runs under them; the other property tests keep their own counts.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "webhook-fuzz",
    max_examples=150,  # per dialect: a quick local run
    deadline=None,  # a case with a multi-megabyte body takes longer than the rest, by design
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile(
    "webhook-fuzz-ci",
    settings.get_profile("webhook-fuzz"),
    max_examples=2_500,  # per dialect, four dialects: 10,000 signed and unsigned deliveries a run
    print_blob=True,  # a failure in CI prints what reproduces it locally (@reproduce_failure)
)
WEBHOOK_FUZZ = settings.get_profile("webhook-fuzz-ci" if os.environ.get("CI") == "true" else "webhook-fuzz")
