"""The vertical slice over HTTP: signed WhatsApp webhook -> queue -> attribution -> store -> bus/SignalQueue."""

from __future__ import annotations

import json

import pytest
import requests

from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
SECRET = "local-meta-app-secret"


def post(stack: RunningStack, body: bytes, secret: str = SECRET, content_type: str = "application/json") -> requests.Response:
    headers = {"content-type": content_type, "X-Hub-Signature-256": hub_signature(secret, body)}
    return requests.post(f"{stack.api}/webhooks/whatsapp", data=body, headers=headers, timeout=30)


def key(customer: str) -> str:
    return f"whatsapp#106540352242922#{customer}"


def test_handshake(stack: RunningStack) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "local-verify-token", "hub.challenge": "1158201444"}
    answer = requests.get(f"{stack.api}/webhooks/whatsapp", params=params, timeout=10)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert answer.headers["content-type"].startswith("text/plain")
    params["hub.verify_token"] = "guess"
    assert requests.get(f"{stack.api}/webhooks/whatsapp", params=params, timeout=10).status_code == 403


def test_signed_delivery_reaches_the_store_and_signal_queue(stack: RunningStack) -> None:
    before = stack.signal_inputs()
    first = WhatsAppMessage("5511900000001", "wamid.E2E.1", 1_763_800_000, "Olá, tem tamanho 40?")
    second = WhatsAppMessage("5511900000001", "wamid.E2E.2", 1_763_800_005, "E a cor azul?")
    assert post(stack, whatsapp_body(WhatsAppChange((first, second)))).json() == {"accepted": 2, "parked": 0}
    stack.drained()
    conversation = stack.conversation(key("5511900000001")).json()
    assert conversation["customer_message_count"] == 2
    assert conversation["source"] == "organic"
    after = stack.signal_inputs()
    assert after.get("ConversationAttributed", 0) - before.get("ConversationAttributed", 0) == 1
    assert after.get("MessageReceived", 0) - before.get("MessageReceived", 0) == 2


def test_a_message_arriving_after_a_later_one_leaves_the_last_message_time(stack: RunningStack) -> None:
    later = WhatsAppMessage("5511900000010", "wamid.E2E.LATER", 1_763_800_100, "second")
    earlier = WhatsAppMessage("5511900000010", "wamid.E2E.EARLIER", 1_763_800_050, "first, delivered late")
    for message in (later, earlier):  # two deliveries, the later message first
        assert post(stack, whatsapp_body(WhatsAppChange((message,)))).json() == {"accepted": 1, "parked": 0}
        stack.drained()
    conversation = stack.conversation(key("5511900000010")).json()
    assert conversation["last_message_at_ms"] == 1_763_800_100_000
    assert conversation["customer_message_count"] == 2


def test_duplicate_delivery_is_stored_once(stack: RunningStack) -> None:
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("5511900000002", "wamid.E2E.DUP", 1_763_800_000, "oi"),)))
    assert post(stack, body).status_code == 200
    assert post(stack, body).status_code == 200
    stack.drained()
    assert stack.conversation(key("5511900000002")).json()["customer_message_count"] == 1


def test_bad_signature_is_refused_and_nothing_enqueued(stack: RunningStack) -> None:
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("5511900000003", "wamid.E2E.FORGED", 1_763_800_000, "x"),)))
    answer = post(stack, body, secret="not-the-secret")
    assert answer.status_code == 401
    assert "nothing was stored" in answer.json()["message"]
    stack.drained()
    assert stack.conversation(key("5511900000003")).status_code == 404


def test_binary_content_type_travels_base64_and_still_verifies(stack: RunningStack) -> None:
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("5511900000004", "wamid.E2E.B64", 1_763_800_000, "çé€"),)))
    assert post(stack, body, content_type="application/octet-stream").status_code == 200
    stack.drained()
    assert stack.conversation(key("5511900000004")).status_code == 200


def test_verified_unreadable_body_is_parked(stack: RunningStack) -> None:
    before = stack.status()["queues"]["ParkedQueue"]["visible"]
    answer = post(stack, b'{"object": "whatsapp_business_account", "entry": null}')
    assert answer.status_code == 200
    assert answer.json() == {"parked": "entry is missing or not a list"}
    assert stack.status()["queues"]["ParkedQueue"]["visible"] == before + 1


def test_unknown_routes_and_channels(stack: RunningStack) -> None:
    assert requests.get(f"{stack.api}/nowhere", timeout=10).status_code == 404
    assert post(stack, b"{}").status_code == 200  # signed, unreadable: parked, not refused
    assert requests.post(f"{stack.api}/webhooks/telegram", data=b"{}", timeout=10).status_code == 404


def test_schedules_fire_on_demand(stack: RunningStack) -> None:
    answer = requests.post(f"{stack.api}/_local/schedules/ReportRollupFunction/Daily", timeout=30)
    assert answer.status_code == 200
    assert answer.json()["result"]["granularity"] == "daily"
    missing = requests.post(f"{stack.api}/_local/schedules/ReportRollupFunction/Weekly", timeout=30)
    assert missing.status_code == 404
    assert "ReportRollupFunction/Daily" in missing.json()["message"]


def test_admin_routes_are_open_locally(stack: RunningStack) -> None:
    answer = stack.conversation("whatsapp#0#0")
    assert answer.status_code == 404
    assert json.loads(answer.text)["message"].startswith("No conversation")


def test_a_late_duplicate_is_stored_once_and_repeats_events_with_the_same_ids(stack: RunningStack) -> None:
    """After the original is consumed moto's FIFO queue takes the retry again; the message marker stops it."""
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("5511900000009", "wamid.E2E.LATE", 1_763_800_000, "oi"),)))
    assert post(stack, body).status_code == 200
    first = stack.drained()["pumps"]["KeywordSignalFunction"]
    assert post(stack, body).status_code == 200
    later = stack.drained()["pumps"]["KeywordSignalFunction"]
    assert stack.conversation(key("5511900000009")).json()["customer_message_count"] == 1
    assert later["distinct_events"] == first["distinct_events"]  # repeats, if any, carry the ids already seen
