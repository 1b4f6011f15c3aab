"""Signals through the handlers: keyword lists over the admin API, KeywordSignalFunction, the emulator's /event/track/."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.scenario import DEMO_PHONE_NUMBER_ID, WhatsAppChange, WhatsAppMessage, signed_meta, whatsapp_body
from tests.integration.conftest import IntegrationStack, RunningEmulator
from tests.integration.test_ad_cards import META_SECRET, TRACKED, attribute, linked
from tests.integration.test_connections import ADVERTISER_1, admin, bus_events, connect

WA = DEMO_PHONE_NUMBER_ID
EVENT_SET = "7200000000000000001"
KEYWORDS = [
    {"keyword": "how much", "signal": "price"},
    {"keyword": "pay", "signal": "payment"},
    {"keyword": "付款", "signal": "payment"},
    {"keyword": "ราคา", "signal": "price"},
    {"keyword": "giá", "signal": "price"},
    {"keyword": "оплата", "signal": "payment"},
    {"keyword": "الدفع", "signal": "payment"},
    {"keyword": "precio", "signal": "price", "accent_insensitive": True},
]


def with_keywords(stack: IntegrationStack) -> None:
    linked(stack, ("whatsapp", WA, "+1 555-078-3881"))
    status, body = admin(stack, "PUT", f"/admin/advertisers/{ADVERTISER_1}/keywords", {"keywords": KEYWORDS})
    assert status == 200, body


def write(stack: IntegrationStack, *messages: WhatsAppMessage) -> None:
    assert stack.deliver(signed_meta("", whatsapp_body(WhatsAppChange(messages)), META_SECRET))["statusCode"] == 200


def signal(stack: IntegrationStack) -> dict[str, Any]:
    """KeywordSignalFunction on what SignalQueue holds (the bus's ConversationAttributed included)."""
    messages = stack.drain("SignalQueue")
    return dict(stack.runtime.invoke("KeywordSignalFunction", stack.sqs_event(messages, "SignalQueue"))) if messages else {}


def track_calls(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [call for call in emulator.state.calls if call["path"] == "/event/track/"]


def accepted_for(emulator: RunningEmulator, event_ids: set[str]) -> list[dict[str, Any]]:
    return [event for (_, event_id, _), event in emulator.state.events.items() if event_id in event_ids]


def signals_of(stack: IntegrationStack, customer: str) -> dict[str, dict[str, Any]]:
    key = f"whatsapp%23{WA}%23{customer}"
    body = json.loads(stack.http("AdminFunction", "GET", f"/admin/conversations/{key}")["body"])
    return {s["signal"]: s for s in body["signals"]}


def test_keyword_lists_are_replaced_whole_and_versioned(aws_stack: IntegrationStack) -> None:
    linked(aws_stack)
    path = f"/admin/advertisers/{ADVERTISER_1}/keywords"
    assert admin(aws_stack, "GET", path) == (
        200,
        {"advertiser_id": ADVERTISER_1, "version": 0, "keywords": [], "updated_at_ms": 0},
    )
    bad = {"keywords": [{"keyword": "pay", "signal": "payment"}, {"keyword": "x", "signal": "Not Valid"}]}
    status, refused = admin(aws_stack, "PUT", path, bad)
    assert (status, refused["problems"]) == (
        400,
        ["keywords[1] ('x'): the signal must match ^[a-z][a-z0-9_]{0,39}$, like payment or price_question."],
    )
    assert admin(aws_stack, "GET", path)[1]["version"] == 0  # nothing half-saved
    assert admin(aws_stack, "PUT", path, {"keywords": KEYWORDS[:2]})[1]["version"] == 1
    status, second = admin(aws_stack, "PUT", path, {"keywords": KEYWORDS})
    assert (status, second["version"], len(second["keywords"])) == (200, 2, len(KEYWORDS))
    assert admin(aws_stack, "PUT", "/admin/advertisers/7999/keywords", {"keywords": KEYWORDS})[0] == 404


@pytest.mark.parametrize(
    ("text", "signals"),
    [
        ("How much is it? I want to pay", {"price", "payment"}),
        ("我想付款", {"payment"}),
        ("ราคาเท่าไหร่", {"price"}),
        ("giá bao nhiêu?", {"price"}),
        ("Оплата картой?", {"payment"}),
        ("أريد الدفع", {"payment"}),
        ("¿Qué PRECIO tiene?", {"price"}),
        ("paypal?", set()),
    ],
    ids=["english", "chinese", "thai", "vietnamese", "russian", "arabic", "spanish", "no whole word"],
)
def test_keywords_in_six_languages_fire_their_signals_once(
    aws_stack: IntegrationStack, emulator: RunningEmulator, text: str, signals: set[str]
) -> None:
    with_keywords(aws_stack)
    customer = f"3519{abs(hash(text)) % 10**8:08d}"
    message = WhatsAppMessage(customer, f"wamid.{customer}", int(time.time()), text)
    write(aws_stack, message)
    attribute(aws_stack)
    before = len(track_calls(emulator))
    assert signal(aws_stack) == {"batchItemFailures": []}
    recorded = signals_of(aws_stack, customer)
    assert set(recorded) == signals
    assert all(r["status"] == "sent" for r in recorded.values())
    assert len(accepted_for(emulator, {r["event_id"] for r in recorded.values()})) == len(signals)
    write(aws_stack, message)  # Meta redelivers: nothing new leaves
    attribute(aws_stack)
    signal(aws_stack)
    assert len(track_calls(emulator)) == before + (1 if signals else 0)


def test_a_tracking_id_conversation_sends_its_conversation_signal(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    with_keywords(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000077", "wamid.T1", int(time.time()), TRACKED))
    attribute(aws_stack)
    signal(aws_stack)
    recorded = signals_of(aws_stack, "351910000077")
    assert recorded["conversation"]["event"] == "Contact"
    [event] = accepted_for(emulator, {recorded["conversation"]["event_id"]})
    assert event["properties"]["tracking_id"] == "7412345678901234567"
    assert event["event_source_id"] == EVENT_SET


def test_outcomes_are_sent_once_per_outcome_id(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    with_keywords(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000078", "wamid.O1", int(time.time()), "hello"))
    attribute(aws_stack)
    path = f"/admin/conversations/whatsapp%23{WA}%23351910000078/outcomes"
    outcome = {"outcome_id": "order-1", "event": "Purchase", "value": 19.9, "currency": "USD"}
    status, first = admin(aws_stack, "POST", path, outcome)
    status_again, again = admin(aws_stack, "POST", path, {**outcome, "value": 99})
    assert (status, status_again, first, again) == (202, 200, first, first)
    assert admin(aws_stack, "POST", path, {"outcome_id": "o2", "event": "Bought"})[0] == 400
    assert admin(aws_stack, "POST", path.replace("351910000078", "nobody"), outcome)[0] == 404
    signal(aws_stack)
    recorded = signals_of(aws_stack, "351910000078")["outcome:order-1"]
    assert (recorded["status"], recorded["value"]) == ("sent", 19.9)
    [event] = accepted_for(emulator, {recorded["event_id"]})
    assert (event["event"], event["properties"]) == ("Purchase", {"value": 19.9, "currency": "USD"})


def test_throttling_fails_the_record_and_the_retry_sends(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    with_keywords(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000079", "wamid.R1", int(time.time()), "pay"))
    attribute(aws_stack)
    requests.post(f"{emulator.base_url}/_emulator/faults", json={"code": 40100, "times": 3, "path": "/event/track/"}, timeout=5)
    messages = aws_stack.drain("SignalQueue")
    failed = aws_stack.runtime.invoke("KeywordSignalFunction", aws_stack.sqs_event(messages, "SignalQueue"))
    assert len(failed["batchItemFailures"]) == 1
    assert "payment" not in signals_of(aws_stack, "351910000079")  # nothing recorded until TikTok takes it
    assert aws_stack.runtime.invoke("KeywordSignalFunction", aws_stack.sqs_event(messages, "SignalQueue")) == {
        "batchItemFailures": []
    }
    assert signals_of(aws_stack, "351910000079")["payment"]["status"] == "sent"


@pytest.mark.parametrize(("code", "reason"), [(40002, "code 40002"), (40105, "reconnect the ad account")])
def test_permanent_refusals_are_recorded_and_a_revoked_token_announced(
    aws_stack: IntegrationStack, emulator: RunningEmulator, code: int, reason: str
) -> None:
    with_keywords(aws_stack)
    captured = bus_events(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000080", "wamid.P1", int(time.time()), "pay"))
    attribute(aws_stack)
    requests.post(f"{emulator.base_url}/_emulator/faults", json={"code": code, "times": 1, "path": "/event/track/"}, timeout=5)
    assert signal(aws_stack) == {"batchItemFailures": []}
    recorded = signals_of(aws_stack, "351910000080")["payment"]
    assert recorded["status"] == "failed"
    assert reason in recorded["reason"]
    reauth = [e for e in captured() if e["detail-type"] == "AccountNeedsReauth"]
    assert len(reauth) == (1 if code == 40105 else 0)
    status = admin(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}")[1]["status"]
    assert status == ("NEEDS_REAUTH" if code == 40105 else "ACTIVE")


def test_no_request_to_tiktok_carries_text_or_a_raw_identifier(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    with_keywords(aws_stack)
    texts = ["How much to pay for the blue ones?", "我想付款 谢谢"]
    customers = ["351910000081", "US.9988776655443322"]
    write(aws_stack, WhatsAppMessage(customers[0], "wamid.S1", int(time.time()), texts[0]))
    write(aws_stack, WhatsAppMessage(customers[1], "wamid.S2", int(time.time()), texts[1], bsuid=True, phone="351910000082"))
    attribute(aws_stack)
    signal(aws_stack)
    bodies = json.dumps([call["body"] for call in track_calls(emulator)], ensure_ascii=False)
    for secret in [*texts, *customers, "351910000082", "+351910000082", WA, "How much", "付款"]:
        assert secret not in bodies


def test_a_token_refused_after_reconnecting_is_retried_with_the_new_one(
    aws_stack: IntegrationStack, emulator: RunningEmulator
) -> None:
    with_keywords(aws_stack)
    captured = bus_events(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000083", "wamid.K1", int(time.time()), "how much?"))
    attribute(aws_stack)
    signal(aws_stack)  # the worker now remembers the ad account's token for minutes
    time.sleep(0.002)  # the reconnection gets a later connected_at_ms
    connect(aws_stack, "advertiser")  # the owner connects again: a new token, a new generation
    write(aws_stack, WhatsAppMessage("351910000083", "wamid.K2", int(time.time()), "can I pay?"))
    attribute(aws_stack)
    requests.post(f"{emulator.base_url}/_emulator/faults", json={"code": 40105, "times": 1, "path": "/event/track/"}, timeout=5)
    messages = aws_stack.drain("SignalQueue")
    with pytest.raises(BatchProcessingError):  # the batch's one record failed: SQS gives it back, not SignalDLQ yet
        aws_stack.runtime.invoke("KeywordSignalFunction", aws_stack.sqs_event(messages, "SignalQueue"))
    assert "payment" not in signals_of(aws_stack, "351910000083")  # not failed for good
    assert admin(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}")[1]["status"] == "ACTIVE"
    assert [e for e in captured() if e["detail-type"] == "AccountNeedsReauth"] == []
    retry = aws_stack.runtime.invoke("KeywordSignalFunction", aws_stack.sqs_event(messages, "SignalQueue"))
    assert retry == {"batchItemFailures": []}
    assert signals_of(aws_stack, "351910000083")["payment"]["status"] == "sent"


def test_after_a_relink_old_conversations_fire_nothing_of_the_new_ad_account(
    aws_stack: IntegrationStack, emulator: RunningEmulator
) -> None:
    with_keywords(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000084", "wamid.L1", int(time.time()), "hello"))
    attribute(aws_stack)  # the conversation belongs to ADVERTISER_1
    signal(aws_stack)
    other = "7100000000000000002"
    assert admin(aws_stack, "DELETE", f"/admin/advertisers/{ADVERTISER_1}/links/whatsapp/{WA}")[0] == 204
    assert admin(aws_stack, "PUT", f"/admin/advertisers/{other}/links/whatsapp/{WA}", {"display_name": "+1"})[0] == 200
    assert admin(aws_stack, "PUT", f"/admin/advertisers/{other}/keywords", {"keywords": KEYWORDS})[0] == 200
    aws_stack.runtime.cold_start("KeywordSignalFunction")  # a container that routes the number to the new ad account
    before = len(track_calls(emulator))
    write(aws_stack, WhatsAppMessage("351910000084", "wamid.L2", int(time.time()), "can I pay?"))
    attribute(aws_stack)
    assert signal(aws_stack) == {"batchItemFailures": []}
    assert (signals_of(aws_stack, "351910000084"), len(track_calls(emulator))) == ({}, before)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"outcome_id": "o1", "event": ["Purchase"]}, "event must be a TikTok standard event"),
        ({"outcome_id": "o1", "event": "Purchase", "value": 1e-200, "currency": "USD"}, "at most 6 decimals"),
    ],
)
def test_odd_outcomes_are_refused_not_crashed_on(aws_stack: IntegrationStack, body: dict[str, Any], words: str) -> None:
    with_keywords(aws_stack)
    write(aws_stack, WhatsAppMessage("351910000085", "wamid.Q1", int(time.time()), "hello"))
    attribute(aws_stack)
    status, answer = admin(aws_stack, "POST", f"/admin/conversations/whatsapp%23{WA}%23351910000085/outcomes", body)
    assert (status, words in answer["message"]) == (400, True)


def test_a_keyword_list_that_could_match_nothing_is_refused(aws_stack: IntegrationStack) -> None:
    with_keywords(aws_stack)
    bad = [{"keyword": "pay", "signal": "payment"}, {"keyword": "\u0301", "signal": "oops", "accent_insensitive": True}]
    status, body = admin(aws_stack, "PUT", f"/admin/advertisers/{ADVERTISER_1}/keywords", {"keywords": bad})
    assert status == 400
    assert body["problems"] == [
        "keywords[1] ('\u0301'): the keyword is only accents; with accent_insensitive it would match nothing."
    ]
    assert admin(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}/keywords")[1]["version"] == 1  # still the first
