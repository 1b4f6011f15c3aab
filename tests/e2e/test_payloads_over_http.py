"""Events that are not customer messages and payloads nobody knows, over HTTP through the local stack."""

from __future__ import annotations

import json
import time

import pytest

from local.scenario import (
    DEMO_PHONE_NUMBER_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    WhatsAppChange,
    WhatsAppMessage,
    signed_meta,
    signed_tiktok,
    tiktok_body,
    tiktok_ping_body,
    tiktok_reaction_content,
    whatsapp_body,
)
from tests.e2e.conftest import RunningStack
from tests.e2e.test_all_platforms import META_SECRET, TIKTOK_SECRET, send

pytestmark = pytest.mark.e2e


def test_an_unknown_field_is_parked_and_its_reason_shows_in_the_stack_status(stack: RunningStack) -> None:
    change = {"field": "e2e_unknown_field", "value": {"event": "X"}}
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [change]}]}).encode()
    assert send(stack, signed_meta("unknown field", body, META_SECRET)).json() == {"accepted": 0, "parked": 1}
    reasons = [parked["reason"] for parked in stack.status()["parked"]]
    assert "unknown WhatsApp webhook field 'e2e_unknown_field'" in reasons


def test_an_oversize_delivery_over_http_is_parked_through_s3_and_answered_200(stack: RunningStack) -> None:
    """Two 600 KB messages and a 1.5 MB unknown field: each is over the queues' 256 KiB, so each is claim-checked."""
    now = int(time.time())
    big = [WhatsAppMessage("351919990700", f"wamid.E2EBIG{i}", now, text=str(i) * 600_000) for i in (1, 2)]
    delivery = json.loads(whatsapp_body(WhatsAppChange(tuple(big))))
    delivery["entry"][0]["changes"].append({"field": "e2e_huge_field", "value": {"blob": "x" * 1_500_000}})
    body = json.dumps(delivery).encode()
    assert send(stack, signed_meta("oversize", body, META_SECRET)).json() == {"accepted": 0, "parked": 3}
    s3 = stack.aws("s3")
    bucket = stack.status()["resources"]["ParkedPayloadsBucket"]
    kept = [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert {json.loads(k).get("platform_message_id") for k in kept} >= {"wamid.E2EBIG1", "wamid.E2EBIG2"}
    assert {"field": "e2e_huge_field", "value": {"blob": "x" * 1_500_000}} in [json.loads(k) for k in kept]


def test_a_reaction_and_a_ping_over_http_open_nothing(stack: RunningStack) -> None:
    now = int(time.time())
    tt = DEMO_TIKTOK_BUSINESS_ID
    reaction = tiktok_body("im_receive_msg", tt, tiktok_reaction_content("tt-e2e-r", tt, "tt-e2e-m", now * 1000, "tt-ours"), now)
    assert send(stack, signed_tiktok("reaction", reaction, TIKTOK_SECRET, now)).status_code == 200
    assert send(stack, signed_tiktok("ping", tiktok_ping_body(now * 1000), TIKTOK_SECRET, now)).json() == {
        "accepted": 0,
        "parked": 0,
    }
    edit = {"original_message_id": "wamid.E2E0", "message": {"type": "text", "text": {"body": "new"}}}
    edited = WhatsAppMessage("351919990000", "wamid.E2E1", now, kind="edit", content=edit)
    assert send(stack, signed_meta("edit", whatsapp_body(WhatsAppChange((edited,))), META_SECRET)).status_code == 200
    stack.drained()
    for key, kind in ((f"tiktok#{tt}#tt-e2e-r", "reaction"), (f"whatsapp#{DEMO_PHONE_NUMBER_ID}#351919990000", "edit")):
        stored = stack.conversation(key).json()
        assert ("source" in stored, [event["kind"] for event in stored["events"]]) == (False, [kind])
