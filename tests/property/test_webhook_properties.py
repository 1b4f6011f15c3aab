"""Properties of webhook receipt and the WhatsApp parser, over arbitrary input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging_partner.channels import whatsapp
from messaging_partner.channels.base import UnparseablePayload, VerificationPolicy, WebhookRequest
from messaging_partner.channels.meta import hub_signature
from messaging_partner.webhooks import receive_webhook
from tests.fakes import FakeInboundQueue, FakeParker, FakeSecrets

SECRETS = FakeSecrets()
POLICY = VerificationPolicy(now=1_763_800_000)

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


def deliver(raw: bytes, signature: str) -> tuple[int, FakeInboundQueue, FakeParker]:
    queue, parker = FakeInboundQueue(), FakeParker()
    request = WebhookRequest("POST", {"x-hub-signature-256": signature}, {}, raw)
    return receive_webhook("whatsapp", request, SECRETS, queue, parker, POLICY).status, queue, parker


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_any_validly_signed_body_is_acknowledged_and_kept(raw: bytes) -> None:
    status, queue, parker = deliver(raw, hub_signature(SECRETS.meta_secret, raw))
    assert status == 200
    assert queue.sent or parker.parked or raw  # something kept, or a body that held nothing
    if not queue.sent and not parker.parked:
        assert whatsapp.parse(raw).messages == []


@settings(max_examples=300, deadline=None)
@given(bodies, st.text(max_size=80))
def test_any_wrong_signature_is_refused_and_nothing_kept(raw: bytes, signature: str) -> None:
    if signature == hub_signature(SECRETS.meta_secret, raw):
        return
    status, queue, parker = deliver(raw, signature)
    assert status == 401
    assert queue.sent == [] and parker.parked == []  # noqa: PT018 - one fact: nothing was kept


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_parsing_is_deterministic(raw: bytes) -> None:
    def outcome() -> object:
        try:
            delivery = whatsapp.parse(raw)
        except UnparseablePayload as error:
            return ("unparseable", error.reason)
        return ([m.model_dump() for m in delivery.messages], [r.reason for r in delivery.rejected], dict(delivery.recognized))

    assert outcome() == outcome()


@settings(max_examples=200, deadline=None)
@given(whatsapp_like)
def test_every_message_is_either_enqueued_or_parked(payload: dict[str, object]) -> None:
    raw = json.dumps(payload).encode()
    _, queue, parker = deliver(raw, hub_signature(SECRETS.meta_secret, raw))
    value = payload["entry"][0]["changes"][0]["value"]  # type: ignore[index]
    assert len(queue.sent) + len(parker.parked) == len(value["messages"])
