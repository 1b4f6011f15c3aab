"""Properties of webhook receipt and the WhatsApp parser, over arbitrary input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from local.scenario import tiktok_signature_header
from messaging_partner.adapters.channels import CHANNELS
from messaging_partner.adapters.channels.base import epoch_ms
from messaging_partner.adapters.channels.meta import hub_signature
from messaging_partner.domain.errors import UnparseablePayload
from messaging_partner.domain.models import MessageKind, VerificationPolicy, WebhookRequest
from messaging_partner.domain.webhooks import EARLIEST_SENSIBLE_MS, LATEST_AHEAD_MS, receive_webhook
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
        "timestamp": st.one_of(
            st.text(max_size=12), st.integers(), st.floats(), st.integers(1_262_304_000, 4_000_000_000).map(str)
        ),
        "type": st.sampled_from(["text", "image", "x", "reaction", "edit", "revoke", "system", "unsupported"]),
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
            st.sampled_from(
                ["sender", "recipient", "timestamp", "message", "referral", "postback", "read", "message_edit", "reaction"]
            ),
            json_values,
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
    st.sampled_from(
        [
            "im_receive_msg",
            "im_receive_msg_eu",
            "im_send_msg",
            "im_referral_msg",
            "im_mark_read_msg",
            "im_other",
            "tiktok.ping",
            "authorization.removed",
        ]
    ),
    st.dictionaries(
        st.sampled_from(
            ["from_user", "to_user", "message_id", "timestamp", "text", "referral", "read", "type", "reaction", "reason"]
        ),
        json_values,
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
    if not queue.sent and not parker.parked:  # nothing kept: only what the platform documents as a notice
        assert CHANNELS[channel].parse(raw).recognized


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
    messages = value["messages"]
    parked_messages = [reason for _, reason, _ in parker.parked if reason.startswith("message not readable")]
    assert len(queue.sent) + len(parked_messages) == len(messages)
    notices = any(isinstance(value.get(key), list) and value[key] for key in ("statuses", "errors"))
    if not messages and not notices:  # nothing in the change: the change itself is kept
        assert [reason for _, reason, _ in parker.parked] == ["messages change with no messages, statuses or errors"]


@settings(max_examples=200, deadline=None)
@given(whatsapp_like)
def test_only_customer_content_becomes_a_customer_message(payload: dict[str, object]) -> None:
    raw = json.dumps(payload).encode()
    _, queue, _ = deliver(raw, signed_headers("whatsapp", raw))
    wire = payload["entry"][0]["changes"][0]["value"]["messages"]  # type: ignore[index]
    for message in queue.sent:
        wire_types = {m["type"] for m in wire if m["id"] == message.platform_message_id}  # ids may repeat here
        if message.kind is MessageKind.MESSAGE:
            assert wire_types & {"text", "image"}
        else:
            assert wire_types - {"text", "image"}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=25), st.none(), st.booleans()))
def test_any_timestamp_dates_a_message_between_2010_and_a_day_past_receipt(timestamp: object) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "1"},
                            "contacts": [{"wa_id": "5511"}],
                            "messages": [
                                {"from": "5511", "id": "wamid.T", "timestamp": timestamp, "type": "text", "text": {"body": "hi"}}
                            ],
                        },
                    }
                ]
            }
        ],
    }
    raw = json.dumps(body).encode()
    _, queue, _ = deliver(raw, signed_headers("whatsapp", raw))
    [message] = queue.sent
    assert EARLIEST_SENSIBLE_MS <= message.sent_at_ms <= NOW * 1000 + LATEST_AHEAD_MS
    if message.timestamp_note is not None:
        assert message.sent_at_ms == NOW * 1000  # the receipt time stands in, and the note says why


@settings(max_examples=200, deadline=None)
@given(st.integers(1_262_304_000, NOW), st.sampled_from(["s", "ms", "s-str", "ms-str"]))
def test_a_sane_time_reads_the_same_in_seconds_milliseconds_and_strings(seconds: int, unit: str) -> None:
    value: object = {"s": seconds, "ms": seconds * 1000, "s-str": str(seconds), "ms-str": str(seconds * 1000)}[unit]
    assert epoch_ms(value) == seconds * 1000


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["messenger", "instagram", "tiktok"]),
    st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=25), st.none(), st.booleans()),
)
def test_every_platforms_times_land_between_2010_and_a_day_past_receipt(channel: str, timestamp: object) -> None:
    if channel == "tiktok":
        content = {"from_user": {"id": "u"}, "message_id": "m", "type": "text", "text": {"body": "hi"}, "timestamp": timestamp}
        body = {"event": "im_receive_msg", "user_openid": "biz", "create_time": timestamp, "content": json.dumps(content)}
    else:
        item = {"sender": {"id": "u"}, "recipient": {"id": "p"}, "timestamp": timestamp, "message": {"mid": "m", "text": "hi"}}
        body = {"object": "page" if channel == "messenger" else "instagram", "entry": [{"id": "p", "messaging": [item]}]}
    raw = json.dumps(body).encode()
    _, queue, _ = deliver(raw, signed_headers(channel, raw), channel)
    [message] = queue.sent
    assert EARLIEST_SENSIBLE_MS <= message.sent_at_ms <= NOW * 1000 + LATEST_AHEAD_MS


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["message_edit", "reaction", "deleted"]), st.text(min_size=1, max_size=10))
def test_meta_events_about_a_message_never_take_its_id(kind: str, mid: str) -> None:
    event = {"message": {"mid": mid, "is_deleted": True}} if kind == "deleted" else {kind: {"mid": mid, "text": "t"}}
    item = {"sender": {"id": "u"}, "recipient": {"id": "p"}, "timestamp": NOW * 1000, **event}
    raw = json.dumps({"object": "page", "entry": [{"id": "p", "messaging": [item]}]}).encode()
    _, queue, _ = deliver(raw, signed_headers("messenger", raw), "messenger")
    [message] = queue.sent
    assert message.kind is not MessageKind.MESSAGE
    assert (message.platform_message_id != mid, message.refers_to) == (True, mid)
