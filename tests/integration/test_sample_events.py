"""Every events/*.json sample (the ones `sam local invoke -e` takes) runs through its handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model, EventBridgeModel, SqsModel

from handler_support import settings
from local.sample_events import EVENTS_DIR, render, sample_events
from local.scenario import DEMO_PHONE_NUMBER_ID
from local.stack import scheduled_event
from tests.integration.conftest import TEMPLATE, IntegrationStack
from tests.integration.test_ad_cards import linked
from tests.integration.test_connections import connect

EVENTS = EVENTS_DIR
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


def test_events_folder_is_what_the_generator_writes() -> None:
    expected = sample_events()
    assert {path.stem for path in EVENTS.glob("*.json")} == set(expected), "run: .venv/bin/python -m local samples"
    for name, event in expected.items():
        assert (EVENTS / f"{name}.json").read_text() == render(event), f"events/{name}.json is stale: python -m local samples"


WEBHOOK_SAMPLES_ACCEPTED = {
    "webhook_whatsapp_delivery": 1,
    "webhook_whatsapp_meta_ad_referral": 1,
    "webhook_whatsapp_status": 0,
    "webhook_messenger_ad_message": 1,
    "webhook_messenger_echo": 1,
    "webhook_messenger_referral_only": 1,
    "webhook_instagram_message": 1,
    "webhook_instagram_read": 1,
    "webhook_tiktok_message": 1,
    "webhook_tiktok_ad_referral": 1,
    "webhook_tiktok_short_link_referral": 1,
    "webhook_tiktok_eu_stripped": 1,
    "webhook_tiktok_send_echo": 1,
    "webhook_tiktok_mark_read": 1,
    "webhook_whatsapp_reaction": 1,
    "webhook_whatsapp_edit": 1,
    "webhook_messenger_unsend": 1,
    "webhook_tiktok_reaction": 1,
    "webhook_tiktok_ping": 0,
    "webhook_tiktok_authorization_removed": 1,
}


def test_every_webhook_sample_is_covered() -> None:
    assert {p.stem for p in EVENTS.glob("webhook_*.json")} - {"webhook_whatsapp_handshake"} == set(WEBHOOK_SAMPLES_ACCEPTED)


@pytest.mark.parametrize(("name", "accepted"), sorted(WEBHOOK_SAMPLES_ACCEPTED.items()))
def test_webhook_sample_is_verified_and_enqueued(
    aws_stack: IntegrationStack, monkeypatch: pytest.MonkeyPatch, name: str, accepted: int
) -> None:
    monkeypatch.setenv("TIKTOK_SIGNATURE_TOLERANCE_SECONDS", str(10**10))  # TikTok samples are signed in 2025
    settings.settings.cache_clear()
    response = aws_stack.runtime.invoke("WebhookFunction", load(name))
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"accepted": accepted, "parked": 0})
    assert len(aws_stack.drain("InboundQueue")) == accepted


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
    link = invoke("AdminFunction", load("admin_post_connect_link"))
    assert (link["statusCode"], json.loads(link["body"])["url"].split("?")[0]) == (
        201,
        "https://abc123.execute-api.us-east-1.amazonaws.com/oauth/tiktok/advertiser/start",
    )
    assert invoke("OAuthFunction", load("oauth_advertiser_start"))["statusCode"] == 302  # signed, valid until 2100
    assert invoke("OAuthFunction", load("oauth_business_start"))["statusCode"] == 302
    assert invoke("OAuthFunction", load("oauth_callback_denied"))["statusCode"] == 400  # no such state here
    assert invoke("AdminFunction", load("admin_put_link"))["statusCode"] == 404  # the ad account is not connected yet
    assert invoke("AdminFunction", load("admin_put_advertiser_workspace"))["statusCode"] == 404  # nor here
    assert json.loads(invoke("AdminFunction", load("admin_list_advertisers"))["body"]) == {"advertisers": []}
    assert json.loads(invoke("AdminFunction", load("admin_list_conversations"))["body"]) == {"conversations": []}
    assert invoke("AdminFunction", load("admin_get_business"))["statusCode"] == 404  # not connected here
    assert invoke("TokenRefreshFunction", load("token_refresh_schedule"))["due"] == 0
    assert invoke("ReportRollupFunction", load("report_rollup_daily"))["granularity"] == "daily"
    assert invoke("ReportRollupFunction", load("report_rollup_hourly"))["granularity"] == "hourly"
    # Not connected here: each request is done (NEEDS_REAUTH, nothing to roll up with), none is retried.
    assert invoke("ReportRollupFunction", load("report_rollup_batch")) == {"batchItemFailures": []}
    assert invoke("AdminFunction", load("admin_get_report"))["statusCode"] == 400  # unknown advertiser


def test_report_samples_with_a_connected_ad_account(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    invoke = aws_stack.runtime.invoke
    assert invoke("ReportRollupFunction", load("report_rollup_batch")) == {"batchItemFailures": []}
    report = json.loads(invoke("AdminFunction", load("admin_get_report"))["body"])
    assert (report["currency"], report["totals"]["spend"] != "0") == ("EUR", True)
    csv_answer = invoke("AdminFunction", load("admin_get_report_csv"))
    assert csv_answer["body"].startswith("day,currency,spend,impressions,clicks")
    assert len(csv_answer["body"].splitlines()) == 1 + 7
    assert "<svg" in invoke("AdminFunction", load("admin_view_report"))["body"]


def test_signal_samples_with_a_connected_ad_account(aws_stack: IntegrationStack) -> None:
    """The keyword and outcome samples do what the README says once the sample number is linked."""
    linked(aws_stack, ("whatsapp", DEMO_PHONE_NUMBER_ID, None))
    invoke = aws_stack.runtime.invoke
    saved = invoke("AdminFunction", load("admin_put_keywords"))
    assert (saved["statusCode"], json.loads(saved["body"])["version"]) == (200, 1)
    listed = json.loads(invoke("AdminFunction", load("admin_get_keywords"))["body"])
    assert [k["keyword"] for k in listed["keywords"]] == ["how much", "付款", "precio"]
    assert invoke("AttributionFunction", load("attribution_inbound_batch")) == {"batchItemFailures": []}
    aws_stack.drain("SignalQueue")  # what attribution emitted: keyword_signal_batch stands in for it
    outcome = invoke("AdminFunction", load("admin_post_outcome"))
    assert (outcome["statusCode"], json.loads(outcome["body"])["status"]) == (202, "queued")
    aws_stack.drain("SignalQueue")
    assert invoke("KeywordSignalFunction", load("keyword_signal_batch")) == {"batchItemFailures": []}
    conversation = json.loads(invoke("AdminFunction", load("admin_get_conversation"))["body"])
    # The second message asks "How much is delivery?"; the first matches nothing; the outcome goes once.
    assert {s["signal"]: s["status"] for s in conversation["signals"]} == {"price": "sent", "outcome:order-1001": "sent"}


def trigger_of(path: Path) -> str:
    """The event source type template.yaml gives the sample's function for this kind of event."""
    body = load(path.stem)
    if "Records" in body:
        return "SQS"
    if "requestContext" in body:
        return "HttpApi"
    return "ScheduleV2"


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_is_what_aws_delivers_for_its_trigger(path: Path) -> None:
    """Checked against powertools' own models of the events AWS sends (the shapes, not only what our code reads)."""
    body, function = load(path.stem), function_of(path)
    trigger = trigger_of(path)
    events = TEMPLATE.resources[function]["Properties"]["Events"].values()
    assert trigger in {event["Type"] for event in events}, f"{function} has no {trigger} event"
    if trigger == "SQS":
        SqsModel.model_validate(body)
    elif trigger == "HttpApi":
        APIGatewayProxyEventV2Model.model_validate(body)
    else:
        # The Input itself, with the run's time where Scheduler's context attribute stands.
        inputs = [
            scheduled_event(s.input, s.name, at=body.get("time"))
            for s in TEMPLATE.schedules()
            if s.function == function and s.input is not None
        ]
        if inputs:  # a schedule with Input delivers the Input itself, nothing around it
            assert body in inputs
        else:  # Scheduler without Input delivers {} (no test sample needs it)
            EventBridgeModel.model_validate(body)
