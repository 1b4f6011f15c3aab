"""Signals over HTTP through the local stack: keywords set through the admin API, messages in, events out to TikTok."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from local.control import connect_in_browser
from local.scenario import WhatsAppChange, WhatsAppMessage, signed_meta, whatsapp_body
from tests.e2e.conftest import RunningStack
from tests.e2e.test_all_platforms import META_SECRET, send

pytestmark = pytest.mark.e2e
ADVERTISER = "7100000000000000001"
# A number of its own: routes are remembered a minute per container, and other tests write to the demo number unlinked.
NUMBER = "106540352240042"


def connected_with_keywords(stack: RunningStack) -> None:
    assert connect_in_browser(stack.api, "advertiser", "e2e").status_code == 200
    linked = requests.put(f"{stack.api}/admin/advertisers/{ADVERTISER}/links/whatsapp/{NUMBER}", json={}, timeout=10)
    assert linked.status_code in (200, 409)
    keywords = [{"keyword": "pay", "signal": "payment"}, {"keyword": "付款", "signal": "payment"}]
    assert requests.put(f"{stack.api}/admin/advertisers/{ADVERTISER}/keywords", json={"keywords": keywords}, timeout=10).ok


def test_a_keyword_over_http_reaches_tiktok_once_and_shows_on_the_conversation(stack: RunningStack) -> None:
    connected_with_keywords(stack)
    message = WhatsAppMessage("351919990042", "wamid.E2E-SIG", int(time.time()), "Can I pay by card? 我想付款")
    delivery = signed_meta("keyword", whatsapp_body(WhatsAppChange((message,), phone_number_id=NUMBER)), META_SECRET)
    assert send(stack, delivery).status_code == 200
    assert send(stack, delivery).status_code == 200  # a duplicate delivery
    stack.drained()
    [record] = stack.conversation(f"whatsapp#{NUMBER}#351919990042").json()["signals"]
    assert (record["signal"], record["status"]) == ("payment", "sent")
    accepted = requests.get(f"{stack.tiktok}/_emulator/events", timeout=5).json()["events"]
    assert [e["event_id"] for e in accepted].count(record["event_id"]) == 1
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"]
    bodies = str([c["body"] for c in calls if c["path"] == "/event/track/"])
    assert "351919990042" not in bodies and "pay by card" not in bodies and "付款" not in bodies  # noqa: PT018


def say(stack: RunningStack, customer: str, text: str, message_id: str | None = None) -> str:
    """A WhatsApp message from the customer to the test's number; answers the conversation key."""
    message = WhatsAppMessage(customer, message_id or f"wamid.E2E-{customer}", int(time.time()), text)
    delivery = signed_meta("keyword", whatsapp_body(WhatsAppChange((message,), phone_number_id=NUMBER)), META_SECRET)
    assert send(stack, delivery).status_code == 200
    return f"whatsapp#{NUMBER}#{customer}"


def tiktok_refuses(stack: RunningStack, code: int, times: int) -> None:
    fault = {"code": code, "times": times, "path": "/event/track/"}
    assert requests.post(f"{stack.tiktok}/_emulator/faults", json=fault, timeout=5).ok


def track_calls(stack: RunningStack) -> int:
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"]
    return sum(1 for call in calls if call["path"] == "/event/track/")


def signals(stack: RunningStack, key: str) -> dict[str, Any]:
    return {record["signal"]: record for record in stack.conversation(key).json()["signals"]}


def test_throttling_is_retried_by_sqs_until_tiktok_takes_the_signal(stack: RunningStack) -> None:
    connected_with_keywords(stack)
    before = track_calls(stack)
    tiktok_refuses(stack, 40100, times=2)
    key = say(stack, "351919990043", "pay?")
    stack.drained()
    assert signals(stack, key)["payment"]["status"] == "sent"
    assert track_calls(stack) - before == 3  # two throttled, the third taken
    assert stack.status()["queues"]["SignalDLQ"]["visible"] == 0


def test_a_permanent_refusal_is_recorded_with_tiktoks_words_and_not_retried(stack: RunningStack) -> None:
    connected_with_keywords(stack)
    before = track_calls(stack)
    tiktok_refuses(stack, 40002, times=1)
    key = say(stack, "351919990044", "pay?")
    stack.drained()
    record = signals(stack, key)["payment"]
    assert (record["status"], "code 40002" in record["reason"]) == ("failed", True)
    assert track_calls(stack) - before == 1


def test_throttling_that_never_ends_lands_in_the_signal_dlq(stack: RunningStack) -> None:
    connected_with_keywords(stack)
    tiktok_refuses(stack, 40100, times=100)
    key = say(stack, "351919990045", "pay?")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stack.status()["queues"]["SignalDLQ"]["visible"] == 0:
        time.sleep(0.5)
    assert requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5).ok
    sqs, queue = stack.aws("sqs"), stack.status()["resources"]["SignalDLQ"]
    [dead] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert '"MessageReceived"' in dead["Body"]  # after maxReceiveCount (5) tries, kept for a redrive
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=dead["ReceiptHandle"])
    assert "payment" not in signals(stack, key)  # never recorded as sent or failed: TikTok never answered


def test_a_revoked_token_asks_for_reconnection_and_the_next_message_sends(stack: RunningStack) -> None:
    connected_with_keywords(stack)
    # Twice: the worker may still hold a token from before this test connected again, and a refusal of
    # that one is retried with the stored token (which TikTok then refuses too) instead of marking anything.
    tiktok_refuses(stack, 40105, times=2)
    key = say(stack, "351919990046", "pay?")
    stack.drained()
    assert requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5).ok
    record = signals(stack, key)["payment"]
    assert (record["status"], "reconnect the ad account" in record["reason"]) == ("failed", True)
    advertiser = requests.get(f"{stack.api}/admin/advertisers/{ADVERTISER}", timeout=10).json()
    assert advertiser["status"] == "NEEDS_REAUTH"
    connected_with_keywords(stack)  # the owner connects the ad account again
    say(stack, "351919990046", "ok, pay now", message_id="wamid.E2E-351919990046-2")
    stack.drained()
    assert signals(stack, key)["payment"]["status"] == "sent"
