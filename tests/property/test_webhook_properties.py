"""Properties of webhook receipt and the WhatsApp parser, over arbitrary input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from local.scenario import tiktok_signature_header
from messaging_partner.adapters.channels import CHANNELS
from messaging_partner.adapters.channels.meta import hub_signature
from messaging_partner.domain.errors import UnparseablePayload
from messaging_partner.domain.models import VerificationPolicy, WebhookRequest
from messaging_partner.domain.webhooks import receive_webhook
from tests.fakes import FakeInboundQueue, FakeParker, FakeSecrets

SECRETS = FakeSecrets()
POLICY = VerificationPolicy(now=1_763_800_000, max_signature_age_seconds=300)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

# Payloads that look like WhatsApp's closely enough to reach the deeper branches of the parser.
message_like = st.fixed_dictionaries(
    {
        "id": st.text(max_size=12),
        "timestamp": st.one_of(st.text(max_size=12), st.integers()),
        "type": st.sampled_from(["text", "image", "x"]),
    },
    optional={
        "from": st.text(max_size=12),
        "text": st.dictionaries(st.just("body"), st.text(max_size=20)),
        "referral": json_values,
    },
)
whatsapp_like = st.builds(
    lambda messages, extra: {
        "object": "whatsapp_business_account",
        "entry": [
            {"changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": "1"}, "messages": messages, **extra}}]}
        ],
    },
    st.lists(message_like, max_size=4),
    st.dictionaries(st.sampled_from(["contacts", "statuses", "errors"]), json_values, max_size=3),
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    whatsapp_like.map(lambda v: json.dumps(v).encode()),
)


CHANNEL_NAMES = ["whatsapp", "messenger", "instagram", "tiktok"]
NOW = 1_763_800_000

# Bodies shaped like each platform's, so the properties reach past the envelope checks.
messaging_like = st.builds(
    lambda object_type, items: {"object": object_type, "entry": [{"id": "page", "messaging": items}]},
    st.sampled_from(["page", "instagram"]),
    st.lists(
        st.dictionaries(
            st.sampled_from(["sender", "recipient", "timestamp", "message", "referral", "postback", "read"]), json_values
        ),
        max_size=4,
    ),
)
tiktok_like = st.builds(
    lambda event, content, as_text: {
        "event": event,
        "user_openid": "biz",
        "create_time": NOW,
        "content": json.dumps(content) if as_text else content,
    },
    st.sampled_from(["im_receive_msg", "im_receive_msg_eu", "im_send_msg", "im_referral_msg", "im_mark_read_msg", "im_other"]),
    st.dictionaries(
        st.sampled_from(["from_user", "to_user", "message_id", "timestamp", "text", "referral", "read"]), json_values
    ),
    st.booleans(),
)
any_body = st.one_of(
    bodies, messaging_like.map(lambda v: json.dumps(v).encode()), tiktok_like.map(lambda v: json.dumps(v).encode())
)


def signed_headers(channel: str, raw: bytes) -> dict[str, str]:
    if channel == "tiktok":
        return {"tiktok-signature": tiktok_signature_header(SECRETS.tiktok_secret, raw, NOW)}
    return {"x-hub-signature-256": hub_signature(SECRETS.meta_secret, raw)}


def deliver(raw: bytes, headers: dict[str, str], channel: str = "whatsapp") -> tuple[int, FakeInboundQueue, FakeParker]:
    queue, parker = FakeInboundQueue(), FakeParker()
    request = WebhookRequest("POST", headers, {}, raw)
    return receive_webhook(channel, request, CHANNELS, SECRETS, queue, parker, POLICY).status, queue, parker


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CHANNEL_NAMES), any_body)
def test_any_validly_signed_body_is_acknowledged_and_never_raises(channel: str, raw: bytes) -> None:
    status, queue, parker = deliver(raw, signed_headers(channel, raw), channel)
    assert status == 200
    if not queue.sent and not parker.parked:  # nothing kept: the body held nothing to keep
        assert CHANNELS[channel].parse(raw).messages == []


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CHANNEL_NAMES), any_body, st.text(max_size=80))
def test_any_wrong_signature_is_refused_and_nothing_kept(channel: str, raw: bytes, signature: str) -> None:
    headers = {"x-hub-signature-256": signature, "tiktok-signature": signature}
    if signature in signed_headers(channel, raw).values():
        return
    status, queue, parker = deliver(raw, headers, channel)
    assert status == 401
    assert queue.sent == [] and parker.parked == []  # noqa: PT018 - one fact: nothing was kept


@settings(max_examples=200, deadline=None)
@given(any_body, st.integers(min_value=301, max_value=10**9))
def test_a_tiktok_signature_outside_the_tolerance_is_refused(raw: bytes, skew: int) -> None:
    for timestamp in (NOW - skew, NOW + skew):
        headers = {"tiktok-signature": tiktok_signature_header(SECRETS.tiktok_secret, raw, timestamp)}
        assert deliver(raw, headers, "tiktok")[0] == 401


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CHANNEL_NAMES), any_body)
def test_parsing_is_deterministic(channel: str, raw: bytes) -> None:
    module = CHANNELS[channel]
    assert module is not None

    def outcome() -> object:
        try:
            delivery = module.parse(raw)
        except UnparseablePayload as error:
            return ("unparseable", error.reason)
        return ([m.model_dump() for m in delivery.messages], [r.reason for r in delivery.rejected], dict(delivery.recognized))

    assert outcome() == outcome()


@settings(max_examples=200, deadline=None)
@given(whatsapp_like)
def test_every_message_is_either_enqueued_or_parked(payload: dict[str, object]) -> None:
    raw = json.dumps(payload).encode()
    _, queue, parker = deliver(raw, signed_headers("whatsapp", raw))
    value = payload["entry"][0]["changes"][0]["value"]  # type: ignore[index]
    assert len(queue.sent) + len(parker.parked) == len(value["messages"])
