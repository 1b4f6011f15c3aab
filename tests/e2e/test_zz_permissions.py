"""IAM, which moto does not enforce: every call the end-to-end tests made against each function's policies.

Runs last among the end-to-end tests (pytest takes files in name order), when the session's
stack has recorded every call the other tests made through it.
"""

from __future__ import annotations

import pytest

from local.permissions import Grant, denied, requested, unused
from local.stack import RUN_DIR
from local.template import Template
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

SHARED_SECRET_CACHE = (
    "the local stack runs every handler in one process, so the secret WebhookFunction fetched first is served "
    "from the shared cache; in AWS each function fetches its own"
)
# Grants no end-to-end test exercises, each with why it stays.
UNEXERCISED: dict[Grant, str] = {
    Grant("OAuthFunction", "secretsmanager:GetSecretValue", "TikTokAppSecret"): SHARED_SECRET_CACHE,
    Grant("TokenRefreshFunction", "secretsmanager:GetSecretValue", "TikTokAppSecret"): SHARED_SECRET_CACHE,
    Grant("AdminFunction", "secretsmanager:GetSecretValue", "TikTokAppSecret"): SHARED_SECRET_CACHE,
    Grant("AttributionFunction", "dynamodb:UpdateItem", "AccountLinksTable"): (
        "NEEDS_REAUTH when completing a card meets a revoked token, DISCONNECTED on authorization.removed "
        "(tests/integration/test_ad_cards.py, test_payloads_from_the_wild.py)"
    ),
    Grant("ReportRollupFunction", "dynamodb:DeleteItem", "ReportsTable"): (
        "an item without leads goes when TikTok takes its numbers back (tests/integration/test_report_rollup.py)"
    ),
    Grant("AdminFunction", "dynamodb:DeleteItem", "AccountLinksTable"): (
        "DELETE /admin/advertisers/{id}/links/... (tests/integration/test_connections.py)"
    ),
    Grant("AdminFunction", "dynamodb:UpdateItem", "ConversationsTable"): "an operator's outcome (make demo posts one)",
    Grant("AdminFunction", "sqs:SendMessage", "SignalQueue"): "an operator's outcome (make demo posts one)",
    Grant("AdminFunction", "dynamodb:BatchGetItem", "AdLookupsTable"): (
        "names an ad with leads but no TikTok numbers in the range (tests/integration/test_report_rollup.py)"
    ),
}


def test_every_call_is_allowed_by_its_functions_policies(stack: RunningStack) -> None:
    status = stack.status()
    refused = denied(status["aws_touched"], status["resource_attributes"], Template())
    assert not refused, "\n".join(refused)


def test_every_grant_is_used_or_says_why_not(stack: RunningStack) -> None:
    status = stack.status()
    used = requested(status["aws_touched"], status["resource_attributes"])
    (RUN_DIR / "iam-used.txt").write_text("".join(f"{g.function} {g.action} {g.resource}\n" for g in sorted(used, key=str)))
    idle = unused(status["aws_touched"], status["resource_attributes"], Template()) - UNEXERCISED.keys()
    assert not idle, "granted but never used:\n" + "\n".join(sorted(f"{g.function}: {g.action} on {g.resource}" for g in idle))
