"""Every events/*.json sample (the ones `sam local invoke -e` takes) runs through its handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.template import ROOT
from tests.integration.conftest import TEMPLATE, IntegrationStack

EVENTS = ROOT / "events"
FUNCTION_OF_PREFIX = {
    "webhook": "WebhookFunction",
    "oauth": "OAuthFunction",
    "attribution": "AttributionFunction",
    "keyword_signal": "KeywordSignalFunction",
    "token_refresh": "TokenRefreshFunction",
    "report_rollup": "ReportRollupFunction",
    "admin": "AdminFunction",
}


def function_of(path: Path) -> str:
    return next(function for prefix, function in FUNCTION_OF_PREFIX.items() if path.stem.startswith(prefix))


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def test_every_function_has_a_sample_and_every_sample_a_function() -> None:
    samples = {function_of(path) for path in EVENTS.glob("*.json")}
    assert samples == {spec.logical_id for spec in TEMPLATE.functions()}


def test_samples_run_in_order_of_the_flow(aws_stack: IntegrationStack) -> None:
    invoke = aws_stack.runtime.invoke
    delivery = invoke("WebhookFunction", load("webhook_whatsapp_delivery"))
    assert (delivery["statusCode"], json.loads(delivery["body"])) == (200, {"accepted": 1, "parked": 0})
    assert invoke("WebhookFunction", load("webhook_whatsapp_handshake"))["body"] == "1158201444"
    assert invoke("AttributionFunction", load("attribution_inbound_batch")) == {"batchItemFailures": []}
    conversation = invoke("AdminFunction", load("admin_get_conversation"))
    assert conversation["statusCode"] == 200
    assert json.loads(conversation["body"])["customer_message_count"] == 2
    assert invoke("KeywordSignalFunction", load("keyword_signal_batch")) == {"batchItemFailures": []}
    assert invoke("OAuthFunction", load("oauth_advertiser_start"))["statusCode"] == 501
    assert invoke("TokenRefreshFunction", load("token_refresh_schedule"))["refreshed"] == 0
    assert invoke("ReportRollupFunction", load("report_rollup_daily"))["granularity"] == "daily"
    assert invoke("ReportRollupFunction", load("report_rollup_hourly"))["granularity"] == "hourly"
