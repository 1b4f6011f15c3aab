"""Signals over HTTP through the local stack: keywords set through the admin API, messages in, events out to TikTok."""

from __future__ import annotations

import time

import pytest
import requests

from local.scenario import WhatsAppChange, WhatsAppMessage, signed_meta, whatsapp_body
from tests.e2e.conftest import RunningStack
from tests.e2e.test_all_platforms import META_SECRET, send

pytestmark = pytest.mark.e2e
ADVERTISER = "7100000000000000001"
# A number of its own: routes are remembered a minute per container, and other tests write to the demo number unlinked.
NUMBER = "106540352240042"


def connected_with_keywords(stack: RunningStack) -> None:
    start = requests.get(
        f"{stack.api}/oauth/tiktok/advertiser/start", params={"workspace": "e2e"}, allow_redirects=True, timeout=30
    )
    assert start.status_code == 200
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
