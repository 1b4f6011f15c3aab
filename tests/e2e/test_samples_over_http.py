"""Every events/ webhook sample POSTed through the local stack: accepted, then attributed, nothing parked or dead."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from local.sample_events import EVENTS_DIR, TIKTOK_SECRET
from local.scenario import tiktok_signature_header
from tests.e2e.conftest import RunningStack
from tests.integration.test_sample_events import WEBHOOK_SAMPLES_ACCEPTED

pytestmark = pytest.mark.e2e


def request_of(name: str) -> tuple[str, bytes, dict[str, str]]:
    event = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    headers = {k: v for k, v in event["headers"].items() if k not in ("host", "content-length")}
    if "tiktok-signature" in headers:  # signed in 2025: sign the same bytes again, now
        headers["tiktok-signature"] = tiktok_signature_header(TIKTOK_SECRET, body, int(time.time()))
    return event["rawPath"], body, headers


def test_every_webhook_sample_over_http(stack: RunningStack) -> None:
    before = stack.status()
    for name, accepted in sorted(WEBHOOK_SAMPLES_ACCEPTED.items()):
        path, body, headers = request_of(name)
        answer = requests.post(f"{stack.api}{path}", data=body, headers=headers, timeout=30)
        assert (answer.status_code, answer.json()) == (200, {"accepted": accepted, "parked": 0}), name
    after = stack.drained()
    attributed = after["pumps"]["AttributionFunction"]["records"] - before["pumps"]["AttributionFunction"]["records"]
    assert attributed == sum(WEBHOOK_SAMPLES_ACCEPTED.values())
    assert after["queues"]["ParkedQueue"]["visible"] == before["queues"]["ParkedQueue"]["visible"]
    assert after["queues"]["InboundDLQ"]["visible"] == 0
    assert stack.conversation("tiktok#-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx#tt-ivy").json()["source"] == "tiktok_ad"
    assert stack.conversation("messenger#104650435882311#6985000000000001").json()["source"] == "meta_ad"


def test_handshake_sample_over_http(stack: RunningStack) -> None:
    event = json.loads((EVENTS_DIR / "webhook_whatsapp_handshake.json").read_text())
    answer = requests.get(f"{stack.api}{event['rawPath']}?{event['rawQueryString']}", timeout=10)
    assert (answer.status_code, answer.text) == (200, "1158201444")
